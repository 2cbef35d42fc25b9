"""``--set key.path=value`` overrides, applied to the plain data before validation."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from nnc.base.errors import SpecError
from nnc.spec.source import Source, parse

OVERRIDE_FILE = "--set"
_INDEX = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes '²'


def apply_overrides(source: Source, overrides: Iterable[str]) -> None:
    """Apply each ``key.path=value`` in order to ``source.data`` (in place).

    Values are YAML (``50``, ``1e-3``, ``relu``, ``[64]``, ``{p: 0.5}``); list indices
    are numbers (``layers.0.units=50``); missing mappings on the way are created.
    """
    for text in overrides:
        try:
            _apply_one(source, text)
        except SpecError as e:  # name the spec file the override was applied to
            raise SpecError([dataclasses.replace(p, file=p.file or source.file)
                             for p in e.problems]) from None


def _apply_one(source: Source, text: str) -> None:
    key, sep, value_text = text.partition("=")
    parts = key.strip().split(".") if key.strip() else []
    if not sep or not parts or any(not p for p in parts):
        raise SpecError(f"{OVERRIDE_FILE} {text!r}: expected KEY.PATH=VALUE, "
                        "e.g. layers.0.units=50 or train.optimizer.sgd.lr=0.1")
    value = _parse_value(text, value_text)
    if not isinstance(source.data, dict):
        raise SpecError(f"{OVERRIDE_FILE} {text!r}: the spec is not a mapping")
    _assign(source, parts, value, text)


def _parse_value(text: str, value_text: str) -> Any:
    if not value_text.strip():
        return None
    try:
        return parse(value_text, f"{OVERRIDE_FILE} {text!r}", "yaml").data
    except SpecError as e:
        raise SpecError(f"{OVERRIDE_FILE} {text!r}: the value is not valid YAML "
                        f"({e.problems[0].message})") from None


def _assign(source: Source, parts: list[str], value: Any, text: str) -> None:
    node: Any = source.data
    path: tuple[Any, ...] = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not _INDEX.fullmatch(part) or not -len(node) <= int(part) < len(node):
                raise SpecError(f"{OVERRIDE_FILE} {text!r}: {'.'.join(parts[:i]) or 'the spec'} "
                                f"is a list of {len(node)}; {part!r} is not an index in it")
            key: Any = int(part) % len(node)
        elif isinstance(node, dict):
            key = part
        else:
            raise SpecError(f"{OVERRIDE_FILE} {text!r}: {'.'.join(parts[:i])} is "
                            f"{node!r}, not a mapping or list")
        if not last:
            child = node.get(key) if isinstance(node, dict) else node[key]
            if child is None:
                child = node[key] = {}
            elif isinstance(child, str) and _is_layer_list(path):
                child = node[key] = {"op": child}  # a bare-word layer gains fields
            node, path = child, path + (key,)
            continue
        node[key] = value
        _forget_positions(source, path + (key,), text)


def _is_layer_list(path: tuple[Any, ...]) -> bool:
    return path in (("layers",), ("graph", "nodes"))


def _forget_positions(source: Source, path: tuple[Any, ...], text: str) -> None:
    """Positions under an overridden path no longer point at what is there."""
    n = len(path)
    for table in (source.values, source.keys):
        for p in [p for p in table if p[:n] == path]:
            del table[p]
    source.overridden[path] = text
