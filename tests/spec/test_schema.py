"""`nnc schema`: valid JSON, a JSON Schema that accepts every valid spec and refuses bad ones.

The ``jsonschema`` package is not a dependency, so the keywords the schema uses are
checked by the small validator below; a keyword it does not know fails the test, so the
validator cannot silently skip a rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nnc.spec import load_spec_text
from nnc.spec.source import parse

VALID = sorted((Path(__file__).parent / "valid").iterdir())
MODELS = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.y*ml"))

# keywords that only annotate
ANNOTATIONS = {"title", "description", "default", "discriminator", "$schema", "$defs", "examples"}


class Invalid(Exception):
    pass


def _type_ok(value: Any, kind: str) -> bool:
    return {
        "object": isinstance(value, dict), "array": isinstance(value, list),
        "string": isinstance(value, str), "boolean": isinstance(value, bool),
        "null": value is None,
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> None:
    """Raise Invalid when ``value`` does not match ``schema`` (a JSON Schema 2020-12 subset)."""
    unknown = set(schema) - ANNOTATIONS - set(_KEYWORDS)
    assert not unknown, f"the test's validator does not know {unknown} (at {where})"
    for key, rule in schema.items():
        if key in _KEYWORDS:
            _KEYWORDS[key](value, rule, schema, root, where)


def _ref(value, rule, schema, root, where):
    assert rule.startswith("#/$defs/")
    validate(value, root["$defs"][rule.split("/")[-1]], root, where)


def _type(value, rule, schema, root, where):
    kinds = rule if isinstance(rule, list) else [rule]
    if not any(_type_ok(value, k) for k in kinds):
        raise Invalid(f"{where}: {value!r} is not {rule}")


def _matches(value, sub, root, where) -> bool:
    try:
        validate(value, sub, root, where)
        return True
    except Invalid:
        return False


def _any_of(value, rule, schema, root, where):
    if not any(_matches(value, s, root, where) for s in rule):
        raise Invalid(f"{where}: {value!r} matches none of anyOf")


def _one_of(value, rule, schema, root, where):
    if sum(_matches(value, s, root, where) for s in rule) != 1:
        raise Invalid(f"{where}: {value!r} does not match exactly one of oneOf")


def _all_of(value, rule, schema, root, where):
    for s in rule:
        validate(value, s, root, where)


def _enum(value, rule, schema, root, where):
    if not any(value == e and type(value) is type(e) for e in rule):
        raise Invalid(f"{where}: {value!r} not in {rule}")


def _const(value, rule, schema, root, where):
    _enum(value, [rule], schema, root, where)


def _properties(value, rule, schema, root, where):
    if isinstance(value, dict):
        for key, sub in rule.items():
            if key in value:
                validate(value[key], sub, root, f"{where}.{key}")


def _additional(value, rule, schema, root, where):
    if not isinstance(value, dict):
        return
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    for key, item in value.items():
        if key in known or any(p.search(key) for p in patterns):
            continue
        if rule is False:
            raise Invalid(f"{where}: unknown key {key!r}")
        if isinstance(rule, dict):
            validate(item, rule, root, f"{where}.{key}")


def _pattern_properties(value, rule, schema, root, where):
    if isinstance(value, dict):
        for pattern, sub in rule.items():
            for key, item in value.items():
                if re.search(pattern, key):
                    validate(item, sub, root, f"{where}.{key}")


def _property_names(value, rule, schema, root, where):
    if isinstance(value, dict):
        for key in value:
            validate(key, rule, root, f"{where}[{key!r}]")


def _required(value, rule, schema, root, where):
    if isinstance(value, dict):
        missing = [k for k in rule if k not in value]
        if missing:
            raise Invalid(f"{where}: missing {missing}")


def _items(value, rule, schema, root, where):
    if isinstance(value, list):
        for i, item in enumerate(value):
            validate(item, rule, root, f"{where}[{i}]")


def _bound(check):
    def keyword(value, rule, schema, root, where):
        if _type_ok(value, "number") and not check(value, rule):
            raise Invalid(f"{where}: {value!r} out of range")
    return keyword


def _size(measure, check):
    def keyword(value, rule, schema, root, where):
        size = measure(value)
        if size is not None and not check(size, rule):
            raise Invalid(f"{where}: size {size} of {value!r} out of range")
    return keyword


def _length(value):
    return len(value) if isinstance(value, str) else None


def _count(value):
    return len(value) if isinstance(value, list) else None


def _props(value):
    return len(value) if isinstance(value, dict) else None


def _pattern(value, rule, schema, root, where):
    if isinstance(value, str) and not re.search(rule, value):
        raise Invalid(f"{where}: {value!r} does not match {rule}")


_KEYWORDS = {
    "$ref": _ref, "type": _type, "anyOf": _any_of, "oneOf": _one_of, "allOf": _all_of,
    "enum": _enum, "const": _const, "properties": _properties,
    "additionalProperties": _additional, "patternProperties": _pattern_properties,
    "propertyNames": _property_names, "required": _required, "items": _items,
    "minimum": _bound(lambda v, r: v >= r), "maximum": _bound(lambda v, r: v <= r),
    "exclusiveMinimum": _bound(lambda v, r: v > r), "exclusiveMaximum": _bound(lambda v, r: v < r),
    "minLength": _size(_length, lambda n, r: n >= r),
    "maxLength": _size(_length, lambda n, r: n <= r),
    "minItems": _size(_count, lambda n, r: n >= r), "maxItems": _size(_count, lambda n, r: n <= r),
    "minProperties": _size(_props, lambda n, r: n >= r),
    "maxProperties": _size(_props, lambda n, r: n <= r),
    "pattern": _pattern,
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from click.testing import CliRunner

    from nnc.cli import main

    result = CliRunner().invoke(main, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def plain(path: Path) -> Any:
    """The file's data as nnc reads it (YAML 1.2 core schema: ``1e-3`` is a number)."""
    return parse(path.read_text(), path.name, "json" if path.suffix == ".json" else "yaml").data


