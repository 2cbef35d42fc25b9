"""The compiler's table of ops: one rule object per tag, listed explicitly."""

from nnc.compiler.ops.activations import ACTIVATION_RULES
from nnc.compiler.ops.base import OpRule, ShapeError
from nnc.compiler.ops.dense import DenseRule
from nnc.compiler.ops.joins import AddRule, ConcatRule
from nnc.compiler.ops.maxout import MaxoutRule
from nnc.compiler.ops.noise import DropoutRule, GaussianNoiseRule
from nnc.compiler.ops.prelu import PreluRule

OP_RULES: dict[str, OpRule] = {
    rule.tag: rule
    for rule in (DenseRule(), *ACTIVATION_RULES.values(), PreluRule(), MaxoutRule(),
                 DropoutRule(), GaussianNoiseRule(), AddRule(), ConcatRule())
}

__all__ = ["OP_RULES", "OpRule", "ShapeError"]
