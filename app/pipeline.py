"""The steps of every verb, from a spec file to results and files in a folder.

One function per verb (``check``, ``summary``, ``train_to``, ``build``, ``export``,
``predict``, ``schema``); the click commands and the Python API both call them.
spec -> compiler -> runtime/ONNX: this module only sequences the stages and writes their
results (atomically); each stage does its own work.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from nnc.base.coding import NO_CODING, Coding
from nnc.base.errors import DataError, SpecError
from nnc.base.files import check_output, write_atomic
from nnc.base.machine import available_memory, total_memory
from nnc.compiler import Graph, Plan, SizingReport, compile_spec, lower_to_plan, size_graph
from nnc.compiler.sizing import check_memory
from nnc.outputs import (
    one_run_per_folder,
    report_dict,
    run_inputs,
    write_json,
    write_outputs,
)
from nnc.spec import SpecFile, load_spec

if TYPE_CHECKING:
    import onnx

    from nnc.runtime.data import Dataset, Preprocess
    from nnc.runtime.data_size import DataSize
    from nnc.runtime.params import ParamStore
    from nnc.runtime.parity import Parity
    from nnc.runtime.trainer import TrainResult
    from nnc.spec.sections import DataSpec

Memory = Literal["machine", "available", "none"]
SpecLike = str | os.PathLike[str] | SpecFile


@dataclass
class Prepared:
    """A spec loaded, compiled, lowered and sized."""

    spec_file: SpecFile
    graph: Graph
    plan: Plan
    sizing: SizingReport
    notes: tuple[str, ...] = ()  # what nnc decided for the spec (an input sized by the data)

    @property
    def name(self) -> str:
        return self.graph.name


@dataclass
class Trained:
    """What training produced (``result`` is None when the spec has no data)."""

    params: "ParamStore"
    dataset: "Dataset | None" = None
    result: "TrainResult | None" = None
    preprocess: "Preprocess | None" = None  # of the inputs, fitted on the training split
    extra: dict[str, Any] = field(default_factory=dict)
    coding: Coding = NO_CODING  # what the inputs and outputs mean (nnc.base.coding)
    optimizer: dict[str, np.ndarray] | None = None  # its state at the end (momentum, ...)


def prepare(spec: SpecLike, overrides: Iterable[str] = (), *, max_memory: int | None = None,
            memory: Memory = "available", batch_size: int | None = None) -> Prepared:
    """Load (unless given loaded), validate, compile and size a spec, and refuse it if
    training would need more than ``max_memory`` bytes, by default the machine's memory
    (``memory="machine"``: check, summary) or the memory available now ("available":
    train, build); "none" checks nothing (export)."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec, overrides)
    spec_file, notes = _input_from_data(spec_file)
    graph = compile_spec(spec_file)
    data = _data_size(spec_file, graph) if memory != "none" else None
    if batch_size is None and data is not None:  # a batch is at most the whole set
        batch_size = min(spec_file.spec.train.batch_size, max(1, data.samples))
    sizing = size_graph(graph, batch_size)
    if memory != "none":
        limit = max_memory if max_memory is not None else \
            total_memory() if memory == "machine" else available_memory()
        check_memory(sizing.memory, limit, spec_file.source.file,
                     data.bytes if data else 0, data.where if data else "")
    return Prepared(spec_file, graph, lower_to_plan(graph), sizing, notes)


def _input_from_data(spec_file: SpecFile) -> tuple[SpecFile, tuple[str, ...]]:
    """A chain whose spec leaves out ``input`` gets the number of features its data gives
    the network (a table's after one-hot encoding), read from the data now."""
    spec = spec_file.spec
    if spec.input is not None or spec.layers is None or spec.data is None:
        return spec_file, ()
    from dataclasses import replace

    from nnc.runtime.data import data_width

    if spec.loss is None:
        raise SpecError(spec_file.problem(("data",), "data is given but no loss: add e.g. "
                                          "`loss: softmax_cross_entropy` to train"))
    width, how = data_width(spec.data, base_dir=spec_file.base_dir, loss=spec.loss,
                            seed=spec.train.seed, spec_file=str(spec_file.source.file))
    note = f"input: [{width}], the features per sample of the data ({how})"
    return replace(spec_file, spec=spec.model_copy(update={"input": [width]})), (note,)


def _data_size(spec_file: SpecFile, graph: Graph) -> "DataSize | None":
    """The size of the spec's data set, when it is known before loading it."""
    from nnc.runtime.data_size import data_size

    data = spec_file.spec.data
    return data_size(data, spec_file.base_dir, math.prod(graph.input_shape)) \
        if data is not None else None


