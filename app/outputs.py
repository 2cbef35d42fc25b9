"""What a run writes to its output folder: weights, history, report, validation set."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnc.base.files import make_dir, write_atomic
from nnc.base.version import __version__
from nnc.runtime.trainer import EpochRecord

if TYPE_CHECKING:
    from nnc.pipeline import Prepared, Trained

VAL_FILE_LIMIT = 64 << 20  # write val.npz only when it is at most this large


def report_dict(prepared: "Prepared", trained: "Trained") -> dict[str, Any]:
    """report.json: sizing totals, memory, data and training figures."""
    report: dict[str, Any] = {
        "nnc_version": __version__, "name": prepared.name,
        "spec_file": str(prepared.spec_file.source.file),
        "params": prepared.sizing.totals.to_dict(), "memory": prepared.sizing.memory.to_dict(),
        "data": None, "train": None,
    }
    d = trained.dataset
    if d is not None:
        report["data"] = {"source": d.name, "train_samples": len(d.x_train),
                          "val_samples": len(d.x_val), "features": d.x_train.shape[1],
                          "classes": d.classes, "preprocess": d.preprocess is not None}
    if trained.result is not None:
        report["train"] = trained.result.to_dict()
    report.update(trained.extra)
    return report


def history_csv(trained: "Trained") -> str:
    """history.csv: one row per epoch."""
    out = io.StringIO()
    columns = [f.name for f in fields(EpochRecord)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in (trained.result.history if trained.result else []):
        writer.writerow(["" if getattr(record, c) is None else getattr(record, c) for c in columns])
    return out.getvalue()


def write_training_outputs(out_dir: Path, prepared: "Prepared", trained: "Trained") -> None:
    """weights.npz, history.csv, report.json (each written atomically)."""
    from nnc.runtime.weights import save_weights

    make_dir(out_dir)
    preprocess = trained.dataset.preprocess if trained.dataset is not None else None
    save_weights(out_dir / "weights.npz", trained.params, preprocess)
    write_atomic(out_dir / "history.csv", history_csv(trained).encode())
    write_json(out_dir / "report.json", report_dict(prepared, trained))


def write_validation_set(out_dir: Path, trained: "Trained") -> Path | None:
    """val.npz: the raw validation features and labels, for `nnc predict` (if small)."""
    d = trained.dataset
    if d is None or len(d.x_val_raw) == 0 or d.x_val_raw.nbytes > VAL_FILE_LIMIT:
        (out_dir / "val.npz").unlink(missing_ok=True)  # one of an earlier run would mislead
        return None
    from nnc.base.npz import write_npz

    write_atomic(out_dir / "val.npz", lambda f: write_npz(f, {"x": d.x_val_raw, "y": d.y_val}))
    return out_dir / "val.npz"


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (a non-finite number, e.g. the loss of an extreme input, becomes null)."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False, default=_jsonable)
    write_atomic(path, (text + "\n").encode())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
