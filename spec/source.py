"""Reading a spec file into plain data while keeping where every value came from.

YAML is composed with PyYAML's safe machinery into nodes (nothing is ever
constructed from a tag), then turned into dicts, lists and scalars here with the
YAML 1.2 core schema (``1e-3`` is a float, ``yes`` is a string). JSON is read by a
small parser of its own for the same reason: positions. Both refuse hostile input
early: oversized files, deep nesting, alias bombs, duplicate keys, foreign tags.
"""

from __future__ import annotations

import bisect
import json.decoder
import json.scanner
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from nnc.base.errors import Problem, SpecError

MAX_BYTES = 256 << 10  # a spec is a few kilobytes; a quarter of a megabyte is already absurd
MAX_DEPTH = 64
MAX_VALUES = 10_000  # counted before anything is built, and again after alias expansion
MAX_DIGITS = 4300  # Python's own limit on int() of a decimal string

FieldPath = tuple[Any, ...]
"""Where a value sits in a spec: its keys and list indices, e.g. ("layers", 2, "units")."""


@dataclass
class Source:
    """A spec's plain data and the 1-based (line, column) of each value and key."""

    file: str
    data: Any
    values: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[FieldPath, str] = field(default_factory=dict)  # -> the --set that wrote it

    def position(self, path: FieldPath, at_key: bool = False) -> tuple[int, int] | None:
        """Where the thing at ``path`` is written: its mapping key when ``at_key`` or when it
        holds a collection, else the value."""
        path = tuple(path)
        while path:
            if path in self.keys and (at_key or not _is_scalar_at(self.data, path)):
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]  # a missing field: point at its parent
        return self.values.get((), (1, 1))

    def problem(self, path: FieldPath, message: str, dotted: str | None = None,
                at_key: bool = False) -> Problem:
        """A problem located at ``path`` in this file (or in the ``--set`` that wrote it)."""
        path = tuple(path)
        for n in range(len(path), -1, -1):
            if path[:n] in self.overridden:
                return Problem(f"{message} (from --set {self.overridden[path[:n]]})",
                               file=self.file, path=dotted)
        pos = self.position(path, at_key)
        line, col = pos if pos else (None, None)
        return Problem(message, file=self.file, line=line, col=col, path=dotted)


def _is_scalar_at(data: Any, path: FieldPath) -> bool:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return not isinstance(data, (dict, list))


def parse(text: str, file: str, fmt: str) -> Source:
    """Parse ``text`` as ``fmt`` ("yaml" or "json") into a :class:`Source`."""
    if fmt == "json":
        return _JsonParser(text, file).parse()
    return _parse_yaml(text, file)


# --------------------------------------------------------------------------- YAML

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                yaml.composer.Composer, yaml.resolver.BaseResolver):
    """PyYAML's safe reader/parser/composer with no implicit typing at all."""

    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.resolver.BaseResolver.__init__(self)


def _parse_yaml(text: str, file: str) -> Source:
    _check_yaml_events(text, file)
    try:
        loader = _Composer(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise SpecError(Problem(f"control character U+{e.character:04X} is not allowed in YAML",
                                file=file, line=line, col=col)) from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = " ".join(p for p in (e.context, e.problem) if p)
        raise SpecError(_yaml_problem(file, mark, f"YAML syntax error: {msg}")) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML syntax error: {e}", file=file) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError("the file is empty; a spec needs at least `name` and a network", file=file)
    builder = _YamlBuilder(file)
    data = builder.build(root, (), 0)
    return Source(file, data, builder.values, builder.keys)


def _yaml_problem(file: str, mark: Any, message: str) -> Problem:
    if mark is None:
        return Problem(message, file=file)
    return Problem(message, file=file, line=mark.line + 1, col=mark.column + 1)


def _check_yaml_events(text: str, file: str) -> None:
    """Refuse absurd nesting and too many values from the event stream (libyaml's, fast),
    before the recursive (and slower) composer builds anything."""
    # libyaml is fast but gives up on its own limits (nesting over 1000 levels, text it
    # cannot encode) where the pure-Python parser the composer uses goes on: when the
    # fast parser fails, check again with the parser the composer will run.
    for loader in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader):
        if loader is None:
            continue
        depth = values = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, (yaml.NodeEvent)):
                    values += 1
                    if values > MAX_VALUES:
                        raise SpecError(_yaml_problem(
                            file, event.start_mark, f"more than {MAX_VALUES} values"))
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise SpecError(_yaml_problem(
                            file, event.start_mark, f"nesting deeper than {MAX_DEPTH} levels"))
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
            return
        except (yaml.YAMLError, UnicodeError):
            continue  # the composer reports syntax errors with their position


