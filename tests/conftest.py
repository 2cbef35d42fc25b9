"""Shared fixtures: running the CLI in-process, loading a data section."""

from __future__ import annotations

import os
from pathlib import Path

# scikit-learn's estimator checks include one that enables array-API dispatch with NumPy
# inputs; SciPy reads this when first imported, and without it the check skips itself
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest
from click.testing import CliRunner, Result

from nnc.cli import main
from nnc.runtime.data import Dataset, load_data
from nnc.spec.sections import DataSpec


@pytest.fixture
def cli():
    """Run ``nnc ARGS...`` in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: object) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def load(tmp_path: Path):
    """``load(data_dict, features, outputs, loss=..., seed=0)``: load_data on a data section
    given as a dict, with relative paths relative to ``tmp_path`` and spec file "spec.yaml"."""

    def run(data: dict, features: int, outputs: int, loss: str = "softmax_cross_entropy",
            seed: int = 0, base_dir: Path | None = None) -> Dataset:
        return load_data(DataSpec.model_validate(data), base_dir=base_dir or tmp_path,
                         features=features, outputs=outputs, loss=loss, seed=seed,
                         spec_file="spec.yaml")

    return run
