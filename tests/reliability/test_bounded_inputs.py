"""Bounded inputs (issue 14): small hostile files and specs that crashed the interpreter,
took gigabytes or minutes, or ended in "internal error".

Each case runs `nnc` in its own process (a segfault must not take pytest with it), which
reports its peak memory as it exits: exit 2, one line on stderr naming the file, no
traceback, and under 500 MB for an input file of under 2 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from cifar_fixture import batch_dict, fake_batch, py2_pickle, write_fake_cifar10

MB = 1 << 20
SPEC = """\
name: tiny
input: [4]
layers: [{op: dense, units: 8}, relu, {op: dense, units: 3}]
loss: softmax_cross_entropy
data: {npz: {path: data.npz}}
train: {epochs: 1, batch_size: 16}
"""


@dataclass
class Run:
    code: int
    stderr: str
    peak: int  # bytes, the process's maximum resident set (0 if it died of a signal)


# The child's own peak (VmHWM of its exec'd image), written as it exits: ru_maxrss would
# count the memory of the pytest process it was forked from.
CHILD = """\
import atexit, os
def peak():
    with open("/proc/self/status") as f:
        kb = next(line for line in f if line.startswith("VmHWM:")).split()[1]
    with open(os.environ["NNC_TEST_PEAK"], "w") as f:
        f.write(kb)
