"""Element-wise activations, each one entry of one table: ``ACTIVATIONS``.

An entry says everything nnc knows of an activation: its name (the op tag) and fields
(the spec model is made from them), its forward and backward math (NumPy, in place,
allocation-free), its ONNX lowering, how to initialize a layer that feeds it, the
buffers its forward keeps for the backward pass, and when a unit counts as inactive
(dead) or saturated. The spec, the compiler and the runtime all read this table;
adding an activation is adding an entry.

forward(attrs, x, out, kept) writes f(x) into ``out`` (which may be ``x`` itself: a dense
layer applies its activation in place); backward(attrs, out, dout, dx, kept) writes
f'(x) * dout into ``dx`` from the output (and what forward kept) and returns it.
``kept`` maps the names of ``keeps`` to buffers of at least len(x) rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from pydantic import Field

Array = np.ndarray
Kept = dict[str, Array]


class Emitter(Protocol):
    """What an ONNX lowering needs of the builder (nnc.compiler.onnx_export.OnnxBuilder)."""

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str,
             **attributes: Any) -> None: ...

    def unique(self, base: str) -> str: ...


@dataclass(frozen=True)
class Activation:
    """One element-wise activation; see the module docstring."""

    name: str
    formula: str
    forward: Callable[[Any, Array, Array, Kept], None]
    backward: Callable[[Any, Array, Array, Array, Kept], Array]
    onnx: Callable[[Any, Emitter, str, str, str], None]  # (attrs, b, x, out, node name)
    init: str  # "he" or "xavier": the init of a layer whose output it reads
    fields: dict[str, Any] = field(default_factory=dict)  # name -> (type, pydantic Field)
    keeps: tuple[tuple[str, str], ...] = ()  # (name, dtype) per unit: what forward leaves for
    # backward, or its scratch
    inactive_at_most: float | None = None  # a unit is inactive where its output <= this
    dies: bool = False  # an inactive unit passes no gradient at all: dead for good (relu)
    saturated_outside: tuple[float, float] | None = None  # flat tails of the output


def onnx_op(op_type: str, **attributes: Callable[[Any], Any]) -> Callable[..., None]:
    """A lowering to one ONNX op; attribute values are computed from the spec's fields."""

    def emit(attrs: Any, b: Emitter, x: str, out: str, name: str) -> None:
        b.node(op_type, [x], [out], name, **{k: f(attrs) for k, f in attributes.items()})

    return emit


# ------------------------------------------------------------------------- sigmoid