class _YamlBuilder:
    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.values: dict[FieldPath, tuple[int, int]] = {}
        self.keys: dict[FieldPath, tuple[int, int]] = {}

    def fail(self, node: yaml.Node, message: str) -> SpecError:
        return SpecError(_yaml_problem(self.file, node.start_mark, message))

    def build(self, node: yaml.Node, path: FieldPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(node, f"more than {MAX_VALUES} values (an alias bomb?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, "seq")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        self.check_tag(node, "map")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise self.fail(key_node, "mapping keys must be plain strings")
            if key in out:
                raise self.fail(key_node, f"duplicate key {key!r}")
            mark = key_node.start_mark
            self.keys[path + (key,)] = (mark.line + 1, mark.column + 1)
            out[key] = self.build(value_node, path + (key,), depth + 1)
        return out

    def check_tag(self, node: yaml.Node, kind: str) -> None:
        if node.tag != _CORE + kind:
            raise self.fail(node, f"tag {node.tag!r} is not allowed: a spec holds plain data only")

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == _CORE + "str" and node.style is None:
            return self.resolve(node)
        if tag == _CORE + "str":
            return value
        kinds = {"int": _INT, "float": _FLOAT, "bool": _BOOL, "null": _NULL}
        kind = tag[len(_CORE):] if tag.startswith(_CORE) else None
        if kind in kinds and kinds[kind].match(value):
            return self.resolve(node)
        raise self.fail(node, f"tag {tag!r} is not allowed: a spec holds plain data only")

    def resolve(self, node: yaml.ScalarNode) -> Any:
        try:
            return _resolve_plain(node.value)
        except ValueError:  # Python refuses int() of more than 4300 digits
            raise self.fail(node, f"a number of {len(node.value)} characters is too long") from None


def _resolve_plain(value: str) -> Any:
    """A plain YAML scalar under the YAML 1.2 core schema."""
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value.lower() == "true"
    if _INT.match(value):
        if len(value) > MAX_DIGITS:  # int() refuses long decimals, but not long hex
            raise ValueError(value[:20])
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if _FLOAT.match(value):
        lowered = value.lower().lstrip("+")
        if lowered.endswith("nan"):
            return math.nan
        if lowered.endswith("inf"):
            return -math.inf if lowered.startswith("-") else math.inf
        return float(value)
    return value


# --------------------------------------------------------------------------- JSON

_NUMBER = json.scanner.NUMBER_RE
_SPACE = re.compile(r"[ \t\n\r]*")
# json's own string scanner: (text, index after the opening quote, strict) -> (value, end)
_scanstring: Callable[[str, int, bool], tuple[str, int]] = \
    json.decoder.scanstring  # type: ignore[attr-defined]  # typeshed does not declare it


class _JsonParser:
    """Strict JSON (RFC 8259) with positions, duplicate-key and depth checks."""

    def __init__(self, text: str, file: str):
        self.text, self.file = text, file
        self.count = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.values: dict[FieldPath, tuple[int, int]] = {}
        self.keys: dict[FieldPath, tuple[int, int]] = {}

    def parse(self) -> Source:
        i = self.skip(0)
        if i == len(self.text):
            raise SpecError("the file is empty; a spec needs at least `name` and a network",
                            file=self.file)
        data, i = self.value(i, (), 0)
        i = self.skip(i)
        if i != len(self.text):
            raise self.fail(i, "extra data after the JSON value")
        return Source(self.file, data, self.values, self.keys)

    def where(self, i: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, i)
        return line, i - self.line_starts[line - 1] + 1

    def fail(self, i: int, message: str, prefix: str = "JSON syntax error: ") -> SpecError:
        line, col = self.where(i)
        return SpecError(Problem(prefix + message, self.file, line, col))

    def skip(self, i: int) -> int:
        match = _SPACE.match(self.text, i)  # never None: the pattern matches ""
        return match.end() if match else i

    def value(self, i: int, path: FieldPath, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise self.fail(i, f"nesting deeper than {MAX_DEPTH} levels")
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(i, f"more than {MAX_VALUES} values", prefix="")
        self.values[path] = self.where(i)
        char = self.text[i:i + 1]
        if char == "{":
            return self.obj(i + 1, path, depth)
        if char == "[":
            return self.array(i + 1, path, depth)
        if char == '"':
            return self.string(i)
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, i):
                return result, i + len(word)
        match = _NUMBER.match(self.text, i)
        if match and match.end() > i:
            whole, frac, exp = match.groups()
            if frac or exp:
                return float(whole + (frac or "") + (exp or "")), match.end()
            try:
                return int(whole), match.end()
            except ValueError:  # Python refuses int() of more than 4300 digits
                raise self.fail(i, f"a number of {len(whole)} digits is too long") from None
        if not char:
            raise self.fail(i, "unexpected end of file")
        raise self.fail(i, f"unexpected character {char!r}")

    def string(self, i: int) -> tuple[str, int]:
        try:
            return _scanstring(self.text, i + 1, True)
        except json.JSONDecodeError as e:
            raise self.fail(e.pos, e.msg) from None

    def array(self, i: int, path: FieldPath, depth: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self.skip(i)
        if self.text[i:i + 1] == "]":
            return out, i + 1
        while True:
            item, i = self.value(self.skip(i), path + (len(out),), depth + 1)
            out.append(item)
            i = self.skip(i)
            char = self.text[i:i + 1]
            if char == "]":
                return out, i + 1
            if char != ",":
                raise self.fail(i, "expected ',' or ']'")
            i += 1

    def obj(self, i: int, path: FieldPath, depth: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        i = self.skip(i)
        if self.text[i:i + 1] == "}":
            return out, i + 1
        while True:
            if self.text[i:i + 1] != '"':
                raise self.fail(i, "expected a key in double quotes")
            key_at = i
            key, i = self.string(i)
            if key in out:
                raise self.fail(key_at, f"duplicate key {key!r}")
            self.keys[path + (key,)] = self.where(key_at)
            i = self.skip(i)
            if self.text[i:i + 1] != ":":
                raise self.fail(i, "expected ':' after the key")
            out[key], i = self.value(self.skip(i + 1), path + (key,), depth + 1)
            i = self.skip(i)
            char = self.text[i:i + 1]
            if char == "}":
                return out, i + 1
            if char != ",":
                raise self.fail(i, "expected ',' or '}'")
            i = self.skip(i + 1)
