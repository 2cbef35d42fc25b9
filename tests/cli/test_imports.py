"""What each verb imports: Optuna and Dask only for `nnc sweep`, matplotlib only to draw a
report, scikit-learn not even for its bundled data sets (their files are read as they
are): `nnc train` and `nnc build` start as fast as their own work allows."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import MODELS

OPTIONAL = ("optuna", "distributed", "matplotlib", "sklearn", "scipy")


def imported(args: list[str]) -> set[str]:
    probe = (f"import sys, runpy; sys.argv = ['nnc', *{args!r}]\n"
             "try:\n    runpy.run_module('nnc.cli', run_name='__main__')\n"
             "except SystemExit as e:\n    assert not e.code, e.code\n"
             f"print('imported:' + ','.join(m for m in {OPTIONAL!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("imported:"), done.stdout
    return set(filter(None, last.removeprefix("imported:").split(",")))


@pytest.mark.parametrize("verb", ["train", "build"])
def test_training_imports_no_optional_module(verb, tmp_path) -> None:
    args = [verb, "--no-report", str(MODELS / "digits.yaml"), "-o", str(tmp_path), "-q",
            "--set", "train.epochs=1"]
    assert imported(args) == set()


def test_the_report_imports_matplotlib_and_the_sweep_optuna(tmp_path) -> None:
    args = ["build", str(MODELS / "sizing-26.yaml"), "-o", str(tmp_path), "-q"]
    assert imported(args) == {"matplotlib"}
    dry = ["sweep", str(MODELS / "capacity-sweep.yaml"), "--dry-run"]
    assert "distributed" not in imported(dry)
