"""Messages and predictions (issue 14, round 2): a message quotes at most a short, escaped
excerpt of a file; standard error holds our one line, without onnxruntime's logs or
NumPy's warnings; `nnc predict` never gives a silently wrong result.

The hostile files of these defects are in the corpus (expected.yaml); the cases here need
a real process (onnxruntime logs from C++, NumPy warnings that pytest would catch), a
spec, or an oracle.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from nnc.cli import main
from nnc.runtime.parity import difference

from helpers import write_three_classes

SPEC = """\
name: tiny
input: [4]
layers: [{{op: dense, units: 8}}, relu, {{op: dense, units: 3}}]
loss: softmax_cross_entropy
data: {data}
train: {{epochs: 1, batch_size: 16, seed: 1}}
"""
HASH = "$6$rounds=5000$saltsaltsalt$" + "Zq3" * 28  # a password hash, as in /etc/shadow


def nnc(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def process(cwd: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """`nnc ARGS` in a process of its own: what reaches its standard error from C++ too."""
    return subprocess.run([sys.executable, "-m", "nnc.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("messages")
    x = write_three_classes(root)
    np.save(root / "x.npy", x[:5])
    (root / "spec.yaml").write_text(SPEC.format(data="{npz: {path: data.npz}}"))
    result = nnc("build", root / "spec.yaml", "-o", root / "build", "-q")
    assert result.exit_code == 0, result.output
    return root


def one_line(result: Any, file: str) -> str:
    """The one line of a refused run (a process's, or CliRunner's), which names ``file``."""
    stderr = result.stderr
    lines = stderr.strip().splitlines()
    code = result.returncode if isinstance(result, subprocess.CompletedProcess) \
        else result.exit_code
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert file in lines[0] and lines[0].isprintable(), lines
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


def test_a_password_hash_in_a_table_is_quoted_as_a_short_excerpt(ws: Path) -> None:
    """A `:`-separated file read as a table: its fields are column names, but a message
    quotes none of them in full."""
    (ws / "shadow.csv").write_text(f"alice:{HASH}:19000:0:99999:7\n1:2:3:4:5:6\n")
    (ws / "shadow.yaml").write_text(SPEC.format(
        data='{csv: {path: shadow.csv, label: label, delimiter: ":"}}'))
    line = one_line(nnc("train", ws / "shadow.yaml", "-o", ws / "out", "-q"), "shadow.csv")
    assert "no label column 'label'" in line
    assert f"{HASH[:20]}..." in line and HASH[:21] not in line


def test_a_model_failing_on_a_larger_batch_leaves_one_line(ws: Path) -> None:
    """Reshaped to [2, 4], the model passes the dry run (two rows) and fails on the input's
    5 rows inside onnxruntime, which logs the failure in colour unless told not to."""
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["scores"])], "fixed",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.array([2, 4], np.int64), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, ws / "fixed.onnx")
    line = one_line(process(ws, "predict", "fixed.onnx", "x.npy"), "fixed.onnx")
    assert "onnxruntime fails to run this model on rows 0..4 of the input" in line


@pytest.mark.parametrize("edit", ["weights", "scale"])
def test_overflowing_weights_are_refused_without_numpy_warnings(ws: Path, edit: str) -> None:
    """Finite weights (or a preprocessing scale) of 3e38: the scores are NaN in both
    runtimes; the export is refused in one line (no RuntimeWarning, no parity failure)."""
    arrays = dict(np.load(ws / "build/weights.npz"))
    if edit == "weights":
        arrays["dense_1.weight"][:] = 3e38
    else:
        arrays["preprocess.shift"] = np.zeros(4, np.float32)
        arrays["preprocess.scale"] = np.full(4, 3e38, np.float32)
    np.savez(ws / f"{edit}.npz", **arrays)
    result = process(ws, "export", "spec.yaml", "--weights", f"{edit}.npz", "-o", "m.onnx")
    line = one_line(result, f"{edit}.npz")
    assert "the model's scores are not finite (NaN or infinite)" in line
    assert not (ws / "m.onnx").exists()


def test_parity_agrees_where_both_runtimes_give_the_same_non_finite_value() -> None:
    ours = np.array([[1.0, np.inf, -np.inf, np.nan]], np.float32)
    assert difference(ours.copy(), ours) == 0.0
    assert difference(np.array([[1.5, np.inf, -np.inf, np.nan]], np.float32), ours) == 0.5
    for theirs in ([1.0, -np.inf, -np.inf, np.nan], [1.0, np.inf, -np.inf, 0.0]):
        assert difference(np.array([theirs], np.float32), ours) == np.inf


@pytest.mark.parametrize("label", ["-1", "1e30", "0.5"])
def test_labels_that_are_not_class_indices_give_no_accuracy(ws: Path, label: str) -> None:
    (ws / "labelled.csv").write_text(f"a,b,c,d,label\n1,2,3,4,0\n1,2,3,4,{label}\n")
    result = nnc("predict", ws / "build/model.onnx", ws / "labelled.csv", "--label", "label")
    line = one_line(result, "labelled.csv:3:1: column 'label'")
    assert "accuracy" not in result.output + line


def test_classes_come_from_scores_not_from_the_first_output(ws: Path) -> None:
    """A model (not nnc's) whose first output has one column and `scores` three: the
    classes are the argmax of `scores` (not the binary rule of a single column)."""
    cut = [numpy_helper.from_array(np.array([v], np.int64), n)
           for n, v in (("start", 0), ("one", 1), ("three", 3), ("axis", 1))]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["input", "start", "one", "axis"], ["probabilities"]),
         helper.make_node("Slice", ["input", "start", "three", "axis"], ["scores"])],
        "two-outputs", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 1]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3])], cut)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, ws / "two.onnx")
    result = nnc("predict", ws / "two.onnx", ws / "x.npy", "--classes", "-o", ws / "c.npy")
    assert result.exit_code == 0, result.output
    x = np.load(ws / "x.npy")
    assert np.load(ws / "c.npy").tolist() == x[:, :3].argmax(1).tolist()