# -------------------------------------------------------------------------- verbs

def check(spec: SpecLike, overrides: Iterable[str] = (), max_memory: int | None = None
          ) -> Prepared:
    """`nnc check`: validate and compile; the memory estimate against the machine's."""
    return prepare(spec, overrides, max_memory=max_memory, memory="machine")


@one_run_per_folder
def train_to(prepared: Prepared, out_dir: Path, callback: Any = None,
             threads: int | None = None, resume: bool = False, force: bool = False,
             should_stop: Callable[[], int | None] | None = None,
             html: bool = True) -> dict[str, Any]:
    """`nnc train`: train, then write weights.npz, history.csv, report.json (and with
    ``html``, report.html); returns the report."""
    trained = train(prepared, callback, threads, out_dir=out_dir, resume=resume, force=force,
                    should_stop=should_stop)
    write_outputs(out_dir, prepared, trained, html=html)
    return report_dict(prepared, trained)


@one_run_per_folder
def build(prepared: Prepared, out_dir: Path, callback: Any = None, threads: int | None = None,
          resume: bool = False, force: bool = False,
          should_stop: Callable[[], int | None] | None = None,
          html: bool = True) -> dict[str, Any]:
    """`nnc build`, the main job: train (if the spec has data), export, verify, write
    everything; returns the report."""
    trained = train(prepared, callback, threads, out_dir=out_dir, resume=resume, force=force,
                    should_stop=should_stop)
    _stop_if_asked(should_stop, "after training, before the export")
    model = export_model(prepared, trained.params, trained.preprocess, _metrics(trained),
                         trained.coding)
    parity = verify_model(prepared, trained, model, threads)
    _stop_if_asked(should_stop, "after the export, before writing it")
    trained.extra["onnx"] = _onnx_entry(out_dir / "model.onnx", model, parity)
    write_outputs(out_dir, prepared, trained, model.SerializeToString(), html=html)
    return report_dict(prepared, trained)


def package(prepared: Prepared, out_dir: Path, threads: int | None = None,
            html: bool = True) -> dict[str, Any]:
    """A run's folder, as `nnc train` wrote it, made into a build's: model.onnx exported
    from its weights.npz and checked against onnxruntime on val.npz's inputs (random ones
    when there is none), summary.txt, the report's ``onnx`` entry and report.html; returns
    the report."""
    from nnc.base.npz import load_npz

    trained = load_trained(prepared, out_dir / "weights.npz")
    report_path = out_dir / "report.json"
    record = json.loads(report_path.read_text())
    train = record.get("train") or {}
    metrics = {k: train.get(k) for k in FINAL_METRICS} if train else {}
    model = export_model(prepared, trained.params, trained.preprocess, metrics, trained.coding)
    val = out_dir / "val.npz"
    x = load_npz(val, "not a readable val.npz", required=("x",))["x"] if val.is_file() \
        else None
    parity = verify_model(prepared, trained, model, threads, x, out_dir / "weights.npz")
    model_path = out_dir / "model.onnx"
    write_atomic(model_path, model.SerializeToString())
    from nnc.sizing_table import sizing_table

    write_atomic(out_dir / "summary.txt", (sizing_table(prepared.sizing) + "\n").encode())
    record["onnx"] = _onnx_entry(model_path, model, parity)
    write_json(report_path, record)
    if html:
        report(out_dir)
    return cast(dict[str, Any], record)


def _onnx_entry(path: Path, model: "onnx.ModelProto", parity: "Parity") -> dict[str, Any]:
    """report.json's ``onnx``: where the model is, its opset and size, and the parity."""
    return {"path": str(path), "opset": model.opset_import[0].version,
            "bytes": model.ByteSize(), **parity.to_dict()}


def report(out_dir: Path) -> Path:
    """`nnc report`: draw report.html (and figures/*.png) from a run's output folder,
    without training again; returns the page's path."""
    from nnc.html_report import draw

    return draw(out_dir)


def export(prepared: Prepared, trained: Trained, output: Path | None = None,
           threads: int | None = None, weights: Path | None = None
           ) -> tuple["onnx.ModelProto", "Parity"]:
    """`nnc export`: the ONNX model of ``trained`` (read from ``weights``, if from a file),
    checked against onnxruntime, written atomically to ``output`` if given (never over the
    spec or the weights)."""
    from nnc.runtime.weights import check_names_and_shapes

    if output is not None:
        check_output(output, run_inputs(prepared) | ({"the weights": weights} if weights else {}))
    check_names_and_shapes(trained.params.state_dict(), prepared.plan, "<trained weights>")
    model = export_model(prepared, trained.params, trained.preprocess, coding=trained.coding)
    parity = verify_model(prepared, trained, model, threads, weights=weights)
    if output is not None:
        write_atomic(output, model.SerializeToString())
    return model, parity


