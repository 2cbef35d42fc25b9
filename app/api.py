"""The Python API: the steps of ``nnc build``, callable one by one, over the same pipeline
functions the CLI calls.

    import nnc
    spec = nnc.load("models/digits.yaml", overrides=["train.epochs=5"])
    graph = nnc.compile(spec)
    print(nnc.summarize(graph).totals.params)
    trained = nnc.train(spec)                  # or nnc.train(spec, x=X, y=Y)
    model = nnc.export(spec, trained, "digits.onnx")
    scores = nnc.predict("digits.onnx", X)
    result = nnc.sweep("models/capacity-sweep.yaml", workers=2)  # or dask="tcp://host:8786"
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnc.base.errors import DataError, SpecError
from nnc.compiler import Graph, SizingReport, compile_spec, size_graph
from nnc.spec import Spec, SpecFile, load_spec

if TYPE_CHECKING:
    import onnx

    from nnc.pipeline import Trained
    from nnc.sweep_driver import SweepResult

SpecLike = SpecFile | Spec | str | os.PathLike[str]


def load(path: str | os.PathLike[str], overrides: Iterable[str] | str = ()) -> SpecFile:
    """Read and validate a spec file (.yaml/.yml/.json), applying ``key.path=value`` overrides."""
    return load_spec(path, [overrides] if isinstance(overrides, str) else overrides)


def _spec_file(spec: SpecLike) -> SpecFile:
    if isinstance(spec, SpecFile):
        return spec
    return SpecFile.of(spec) if isinstance(spec, Spec) else load(spec)


def compile(spec: Spec | SpecFile) -> Graph:
    """Compile a spec to the graph IR (names resolved, topological order, shapes, params)."""
    return compile_spec(spec)


def summarize(graph: Graph, batch_size: int | None = None) -> SizingReport:
    """The sizing report of a graph: per-node and total counts, MACs, training memory."""
    return size_graph(graph, batch_size)


def train(spec: SpecLike, x: np.ndarray | None = None, y: np.ndarray | None = None,
          x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
          callback: Any = None) -> "Trained":
    """Train a spec on its own ``data`` section, or on arrays: x [N, *input] and y (class
    indices [N], or targets [N, outputs] for mse), validation from ``x_val``/``y_val`` or
    from ``data.val_split`` (0.2 without a data section).

    Returns a Trained with ``params`` (a ParamStore: ``state_dict()`` gives the arrays),
    ``dataset`` and ``result`` (history and final metrics). Without data, the initial
    weights."""
    from nnc import pipeline

    prepared = pipeline.prepare(_spec_file(spec))
    if x is None:
        if y is not None or x_val is not None or y_val is not None:
            raise DataError("give x (the features) with y, x_val and y_val", file="<arrays>")
        return pipeline.train(prepared, callback)
    if y is None:
        raise DataError("give y (the labels or targets) with x", file="<arrays>")
    from nnc.runtime.data import from_arrays

    s = prepared.spec_file.spec
    if s.loss is None:
        raise SpecError(prepared.spec_file.problem(("loss",), "training needs a loss"))
    dataset = from_arrays(x, y, x_val, y_val, features=math.prod(prepared.graph.input_shape),
                          outputs=math.prod(prepared.graph.output_shape), loss=s.loss,
                          seed=s.train.seed,
                          val_split=s.data.val_split if s.data else 0.2,
                          standardize=bool(s.data and s.data.standardize))
    return pipeline.train(prepared, callback, dataset=dataset)


def export(spec: SpecLike, trained: "Trained",
           path: str | os.PathLike[str] | None = None) -> "onnx.ModelProto":
    """The ONNX model of ``trained``, checked by onnx.checker and against onnxruntime;
    written (atomically) to ``path`` if given."""
    from nnc import pipeline

    prepared = pipeline.prepare(_spec_file(spec), memory="none")
    model, _ = pipeline.export(prepared, trained, Path(path) if path is not None else None)
    return model


def predict(model: "str | os.PathLike[str] | onnx.ModelProto", x: np.ndarray,
            output: str = "scores") -> np.ndarray:
    """onnxruntime's ``output`` ("scores", "probabilities" or "label") for raw features x
    [N, ...] (for a model of a table with category columns, its cells as strings)."""
    from nnc.base.inputs import Origin, as_rows, check_finite
    from nnc.runtime import onnx_run
    from nnc.runtime.predict import Inputs, check_shape, model_coding, table_rows

    proto = onnx_run.read_model(model) if isinstance(model, (str, os.PathLike)) else model
    sess = onnx_run.session(proto)
    if output not in [o.name for o in sess.get_outputs()]:
        raise DataError(f"the model has no output {output!r}", file=str(model)[:80])
    x = np.asarray(x)
    coding = model_coding(sess, str(model)[:80])
    if coding.text_input:  # a table with words: its cells, as its CSV has them
        cells, _ = table_rows(x, coding, Origin("<x>"))
        return onnx_run.run(sess, cells, [output])[0]
    if x.dtype.kind not in "fiub" or x.ndim == 0:
        raise DataError(f"x must be an array of numbers with one row per sample (got "
                        f"{x.dtype}, shape {list(x.shape)})", file="<x>")
    inputs = Inputs(x, None, Origin("<x>"))  # a table of numbers: NaN is an empty cell
    check_finite(as_rows(x), inputs.origin, "x", "feature",
                 missing_ok=coding.columns is not None)
    check_shape(sess, inputs, "the model")
    return onnx_run.run(sess, x, [output])[0]


def sweep(spec: str | os.PathLike[str], overrides: Iterable[str] | str = (),
          out: str | os.PathLike[str] | None = None, workers: int | None = None,
          dask: str | None = None, resume: bool = False) -> "SweepResult":
    """Run the sweep of the spec file ``spec`` as `nnc sweep` does (in ``out``, default
    build/NAME/sweep/); returns the counts by state and the best trial's row."""
    from nnc.sweep_workers import started_early

    with started_early(workers, dask) as started:
        from nnc import sweep_driver as sweeping

        overrides = (overrides,) if isinstance(overrides, str) else tuple(overrides)
        return sweeping.sweep_to(sweeping.plan(Path(spec), overrides),
                                 Path(out) if out is not None else None, workers, dask,
                                 resume, started=started)
