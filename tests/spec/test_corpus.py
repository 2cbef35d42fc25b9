"""The golden corpus of malformed specs: `nnc check FILE` must fail cleanly on each.

``corpus/expected.yaml`` pins, per file, the exit code, the position of the first error
and a piece of its message; every error line must read ``FILE:LINE:COL: path: message``
(or ``FILE: message`` when no position is known), and no traceback may ever show.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
LINE = re.compile(r"^[^\n]+: .+$")
POSITION = re.compile(r"^:(?P<line>\d+):(?P<col>\d+): ")


def error_lines(result, path: Path) -> list[str]:
    """The error lines of a failed run, after checking what every run must satisfy."""
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, "an error must be reported"
    for line in lines:
        assert LINE.match(line), line
        assert line.startswith(f"{path}:"), line
    return lines


def position(line: str, path: Path) -> str | None:
    """The "LINE:COL" of a ``FILE:LINE:COL: ...`` line; None for ``FILE: ...``."""
    assert line.startswith(str(path))
    match = POSITION.match(line[len(str(path)):])
    return f"{match['line']}:{match['col']}" if match else None


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in CORPUS.iterdir()} - {"expected.yaml"}
    assert files == set(EXPECTED)
    assert len(files) >= 35


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case(name: str, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = EXPECTED[name]
    monkeypatch.chdir(tmp_path)  # a hostile spec's side effects would land here
    path = CORPUS / name
    result = cli("check", path)
    assert result.exit_code == case["exit"], result.stderr
    lines = error_lines(result, path)
    first = lines[0]
    assert case["message"] in first, first
    if case.get("at") == "file":
        assert position(first, path) is None, first
        assert first.startswith(f"{path}: "), first
    elif "at" in case:
        assert position(first, path) == case["at"], first
    if "lines" in case:
        assert [position(line, path) for line in lines] == case["lines"], lines
    if "marker" in case:
        assert not (tmp_path / case["marker"]).exists()
        assert not (CORPUS / case["marker"]).exists()


@pytest.mark.parametrize("name", ["several_errors.yaml", "several_compile_errors.yaml"])
def test_all_problems_are_reported_in_file_order(name: str, cli) -> None:
    path = CORPUS / name
    lines = error_lines(cli("check", path), path)
    where = [tuple(map(int, position(line, path).split(":"))) for line in lines]
    assert len(lines) == len(EXPECTED[name]["lines"]) > 2
    assert where == sorted(where)
    assert len(set(lines)) == len(lines)


YAML_CODE_TAGS = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/apply:subprocess.call [["touch", "{marker}"]]',
    '!!python/object/new:os.system ["touch {marker}"]',
    '!!python/name:os.system',
    '!!python/module:os',
    '!!python/object:builtins.object {{}}',
]


@pytest.mark.parametrize("tag", YAML_CODE_TAGS)
@pytest.mark.parametrize("where", ["name", "layer", "key"])
def test_yaml_code_tags_never_run(tag: str, where: str, cli, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    value = tag.format(marker=marker)
    body = {"name": f"name: {value}\ninput: [3]\nlayers: [relu]\n",
            "layer": f"name: tagged\ninput: [3]\nlayers:\n  - {value}\n",
            "key": f"name: tagged\ninput: [3]\nlayers: [relu]\n? {value}\n: 1\n"}[where]
    spec = tmp_path / "spec.yaml"
    spec.write_text(body)
    result = cli("check", spec)
    assert result.exit_code == 2
    lines = error_lines(result, spec)
    assert re.search(r"tag .* is not allowed|mapping keys must be plain strings", lines[0]), lines
    assert not marker.exists()