def load_trained(prepared: Prepared, weights: Path) -> Trained:
    """The parameters (and input preprocessing) of a weights.npz, checked against the spec."""
    from nnc.runtime.params import ParamStore
    from nnc.runtime.weights import load_weights

    arrays, preprocess, coding = load_weights(weights, prepared.plan)
    params = ParamStore(prepared.plan)
    params.load_state_dict(arrays)
    return Trained(params, preprocess=preprocess, coding=coding)


@dataclass
class Prediction:
    """What `nnc predict` did: rows predicted, where they went, and, when the input has
    labels, the model's metrics on them (accuracy and per class, or MAE, RMSE and R2);
    notes for the user (columns ignored, categories unseen in training)."""

    rows: int
    output: Path | None
    metrics: dict[str, Any] | None
    samples: int
    notes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] | None = None


def predict(model: Path, inputs: Path, output: Path | None = None, what: str = "scores",
            label: str | None = None, threads: int | None = None,
            echo: Callable[[str], None] | None = None) -> Prediction:
    """`nnc predict`: onnxruntime on a file of raw features; ``what`` the model gives
    ("scores", "probabilities" or "classes": their names when the model has them) goes to
    ``output`` (.npy) or, one row a line, to ``echo``."""
    from nnc.runtime import predict as run

    if output is not None:
        check_output(output, {"the model": model, "the input": inputs})
    sess = run.session_for(model, threads)
    coding = run.model_coding(sess, str(model))
    data = run.read_inputs(inputs, label, coding)
    run.check_shape(sess, data, str(model))
    name = "probabilities" if what == "probabilities" else "scores"
    if name not in [o.name for o in sess.get_outputs()]:
        raise DataError("the model has no `probabilities` output (its loss gives none, or it "
                        "was exported with export.onnx.probabilities: false)", file=str(model))
    units = run.units_of(sess)
    loss = run.model_loss(sess, units)
    if what == "classes" and not loss.classification:
        raise DataError(f"--classes: the model was trained with {loss.name}, a regression "
                        "loss; it predicts values, not classes", file=str(model))
    classify = loss if what == "classes" else None
    names = coding.class_names if classify else None
    labels = data.labels(units, loss, coding) if data.y is not None else None
    if output is not None:
        rows = run.predict_to_file(sess, data.x, name, classify, output, str(model), names)
    else:
        rows = 0
        for scores, in run.checked_batches(sess, data.x, [name], str(model)):
            found = classify.classify(scores) if classify else scores
            rows += len(found)
            if echo is not None:
                echo("\n".join((names[r] if names else str(r)) if classify
                               else ",".join(f"{v:.7g}" for v in r) for r in found))
    found_metrics = run.evaluate(sess, data.x, labels, loss, str(model)) \
        if labels is not None else None
    return Prediction(rows, output, found_metrics, len(data.x), data.notes,
                      coding.feature_names)


def schema(output: Path | None = None) -> str:
    """`nnc schema`: the JSON Schema of the spec format, as text (written to ``output`` if
    given)."""
    from nnc.spec.schema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2) + "\n"
    if output is not None:
        write_atomic(output, text.encode())
    return text


def output_folder(out_dir: Path | None, prepared: Prepared) -> Path:
    """The output folder: ``out_dir``, default build/NAME/ (checked and made by the verb
    that writes there, before any training)."""
    return out_dir if out_dir is not None else Path("build") / prepared.name


# ------------------------------------------------------------------------ training

