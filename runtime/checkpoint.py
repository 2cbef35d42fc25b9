"""Checkpoints: the trainer's state, stored so that a run continues exactly where it stopped.

A checkpoint is one .npz file in OUT/checkpoints/ holding what ``Trainer.state_dict()``
gives: its arrays (the flat parameters, the optimizer's state, the best weights kept for
early stopping, the current epoch's sample order) and a JSON member, ``meta``
(:class:`CheckpointMeta`): the counters, both random generators' states, a fingerprint
of what was trained, and where the history is. The history is not in the checkpoint: it
grows with the run, and a checkpoint costs O(parameters). It is appended, as epochs
end, to a journal of the run (``history-<series>.jsonl``), and the checkpoint records
how many of its records it covers and their SHA-256.

A checkpoint is written atomically (temporary file, fsync, rename) after the journal has
been fsynced, and carries a SHA-256 of its contents, checked on read; the newest valid
one is resumed. One that does not read back (truncated, bit-flipped, not an .npz, a
checksum or a journal that does not match) is damaged: it is skipped, with a note, for
an older one (or a new start: training is deterministic, so that gives the same
result). One whose checksums hold but whose contents do not make a training state of
this run was written wrong, or on purpose: it is refused (:class:`InvalidCheckpoint`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from nnc.base.errors import DataError, brief
from nnc.base.files import write_atomic
from nnc.base.folders import remove_stale_temporaries
from nnc.base.npz import load_npz, write_npz
from nnc.runtime.data import Dataset
from nnc.runtime.trainer import EpochRecord, StateMismatch, Trainer, TrainerState, TrainState
from nnc.spec import Spec

FORMAT = 2
NAME = re.compile(r"^ckpt-e(\d{6})-b(\d{6})\.npz$")
JOURNAL = r"^history-[0-9a-f]{16}\.jsonl$"
NOT_RELEVANT = {("name",), ("description",), ("export",), ("sweep",), ("train", "checkpoint_every"),
                ("train", "checkpoint_seconds"), ("train", "keep_checkpoints"),
                ("train", "threads"), ("train", "diagnostics_every")}
RECORD = TypeAdapter(EpochRecord)
SAMPLED_ROWS = 512  # feature rows of each set in the data's digest


class Fingerprint(BaseModel):
    """What a checkpoint was trained on (see :func:`fingerprint`)."""

    model_config = ConfigDict(extra="forbid")
    spec: dict[str, Any]
    data: str
    threads: int = Field(ge=1)


class RngStates(BaseModel):
    """The states of the generators of the sample order and of dropout and noise."""

    model_config = ConfigDict(extra="forbid")
    shuffle: dict[str, Any]
    noise: dict[str, Any]


class CheckpointMeta(BaseModel):
    """The ``meta`` member of a checkpoint."""

    model_config = ConfigDict(extra="forbid")
    format: Literal[2]
    state: TrainState
    rng: RngStates
    fingerprint: Fingerprint
    history: Annotated[str, Field(pattern=JOURNAL)]  # the journal file, beside the checkpoint
    history_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # of its first records


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
    return {"spec": fields, "data": data_digest(data), "threads": threads}


def data_digest(data: Dataset) -> str:
    """A digest of the training and validation samples: their shapes, every label or
    target, and up to SAMPLED_ROWS rows of features spread over each set. Hashing every
    feature would cost a fair part of an epoch for a small network on large data."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (data.x_train, data.y_train, data.x_val, data.y_val):
        digest.update(str((array.dtype.str, array.shape)).encode())
        rows = array if array.ndim == 1 or len(array) <= SAMPLED_ROWS else \
            array[np.linspace(0, len(array) - 1, SAMPLED_ROWS).astype(np.int64)]
        digest.update(np.ascontiguousarray(rows))  # type: ignore[arg-type]  # see digest()
    return digest.hexdigest()


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


