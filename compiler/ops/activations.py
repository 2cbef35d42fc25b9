"""Element-wise activations without parameters: sigmoid, tanh, relu, leaky_relu."""

from __future__ import annotations

from nnc.compiler.ops.base import OpRule
from nnc.spec.ops import LeakyRelu, Relu, Sigmoid, Tanh


class SigmoidRule(OpRule):
    tag = "sigmoid"
    spec = Sigmoid


class TanhRule(OpRule):
    tag = "tanh"
    spec = Tanh


class ReluRule(OpRule):
    tag = "relu"
    spec = Relu


class LeakyReluRule(OpRule):
    tag = "leaky_relu"
    spec = LeakyRelu