def train(prepared: Prepared, callback: Any = None, threads: int | None = None,
          dataset: "Dataset | None" = None, out_dir: Path | None = None, resume: bool = False,
          force: bool = False, should_stop: Callable[[], int | None] | None = None,
          init: dict[str, np.ndarray] | None = None,
          init_optimizer: dict[str, np.ndarray] | None = None) -> Trained:
    """Initialize the parameters from the seed (or take ``init``'s, and the optimizer's
    state from ``init_optimizer``: the scikit-learn estimators' ``partial_fit`` goes on
    from where the last call ended) and, when there is data (the spec's, or ``dataset``),
    train them. With ``out_dir``, checkpoints go to out_dir/checkpoints; ``resume``
    continues from the newest valid one (``force``: even if the spec or the data
    changed); ``should_stop()`` returning a signal number stops after the step."""
    from nnc.interrupts import while_training
    from nnc.runtime.data import load_data
    from nnc.runtime.params import ParamStore
    from nnc.runtime.threads import blas_threads, choose_threads
    from nnc.runtime.trainer import Trainer

    spec, spec_file = prepared.spec_file.spec, prepared.spec_file
    params = ParamStore(prepared.plan).initialize(spec.train.seed)
    init_coding = None
    if init is not None:
        params.load_state_dict(init)
    elif spec.train.init_from is not None:
        arrays, init_coding, init_file = _initial_weights(prepared, spec.train.init_from)
        params.load_state_dict(arrays)
    if spec.data is None and dataset is None:
        return Trained(params)
    if spec.loss is None:
        raise SpecError(spec_file.problem(("data",), "data is given but no loss: add e.g. "
                                          "`loss: softmax_cross_entropy` to train"))
    graph = prepared.graph
    if dataset is None:
        data = cast("DataSpec", spec.data)  # given: without data or a dataset, returned above
        dataset = load_data(data, base_dir=spec_file.base_dir,
                            features=math.prod(graph.input_shape),
                            outputs=math.prod(graph.output_shape), loss=spec.loss,
                            seed=spec.train.seed, spec_file=str(spec_file.source.file))
    if init_coding is not None:
        changed = init_coding.differences(dataset.coding)
        if changed:  # the same shapes, other meanings: the weights would fit nonsense
            raise DataError(f"was trained on data whose {' and '.join(changed)} differ from "
                            "this run's (train.init_from)", file=init_file)
    blas = choose_threads(prepared.plan, min(spec.train.batch_size, len(dataset.x_train)),
                          threads or spec.train.threads)
    store = _store(spec, dataset, blas, out_dir, resume) if out_dir is not None else None
    trainer = Trainer(prepared.plan, params, dataset, spec.train, spec.loss, callback,
                      checkpoint=store.save if store is not None else None,
                      should_stop=should_stop)
    if init_optimizer is not None:
        trainer.optimizer.load_state_dict(init_optimizer)
    notes: list[str] = []
    if store is not None and resume:
        _resume(trainer, store, spec, force, notes)
    if trainer.hooks.on_note is not None:
        for note in notes:
            trainer.hooks.on_note(note)
    with blas_threads(blas), while_training(should_stop):
        result = trainer.run()
    if store is not None and spec.train.checkpoint_every == 0:
        store.clear()  # only an interrupt wrote some: the run is complete now
    trained = Trained(params, dataset, result, dataset.preprocess,
                      {"notes": notes} if notes else {}, dataset.coding,
                      {k: a.copy() for k, a in trainer.optimizer.state_dict().items()})
    from nnc.insight import analyse

    probe = len(trainer.diagnostics.probe) if trainer.diagnostics is not None else 0
    trained.extra.update(analyse(prepared, trained, trainer.state.initial, probe))
    return trained


def _initial_weights(prepared: Prepared, init_from: str
                     ) -> tuple[dict[str, np.ndarray], Coding, str]:
    """train.init_from's parameters, checked against the spec (names, shapes, finite), the
    coding of the data they were trained on, and the file."""
    from nnc.runtime.weights import load_weights

    path = Path(init_from).expanduser()
    path = path if path.is_absolute() else prepared.spec_file.base_dir / path
    if path.is_dir():
        path = path / "weights.npz"
    arrays, _, coding = load_weights(path, prepared.plan)
    return arrays, coding, str(path)


def _store(spec: Any, dataset: "Dataset", threads: int, out_dir: Path, resume: bool) -> Any:
    from nnc.runtime.checkpoint import CheckpointStore, fingerprint

    return CheckpointStore(out_dir / "checkpoints", spec.train.keep_checkpoints,
                           fingerprint(spec, dataset, threads), new_series=not resume)


