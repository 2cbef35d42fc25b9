"""Bad data through `nnc train`: exit code 2, one clear line naming the file, no traceback,
nothing executed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from cifar_fixture import malicious_payload, write_fake_cifar10

SPEC = """
name: bad
input: [4]
layers: [{{op: dense, units: 8}}, relu, {{op: dense, units: 3}}]
loss: softmax_cross_entropy
data: {data}
train: {{epochs: 1}}
"""


def write_npz(path, **arrays) -> None:
    np.savez(path, **arrays)


def cases(tmp):
    x = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    y = np.arange(30) % 3
    write_npz(tmp / "features.npz", x=x[:, :3], y=y)
    write_npz(tmp / "labels.npz", x=x, y=np.where(np.arange(len(y)) == 5, 7, y))  # one stray
    nan = x.copy()
    nan[4, 2] = np.nan
    write_npz(tmp / "nan.npz", x=nan, y=y)
    write_npz(tmp / "objects.npz", x=np.array([{"a": 1}] * 30, dtype=object), y=y)
    (tmp / "empty.npz").write_bytes(b"")
    (tmp / "empty.csv").write_text("")
    (tmp / "ragged.csv").write_text("a,b,c,d,label\n1,2,3,4,0\n1,2,3\n")
    (tmp / "text.csv").write_text("a,b,c,d,label\n1,2,3,4,0\n1,x,3,4,1\n")
    return {
        "features.npz": ("{npz: {path: features.npz}}", "3 features per sample", "4"),
        "labels.npz": ("{npz: {path: labels.npz}}", "label 7", "3 output units"),
        "nan.npz": ("{npz: {path: nan.npz}}", "NaN", "row 4"),
        "objects.npz": ("{npz: {path: objects.npz}}", "objects.npz", "pickle"),
        "missing.npz": ("{npz: {path: missing.npz}}", "missing.npz", "no such file"),
        "empty.npz": ("{npz: {path: empty.npz}}", "empty.npz", "empty"),
        "empty.csv": ("{csv: {path: empty.csv, label: label}}", "empty.csv", "empty"),
        "ragged.csv": ("{csv: {path: ragged.csv, label: label}}", "ragged.csv:3", "fields"),
        "text.csv": ("{csv: {path: text.csv, label: label}}", "text.csv:3", "'x'"),
        "directory": ("{npz: {path: .}}", "directory", "npz"),
    }


CASES = ["features.npz", "labels.npz", "nan.npz", "objects.npz", "missing.npz", "empty.npz",
         "empty.csv", "ragged.csv", "text.csv", "directory"]


@pytest.mark.parametrize("case", CASES)
def test_bad_data_file(cli, tmp_path, case: str) -> None:
    data, *expected = cases(tmp_path)[case]
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(data=data))
    result = cli("train", "--no-report", spec, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    for text in expected:
        assert text.lower() in lines[0].lower(), lines[0]
    assert not (tmp_path / "out" / "weights.npz").exists()


@pytest.mark.parametrize("how", ["os.system", "exec"])
def test_malicious_pickle_in_a_cifar10_folder_never_runs(cli, tmp_path, how: str) -> None:
    folder = write_fake_cifar10(tmp_path / "cifar", n_per_batch=10, batches=1)
    marker = tmp_path / "PWNED"
    (folder / "data_batch_1").write_bytes(pickle.dumps(malicious_payload(marker, how), 2))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(data=f"{{cifar10: {{path: {folder}}}}}")
                    .replace("input: [4]", "input: [3072]").replace("units: 3", "units: 10"))
    result = cli("train", "--no-report", spec, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "data_batch_1" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("verb", ["check", "predict", "export", "train"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_pipes_and_devices_are_refused_not_read(cli, tmp_path, verb: str, kind: str) -> None:
    import os

    special = tmp_path / {"check": "s.yaml", "predict": "m.onnx", "export": "w.npz",
                          "train": "d.csv"}[verb]
    if kind == "fifo":
        os.mkfifo(special)  # opening it to read would wait forever
    else:
        special.symlink_to("/dev/zero")  # reading it would never end
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(data=f"{{csv: {{path: {special.name}, label: y}}}}"))
    args = {"check": ["check", special], "predict": ["predict", special, tmp_path / "x.npy"],
            "export": ["export", spec, "--weights", special, "-o", tmp_path / "m.onnx"],
            "train": ["train", spec, "-o", tmp_path / "out"]}[verb]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert special.name in line and "not a regular file" in line


@pytest.mark.parametrize("args", [
    ["train", "{spec}", "-o", "/dev/null/out"],
    ["build", "{spec}", "-o", "/proc/nnc-out"],
    ["schema", "-o", "/dev/null/schema.json"],
])
def test_outputs_that_cannot_be_written_are_one_line(cli, tmp_path, args) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(data="{spiral: {points: 20}}").replace("[4]", "[2]"))
    result = cli(*[a.format(spec=spec) for a in args])
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert "cannot" in line and "Traceback" not in result.output
