"""The compiler's table of ops: one rule per tag of the spec's registry (``OP_SPECS``)."""

from nnc.compiler.ops.activations import ACTIVATION_RULES
from nnc.compiler.ops.base import OpRule, ShapeError
from nnc.compiler.ops.dense import DenseRule
from nnc.compiler.ops.joins import AddRule, ConcatRule
from nnc.compiler.ops.maxout import MaxoutRule
from nnc.compiler.ops.noise import DropoutRule, GaussianNoiseRule
from nnc.compiler.ops.prelu import PreluRule

OP_RULES: dict[str, OpRule] = {
    "dense": DenseRule(), **ACTIVATION_RULES, "prelu": PreluRule(), "maxout": MaxoutRule(),
    "dropout": DropoutRule(), "gaussian_noise": GaussianNoiseRule(), "add": AddRule(),
    "concat": ConcatRule(),
}

__all__ = ["OP_RULES", "OpRule", "ShapeError"]
