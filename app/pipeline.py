"""The steps of ``nnc train`` and ``nnc build``, from a spec file to files in a folder.

spec -> compiler -> runtime/ONNX: this module only sequences the stages and writes
their results (atomically); each stage does its own work.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nnc.base.version import __version__
from nnc.compiler import Graph, Plan, SizingReport, compile_spec, lower_to_plan, size_graph
from nnc.compiler.sizing import check_memory
from nnc.base.errors import SpecError
from nnc.base.files import make_dir, write_atomic
from nnc.base.machine import available_memory
from nnc.spec import SpecFile, load_spec

VAL_FILE_LIMIT = 64 << 20  # write val.npz only when it is at most this large


@dataclass
class Prepared:
    """A spec loaded, compiled, lowered and sized."""

    spec_file: SpecFile
    graph: Graph
    plan: Plan
    sizing: SizingReport

    @property
    def name(self) -> str:
        return self.graph.name


@dataclass
class Trained:
    """What training produced (``result`` is None when the spec has no data)."""

    params: Any  # nnc.runtime.params.ParamStore
    dataset: Any = None  # nnc.runtime.data.Dataset
    result: Any = None  # nnc.runtime.trainer.TrainResult
    extra: dict[str, Any] = field(default_factory=dict)


def prepare(spec: str | os.PathLike | SpecFile, overrides: Iterable[str] = (),
            max_memory: int | None = None, for_training: bool = True) -> Prepared:
    """Load (unless given loaded), validate, compile and size a spec; when it is
    ``for_training``, refuse it if training would not fit in ``max_memory`` bytes
    (default: the memory available now)."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec, overrides)
    graph = compile_spec(spec_file)
    sizing = size_graph(graph)
    if for_training:
        limit = available_memory() if max_memory is None else max_memory
        check_memory(sizing.memory, limit, spec_file.source.file)
    return Prepared(spec_file, graph, lower_to_plan(graph), sizing)


def train(prepared: Prepared, callback: Any = None, threads: int | None = None,
          dataset: Any = None, out_dir: Path | None = None, resume: bool = False,
          force: bool = False, should_stop: Any = None) -> Trained:
    """Initialize the parameters from the seed and, when there is data (the spec's, or
    ``dataset``), train them. With ``out_dir``, checkpoints go to out_dir/checkpoints;
    ``resume`` continues from the newest valid one (``force``: even if the spec or the
    data changed); ``should_stop()`` returning a signal number stops after the step."""
    from nnc.runtime.data import load_data
    from nnc.runtime.params import ParamStore
    from nnc.runtime.trainer import Trainer

    spec, spec_file = prepared.spec_file.spec, prepared.spec_file
    params = ParamStore(prepared.plan).initialize(spec.train.seed)
    if spec.data is None and dataset is None:
        return Trained(params)
    if spec.loss is None:
        raise SpecError(spec_file.problem(("data",), "data is given but no loss: add e.g. "
                                          "`loss: softmax_cross_entropy` to train"))
    graph = prepared.graph
    if dataset is None:
        dataset = load_data(spec.data, base_dir=spec_file.base_dir,
                            features=math.prod(graph.input_shape),
                            outputs=math.prod(graph.output_shape), loss=spec.loss,
                            seed=spec.train.seed, spec_file=str(spec_file.source.file))
    trainer = Trainer(prepared.plan, params, dataset, spec.train, spec.loss, callback,
                      should_stop=should_stop)
    blas = choose_threads(prepared.plan, trainer.batch, threads or spec.train.threads)
    notes: list[str] = []
    store = None
    if out_dir is not None:
        store = _checkpoints(trainer, spec, dataset, blas, out_dir, resume, force, notes)
    for note in notes:
        if callback is not None and hasattr(callback, "on_note"):
            callback.on_note(note)
    with blas_threads(blas):
        result = trainer.run()
    if store is not None and not spec.train.checkpoint_every:
        store.clear()  # only an interrupt wrote some: the run is complete now
    return Trained(params, dataset, result, {"notes": notes} if notes else {})


