"""Loading spec files: formats, encodings, files that cannot be read, positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnc.base.errors import SpecError
from nnc.spec import OP_SPECS, load_spec, load_spec_text
from nnc.spec.source import MAX_BYTES

SPEC = "name: net\ninput: [3]\nlayers:\n  - {op: dense, units: 4}\n  - relu\n"
SPEC_JSON = '{"name": "net", "input": [3], "layers": [{"op": "dense", "units": 4}, "relu"]}'


def refused(text: str, fmt: str = "yaml") -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "model." + fmt, fmt)
    return info.value.lines()


@pytest.mark.parametrize("name, text", [("a.yaml", SPEC), ("a.yml", SPEC), ("A.YAML", SPEC),
                                        ("a.json", SPEC_JSON), ("a.JSON", SPEC_JSON)])
def test_formats_by_extension(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    spec_file = load_spec(path)
    assert spec_file.spec.layers[0].units == 4
    assert spec_file.path == path and spec_file.base_dir == tmp_path


def test_no_extension(tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.write_text(SPEC)
    with pytest.raises(SpecError, match=r"unknown spec format '\(no extension\)'"):
        load_spec(path)


def test_missing_file(cli, tmp_path: Path) -> None:
    result = cli("check", tmp_path / "nowhere.yaml")
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'nowhere.yaml'}: no such file\n"


def test_oversized_file(cli, tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(SPEC + "description: " + "x" * MAX_BYTES + "\n")
    result = cli("check", path)
    assert result.exit_code == 2
    assert f"too large for a spec file (limit {MAX_BYTES} bytes)" in result.stderr
    assert "Traceback" not in result.output


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SPEC.replace("\n", "\r\n").replace("units: 4", "units: 0")
                     .encode())
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.lines() == [f"{path}:4:24: layers.0.units: must be greater than or "
                                  "equal to 1 (got 0)"]


def test_non_ascii_text_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "unicode.yaml"
    path.write_text(SPEC + "description: réseau à deux couches — σ(Wx)\n",  # noqa: RUF001 (on purpose)
                    encoding="utf-8")
    assert load_spec(path).spec.description.startswith("réseau")


def test_yaml_12_core_schema_scalars() -> None:
    spec = load_spec_text(SPEC + "train: {l2: 1e-4, optimizer: {sgd: {lr: .5}}, seed: 0x10}\n"
                          "description: yes\n").spec
    assert spec.train.l2 == 1e-4 and spec.train.optimizer.sgd.lr == 0.5
    assert spec.train.seed == 16
    assert spec.description == "yes"  # YAML 1.1 would make it a boolean


def test_quoted_numbers_stay_strings() -> None:
    assert refused(SPEC.replace("units: 4", "units: '4'")) == [
        "model.yaml:4:24: layers.0.units: must be a valid integer (got '4')"]


def test_json_positions() -> None:
    text = '{\n  "name": "net",\n  "input": [3],\n  "layers": [{"op": "dense", "units": -4}]\n}'
    assert refused(text, "json") == [
        "model.json:4:39: layers.0.units: must be greater than or equal to 1 (got -4)"]


@pytest.mark.parametrize("text, message", [
    ('{"name": "n"} {}', "model.json:1:15: JSON syntax error: extra data after the JSON value"),
    ('{"name": "n"', "model.json:1:13: JSON syntax error: expected ',' or '}'"),
    ("{'name': 'n'}", "model.json:1:2: JSON syntax error: expected a key in double quotes"),
    ('{"name" "n"}', "model.json:1:9: JSON syntax error: expected ':' after the key"),
    ('{"name": "a\nb"}', "model.json:1:12: JSON syntax error: Invalid control character at"),
    ("[1, 2", "model.json:1:6: JSON syntax error: expected ',' or ']'"),
    ("  ", "model.json: the file is empty"),
])
def test_json_syntax(text: str, message: str) -> None:
    assert refused(text, "json")[0].startswith(message)


@pytest.mark.parametrize("text, message", [
    ("name: n\n1: x\n", "model.yaml:2:1: mapping keys must be plain strings"),
    ("name: n\n[a]: x\n", "model.yaml:2:1: mapping keys must be plain strings"),
    ("name: !!binary aGk=\n", "model.yaml:1:7: tag 'tag:yaml.org,2002:binary' is not allowed"),
    ("name: !!int '7'\ninput: !!set {a}\n", "model.yaml:2:8: tag 'tag:yaml.org,2002:set'"),
    ("a: &x 1\nb: *y\n", "model.yaml:2:4: YAML syntax error: found undefined alias"),
])
def test_yaml_oddities(text: str, message: str) -> None:
    assert refused(text)[0].startswith(message)


def test_an_unknown_op_far_from_any_lists_every_op_of_the_registry() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text("name: t\ninput: [3]\nlayers: [{op: convolution}]\n")
    assert caught.value.lines()[0].endswith(f"expected one of: {', '.join(sorted(OP_SPECS))}")