def test_schema_is_a_json_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name"]
    assert {"name", "input", "layers", "graph", "loss", "data", "train", "export"} \
        <= set(schema["properties"])
    refs = set(re.findall(r'"#/\$defs/([^"]+)"', json.dumps(schema)))
    assert refs <= set(schema["$defs"])  # no dangling $ref


def test_schema_to_a_file(cli, tmp_path: Path, schema: dict[str, Any]) -> None:
    out = tmp_path / "nnc-spec.schema.json"
    result = cli("schema", "-o", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.stdout
    assert json.loads(out.read_text()) == schema


@pytest.mark.parametrize("path", VALID + MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_accepts_every_valid_spec(path: Path, schema: dict[str, Any]) -> None:
    data = load_spec_text(path.read_text(), path.name,
                          "json" if path.suffix == ".json" else "yaml").source.data
    validate(data, schema, schema)


@pytest.mark.parametrize("name", [
    "type_units_str.yaml", "type_bias_int.yaml", "type_input_scalar.yaml", "range_units_zero.yaml",
    "range_dropout_p_one.yaml", "range_maxout_pieces_one.yaml", "range_negative_lr.yaml",
    "range_opset_12.yaml", "range_units_huge.yaml", "unknown_op_near_miss.yaml",
    "unknown_op_far.yaml", "unknown_key_top.yaml", "unknown_key_layer.yaml",
    "unknown_key_sgd.yaml", "bad_loss.yaml", "data_two_sources.yaml", "data_no_source.yaml",
    "missing_name.json", "bad_name.yaml", "type_units_float.json", "graph_add_one_input.yaml",
])
def test_schema_refuses_what_the_loader_refuses(name: str, schema: dict[str, Any]) -> None:
    data = plain(Path(__file__).parent / "corpus" / name)
    with pytest.raises(Invalid):
        validate(data, schema, schema)


def test_the_validator_itself() -> None:
    root = {"$defs": {"N": {"type": "integer", "minimum": 1}}}
    validate(3, {"$ref": "#/$defs/N"}, root)
    for bad in (0, 1.5, True, "3"):
        with pytest.raises(Invalid):
            validate(bad, {"$ref": "#/$defs/N"}, root)
    with pytest.raises(AssertionError):
        validate(1, {"unevaluatedProperties": False}, root)