def _checkpoints(trainer: Any, spec: Any, dataset: Any, threads: int, out_dir: Path,
                 resume: bool, force: bool, notes: list[str]):
    """Give the trainer its checkpoint hook (and, with ``resume``, restore it from the
    newest checkpoint); returns the store."""
    from nnc.base.errors import DataError
    from nnc.runtime.checkpoint import CheckpointStore, changes, fingerprint, restore

    store = CheckpointStore(out_dir / "checkpoints", spec.train.keep_checkpoints,
                            fingerprint(spec, dataset, threads), new_series=not resume)
    if resume:
        checkpoint, skipped = store.latest()
        notes.extend(f"skipped {line}" for line in skipped)
        if checkpoint is None:
            notes.append(f"no checkpoint in {store.folder}: training from the start")
        else:
            changed = changes(checkpoint.meta["fingerprint"], store.run_fingerprint)
            if changed and not force:
                raise DataError(f"was written for another spec or data; changed since: "
                                f"{', '.join(changed)} (--force resumes anyway)",
                                file=str(checkpoint.path))
            done = checkpoint.meta["state"]["epoch"]
            if done > spec.train.epochs:
                raise DataError(f"holds {done} trained epochs, more than train.epochs="
                                f"{spec.train.epochs}: resume with at least {done} epochs, or "
                                "train without --resume", file=str(checkpoint.path))
            restore(trainer, checkpoint)
            notes.append(f"resumed from {checkpoint.path} ({checkpoint.where})")
    if spec.train.checkpoint_every or trainer.should_stop:
        trainer.checkpoint = store.save
    return store


SMALL_STEP_MACS = 4_000_000  # below this, one BLAS thread beats waking a second one


def choose_threads(plan: Plan, batch: int, threads: int | None = None) -> int:
    """BLAS threads for training ``plan`` at ``batch``: ``threads`` if given, else one for
    small steps (thread wake-up costs more than it saves) and every core for large ones."""
    if threads:
        return threads
    from nnc.compiler.sizing import node_counts

    step_macs = batch * sum(n.counts.macs for n in node_counts(plan.graph))
    return 1 if step_macs < SMALL_STEP_MACS else (os.cpu_count() or 1)


def blas_threads(threads: int | None):
    """A context limiting BLAS threads (threadpoolctl), or nothing when ``threads`` is None."""
    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


# ------------------------------------------------------------------------- outputs

def report_dict(prepared: Prepared, trained: Trained) -> dict[str, Any]:
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


def history_csv(trained: Trained) -> str:
    """history.csv: one row per epoch."""
    out = io.StringIO()
    columns = ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
               "seconds"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in (trained.result.history if trained.result else []):
        writer.writerow(["" if getattr(record, c) is None else getattr(record, c) for c in columns])
    return out.getvalue()


def write_training_outputs(out_dir: Path, prepared: Prepared, trained: Trained) -> None:
    """weights.npz, history.csv, report.json (each written atomically)."""
    from nnc.runtime.weights import save_weights

    make_dir(out_dir)
    preprocess = trained.dataset.preprocess if trained.dataset is not None else None
    save_weights(out_dir / "weights.npz", trained.params, preprocess)
    write_atomic(out_dir / "history.csv", history_csv(trained).encode())
    write_json(out_dir / "report.json", report_dict(prepared, trained))


def write_validation_set(out_dir: Path, trained: Trained) -> Path | None:
    """val.npz: the raw validation features and labels, for `nnc predict` (if small)."""
    d = trained.dataset
    if d is None or len(d.x_val_raw) == 0 or d.x_val_raw.nbytes > VAL_FILE_LIMIT:
        (out_dir / "val.npz").unlink(missing_ok=True)  # one of an earlier run would mislead
        return None
    from nnc.base.npz import write_npz

    write_atomic(out_dir / "val.npz", lambda f: write_npz(f, {"x": d.x_val_raw, "y": d.y_val}))
    return out_dir / "val.npz"


