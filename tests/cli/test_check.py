"""`nnc check` and `nnc summary` on every example in models/."""

from __future__ import annotations

import json

import pytest

from helpers import MODELS

EXAMPLES = sorted(MODELS.glob("*.yaml"))


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_checks_and_sizes(cli, path) -> None:
    result = cli("check", path)
    assert result.exit_code == 0, result.stderr
    report = json.loads(cli("summary", path, "--json").stdout)
    assert result.stdout == f"ok: {report['name']} ({report['totals']['params']:,} params)\n"
    assert "description" in path.read_text()
