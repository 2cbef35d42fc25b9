"""Checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is one .npz file in OUT/checkpoints/: the flat parameters, the momentum,
the best weights kept for early stopping, the current epoch's sample order, and a
JSON member with the trainer's state, both random generators' states and a
fingerprint of what was trained (the training-relevant spec fields and the data).
It is written atomically (temporary file, fsync, rename) and carries a SHA-256 of its
contents, checked on read; the newest valid one is resumed.

A checkpoint that does not read back (truncated, bit-flipped, not an .npz, a checksum
that does not match) is damaged: it is skipped, with a note, for an older one (or a new
start: training is deterministic, so that gives the same result). One whose checksum
holds but whose contents do not make a training state of this run (a negative epoch, a
sample order of the wrong length, a random generator state of the wrong form) was
written wrong, or on purpose: it is refused (:class:`InvalidCheckpoint`), never resumed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnc.base.errors import DataError
from nnc.base.files import write_atomic
from nnc.runtime.data import Dataset
from nnc.runtime.trainer import Trainer, TrainState
from nnc.base.npz import load_npz, write_npz
from nnc.spec import Spec

FORMAT = 1
NAME = re.compile(r"^ckpt-e(\d{6})-b(\d{6})\.npz$")
NOT_RELEVANT = {("name",), ("description",), ("export",), ("train", "checkpoint_every"),
                ("train", "keep_checkpoints"), ("train", "threads")}


def fingerprint(spec: Spec, data: Dataset, threads: int) -> dict[str, Any]:
    """What a checkpoint must have been trained on to be resumed by this run: the
    training-relevant spec fields, the data, and the BLAS threads (sums split over another
    number of threads round differently, so bit-identity needs the same number)."""
    fields = spec.model_dump(mode="json")
    for path in NOT_RELEVANT:
        parent = fields
        for key in path[:-1]:
            parent = parent[key]
        parent.pop(path[-1], None)
    schedule = spec.train.lr_schedule
    if schedule is None or schedule.chosen[0] != "cosine":  # only cosine depends on epochs
        fields["train"].pop("epochs")
    digest = hashlib.blake2b(digest_size=16)
    for array in (data.x_train, data.y_train, data.x_val, data.y_val):
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array))
    return {"spec": fields, "data": digest.hexdigest(), "threads": threads}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The dotted paths where two fingerprints differ (``data`` for the data)."""
    out = ["data (the samples differ)"] if old.get("data") != new.get("data") else []
    if old.get("threads") != new.get("threads"):
        out.append(f"BLAS threads ({old.get('threads')} -> {new.get('threads')}; set --threads "
                   f"{old.get('threads')} to resume exactly)")
    return out + _diff(old.get("spec"), new.get("spec"), "")


def _diff(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{where}.{k}" if where else k)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{where}.{i}")]
    return [] if a == b else [where or "the spec"]


class InvalidCheckpoint(DataError):
    """A checkpoint that reads back intact but does not hold a valid training state."""


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def where(self) -> str:
        """Where training continues from, as the interrupt message said it stopped."""
        state = self.meta["state"]
        if state["batch"]:
            return f"epoch {state['epoch'] + 1}, step {state['batch']}"
        return f"the end of epoch {state['epoch']}"


