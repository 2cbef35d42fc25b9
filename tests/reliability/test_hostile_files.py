"""The corpus of hostile and broken files: each is fed to the verb that reads it.

``expected.yaml`` pins, per case, the command, the file, the exit code and a piece of the
message. A refused file (exit 2) gives exactly one line on standard error, naming the
file, and no traceback; a payload never runs (its marker file never appears); and the
good outputs the command would have written (weights.npz, model.onnx, predictions)
are byte-identical afterwards. A damaged checkpoint is skipped with a note (exit 0),
and the resumed run is bit-identical to one never interrupted.

The files are written by the functions of ``hostile.py`` (from a small model trained
by the CLI), or copied from ``files/`` when the bytes themselves are the point.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nnc.cli import main
from nnc.runtime.checkpoint import read_checkpoint

from privileges import unprivileged
from reliability import hostile

HERE = Path(__file__).parent
EXPECTED = yaml.safe_load((HERE / "expected.yaml").read_text())
COMMANDS: dict[str, list[str]] = EXPECTED.pop("commands")
GUARDED = ["build/weights.npz", "build/model.onnx", "pred.npy"]


def nnc(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)




def _ok(result) -> None:
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("base")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        hostile.write_base(root, lambda *args: _ok(nnc(*args)))
    finally:
        os.chdir(cwd)
    return root


@pytest.fixture
def workspace(base, tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(base, ws, symlinks=True)
    monkeypatch.chdir(ws)  # payloads with relative paths, and relative file names
    return ws


def test_every_case_has_a_writer_and_every_file_a_case() -> None:
    assert set(EXPECTED) == set(hostile.WRITERS)
    used = {w.args[0] for w in hostile.WRITERS.values()
            if isinstance(w, partial) and w.func is hostile.static}
    assert used == {p.name for p in hostile.FILES.iterdir()}
    assert len([c for c in EXPECTED.values() if c["exit"] == 2]) >= 24


@pytest.mark.parametrize("name", sorted(n for n, c in EXPECTED.items() if c.get("payload")))
def test_the_payloads_are_live(name: str, workspace: Path) -> None:
    """The control: loaded the unsafe way (plain pickle, allow_pickle=True), each payload
    file does create its marker, so the marker's absence below means something."""
    file = workspace / EXPECTED[name]["file"]
    hostile.WRITERS[name](workspace, file)
    hostile.load_unsafely(file)
    assert (workspace / hostile.MARKER).exists()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file(name: str, workspace: Path) -> None:
    case = EXPECTED[name]
    file = workspace / case["file"]
    hostile.WRITERS[name](workspace, file)
    if "data" in case:
        hostile.data_spec(workspace, case["data"].format(file=case["file"]))
    guarded = {p: (workspace / p).read_bytes() for p in GUARDED}

    args = [arg.format(file=case["file"]) for arg in COMMANDS[case["command"]]]
    # a file of mode 000: root reads it anyway, so run without that power (CI runs as root)
    result = unprivileged(*args, cwd=workspace) if case.get("unreadable") else nnc(*args)

    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    assert result.exit_code == case["exit"], output
    lines = result.stderr.strip().splitlines()
    assert all(line.isprintable() for line in lines), lines  # no escape sequence
    assert not (workspace / hostile.MARKER).exists(), "a payload ran"
    assert not (HERE / hostile.MARKER).exists(), "a payload ran"
    if case["exit"] == 2:
        assert len(lines) == 1, lines
        assert case["file"] in lines[0], lines[0]
        assert case["message"] in lines[0], lines[0]
        for path, data in guarded.items():
            assert (workspace / path).read_bytes() == data, f"{path} was replaced"
    else:  # a damaged checkpoint: skipped with a note, the run completes as if never stopped
        assert len(lines) == len(case["notes"]), lines
        for line, note in zip(lines, case["notes"]):
            assert note.format(file=case["file"]) in line, line
        reference = (workspace / "reference" / "weights.npz").read_bytes()
        assert (workspace / "build" / "weights.npz").read_bytes() == reference
        folder = workspace / hostile.CHECKPOINTS
        journals = {read_checkpoint(path).meta.history for path in folder.glob("ckpt-*")}
        # only checkpoints of this run are left, and its one history journal
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("ckpt-")) \
            == sorted(journals) and len(journals) == 1
