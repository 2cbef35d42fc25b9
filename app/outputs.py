"""What a run writes to its output folder: weights, history, report, validation set."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from nnc.base.files import check_output, make_dir, write_atomic
from nnc.base.folders import LOCK_NAME, folder_lock, remove_stale_temporaries, staged
from nnc.base.version import __version__
from nnc.runtime.trainer import EpochRecord

if TYPE_CHECKING:
    from nnc.pipeline import Prepared, Trained

VAL_FILE_LIMIT = 64 << 20  # write val.npz only when it is at most this large


def report_dict(prepared: "Prepared", trained: "Trained") -> dict[str, Any]:
    """report.json: what was trained (spec, overrides, seed, versions, graph, sizing), on
    what data, how it went (history, final figures), and, after a training run, the
    diagnostics, the warnings and the metrics."""
    spec_file, spec = prepared.spec_file, prepared.spec_file.spec
    report: dict[str, Any] = {
        "nnc_version": __version__, "name": prepared.name, "description": spec.description,
        "spec_file": str(spec_file.source.file), "overrides": list(spec_file.overrides),
        "seed": spec.train.seed, "versions": versions(),
        "params": prepared.sizing.totals.to_dict(), "memory": prepared.sizing.memory.to_dict(),
        "sizing": {"nodes": [n.to_dict() for n in prepared.sizing.nodes]},
        "graph": graph_dict(prepared), "data": None, "train": None,
        "diagnostics": None, "warnings": [], "metrics": None,
    }
    d = trained.dataset
    if d is not None:
        report["data"] = {"source": d.name, "train_samples": len(d.x_train),
                          "val_samples": len(d.x_val), "features": d.x_train.shape[1],
                          "classes": d.classes, "preprocess": d.preprocess is not None,
                          "image": list(d.image) if d.image else None, **d.coding.to_dict()}
    if trained.result is not None:
        report["train"] = trained.result.to_dict()
    report.update(trained.extra)
    return report


def graph_dict(prepared: "Prepared") -> dict[str, Any]:
    """The network as report.json keeps it (what the report draws)."""
    g = prepared.graph
    return {"input": g.input_name, "input_shape": list(g.input_shape), "output": g.output,
            "nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs),
                       "shape": list(n.shape),
                       "activation": n.activation.op if n.activation is not None else None}
                      for n in g.nodes]}


def versions() -> dict[str, str]:
    """The versions of what computed a run (read from the installed packages' metadata)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:  # once per process: a sweep's worker reports many runs
    import platform
    from importlib import metadata

    out = {"nnc": __version__, "python": platform.python_version()}
    for package in ("numpy", "onnx", "onnxruntime"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[package] = metadata.version(package)
    return out


def history_csv(trained: "Trained") -> str:
    """history.csv: one row per epoch."""
    out = io.StringIO()
    columns = [f.name for f in fields(EpochRecord) if f.name != "diagnostics"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in (trained.result.history if trained.result else []):
        writer.writerow(["" if getattr(record, c) is None else getattr(record, c) for c in columns])
    return out.getvalue()


def write_outputs(out_dir: Path, prepared: "Prepared", trained: "Trained",
                  model: bytes | None = None, html: bool = True) -> None:
    """The files of a run (``write_training_outputs``; with ``model``, model.onnx and
    summary.txt; with ``html``, report.html and figures/) written to a staging folder, then
    put in place in ``out_dir`` together: a run that fails anywhere, even on the last
    file, replaces none of an earlier run's files. A file of an earlier run that this run
    has not written is removed, as it would describe another run: val.npz, samples.npz,
    model.onnx and summary.txt (after `nnc build`, `nnc train`), report.html and its
    figures (``--no-report``)."""
    figures = out_dir / "figures"  # an earlier report's figures (in a real folder only)
    drawn = sorted(p for p in figures.glob("*.png") if not p.is_symlink()) \
        if figures.is_dir() and not figures.is_symlink() else []
    earlier = [*STALE_FILES, *(f"figures/{p.name}" for p in drawn)]
    with staged(out_dir, stale=earlier) as stage:
        write_training_outputs(stage, prepared, trained)
        if model is not None:
            from nnc.sizing_table import sizing_table

            write_atomic(stage / "model.onnx", model)
            write_atomic(stage / "summary.txt", (sizing_table(prepared.sizing) + "\n").encode())
        if html:
            from nnc.html_report import draw

            draw(stage)


def write_training_outputs(out_dir: Path, prepared: "Prepared", trained: "Trained") -> None:
    """weights.npz, history.csv, spec.resolved.yaml, val.npz (when the validation set is
    small), samples.npz (for inputs of one or two features) and report.json, which lists
    them (each written atomically; a file of an earlier run that this one has not is
    removed)."""
    from nnc.runtime.weights import save_weights

    make_dir(out_dir)
    save_weights(out_dir / "weights.npz", trained.params, trained.preprocess, trained.coding)
    write_atomic(out_dir / "history.csv", history_csv(trained).encode())
    write_atomic(out_dir / "spec.resolved.yaml", resolved_spec(prepared).encode())
    trained.extra["files"] = {"val": write_validation_set(out_dir, trained),
                              "samples": write_samples(out_dir, trained)}
    write_json(out_dir / "report.json", report_dict(prepared, trained))


# ------------------------------------------------------------------ the output folder

# what a run may write at the top of its folder (and its lock): never an input of the run
OUTPUT_FILES = ("weights.npz", "history.csv", "spec.resolved.yaml", "val.npz", "samples.npz",
                "report.json", "model.onnx", "summary.txt", "report.html", LOCK_NAME)
# the outputs only some runs write: an earlier run's are removed by one that does not
STALE_FILES = ("val.npz", "samples.npz", "model.onnx", "summary.txt", "report.html")
P = ParamSpec("P")
R = TypeVar("R")


def one_run_per_folder(verb: Callable[Concatenate["Prepared", Path, P], R]
                       ) -> Callable[Concatenate["Prepared", Path, P], R]:
    """``verb(prepared, out_dir, ...)`` run holding the lock on ``out_dir`` (a second run
    there fails at once, naming the holder), after removing the temporary files a killed
    run left there, and only if none of the run's outputs would replace one of its
    inputs (the spec, the data files) or a file that is not a regular one."""
    @functools.wraps(verb)
    def run(prepared: "Prepared", out_dir: Path, /, *args: P.args, **kwargs: P.kwargs) -> R:
        check_outputs(prepared, out_dir)
        with folder_lock(make_dir(out_dir)):
            remove_stale_temporaries(out_dir)
            return verb(prepared, out_dir, *args, **kwargs)
    return run


def run_inputs(prepared: "Prepared") -> dict[str, Path]:
    """The files a run of ``prepared`` reads: its spec and its data file (what each is ->
    its path)."""
    spec_file = prepared.spec_file
    inputs = {"the spec": spec_file.path} if spec_file.path else {}
    data = spec_file.spec.model_dump(mode="json", exclude_none=True).get("data") or {}
    for key in ("npz", "csv"):
        if key in data:  # not resolved: its reader reports a symlink loop
            inputs["the data file"] = spec_file.base_dir / os.path.expanduser(data[key]["path"])
    return inputs


def check_outputs(prepared: "Prepared", out_dir: Path) -> None:
    """DataError naming the output if one of the run's would replace one of its inputs,
    or a directory, a device, a FIFO."""
    inputs = run_inputs(prepared)
    for name in OUTPUT_FILES:
        check_output(out_dir / name, inputs)


def resolved_spec(prepared: "Prepared") -> str:
    """The exact spec trained, as YAML: overrides applied, every default filled in, data
    paths made absolute (so the file works from any folder)."""
    spec_file = prepared.spec_file
    sets = "".join(f" --set {o}" for o in spec_file.overrides)
    header = (f"# The spec nnc trained: {spec_file.source.file}{sets}, with every default "
              "filled in.\n# `nnc build` and `nnc export` take it as it is.\n")
    return spec_yaml(resolved_data(prepared), header)


def resolved_data(prepared: "Prepared") -> dict[str, Any]:
    """The spec as plain data, every default filled in, data paths made absolute."""
    spec_file = prepared.spec_file
    data = spec_file.spec.model_dump(mode="json", exclude_none=True)
    source = (data.get("data") or {})
    for key in ("npz", "csv", "cifar10"):
        if key in source:
            path = Path(source[key]["path"]).expanduser()
            source[key]["path"] = str(path if path.is_absolute() else
                                      (spec_file.base_dir / path).resolve())
    return data


def spec_yaml(data: dict[str, Any], header: str) -> str:
    """A spec's plain data as a YAML file, after a comment ``header``."""
    import yaml

    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


SAMPLES_LIMIT = 10_000  # training samples kept for the report's drawings of the data


def write_samples(out_dir: Path, trained: "Trained") -> str | None:
    """samples.npz: training samples as the data had them, for the report to draw the
    decision regions (two features) or the learned function (one); its name, or None."""
    d = trained.dataset
    path = out_dir / "samples.npz"
    if d is None or d.x_train.shape[1] > 2 or d.coding.columns is not None:
        path.unlink(missing_ok=True)  # one of an earlier run would mislead
        return None
    from nnc.base.npz import write_npz

    arrays = {"x": d.raw_train(SAMPLES_LIMIT).astype(np.float32),
              "y": d.coding.targets_in_units(np.array(d.y_train[:SAMPLES_LIMIT]))}
    write_atomic(path, lambda f: write_npz(f, arrays))
    return path.name


def write_validation_set(out_dir: Path, trained: "Trained") -> str | None:
    """val.npz: the raw validation features and labels, for `nnc predict` and the report
    (if small); its name, or None."""
    d = trained.dataset
    if d is None or len(d.x_val_raw) == 0 or d.x_val_raw.nbytes > VAL_FILE_LIMIT:
        (out_dir / "val.npz").unlink(missing_ok=True)  # one of an earlier run would mislead
        return None
    from nnc.base.npz import write_npz

    arrays = {"x": d.x_val_raw, "y": d.coding.targets_in_units(d.y_val)}  # as the model takes
    write_atomic(out_dir / "val.npz", lambda f: write_npz(f, arrays))        # and gives them
    return "val.npz"


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
