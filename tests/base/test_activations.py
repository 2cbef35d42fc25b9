"""Every entry of the activation table against an independent formula: its forward (in
place and not), its backward against a central difference in float64, its ONNX lowering
in onnxruntime, and what it declares for diagnostics. The per-op tests of the compiler
and the runtime (gradients through a network, parity, allocations, sizing) run over the
registry and include every activation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

from nnc.base.activations import ACTIVATIONS
from nnc.runtime import onnx_run
from nnc.spec import OP_SPECS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# name -> f(x, attrs): the textbook formulas, written without the table's in-place tricks
ORACLE = {
    "sigmoid": lambda x, a: _sigmoid(x),
    "tanh": lambda x, a: np.tanh(x),
    "relu": lambda x, a: np.maximum(x, 0),
    "leaky_relu": lambda x, a: np.where(x >= 0, x, a.alpha * x),
    "elu": lambda x, a: np.where(x > 0, x, a.alpha * (np.exp(x) - 1)),
    "softplus": lambda x, a: np.log(1 + np.exp(x)),
    "silu": lambda x, a: x * _sigmoid(x),
}

X = np.linspace(-6, 6, 121).reshape(11, 11) + 0.013  # no exact zeros: kinks stay away


def attrs_of(name: str):
    return OP_SPECS[name](op=name)


def buffers(name: str, n: int, dtype=np.float64) -> dict[str, np.ndarray]:
    kinds = {"float": dtype, "bool": np.bool_, "int64": np.int64}
    return {k: np.zeros((n, 11), kinds[kind]) for k, kind in ACTIVATIONS[name].keeps}


def test_every_activation_has_an_oracle() -> None:
    assert set(ORACLE) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_in_place_and_not(name: str) -> None:
    a, f = attrs_of(name), ACTIVATIONS[name]
    out = np.empty_like(X)
    f.forward(a, X, out, buffers(name, len(X)))
    np.testing.assert_allclose(out, ORACLE[name](X, a), rtol=1e-12, atol=1e-12)
    inplace = X.copy()
    f.forward(a, inplace, inplace, buffers(name, len(X)))
    np.testing.assert_array_equal(inplace, out)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_is_the_derivative(name: str) -> None:
    a, f, h = attrs_of(name), ACTIVATIONS[name], 1e-6
    kept = buffers(name, len(X))
    out = np.empty_like(X)
    f.forward(a, X, out, kept)
    dout = np.random.default_rng(0).standard_normal(X.shape)
    dx = f.backward(a, out, dout, np.empty_like(X), kept)
    numeric = (ORACLE[name](X + h, a) - ORACLE[name](X - h, a)) / (2 * h) * dout
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_onnx_lowering_computes_the_same(name: str) -> None:
    a, f = attrs_of(name), ACTIVATIONS[name]

    class Builder:
        nodes: list[Any]  # set per instance
        names = iter(range(1000))

        def node(self, op_type, inputs, outputs, node_name, **attributes):
            self.nodes.append(helper.make_node(op_type, inputs, outputs, name=node_name,
                                               **attributes))

        def unique(self, base):
            return f"{base}_{next(self.names)}"

    b = Builder()
    b.nodes = []
    f.onnx(a, b, "x", "y", name)
    info = [helper.make_tensor_value_info(v, TensorProto.FLOAT, [None, 11]) for v in "xy"]
    model = helper.make_model(helper.make_graph(b.nodes, "t", info[:1], info[1:]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = X.astype(np.float32)
    got, = onnx_run.run(onnx_run.session(model), x, ["y"])
    # float32, and onnxruntime's own approximations of exp and tanh
    np.testing.assert_allclose(got, ORACLE[name](x.astype(np.float64), a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_health_thresholds_are_sane(name: str) -> None:
    f = ACTIVATIONS[name]
    assert f.init in ("he", "xavier")
    if f.saturated_outside is not None:
        low, high = f.saturated_outside
        y = ORACLE[name](np.array([-50.0, 50.0]), attrs_of(name))
        assert y[0] < low < high < y[1]  # the flat tails lie outside the band
    if f.inactive_at_most is not None:  # the ReLU family: inactive exactly where x <= 0
        y = ORACLE[name](X, attrs_of(name))
        assert np.array_equal(y <= f.inactive_at_most, X <= 0)
