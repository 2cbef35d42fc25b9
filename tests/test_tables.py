"""The keyed tables that together define the ops, activations and losses hold the same
keys: adding one to a table and forgetting another fails here."""

from __future__ import annotations

import typing

from nnc.compiler.ops import OP_RULES
from nnc.compiler.ops.activations import ACTIVATION_RULES
from nnc.runtime.kernels import KERNELS
from nnc.runtime.kernels.activations import ACTIVATIONS
from nnc.runtime.losses import LOSSES
from nnc.spec import OP_SPECS
from nnc.spec.ops import Activation
from nnc.spec.sections import Loss


def test_every_op_is_in_the_spec_the_compiler_and_the_runtime() -> None:
    assert set(OP_SPECS) == set(OP_RULES) == set(KERNELS)
    assert all(rule.spec is OP_SPECS[tag] for tag, rule in OP_RULES.items())
    assert all(kernel.tag == tag for tag, kernel in KERNELS.items())


def test_the_fusable_activations_agree() -> None:
    assert set(typing.get_args(Activation)) == set(ACTIVATION_RULES) == set(ACTIVATIONS)
    assert set(ACTIVATION_RULES) <= set(OP_RULES)


def test_every_loss_has_a_runtime() -> None:
    assert set(typing.get_args(Loss)) == set(LOSSES)