# -------------------------------------------------------------------------- export

PARITY_SAMPLES = 1000


def export_model(prepared: Prepared, params: Any, preprocess: Any = None,
                 metrics: dict[str, Any] | None = None):
    """The ONNX model of the spec with ``params`` (a ParamStore), checked by onnx.checker."""
    import onnx

    from nnc.compiler.onnx_export import export_onnx
    from nnc.base.errors import ExportError
    from nnc.runtime.onnx_run import max_opset

    onnx_spec = prepared.spec_file.spec.export.onnx
    newest = max_opset()
    if onnx_spec.opset > newest:
        raise ExportError(prepared.spec_file.problem(
            ("export", "onnx", "opset"), f"opset {onnx_spec.opset} is newer than the installed "
            f"onnxruntime runs (13 to {newest})"))
    pre = (preprocess.shift, preprocess.scale) if preprocess is not None else None
    model = export_onnx(prepared.graph, params.state_dict(), opset=onnx_spec.opset,
                        probabilities=onnx_spec.probabilities, preprocess=pre,
                        metadata={"metrics": metrics or {}})
    onnx.checker.check_model(model, full_check=True)
    return model


def verify_model(prepared: Prepared, trained: Trained, model: Any, preprocess: Any = None,
                 threads: int | None = None):
    """Parity of onnxruntime and NumPy on the validation inputs (or random ones)."""
    from nnc.runtime.parity import check_parity

    d = trained.dataset
    if d is not None and len(d.x_val_raw):
        x = d.x_val_raw[:PARITY_SAMPLES]
    else:
        rng = np.random.default_rng(prepared.spec_file.spec.train.seed)
        x = rng.standard_normal((256, math.prod(prepared.graph.input_shape))).astype(np.float32)
        if preprocess is not None:  # random inputs on the scale of the raw features
            x = x / preprocess.scale + preprocess.shift
    return check_parity(prepared.plan, trained.params, model, x, preprocess, threads)


def build(prepared: Prepared, out_dir: Path, callback: Any = None, threads: int | None = None,
          resume: bool = False, force: bool = False, should_stop: Any = None) -> dict[str, Any]:
    """The main job: train (if the spec has data), export, verify, write everything."""
    trained = train(prepared, callback, threads, out_dir=out_dir, resume=resume, force=force,
                    should_stop=should_stop)
    _stop_if_asked(should_stop, "after training, before the export")
    metrics = _metrics(trained)
    preprocess = trained.dataset.preprocess if trained.dataset is not None else None
    model = export_model(prepared, trained.params, preprocess, metrics)
    parity = verify_model(prepared, trained, model, preprocess, threads)
    _stop_if_asked(should_stop, "after the export, before writing it")
    make_dir(out_dir)
    model_path = out_dir / "model.onnx"
    trained.extra["onnx"] = {"path": str(model_path), "opset": model.opset_import[0].version,
                             "bytes": model.ByteSize(), **parity.to_dict()}
    val_path = write_validation_set(out_dir, trained)
    trained.extra["val_file"] = str(val_path) if val_path else None
    write_training_outputs(out_dir, prepared, trained)
    write_atomic(model_path, model.SerializeToString())
    from nnc.report import sizing_table

    write_atomic(out_dir / "summary.txt", (sizing_table(prepared.sizing) + "\n").encode())
    return report_dict(prepared, trained)


def _stop_if_asked(should_stop: Any, where: str) -> None:
    """SIGINT/SIGTERM arriving between the stages of a build stop it there."""
    from nnc.base.errors import Interrupted

    signal = should_stop() if should_stop is not None else None
    if signal is not None:
        raise Interrupted(signal, where)


def _metrics(trained: Trained) -> dict[str, Any]:
    r = trained.result
    if r is None:
        return {}
    return {k: getattr(r, k) for k in ("train_loss", "train_accuracy", "val_loss",
                                        "val_accuracy", "epochs_run")}


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
