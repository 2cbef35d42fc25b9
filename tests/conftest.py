"""Shared fixtures: running the CLI in-process."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from nnc.cli import main


@pytest.fixture
def cli():
    """Run ``nnc ARGS...`` in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: object) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
