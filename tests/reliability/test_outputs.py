"""Outputs never replace what is not theirs (issue 14): a device or a FIFO named as an
output is refused, an output never replaces an input of its run, a failed run replaces
none of an earlier run's files (even when its last write fails), and the temporary files
of a killed run are removed by the next run in the folder."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnc.base import files
from nnc.cli import main

from helpers import write_three_classes

SPEC = """\
name: tiny
input: [4]
layers: [{op: dense, units: 8}, relu, {op: dense, units: 3}]
loss: softmax_cross_entropy
data: {npz: {path: DATA}}
train: {epochs: 2, batch_size: 16, seed: 1}
"""


def nnc(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line(result, exit_code: int = 2) -> str:
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exit_code == exit_code, out
    line, = result.stderr.strip().splitlines()
    return line


def snapshot(folder: Path) -> dict[str, bytes]:
    """The outputs in ``folder`` (not the checkpoints, which a run writes as it trains)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock" and "checkpoints" not in p.parts}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """spec.yaml (data in data.npz), a good build in good/, x.npy (five inputs)."""
    root = tmp_path_factory.mktemp("outputs")
    x = write_three_classes(root)
    (root / "spec.yaml").write_text(SPEC.replace("DATA", "data.npz"))
    np.save(root / "x.npy", x[:5])
    assert nnc("build", root / "spec.yaml", "-o", root / "good", "-q").exit_code == 0
    return root


@pytest.fixture
def ws(base, tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    monkeypatch.chdir(ws)
    return ws


def make_special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    else:  # a character device: /dev/null's numbers (only root may make one; CI is root)
        if os.geteuid() != 0:
            pytest.skip("mknod needs root (CI runs as root)")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))


COMMANDS = {
    "predict": ["predict", "good/model.onnx", "x.npy", "-o", "{out}"],
    "schema": ["schema", "-o", "{out}"],
    "export": ["export", "spec.yaml", "--weights", "good/weights.npz", "-o", "{out}"],
}


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_device_or_a_fifo_is_never_replaced(ws: Path, command: str, kind: str) -> None:
    make_special(ws / "special", kind)
    line = one_line(nnc(*[a.format(out="special") for a in COMMANDS[command]]))
    assert line.startswith("special: is not a regular file"), line
    mode = os.lstat(ws / "special").st_mode
    assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)


def test_a_fifo_in_the_output_folder_fails_the_build_before_training(ws: Path) -> None:
    (ws / "good" / "report.json").unlink()
    make_special(ws / "good" / "report.json", "fifo")
    before = snapshot(ws / "good")
    line = one_line(nnc("build", "spec.yaml", "-o", "good", "-q"))
    assert line.startswith("good/report.json: is not a regular file"), line
    assert stat.S_ISFIFO(os.lstat(ws / "good" / "report.json").st_mode)
    assert snapshot(ws / "good") == before


@pytest.mark.parametrize("last", ["model.onnx", "report.html"])
def test_a_failed_build_replaces_none_of_an_earlier_run(ws: Path, monkeypatch, last) -> None:
    """A full disk on model.onnx (or report.html, the last file of a build): the earlier
    build's files are all as they were, and no temporary file is left."""
    class FullDisk:
        def __getattr__(self, name: str):
            return getattr(tempfile, name)

        @staticmethod
        def mkstemp(prefix: str = "", **kwargs):
            if prefix.startswith(f".{last}."):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return tempfile.mkstemp(prefix=prefix, **kwargs)

    before = snapshot(ws / "good")
    monkeypatch.setattr(files, "tempfile", FullDisk())
    line = one_line(nnc("build", "spec.yaml", "-o", "good", "-q", "--set", "train.epochs=3"))
    assert line == f"good/{last}: cannot write: No space left on device", line
    assert snapshot(ws / "good") == before
    assert not [p for p in (ws / "good").rglob("*") if files.is_temporary(p.name)]


