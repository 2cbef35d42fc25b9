"""Checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is one .npz file in OUT/checkpoints/: the flat parameters, the momentum,
the best weights kept for early stopping, the current epoch's sample order, and a
JSON member with the trainer's state, both random generators' states and a
fingerprint of what was trained (the training-relevant spec fields and the data).
It is written atomically (temporary file, fsync, rename) and carries a SHA-256 of its
contents, checked on read; the newest valid one is resumed.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnc.errors import DataError
from nnc.files import write_atomic
from nnc.runtime.data import Dataset
from nnc.runtime.trainer import Trainer, TrainState
from nnc.runtime.weights import write_npz
from nnc.spec import Spec

FORMAT = 1
NAME = re.compile(r"^ckpt-e(\d{6})-b(\d{6})\.npz$")
NOT_RELEVANT = {("name",), ("description",), ("export",), ("train", "checkpoint_every"),
                ("train", "keep_checkpoints"), ("train", "threads")}


def fingerprint(spec: Spec, data: Dataset) -> dict[str, Any]:
    """What a checkpoint must have been trained on to be resumed by this run."""
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
    return {"spec": fields, "data": digest.hexdigest()}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The dotted paths where two fingerprints differ (``data`` for the data)."""
    out = ["data (the samples differ)"] if old.get("data") != new.get("data") else []
    return out + _diff(old.get("spec"), new.get("spec"), "")


def _diff(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{where}.{k}" if where else k)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{where}.{i}")]
    return [] if a == b else [where or "the spec"]


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

    def __init__(self, folder: Path, keep: int, run_fingerprint: dict[str, Any]):
        self.folder, self.keep, self.run_fingerprint = Path(folder), keep, run_fingerprint

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
        arrays["sha256"] = np.frombuffer(_digest(arrays).encode(), np.uint8)
        path = self.folder / f"ckpt-e{state.epoch:06d}-b{state.batch:06d}.npz"
        write_atomic(path, lambda f: write_npz(f, arrays))
        for old in self.files()[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> tuple[Checkpoint | None, list[str]]:
        """The newest checkpoint that reads back intact, and a note per one skipped."""
        self._remove_temporaries()
        skipped = []
        for path in reversed(self.files()):
            try:
                return read_checkpoint(path), skipped
            except DataError as e:
                skipped.append(e.lines()[0])
        return None, skipped

    def _remove_temporaries(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob(".ckpt-*.tmp"):  # left by a write that was killed
                path.unlink(missing_ok=True)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint file; DataError if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataError(f"damaged checkpoint ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})",
                        file=str(path)) from None
    stored = arrays.pop("sha256", None)
    if stored is None or stored.tobytes().decode("ascii", "replace") != _digest(arrays):
        raise DataError("damaged checkpoint (its checksum does not match)", file=str(path))
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
        TrainState.from_dict(meta["state"])
    except (KeyError, ValueError, TypeError) as e:
        raise DataError(f"damaged checkpoint (bad metadata: {e})", file=str(path)) from None
    if meta.get("format") != FORMAT:
        raise DataError(f"checkpoint format {meta.get('format')} is not {FORMAT}", file=str(path))
    return Checkpoint(path, meta, arrays)


def restore(trainer: Trainer, checkpoint: Checkpoint) -> None:
    """Put the trainer back in the state the checkpoint recorded."""
    arrays, meta, where = checkpoint.arrays, checkpoint.meta, str(checkpoint.path)
    params = arrays.get("params")
    if params is None or params.shape != trainer.params.data.shape:
        raise DataError(f"holds {0 if params is None else params.size} parameters, but the "
                        f"network has {trainer.params.data.size}", file=where)
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


def _digest(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array)
    return digest.hexdigest()