atexit.register(peak)
from nnc.cli import main
main()
"""


def nnc(cwd: Path, *args: object) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        peak, err = Path(tmp) / "peak", Path(tmp) / "stderr"
        with open(err, "w") as stderr:
            process = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=stderr, timeout=300,
                                     env={**os.environ, "NNC_TEST_PEAK": str(peak)})
        kb = int(peak.read_text()) if peak.exists() else 0
        return Run(process.returncode, err.read_text(), kb * 1024)


def refused(run: Run, file: str, message: str) -> None:
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert run.code == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert file in lines[0] and message in lines[0], lines[0]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A spec on data.npz, its build (build/model.onnx, build/weights.npz), x.npy."""
    root = tmp_path_factory.mktemp("bounded")
    x = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
    np.savez(root / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    np.save(root / "x.npy", x[:5])
    (root / "spec.yaml").write_text(SPEC)
    run = nnc(root, "build", "spec.yaml", "-o", "build", "-q")
    assert run.code == 0, run.stderr
    return root


def deflate_bomb(path: Path, names: tuple[str, ...], nbytes: int) -> None:
    """An .npz whose members are ``nbytes`` of float32 zeros each, deflated (about a
    thousandth of that on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in names:
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                header = {"descr": "<f4", "fortran_order": False, "shape": (nbytes // 16, 4)}
                np.lib.format.write_array_header_2_0(member, header)
                zeros = bytes(4 * MB)
                for _ in range(nbytes // len(zeros)):
                    member.write(zeros)


@pytest.fixture(scope="module")
def bomb(ws: Path) -> Path:
    """640 MiB of zeros as the array 'x' in a file of under 1 MB, and three labels 'y'."""
    path = ws / "bomb.npz"
    deflate_bomb(path, ("x",), 640 * MB)
    with zipfile.ZipFile(path, "a") as archive, archive.open("y.npy", "w") as member:
        np.lib.format.write_array(member, np.zeros(3, np.int64))
    assert path.stat().st_size < MB
    return path


# ------------------------------------------------------------------- .npz bombs

def test_a_compressed_npz_bomb_as_predict_input(ws: Path, bomb: Path) -> None:
    run = nnc(ws, "predict", "build/model.onnx", bomb.name, "-o", "pred.npy")
    refused(run, "bomb.npz", "array 'x' would inflate from")
    assert 0 < run.peak < 500 * MB
    assert not (ws / "pred.npy").exists()


def test_a_compressed_npz_bomb_as_training_data(ws: Path, bomb: Path) -> None:
    (ws / "bomb.yaml").write_text(SPEC.replace("data.npz", "bomb.npz"))
    run = nnc(ws, "train", "bomb.yaml", "-o", "bomb-run", "-q", "--max-memory", "64GiB")
    refused(run, "bomb.npz", "not a readable .npz file (array 'x' would inflate from")
    assert 0 < run.peak < 500 * MB


def test_training_data_is_sized_from_its_headers_against_the_limit(ws: Path) -> None:
    deflate_bomb(ws / "zeros.npz", ("x", "y"), 12 * MB)  # within the inflation limit
    (ws / "zeros.yaml").write_text(SPEC.replace("data.npz", "zeros.npz"))
    run = nnc(ws, "train", "zeros.yaml", "-o", "zeros-run", "-q", "--max-memory", "10MB")
    refused(run, "zeros.yaml", "and the data set (zeros.npz) ")
    assert "more than the limit of 9.5 MiB" in run.stderr


def test_a_weights_file_with_unknown_names_is_refused_before_loading(ws: Path) -> None:
    path = ws / "weights-bomb.npz"
    deflate_bomb(path, ("evil",), 12 * MB)  # within the inflation limit: the names decide
    run = nnc(ws, "export", "spec.yaml", "--weights", path.name, "-o", "other.onnx")
    refused(run, "weights-bomb.npz", "unknown evil (was it written for another spec?)")
    assert 0 < run.peak < 500 * MB


def test_a_checkpoint_bomb_is_skipped_as_damaged(ws: Path, bomb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "ckpt-e000001-b000000.npz").write_bytes(bomb.read_bytes())
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "data.npz").write_bytes((ws / "data.npz").read_bytes())
    run = nnc(tmp_path, "train", "spec.yaml", "-o", "run", "-q", "--resume")
    assert run.code == 0, run.stderr
    assert "damaged checkpoint (array 'x' would inflate from" in run.stderr
    assert 0 < run.peak < 500 * MB


# ------------------------------------------------------------- .npy declared shapes

@pytest.mark.parametrize("shape", [(2**62, 4), (5, 2**61)])
def test_an_npy_declaring_more_than_it_holds(ws: Path, shape: tuple[int, int]) -> None:
    path = ws / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        f.write(bytes(80))
    run = nnc(ws, "predict", "build/model.onnx", path.name, "-o", "pred.npy")
    refused(run, "huge.npy", f"declares shape [{shape[0]}, {shape[1]}] of float32")
    assert 0 < run.peak < 500 * MB


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_a_0d_array_in_predict(ws: Path, suffix: str) -> None:
    path = ws / f"scalar{suffix}"
    np.save(path, np.float32(1)) if suffix == ".npy" else np.savez(path, x=np.float32(1))
    refused(nnc(ws, "predict", "build/model.onnx", path.name), path.name,
            "array 'x' is a scalar, expected one row per sample")


def test_weights_beyond_float32_name_the_value_without_warnings(ws: Path) -> None:
    with np.load(ws / "build/weights.npz") as npz:
        arrays = {k: npz[k].astype(np.float64) for k in npz.files}
    arrays["dense_1.weight"][2, 1] = 1e39
    np.savez(ws / "wide.npz", **arrays)
    run = nnc(ws, "export", "spec.yaml", "--weights", "wide.npz", "-o", "other.onnx")
    refused(run, "wide.npz", "array 'dense_1.weight' holds 1e+39 at [2, 1], beyond float32")


# ---------------------------------------------------------------------- CIFAR-10

def cifar_spec(ws: Path, folder: Path) -> None:
    (ws / "cifar.yaml").write_text(
        "name: c\ninput: [3072]\nlayers: [{op: dense, units: 10}]\n"
        f"loss: softmax_cross_entropy\ndata: {{cifar10: {{path: {folder.name}}}}}\n")


def test_a_cifar_batch_with_a_tuple_key_nested_200000_deep(ws: Path) -> None:
    folder = write_fake_cifar10(ws / "deep-key", n_per_batch=10, batches=1)
    key = b"K\x01" + b"\x85" * 200_000  # BININT1 1, then TUPLE1 200,000 times
    (folder / "data_batch_1").write_bytes(b"\x80\x02}(" + key + b"K\x02u.")
    cifar_spec(ws, folder)
    run = nnc(ws, "train", "cifar.yaml", "-o", "cifar-run", "-q")
    refused(run, "deep-key/data_batch_1", "objects nested deeper than 16 levels")


def test_cifar_labels_nested_deep(ws: Path) -> None:
    folder = write_fake_cifar10(ws / "deep-labels", n_per_batch=10, batches=1)
    data, labels = fake_batch(1, 10)
    deep: list = []
    for _ in range(100):  # the pickler itself recurses: deep enough to refuse
        deep = [deep]
    labels[3] = deep  # type: ignore[call-overload]
    (folder / "data_batch_1").write_bytes(py2_pickle(batch_dict(data, labels, b"b")))
    cifar_spec(ws, folder)
    run = nnc(ws, "train", "cifar.yaml", "-o", "cifar-run", "-q")
    refused(run, "deep-labels/data_batch_1", "objects nested deeper than 16 levels")


# ------------------------------------------------------------------------- specs

def test_a_json_spec_of_many_values_is_refused_early(ws: Path) -> None:
    values = ",".join(["1"] * 100_000)
    (ws / "many.json").write_text('{"name": "x", "input": [4], "layers": [{"op": "dense", '
                                  f'"units": 3}}], "extra": [{values}]}}')
    refused(nnc(ws, "check", "many.json"), "many.json:1:", "more than 10000 values")


def test_a_yaml_spec_of_many_values_is_refused_early(ws: Path) -> None:
    values = ",".join(["1"] * 100_000)
    (ws / "many.yaml").write_text(f"name: x\ninput: [4]\nlayers: [{{op: dense, units: 3}}]\n"
                                  f"extra: [{values}]\n")
    refused(nnc(ws, "check", "many.yaml"), "many.yaml:4:", "more than 10000 values")


def test_integers_of_more_than_4300_digits(ws: Path) -> None:
    digits = "f" * 5000
    (ws / "hex.yaml").write_text(SPEC.replace("units: 8", f"units: 0x{digits}"))
    refused(nnc(ws, "check", "hex.yaml"), "hex.yaml:3:", "a number of 5002 characters is too long")
    run = nnc(ws, "check", "spec.yaml", "--set", f"layers.0.units=0x{digits}")
    refused(run, "spec.yaml", "a number of 5002 characters is too long")
    run = nnc(ws, "check", "spec.yaml", "--set", f"layers.0.units={'9' * 5000}")
    refused(run, "spec.yaml", "too long")


def test_a_home_folder_of_no_such_user(ws: Path) -> None:
    run = nnc(ws, "train", "spec.yaml", "-o", "home-run", "-q",
              "--set", "data.npz.path=~nosuchuser/data.npz")
    refused(run, "~nosuchuser/data.npz", "cannot expand '~nosuchuser': no such user")


# ------------------------------------------------------------------ data set sizes

def test_a_generated_set_is_sized_before_it_is_generated(ws: Path) -> None:
    run = nnc(ws, "train", "spec.yaml", "-o", "spiral-run", "-q", "--max-memory", "100MB",
              "--set", "data={spiral: {classes: 1000, points: 1000000}}")
    refused(run, "spec.yaml", "and the data set (data.spiral)")
    assert 0 < run.peak < 500 * MB


def test_a_batch_larger_than_the_data_set_is_the_data_set(ws: Path) -> None:
    digits = ["--set", "data={digits: {}}", "--set", "input=[64]", "--set",
              "layers.2.units=10", "--set", "train.batch_size=10000000"]
    run = nnc(ws, "check", "spec.yaml", "--max-memory", "200MB", *digits)
    assert run.code == 0, run.stderr