def test_a_run_that_fails_removes_no_file_of_an_earlier_one(ws: Path) -> None:
    """val.npz of an earlier run is removed only when a run commits without one."""
    before = snapshot(ws / "good")
    result = nnc("build", "spec.yaml", "-o", "good", "-q", "--set", "train.optimizer.sgd.lr=1e6")
    assert result.exit_code == 1
    assert snapshot(ws / "good") == before


def write_json_spec(ws: Path, name: str, data: str) -> None:
    import yaml

    (ws / name).write_text(json.dumps(yaml.safe_load(SPEC.replace("DATA", data))))


INPUTS = {  # the case: its command, the output named in the line, the input it would replace
    "build into the data's folder": (["build", "val.yaml", "-o", "."], "val.npz", "val.npz"),
    "train a spec named report.json": (["train", "report.json", "-o", "."], "report.json",
                                       "report.json"),
    "through a symlinked folder": (["build", "val.yaml", "-o", "link"], "link/val.npz",
                                   "val.npz"),
    "predict over its input": (["predict", "good/model.onnx", "x.npy", "-o", "x.npy"],
                               "x.npy", "the input, x.npy"),
    "predict over its model": (["predict", "good/model.onnx", "x.npy", "-o",
                                "good/model.onnx"], "good/model.onnx", "the model"),
    "export over the weights": (["export", "spec.yaml", "--weights", "good/weights.npz", "-o",
                                 "good/weights.npz"], "good/weights.npz", "the weights"),
    "export over the spec": (["export", "spec.yaml", "--weights", "good/weights.npz", "-o",
                              "spec.yaml"], "spec.yaml", "the spec"),
}


@pytest.mark.parametrize("case", sorted(INPUTS))
def test_an_output_never_replaces_an_input(ws: Path, case: str) -> None:
    shutil.copy(ws / "data.npz", ws / "val.npz")
    (ws / "val.yaml").write_text(SPEC.replace("DATA", "val.npz"))
    write_json_spec(ws, "report.json", "data.npz")
    (ws / "link").symlink_to(ws)
    before = snapshot(ws)
    args, output, named = INPUTS[case]
    line = one_line(nnc(*args, "-q") if args[0] in ("build", "train") else nnc(*args))
    assert line.startswith(f"{output}: would replace "), line
    assert named in line.split(": would replace ", 1)[1], line
    assert snapshot(ws) == before


def start_build(ws: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnc.cli", "build", "spec.yaml", "-o", "out",
                             "-q", *extra], cwd=ws, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_the_temporary_files_of_a_killed_run_are_removed_by_the_next(ws: Path) -> None:
    """kill -9 while the outputs are written (the staging folder exists), then a run in
    the same folder: no temporary file of nnc's naming is left; a user's are kept."""
    out = ws / "out"
    for _ in range(5):  # the write lasts a fraction of a second: try again if missed
        shutil.rmtree(out, ignore_errors=True)
        proc = start_build(ws)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if out.is_dir() and any(files.is_temporary(n) for n in os.listdir(out)):
                proc.kill()
                break
        proc.communicate()
        if proc.returncode == -9:
            break
    assert proc.returncode == -9, "the build ended before its outputs were being written"
    (out / "figures").mkdir(exist_ok=True)
    (out / "figures" / ".curves.png.abcd_123.tmp").write_bytes(b"stale")
    (out / ".model.onnx.zz9xy8k1.tmp").write_bytes(b"stale")
    for mine in ("notes.tmp", ".notes.tmp", ".plan.txt.tmp"):
        (out / mine).write_text("the user's")
    assert [n for n in os.listdir(out) if files.is_temporary(n)]
    result = nnc("build", "spec.yaml", "-o", "out", "-q", "--no-report")
    assert result.exit_code == 0, result.output
    left = [str(p.relative_to(out)) for p in out.rglob("*") if ".tmp" in p.name]
    assert sorted(left) == [".notes.tmp", ".plan.txt.tmp", "notes.tmp"]
