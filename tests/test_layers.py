"""Who may import whom (README, Layout): data flows one way, and the folders say it.

base <- spec <- compiler <- runtime <- the front door (app/: CLI, API, pipeline). A module
may import its own layer and the layers below it; nothing imports the front door. Every
import counts, those inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import ROOT

LAYERS = {"base": 0, "spec": 1, "compiler": 2, "runtime": 3, "app": 4}
PACKAGES = {"nnc.base": "base", "nnc.spec": "spec", "nnc.compiler": "compiler",
            "nnc.runtime": "runtime"}


def layer_of_module(name: str) -> str | None:
    """The folder a module ``nnc...`` lives in; anything else of nnc is the front door."""
    if name != "nnc" and not name.startswith("nnc."):
        return None
    for package, folder in PACKAGES.items():
        if name == package or name.startswith(package + "."):
            return folder
    return "app"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import of nnc in the file (relative ones are refused)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports (nnc....)"
            module = node.module or ""
            # `from nnc import api` imports the module nnc.api; `from nnc.x import f` nnc.x
            out += [(node.lineno, f"{module}.{a.name}" if module == "nnc" else module)
                    for a in node.names]
    return out


SOURCES = sorted(p for folder in LAYERS for p in (ROOT / folder).rglob("*.py"))


def test_every_layer_has_sources() -> None:
    assert {p.relative_to(ROOT).parts[0] for p in SOURCES} == set(LAYERS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0]
    wrong = []
    for line, module in imported_modules(path):
        target = layer_of_module(module)
        if target is None or (own == "app" and module == "nnc"):
            continue
        if LAYERS[target] > LAYERS[own] or (target == "app" and own != "app"):
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {own}/ imports {module} ({target}/)")
    assert not wrong, "\n".join(wrong)


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The check above can fail: an upward import is reported."""
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from nnc.runtime.trainer import Trainer\n")
    assert [layer_of_module(m) for _, m in imported_modules(bad)] == ["runtime"]
    assert layer_of_module("nnc.pipeline") == "app" and layer_of_module("nnc") == "app"


def test_the_type_checkers_view_of_the_package_is_complete() -> None:
    """tools/mypy/nnc mirrors the installed package: every module of app/ and every stage."""
    view = ROOT / "tools" / "mypy" / "nnc"
    expected = {p.name for p in (ROOT / "app").glob("*.py")} | {f for f in LAYERS if f != "app"}
    assert {p.name for p in view.iterdir()} == expected
    for link in view.iterdir():
        source = ROOT / ("app/" + link.name if link.suffix == ".py" else link.name)
        assert link.is_symlink() and link.resolve() == source.resolve(), link
