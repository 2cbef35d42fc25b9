"""Fixtures of the runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_fixture import write_fake_cifar10


@pytest.fixture
def fake_cifar10(tmp_path: Path) -> Path:
    """A CIFAR-10 python-version folder of 2 training batches of 20 images (see cifar_fixture)."""
    return write_fake_cifar10(tmp_path / "cifar-10-batches-py", n_per_batch=20, batches=2)