def _sigmoid(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    np.multiply(x, 0.5, out=out)  # sigmoid(x) = (1 + tanh(x/2)) / 2: no overflow
    np.tanh(out, out=out)
    out += 1
    out *= 0.5


def _sigmoid_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    np.subtract(1, out, out=dx)  # s' = s (1 - s)
    dx *= out
    dx *= dout
    return dx


# ---------------------------------------------------------------------------- tanh

def _tanh(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    np.tanh(x, out=out)


def _tanh_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    np.multiply(out, out, out=dx)  # tanh' = 1 - tanh^2
    np.subtract(1, dx, out=dx)
    dx *= dout
    return dx


# ---------------------------------------------------------------------------- relu

def _relu(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    np.maximum(x, 0, out=out)


def _relu_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    np.greater(out, 0, out=dx)  # 1.0 where out > 0
    dx *= dout
    return dx


# ---------------------------------------------------------------------- leaky_relu

def _leaky_relu(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    negative = kept["negative"][:len(x)]  # the sign of x: the output cannot tell it if alpha is 0
    np.less(x, 0, out=negative)
    if out is not x:
        np.copyto(out, x)
    np.multiply(out, attrs.alpha, out=out, where=negative)


def _leaky_relu_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    np.copyto(dx, dout)
    np.multiply(dx, attrs.alpha, out=dx, where=kept["negative"][:len(dout)])
    return dx


# ----------------------------------------------------------------------------- elu

def _elu(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    negative = kept["negative"][:len(x)]  # x <= 0, as PyTorch: its slope at 0 is alpha
    np.less_equal(x, 0, out=negative)
    if out is not x:
        np.copyto(out, x)
    np.expm1(out, out=out, where=negative)
    np.multiply(out, attrs.alpha, out=out, where=negative)


def _elu_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    negative = kept["negative"][:len(dout)]  # below: alpha e^x = out + alpha
    np.copyto(dx, dout)
    np.add(out, attrs.alpha, out=dx, where=negative)
    np.multiply(dx, dout, out=dx, where=negative)
    return dx


# ------------------------------------------------------------------------ softplus

def _softplus(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    t = kept["scratch"][:len(x)]  # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow
    np.abs(x, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    np.maximum(x, 0, out=out)
    out += t


def _softplus_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    np.negative(out, out=dx)  # softplus' = sigmoid(x) = 1 - e^-out
    np.expm1(dx, out=dx)
    np.negative(dx, out=dx)
    dx *= dout
    return dx


# ---------------------------------------------------------------------------- silu

def _silu(attrs: Any, x: Array, out: Array, kept: Kept) -> None:
    s = kept["sigmoid"][:len(x)]  # kept: the derivative needs sigmoid(x), not only the output
    _sigmoid(attrs, x, s, kept)
    np.multiply(x, s, out=out)


def _silu_backward(attrs: Any, out: Array, dout: Array, dx: Array, kept: Kept) -> Array:
    s = kept["sigmoid"][:len(dout)]  # silu' = s (1 + x (1 - s)) = s + out (1 - s)
    np.subtract(1, s, out=dx)
    dx *= out
    dx += s
    dx *= dout
    return dx


def _silu_onnx(attrs: Any, b: Emitter, x: str, out: str, name: str) -> None:
    s = b.unique(f"{name}_sigmoid")  # x * Sigmoid(x): every opset (Swish is opset 24)
    b.node("Sigmoid", [x], [s], f"{name}_sigmoid")
    b.node("Mul", [x, s], [out], name)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("sigmoid", "1 / (1 + exp(-x)).", _sigmoid, _sigmoid_backward,
               onnx_op("Sigmoid"), init="xavier", saturated_outside=(0.01, 0.99)),
    Activation("tanh", "tanh(x) = 2 sigmoid(2x) - 1.", _tanh, _tanh_backward,
               onnx_op("Tanh"), init="xavier", saturated_outside=(-0.99, 0.99)),
    Activation("relu", "max(0, x).", _relu, _relu_backward, onnx_op("Relu"), init="he",
               inactive_at_most=0.0, dies=True),
    Activation("leaky_relu", "x for x >= 0, alpha * x below.", _leaky_relu,
               _leaky_relu_backward, onnx_op("LeakyRelu", alpha=lambda a: float(a.alpha)),
               init="he", fields={"alpha": (float, Field(0.01, ge=0, lt=1))},
               keeps=(("negative", "bool"),), inactive_at_most=0.0),
    Activation("elu", "x for x > 0, alpha * (exp(x) - 1) below (Clevert et al. 2015).", _elu,
               _elu_backward, onnx_op("Elu", alpha=lambda a: float(a.alpha)), init="he",
               fields={"alpha": (float, Field(1.0, gt=0, le=100))},
               keeps=(("negative", "bool"),), inactive_at_most=0.0),
    Activation("softplus", "log(1 + exp(x)), a smooth ReLU.", _softplus, _softplus_backward,
               onnx_op("Softplus"), init="he", keeps=(("scratch", "float"),)),
    Activation("silu", "x * sigmoid(x), also called swish.", _silu, _silu_backward,
               _silu_onnx, init="he", keeps=(("sigmoid", "float"),)),
)}
"""Every element-wise activation by op tag (a dense layer's ``activation:`` takes any)."""
