"""Fixtures of the runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_fixture import write_fake_cifar10

from nnc.runtime.data import Dataset, load_data
from nnc.spec.sections import DataSpec


@pytest.fixture
def fake_cifar10(tmp_path: Path) -> Path:
    """A CIFAR-10 python-version folder of 2 training batches of 20 images (see cifar_fixture)."""
    return write_fake_cifar10(tmp_path / "cifar-10-batches-py", n_per_batch=20, batches=2)


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
