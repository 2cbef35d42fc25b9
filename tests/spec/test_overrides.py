"""``--set key.path=value``: overriding a spec field before validation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from nnc.base.errors import SpecError
from nnc.spec import load_spec_text

SPEC = textwrap.dedent("""\
    name: net
    input: [3]
    layers:
      - {op: dense, units: 4}
      - leaky_relu
      - {op: dense, units: 2}
    loss: mse
    """)
WITH_TRAIN = SPEC + "train:\n  epochs: 5\n  optimizer:\n    sgd: {lr: 0.1, momentum: 0.9}\n"


def load(*overrides: str, text: str = SPEC):
    return load_spec_text(text, "model.yaml", "yaml", overrides).spec


def refused(*overrides: str, text: str = SPEC) -> str:
    with pytest.raises(SpecError) as info:
        load(*overrides, text=text)
    lines = info.value.lines()
    assert all(": " in line for line in lines)
    return "\n".join(lines)


def test_a_layer_field() -> None:
    assert load("layers.0.units=50").layers[0].units == 50
    assert load("layers.-1.units=7").layers[2].units == 7


def test_a_float_in_exponent_form_is_a_float() -> None:
    lr = load("train.optimizer.sgd.lr=1e-3", text=WITH_TRAIN).train.optimizer.sgd.lr
    assert lr == 0.001 and isinstance(lr, float)
    assert load("train.optimizer.sgd.lr=1e-3", text=WITH_TRAIN).train.optimizer.sgd.momentum == 0.9


def test_a_missing_mapping_is_created() -> None:
    spec = load("train.epochs=3")
    assert spec.train.epochs == 3
    assert spec.train.batch_size == 64  # the rest keeps its defaults
    spec = load("train.optimizer.sgd.lr=0.5", "data.spiral.classes=4")
    assert spec.train.optimizer.sgd.lr == 0.5
    assert spec.data.chosen == ("spiral", spec.data.spiral) and spec.data.spiral.classes == 4


def test_a_bare_word_layer_becomes_a_mapping() -> None:
    layer = load("layers.1.alpha=0.2").layers[1]
    assert (layer.op, layer.alpha) == ("leaky_relu", 0.2)


def test_values_are_yaml() -> None:
    spec = load("input=[5]", "layers.1={op: dropout, p: 0.25}", "name=other-name")
    assert (spec.input, spec.layers[1].op, spec.layers[1].p, spec.name) == \
        ([5], "dropout", 0.25, "other-name")
    assert load("layers.1=relu").layers[1].op == "relu"
    assert load("layers.0.bias=false").layers[0].bias is False


def test_later_overrides_win() -> None:
    assert load("layers.0.units=50", "layers.0.units=60").layers[0].units == 60


@pytest.mark.parametrize("override, message", [
    ("layers.5.units=3", "layers is a list of 3; '5' is not an index in it"),
    ("layers.-4.units=3", "layers is a list of 3; '-4' is not an index in it"),
    ("layers.first.units=3", "layers is a list of 3; 'first' is not an index in it"),
    ("layers.²=3", "'²' is not an index in it"),
    ("name.first=x", "name is 'net', not a mapping or list"),
    ("layers.0.units.x=3", "layers.0.units is 4, not a mapping or list"),
])
def test_bad_index_or_path(override: str, message: str) -> None:
    text = refused(override)
    assert message in text
    assert f"--set '{override}'" in text


@pytest.mark.parametrize("override", ["layers.0.units", "=5", "layers..units=5", ".x=1",
                                      "layers.0.=5", " =1"])
def test_bad_syntax(override: str) -> None:
    assert "expected KEY.PATH=VALUE" in refused(override)


def test_a_value_that_is_not_yaml() -> None:
    text = refused("input=[1, 2")
    assert "--set 'input=[1, 2': the value is not valid YAML" in text


def test_an_invalid_overridden_value_names_the_set() -> None:
    text = refused("layers.0.units=0")
    assert "model.yaml: layers.0.units: must be greater than or equal to 1 (got 0) " \
           "(from --set layers.0.units=0)" in text
    assert "(from --set layers.1.alpha=2)" in refused("layers.1.alpha=2")
    assert "(from --set layers.1={op: relux})" in refused("layers.1={op: relux}")


def test_errors_elsewhere_keep_their_positions() -> None:
    text = refused("layers.0.units=50", text=SPEC.replace("loss: mse", "loss: hinge"))
    assert text.startswith("model.yaml:7:7: loss: 'hinge' is not valid")


def test_overrides_through_the_cli(cli, tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(SPEC)
    result = cli("summary", "--json", "--set", "layers.0.units=50", "--set", "layers.2.units=3",
                 path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == (3 * 50 + 50) + (50 * 3 + 3)

    result = cli("check", "--set", "layers.0.units=ten", path)
    assert result.exit_code == 2
    assert result.stderr == (f"{path}: layers.0.units: must be a valid integer (got 'ten') "
                             "(from --set layers.0.units=ten)\n")
    for bad in ("layers.9.units=1", "nonsense", "layers.0.units=[1,"):
        result = cli("check", "--set", bad, path)
        assert result.exit_code == 2, bad
        assert "Traceback" not in result.output, bad
        assert result.stderr.startswith(f"{path}: --set '{bad}': "), bad
