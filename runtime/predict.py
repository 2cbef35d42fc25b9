"""`nnc predict`: run an exported model on a .npy, .npz or .csv file of raw features.

The inputs are read by the same readers, with the same checks and messages, as training
data (``nnc.base.inputs``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from nnc.base.errors import DataError, Interrupted, brief
from nnc.base.files import write_atomic
from nnc.base.inputs import (
    Origin,
    as_rows,
    check_finite,
    class_labels,
    read_csv,
    read_npy,
    read_npz_samples,
)
from nnc.base.losses import LOSSES, Loss
from nnc.runtime import onnx_run

if TYPE_CHECKING:
    import onnxruntime as ort

DRY_RUN_FEATURES = 1 << 20  # features per sample up to which a model is tried on zeros
FORMATS = (".npy", ".npz", ".csv")


@dataclass
class Inputs:
    """Features [n, *shape] (memory-mapped for .npy), the labels as read if the file has
    them, and where they came from (for messages)."""

    x: np.ndarray
    y: np.ndarray | None
    origin: Origin

    @property
    def file(self) -> str:
        return self.origin.file

    def labels(self, units: int, loss: Loss) -> np.ndarray:
        """The labels as the model's ``loss`` takes them: int64 class indices of a model with
        ``units`` outputs, or float targets [n, units]."""
        assert self.y is not None
        if len(self.y) != len(self.x):
            raise DataError(f"y has shape {list(self.y.shape)}, expected one label per sample "
                            f"([{len(self.x)}])", file=self.file)
        if not loss.classification:
            y = as_rows(self.y)
            if y.shape[1] != units:
                raise DataError(f"y has {y.shape[1]} targets per sample, but the model gives "
                                f"{units}", file=self.file)
            check_finite(y, self.origin, "y", "target")
            return np.asarray(y, dtype=np.float64)
        binary = f"the model's loss, {loss.name}," if loss.labels == "binary" else None
        return class_labels(self.y, self.origin, "y", units, binary)


def read_inputs(path: str | os.PathLike[str], label: str | None = None) -> Inputs:
    """Features from .npy (memory-mapped), .npz (`x`, optional `y`; or its only array) or
    .csv (numbers; a header row is optional; ``label`` names a label column to take out)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"unknown input format {suffix or '(no extension)'!r}; use .npy, .npz "
                        "or .csv", file=str(path))
    if label is not None and suffix != ".csv":
        raise DataError(f"--label names a column of a CSV file; labels in a {suffix} file "
                        "come from its array `y`", file=str(path))
    if suffix == ".npy":
        inputs = Inputs(read_npy(path), None, Origin(str(path)))
    elif suffix == ".npz":
        inputs = _read_npz(path)
    else:
        inputs = _read_csv(path, label)
    check_finite(as_rows(inputs.x), inputs.origin, "x", "feature")
    return inputs


def _read_npz(path: Path) -> Inputs:
    arrays = read_npz_samples(path, None, what="cannot read the input")
    names = list(arrays)
    key = "x" if "x" in names else names[0] if len(names) == 1 else None
    if key is None:
        raise DataError(f"expected an array named 'x' (found: {', '.join(names) or 'none'})",
                        file=str(path))
    y = arrays.get("y") if key == "x" else None
    return Inputs(arrays[key], y, Origin(str(path)))


def _read_csv(path: Path, label: str | None) -> Inputs:
    table = read_csv(path, header_required=False)
    cells = table.numbers()
    lines = np.asarray(table.lines, dtype=np.int64)
    if label is None:
        return Inputs(cells, None, Origin(str(path), lines=lines, columns=tuple(table.names)))
    col = table.column(label)
    features = [j for j in range(cells.shape[1]) if j != col]
    origin = Origin(str(path), lines=lines, columns=tuple(table.names[j] for j in features),
                    label=label)
    return Inputs(np.ascontiguousarray(cells[:, features]), cells[:, col], origin)