class Checkpoint:
    """A checkpoint read back: where it is, its metadata, and the trainer state it holds."""

    def __init__(self, path: Path, meta: CheckpointMeta, state: TrainerState):
        self.path, self.meta, self.state = path, meta, state

    @property
    def epoch(self) -> int:
        return self.meta.state.epoch

    @property
    def where(self) -> str:
        """Where training continues from, as the interrupt message said it stopped."""
        state = self.meta.state
        if state.batch:
            return f"epoch {state.epoch + 1}, step {state.batch}"
        return f"the end of epoch {state.epoch}"

    def restore(self, trainer: Trainer) -> None:
        """Put ``trainer`` in the state this checkpoint holds (InvalidCheckpoint if it
        cannot be this trainer's)."""
        try:
            trainer.load_state_dict(self.state)
        except StateMismatch as e:
            raise InvalidCheckpoint(f"invalid checkpoint: {e}", file=str(self.path)) from None


class CheckpointStore:
    """The checkpoints of one output folder: save, keep the newest ``keep``, find the newest
    valid one, continue its series."""

    def __init__(self, folder: Path, keep: int, run_fingerprint: dict[str, Any],
                 new_series: bool = False):
        """``new_series``: this run does not resume; older checkpoints are removed once it
        has written its first (a run that fails early leaves them as they were)."""
        self.folder, self.keep, self.run_fingerprint = Path(folder), keep, run_fingerprint
        self.new_series = new_series
        self.journal = f"history-{secrets.token_hex(8)}.jsonl"
        self.journaled = 0  # records in the journal
        self.journal_hash = hashlib.sha256()
        self._check_entries()

    def _check_entries(self) -> None:
        """A directory (or a device, a pipe) under a checkpoint's name is not a damaged
        checkpoint that could be skipped and later removed: it is refused before training."""
        for path in self.files():
            try:
                regular = path.is_file()
            except OSError:
                regular = False
            if not regular:
                what = "a directory" if path.is_dir() else "not a regular file"
                raise DataError(f"is {what}, not a checkpoint file; move it away (nnc removes "
                                "only files it wrote)", file=str(path))

    def files(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.folder.is_dir():
            return []
        found = [(tuple(map(int, m.groups())), p) for p in self.folder.iterdir()
                 if (m := NAME.match(p.name))]
        return [p for _, p in sorted(found, key=lambda found: found[0])]

    def clear(self) -> None:
        """Remove every checkpoint and journal (a complete run without checkpoints)."""
        for path in self.files():
            path.unlink(missing_ok=True)
        self._remove_journals(keep=None)
        self._remove_temporaries()

    def continue_from(self, checkpoint: Checkpoint) -> None:
        """Go on with the series of ``checkpoint``: its journal, cut to the records it covers
        (a newer, damaged checkpoint may have journaled more)."""
        self.journal = checkpoint.meta.history
        lines = [_record_line(r) for r in checkpoint.state.history]
        write_atomic(self.folder / self.journal, "".join(lines).encode())
        self.journaled, self.journal_hash = len(lines), _hash(lines)

    def save(self, trainer: Trainer) -> Path:
        """Journal the new history records, then write the trainer's state atomically."""
        state = trainer.state_dict()
        self._journal(state.history)
        meta = CheckpointMeta(format=FORMAT, state=state.counters,
                              rng=RngStates.model_validate(state.rng),
                              fingerprint=Fingerprint.model_validate(self.run_fingerprint),
                              history=self.journal, history_sha256=self.journal_hash.hexdigest())
        arrays = dict(state.arrays)
        arrays["meta"] = np.frombuffer(meta.model_dump_json().encode(), np.uint8)
        arrays["sha256"] = np.frombuffer(digest(arrays).encode(), np.uint8)
        counters = state.counters
        path = self.folder / f"ckpt-e{counters.epoch:06d}-b{counters.batch:06d}.npz"
        write_atomic(path, lambda f: write_npz(f, arrays))
        self._prune(path)
        return path

    def _journal(self, history: list[EpochRecord]) -> None:
        """Append the records the journal does not hold yet, and fsync it."""
        lines = [_record_line(r) for r in history[self.journaled:]]
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.folder / self.journal, "a", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise DataError(f"cannot write: {e.strerror or e}",
                            file=str(self.folder / self.journal)) from None
        for line in lines:
            self.journal_hash.update(line.encode())
        self.journaled = len(history)

    def _prune(self, path: Path) -> None:
        files = self.files()
        if self.new_series:
            self.new_series = False
            for old in files:
                if old != path:
                    old.unlink(missing_ok=True)
            self._remove_journals(keep=self.journal)
            return
        mine = files.index(path)
        # the oldest beyond `keep`, and any newer one: damaged files a resume skipped, which
        # would otherwise outlive (and, pruning by age, delete) the checkpoints of this run
        for old in files[:max(0, mine + 1 - self.keep)] + files[mine + 1:]:
            old.unlink(missing_ok=True)

    def latest(self) -> tuple[Checkpoint | None, list[str]]:
        """The newest checkpoint that reads back intact, and a note per one skipped."""
        self._remove_temporaries()
        skipped: list[str] = []
        for path in reversed(self.files()):
            try:
                return read_checkpoint(path), skipped
            except InvalidCheckpoint:
                raise
            except DataError as e:
                skipped.append(e.lines()[0])
        return None, skipped

    def _remove_journals(self, keep: str | None) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob("history-*.jsonl"):
                if path.name != keep:
                    path.unlink(missing_ok=True)

    def _remove_temporaries(self) -> None:
        """What a write that was killed left (nnc's temporary names only)."""
        remove_stale_temporaries(self.folder)


RECORD_FIELDS = tuple(sorted(f.name for f in fields(EpochRecord)))


def _record_line(record: EpochRecord) -> str:
    # not dataclasses.asdict: it deep-copies, a tenth of a millisecond a record
    return json.dumps({name: getattr(record, name) for name in RECORD_FIELDS}) + "\n"


def _hash(lines: list[str]) -> Any:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
    return h


def read_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint file: DataError if it is damaged, InvalidCheckpoint
    if it is intact but does not make a training state."""
    arrays = load_npz(path, "damaged checkpoint")
    stored = arrays.pop("sha256", None)
    if stored is None or stored.tobytes().decode("ascii", "replace") != digest(arrays):
        raise DataError("damaged checkpoint (its checksum does not match)", file=str(path))
    try:
        raw = json.loads(arrays.pop("meta").tobytes())
    except (KeyError, ValueError, RecursionError) as e:
        raise InvalidCheckpoint(f"invalid checkpoint (bad metadata: {brief(e, 100)})",
                                file=str(path)) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise InvalidCheckpoint(f"checkpoint format {found} is not {FORMAT}", file=str(path))
    meta = _validated(CheckpointMeta, raw, path)
    history = _read_history(path.parent / meta.history, meta, path)
    state = TrainerState(arrays, meta.state, meta.rng.model_dump(), history)
    return Checkpoint(path, meta, state)


def _validated(model: type[CheckpointMeta], raw: dict[str, Any], path: Path) -> CheckpointMeta:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise InvalidCheckpoint(f"invalid checkpoint: {_first_error(e)}", file=str(path)) from None


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    value = first.get("input")
    got = f" (got {brief(repr(value), 60)})" if not isinstance(value, (dict, list)) else ""
    return f"{where}: {first['msg'].replace('Input should be', 'must be')}{got}"


def _read_history(journal: Path, meta: CheckpointMeta, path: Path) -> list[EpochRecord]:
    """The first ``meta.state.epoch`` records of the journal: DataError (damaged) if they are
    not all there or their SHA-256 differs, InvalidCheckpoint if they are not records."""
    epochs = meta.state.epoch
    try:
        with open(journal, encoding="utf-8") as f:
            lines = [f.readline() for _ in range(epochs)]
    except FileNotFoundError:
        raise DataError(f"damaged checkpoint (its history {journal.name} is missing)",
                        file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"damaged checkpoint (its history: {brief(e, 80)})", file=str(path)) \
            from None
    if not all(line.endswith("\n") for line in lines) or \
            _hash(lines).hexdigest() != meta.history_sha256:
        raise DataError(f"damaged checkpoint (its history {journal.name} does not match)",
                        file=str(path))
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(RECORD.validate_json(line))
        except ValidationError as e:
            raise InvalidCheckpoint(f"invalid checkpoint: history record {i + 1}: "
                                    f"{_first_error(e)}", file=str(path)) from None
    return records


def digest(arrays: dict[str, np.ndarray]) -> str:
    """The SHA-256 a checkpoint carries of its arrays (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        # an ndarray has the buffer protocol; numpy declares __buffer__ for Python 3.12+ only
        digest.update(array)  # type: ignore[arg-type]
    return digest.hexdigest()