def _resume(trainer: Any, store: Any, spec: Any, force: bool, notes: list[str]) -> None:
    """Restore ``trainer`` from the newest valid checkpoint of ``store``, if there is one."""
    from nnc.runtime.checkpoint import changes

    checkpoint, skipped = store.latest()
    notes.extend(f"skipped {line}" for line in skipped)
    if checkpoint is None:
        notes.append(f"no checkpoint in {store.folder}: training from the start")
        store.new_series = True  # nothing to continue: replace what is there
        return
    changed = changes(checkpoint.meta.fingerprint.model_dump(), store.run_fingerprint)
    if changed and not force:
        raise DataError(f"was written for another spec or data; changed since: "
                        f"{', '.join(changed)} (--force resumes anyway)",
                        file=str(checkpoint.path))
    if checkpoint.epoch > spec.train.epochs:
        raise DataError(f"holds {checkpoint.epoch} trained epochs, more than train.epochs="
                        f"{spec.train.epochs}: resume with at least {checkpoint.epoch} "
                        "epochs, or train without --resume", file=str(checkpoint.path))
    checkpoint.restore(trainer)
    store.continue_from(checkpoint)
    notes.append(f"resumed from {checkpoint.path} ({checkpoint.where})")


# -------------------------------------------------------------------------- export

PARITY_SAMPLES = 1000
FINAL_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epochs_run")
"""A run's final figures, kept in the exported model's metadata."""


def export_model(prepared: Prepared, params: "ParamStore", preprocess: "Preprocess | None" = None,
                 metrics: dict[str, Any] | None = None, coding: Coding = NO_CODING
                 ) -> "onnx.ModelProto":
    """The ONNX model of the spec with ``params``, checked by onnx.checker."""
    import onnx

    from nnc.base.errors import ExportError
    from nnc.compiler.onnx_export import export_onnx
    from nnc.runtime.onnx_run import max_opset

    onnx_spec = prepared.spec_file.spec.export.onnx
    newest = max_opset()
    if onnx_spec.opset > newest:
        raise ExportError(prepared.spec_file.problem(
            ("export", "onnx", "opset"), f"opset {onnx_spec.opset} is newer than the installed "
            f"onnxruntime runs (13 to {newest})"))
    pre = (preprocess.shift, preprocess.scale) if preprocess is not None else None
    model = export_onnx(prepared.graph, params.state_dict(), opset=onnx_spec.opset,
                        probabilities=onnx_spec.probabilities is not False, preprocess=pre,
                        metadata={"metrics": metrics or {}}, coding=coding)
    onnx.checker.check_model(model, full_check=True)
    return model


def verify_model(prepared: Prepared, trained: Trained, model: "onnx.ModelProto",
                 threads: int | None = None, x: np.ndarray | None = None,
                 weights: Path | None = None) -> "Parity":
    """Parity of onnxruntime and NumPy on the raw inputs ``x``, else on the validation
    inputs, else on random ones; scores that are not finite there are an error naming
    ``weights`` (else the spec)."""
    from nnc.runtime.parity import check_parity

    d, preprocess = trained.dataset, trained.preprocess
    inputs = "validation samples"
    if x is not None and len(x):
        x = x[:PARITY_SAMPLES]
    elif d is not None and len(d.x_val_raw):
        x = d.x_val_raw[:PARITY_SAMPLES]
    elif trained.coding.columns is not None:  # a table's model takes its cells
        rng = np.random.default_rng(prepared.spec_file.spec.train.seed)
        x, inputs = trained.coding.example_rows(rng, 256), "made-up rows of the table"
    else:
        rng = np.random.default_rng(prepared.spec_file.spec.train.seed)
        x = rng.standard_normal((256, math.prod(prepared.graph.input_shape))).astype(np.float32)
        inputs = "random inputs"
        if preprocess is not None:  # half on the scale of the raw features, half of unit
            with np.errstate(all="ignore"):  # scale around their shift: a scale that
                x[:128] = x[:128] / preprocess.scale + preprocess.shift  # overflows shows
                x[128:] += preprocess.shift
    file = str(weights) if weights is not None else str(prepared.spec_file.source.file)
    return check_parity(prepared.plan, trained.params, model, x, preprocess, threads,
                        trained.coding, file, inputs)


def _stop_if_asked(should_stop: Callable[[], int | None] | None, where: str) -> None:
    """SIGINT/SIGTERM arriving between the stages of a build stop it there."""
    from nnc.base.errors import Interrupted

    signal = should_stop() if should_stop is not None else None
    if signal is not None:
        raise Interrupted(signal, where)


def _metrics(trained: Trained) -> dict[str, Any]:
    r = trained.result
    if r is None:
        return {}
    return {k: getattr(r, k) for k in FINAL_METRICS}


__all__ = ["Prediction", "Prepared", "Trained", "build", "check", "export", "load_trained",
           "output_folder", "predict", "prepare", "schema", "train", "train_to",
           "write_json"]