def check_shape(sess: "ort.InferenceSession", inputs: Inputs, model_file: str) -> None:
    """The input's feature shape must be the model's (batch dimension aside)."""
    dims = sess.get_inputs()[0].shape[1:]
    got = list(inputs.x.shape[1:])
    if len(inputs.x.shape) < 2 or any(isinstance(d, int) and d != g for d, g in zip(dims, got)) \
            or len(dims) != len(got):
        raise DataError(f"has samples of shape {got if len(inputs.x.shape) >= 2 else 'scalar'}, "
                        f"but {model_file} takes [{', '.join(map(str, dims))}] features per "
                        "sample", file=inputs.file)


def units_of(sess: "ort.InferenceSession", output: str = "scores") -> int:
    """The number of columns of ``output`` (the model's output units for `scores`)."""
    units: int = next(o.shape[1] for o in sess.get_outputs() if o.name == output)
    return units


def model_loss(sess: "ort.InferenceSession", units: int) -> Loss:
    """The loss a model was trained with (nnc records it in the model's metadata); for a
    model nnc did not make, softmax cross-entropy, or binary cross-entropy for one unit."""
    name = sess.get_modelmeta().custom_metadata_map.get("loss", "")
    if name in LOSSES:
        return LOSSES[name]
    return LOSSES["binary_cross_entropy" if units == 1 else "softmax_cross_entropy"]


def predict_to_file(sess: "ort.InferenceSession", x: np.ndarray, output: str,
                    classify: Loss | None, out: Path) -> int:
    """Write predictions to ``out`` (.npy) atomically, batch by batch (bounded memory): the
    ``output``, or with ``classify`` the classes its loss predicts; returns the rows."""
    dtype = np.dtype(np.int64 if classify else np.float32)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (len(x),) if classify else (len(x), units_of(sess, output))}

    def write(f: BinaryIO) -> None:
        np.lib.format.write_array_header_1_0(f, header)
        for scores, in onnx_run.batches(sess, x, [output]):
            rows = classify.classify(scores) if classify else scores
            f.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())

    write_atomic(out, write)
    return len(x)


def evaluate(sess: "ort.InferenceSession", x: np.ndarray, y: np.ndarray,
             loss: Loss) -> dict[str, Any]:
    """Metrics of the model on labelled rows: accuracy and per class (classification), or
    MAE, RMSE and R2 (regression); batch by batch."""
    from nnc.runtime import metrics

    scores = np.concatenate([s for s, in onnx_run.batches(sess, x, ["scores"])])
    if not loss.classification:
        return metrics.regression(y, scores)
    classes = 2 if loss.labels == "binary" else scores.shape[1]
    return metrics.classification(y, scores, classes, loss.classify(scores))


def session_for(model_path: str | os.PathLike[str], threads: int | None = None
                ) -> "ort.InferenceSession":
    """An onnxruntime session for an .onnx file of the form nnc exports: one float input
    [batch, features...], a float `scores` output [batch, units]. It is run once on two
    zero samples, so a model onnxruntime cannot run fails here, naming the file."""
    model = onnx_run.read_model(model_path)
    where = str(model_path)
    try:
        sess = onnx_run.session(model, threads)
    except Exception as e:  # an op onnxruntime does not know, an opset it does not run, ...
        raise DataError(f"onnxruntime cannot run this model: {brief(e, 200)}",
                        file=where) from None
    problem = _signature_problem(sess)
    if problem:
        raise DataError(f"not a model `nnc predict` runs: {problem}", file=where)
    dims = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
    if math.prod(dims) <= DRY_RUN_FEATURES:
        try:
            onnx_run.run_once(sess, None, {sess.get_inputs()[0].name:
                                           np.zeros([2, *dims], np.float32)})
        except Interrupted:
            raise
        except Exception as e:  # onnxruntime's own errors (Fail, InvalidArgument, ...)
            raise DataError(f"onnxruntime fails to run this model: {brief(e, 200)}",
                            file=where) from None
    return sess


def _signature_problem(sess: "ort.InferenceSession") -> str | None:
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)" or len(inputs[0].shape) < 2:
        found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
        return f"it needs one float input [batch, features...] (found: {found})"
    if "scores" not in [o.name for o in outputs]:
        return f"no `scores` output (found: {', '.join(o.name for o in outputs)})"
    for o in outputs:
        if o.type != "tensor(float)" or len(o.shape) != 2 or not isinstance(o.shape[1], int):
            return f"output {o.name!r} is {o.type} {o.shape}, expected float [batch, units]"
    return None
