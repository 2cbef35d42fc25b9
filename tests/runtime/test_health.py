"""The rules of the warnings, on made-up runs at and around their thresholds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nnc.runtime import health
from nnc.runtime.health import Run, warnings_of


def history(val: list[float], train: list[float] | None = None,
            acc: tuple[float | None, float | None] = (None, None)) -> list[dict]:
    train = train or [1.0 / (i + 1) for i in range(len(val))]
    return [{"epoch": i + 1, "lr": 0.1, "train_loss": t, "val_loss": v,
             "train_accuracy": acc[0], "val_accuracy": acc[1], "seconds": 0.1}
            for i, (t, v) in enumerate(zip(train, val))]


def run(**kwargs) -> Run:
    base = dict(history=history([1.0, 0.5, 0.4]), diagnostics=None,
                loss="softmax_cross_entropy", train_accuracy=0.9, val_accuracy=0.88,
                majority=0.34, classes=3, lr=0.1)
    return Run(**{**base, **kwargs})


def codes(r: Run) -> list[str]:
    return [w.code for w in warnings_of(r)]


def diagnostics(nodes: dict | None = None, params: dict | None = None,
                epochs: list[int] | None = None, initial_loss: float | None = None) -> dict:
    return {"epochs": epochs or [0, 1, 2], "probe_samples": 100, "initial_loss": initial_loss,
            "nodes": nodes or {}, "params": params or {}}


def test_a_healthy_run_has_no_warning() -> None:
    assert codes(run()) == []


@pytest.mark.parametrize("dead, warned", [([0.0, 0.3, 0.5], False), ([0.0, 0.6, 0.51], True),
                                          ([0.0, 0.9, 0.4], False)])
def test_dead_units_at_the_end(dead, warned) -> None:
    d = diagnostics({"relu_1": {"kind": "relu", "dead_fraction": dead}})
    found = warnings_of(run(diagnostics=d))
    assert [w.code for w in found] == (["dead_units"] if warned else [])
    if warned:
        assert found[0].node == "relu_1" and found[0].epoch == 1 and "relu_1" in found[0].message


def test_units_of_a_leaky_activation_are_inactive_not_dead() -> None:
    d = diagnostics({"l": {"kind": "leaky_relu", "dead_fraction": [0.0, 0.7, 0.8]}})
    (w,) = warnings_of(run(diagnostics=d))
    assert w.code == "dead_units" and "inactive" in w.message and "are dead" not in w.message
    d = diagnostics({"r": {"kind": "relu", "dead_fraction": [0.0, 0.7, 0.8]}})
    (w,) = warnings_of(run(diagnostics=d))
    assert "are dead" in w.message and "leaky_relu" in w.message


def test_saturation_names_its_worst_epoch() -> None:
    d = diagnostics({"s": {"kind": "sigmoid", "saturated_fraction": [0.2, 0.7, 0.4],
                           "dead_fraction": None}})
    (w,) = warnings_of(run(diagnostics=d))
    assert (w.code, w.epoch, w.value) == ("saturated", 1, 0.7)


def test_vanishing_gradients_against_the_last_layer() -> None:
    params = {"a.weight": {"grad_norm": [None, 1e-4, 1e-4]},
              "b.weight": {"grad_norm": [None, 1e-3, 2e-3]},
              "c.weight": {"grad_norm": [None, 0.1, 0.1]}}
    found = warnings_of(run(diagnostics=diagnostics(params=params)))
    assert [(w.code, w.node) for w in found] == [("vanishing_gradients", "a")]
    assert found[0].value == pytest.approx(1000)


def test_a_layer_without_any_gradient_is_vanishing() -> None:
    params = {"a.weight": {"grad_norm": [None, 0.0, 0.0]},
              "out.weight": {"grad_norm": [None, 0.1, 0.1]},
              "z.weight": {"grad_norm": [None, 0.1, 0.1]}}
    found = warnings_of(run(diagnostics=diagnostics(params=params), output="out"))
    assert [(w.code, w.node, w.value) for w in found] == [("vanishing_gradients", "a", None)]
    assert "no gradient at all" in found[0].message and "(out.weight)" in found[0].message


@pytest.mark.parametrize("ratios, warned", [([None, 1e-3, 2e-3], None),
                                            ([None, 0.5, 0.3], "high"),
                                            ([None, 1e-8, 1e-7], "low")])
def test_update_ratio_band(ratios, warned) -> None:
    d = diagnostics(params={"a.weight": {"update_ratio": ratios, "grad_norm": [None, 1, 1]}})
    found = [w for w in warnings_of(run(diagnostics=d)) if w.code == "update_ratio"]
    assert len(found) == (warned is not None)
    if warned:
        assert ("too high" if warned == "high" else "too low") in found[0].message


def test_overfitting_needs_a_real_rise_and_a_gap() -> None:
    rising = history([1.0, 0.5, 0.4, 0.45, 0.5, 0.55], [1.0, 0.4, 0.2, 0.1, 0.05, 0.02])
    assert codes(run(history=rising)) == ["overfitting"]
    noise = history([1.0, 0.5, 0.40, 0.41, 0.40, 0.41], [1.0, 0.4, 0.3, 0.3, 0.3, 0.3])
    assert codes(run(history=noise)) == []
    no_gap = history([1e-5, 1.5e-5, 1.6e-5, 2e-5, 2.5e-5], [2e-5, 1.8e-5, 1.5e-5, 1.4e-5, 1.3e-5])
    assert codes(run(history=no_gap)) == []  # validation within twice the training loss
    assert codes(run(train_accuracy=1.0, val_accuracy=0.8)) == ["overfitting"]


def test_no_learning_at_chance_or_with_a_loss_that_does_not_fall() -> None:
    assert codes(run(val_accuracy=0.35, train_accuracy=0.36)) == ["no_learning"]
    flat = history([2.0, 2.0, 2.0], [1.1, 1.1, 1.2])
    assert codes(run(history=flat, loss="mse", train_accuracy=None, val_accuracy=None,
                     majority=None, classes=None)) == ["no_learning"]


def test_no_chance_warning_when_the_commonest_class_is_almost_everything() -> None:
    assert codes(run(majority=0.99, train_accuracy=0.99, val_accuracy=0.99)) == []


def test_initial_softmax_loss_far_from_ln_classes() -> None:
    d = diagnostics(initial_loss=math.log(3) * 3)
    assert codes(run(diagnostics=d)) == ["initial_loss"]
    assert codes(run(diagnostics=diagnostics(initial_loss=math.log(3) * 1.2))) == []


def test_thresholds_are_the_documented_ones() -> None:
    """The README's Warnings table states the numbers the rules use."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines()
            if line.startswith("| `") and line.split("|")[1].strip(" `") in health.RULES}
    assert set(rows) == set(health.RULES)
    said = {
        "dead_units": [f"{health.DEAD:.0%}"],
        "saturated": [f"{health.SATURATED:.0%}"],
        "vanishing_gradients": [f"{health.VANISHING:g} times"],
        "update_ratio": [f"above {health.UPDATE_HIGH:.0e}".replace("e-0", "e-"),
                         f"below {health.UPDATE_LOW:.0e}".replace("e-0", "e-"),
                         f"near {health.HEALTHY_UPDATE:.0e}".replace("e-0", "e-")],
        "overfitting": [f"last {health.RISING} epochs", f"{health.RISE:.0%} above",
                        "twice" if health.APART == 2 else f"{health.APART:g} times",
                        f"more than {health.GAP:g} above"],
        "no_learning": [f"within {health.CHANCE_MARGIN:g}"],
        "initial_loss": ["twice" if health.INITIAL_LOSS == 2 else f"{health.INITIAL_LOSS:g}"],
    }
    for code, phrases in said.items():
        for phrase in phrases:
            assert phrase in rows[code], (code, phrase)