class CheckpointStore:
    """The checkpoints of one output folder: save, keep the newest ``keep``, find, restore."""

    def __init__(self, folder: Path, keep: int, run_fingerprint: dict[str, Any],
                 new_series: bool = False):
        """``new_series``: this run does not resume; older checkpoints are removed once it
        has written its first (a run that fails early leaves them as they were)."""
        self.folder, self.keep, self.run_fingerprint = Path(folder), keep, run_fingerprint
        self.new_series = new_series

    def files(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if NAME.match(p.name)]
        return sorted(found, key=lambda p: tuple(map(int, NAME.match(p.name).groups())))

    def clear(self) -> None:
        """Remove every checkpoint (a run that does not resume starts a new series)."""
        for path in self.files():
            path.unlink(missing_ok=True)
        self._remove_temporaries()

    def save(self, trainer: Trainer) -> Path:
        state = trainer.state
        arrays = {"params": trainer.params.data}
        if trainer.optimizer.velocity is not None:
            arrays["velocity"] = trainer.optimizer.velocity
        if trainer.best is not None and state.best_epoch is not None:
            arrays["best"] = trainer.best
        if trainer.order is not None:
            arrays["order"] = trainer.order
        meta = {"format": FORMAT, "state": state.to_dict(), "fingerprint": self.run_fingerprint,
                "rng": {"shuffle": trainer.shuffle_rng.bit_generator.state,
                        "noise": trainer.noise_rng.bit_generator.state}}
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        arrays["sha256"] = np.frombuffer(digest(arrays).encode(), np.uint8)
        path = self.folder / f"ckpt-e{state.epoch:06d}-b{state.batch:06d}.npz"
        write_atomic(path, lambda f: write_npz(f, arrays))
        files = self.files()
        if self.new_series:
            self.new_series = False
            for old in files:
                if old != path:
                    old.unlink(missing_ok=True)
            return path
        mine = files.index(path)
        # the oldest beyond `keep`, and any newer one: damaged files a resume skipped, which
        # would otherwise outlive (and, pruning by age, delete) the checkpoints of this run
        for old in files[:max(0, mine + 1 - self.keep)] + files[mine + 1:]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> tuple[Checkpoint | None, list[str]]:
        """The newest checkpoint that reads back intact, and a note per one skipped."""
        self._remove_temporaries()
        skipped = []
        for path in reversed(self.files()):
            try:
                return read_checkpoint(path), skipped
            except InvalidCheckpoint:
                raise
            except DataError as e:
                skipped.append(e.lines()[0])
        return None, skipped

    def _remove_temporaries(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob(".ckpt-*.tmp"):  # left by a write that was killed
                path.unlink(missing_ok=True)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint file: DataError if it is damaged, InvalidCheckpoint
    if it is intact but its metadata do not make a training state."""
    arrays = load_npz(path, "damaged checkpoint")
    stored = arrays.pop("sha256", None)
    if stored is None or stored.tobytes().decode("ascii", "replace") != digest(arrays):
        raise DataError("damaged checkpoint (its checksum does not match)", file=str(path))
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
    except (KeyError, ValueError, RecursionError) as e:
        raise InvalidCheckpoint(f"invalid checkpoint (bad metadata: {str(e)[:100]})",
                                file=str(path)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise InvalidCheckpoint(f"checkpoint format {found} is not {FORMAT}", file=str(path))
    problem = _meta_problem(meta)
    if problem:
        raise InvalidCheckpoint(f"invalid checkpoint: {problem}", file=str(path))
    return Checkpoint(path, meta, arrays)


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with a checkpoint's metadata, or None."""
    fingerprint = meta.get("fingerprint")
    if not (isinstance(fingerprint, dict) and isinstance(fingerprint.get("spec"), dict)
            and isinstance(fingerprint.get("data"), str)):
        return "fingerprint must be {spec: {...}, data: '...'}"
    rng = meta.get("rng")
    if not (isinstance(rng, dict)
            and all(isinstance(rng.get(k), dict) for k in ("shuffle", "noise"))):
        return "rng must hold the states of the shuffle and noise generators"
    state = meta.get("state")
    if not isinstance(state, dict):
        return "state must be a mapping"
    try:
        TrainState.from_dict(state)
    except (TypeError, ValueError) as e:
        return f"state: {e}"
    counts = ("epoch", "batch", "correct", "bad_epochs", "samples_seen")
    times = ("loss_sum", "epoch_seconds", "train_seconds")
    for key in counts:
        if not _is_count(state.get(key)):
            return f"state.{key} is {state.get(key)!r}, expected an integer >= 0"
    for key in times:
        if not _is_number(state.get(key)) or state[key] < 0:
            return f"state.{key} is {state.get(key)!r}, expected a finite number >= 0"
    if not isinstance(state.get("stopped_early"), bool):
        return "state.stopped_early must be true or false"
    if state.get("best_metric") is not None and not _is_number(state["best_metric"]):
        return f"state.best_metric is {state['best_metric']!r}, expected a finite number"
    best = state.get("best_epoch")
    if best is not None and not (_is_count(best) and 1 <= best <= state["epoch"]):
        return f"state.best_epoch is {best!r}, expected an epoch 1..{state['epoch']}"
    history = state.get("history")
    if not isinstance(history, list) or len(history) != state["epoch"]:
        return (f"state.history holds {len(history) if isinstance(history, list) else 'no'} "
                f"epochs, but state.epoch is {state['epoch']}")
    for i, record in enumerate(history, 1):
        numbers = [record.get(k) for k in ("lr", "train_loss", "seconds")] + \
                  [record.get(k) for k in ("train_accuracy", "val_loss", "val_accuracy")
                   if record.get(k) is not None]
        if record.get("epoch") != i or not all(_is_number(v) for v in numbers):
            return f"state.history[{i - 1}] is not the record of epoch {i}"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def restore(trainer: Trainer, checkpoint: Checkpoint) -> None:
    """Put the trainer back in the state the checkpoint recorded, after checking that the
    checkpoint fits this trainer (InvalidCheckpoint otherwise)."""
    arrays, meta, where = checkpoint.arrays, checkpoint.meta, str(checkpoint.path)
    params = arrays.get("params")
    if params is None or params.shape != trainer.params.data.shape:
        raise DataError(f"holds {0 if params is None else params.size} parameters, but the "
                        f"network has {trainer.params.data.size}", file=where)
    problem = _fit_problem(trainer, checkpoint)
    if problem:
        raise InvalidCheckpoint(f"invalid checkpoint: {problem}", file=where)
    trainer.params.data[...] = params
    velocity = trainer.optimizer.velocity
    if velocity is not None:
        velocity[...] = arrays["velocity"] if "velocity" in arrays else 0
    if trainer.best is not None and "best" in arrays:
        trainer.best[...] = arrays["best"]
    trainer.order = arrays.get("order")
    trainer.state = TrainState.from_dict(meta["state"])
    trainer.shuffle_rng.bit_generator.state = meta["rng"]["shuffle"]
    trainer.noise_rng.bit_generator.state = meta["rng"]["noise"]


def _fit_problem(trainer: Trainer, checkpoint: Checkpoint) -> str | None:
    """What keeps the checkpoint's arrays and states from fitting ``trainer``, or None."""
    arrays, state = checkpoint.arrays, checkpoint.meta["state"]
    size = trainer.params.data.shape
    for name in ("params", "velocity", "best"):
        a = arrays.get(name)
        if a is not None and (a.dtype.kind != "f" or a.shape != size or not np.isfinite(a).all()):
            return f"{name} must be {size[0]} finite floats (found {a.dtype} {list(a.shape)})"
    if trainer.best is not None and state["best_epoch"] is not None and "best" not in arrays:
        return f"the best weights (of epoch {state['best_epoch']}) are missing"
    n = len(trainer.data.x_train)
    batches = math.ceil(n / trainer.batch)
    if state["batch"] >= batches:
        return f"state.batch is {state['batch']}, but an epoch has {batches} batches"
    order = arrays.get("order")
    if order is None and state["batch"]:
        return f"the sample order of the interrupted epoch (at batch {state['batch']}) is missing"
    if order is not None and not (order.dtype.kind in "iu" and order.shape == (n,)
                                  and np.array_equal(np.sort(order), np.arange(n))):
        return (f"order must be a permutation of the {n} training samples (found "
                f"{order.dtype} {list(order.shape)})")
    for name, rng in (("shuffle", trainer.shuffle_rng), ("noise", trainer.noise_rng)):
        probe = type(rng.bit_generator)()
        try:
            probe.state = checkpoint.meta["rng"][name]
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            return f"rng.{name} is not a {type(probe).__name__} state ({str(e)[:80]})"
    return None


def digest(arrays: dict[str, np.ndarray]) -> str:
    """The SHA-256 a checkpoint carries of its arrays (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array)
    return digest.hexdigest()
