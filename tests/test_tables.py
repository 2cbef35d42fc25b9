"""The registries agree: every op of the spec's registry has a compiler rule and a kernel
under its tag, every activation is an op, and the spec's loss field takes every loss."""

from __future__ import annotations

import typing

from nnc.base.activations import ACTIVATIONS
from nnc.base.losses import LOSSES
from nnc.compiler.ops import OP_RULES
from nnc.runtime.kernels import KERNELS
from nnc.spec import OP_SPECS
from nnc.spec.model import Spec
from nnc.spec.ops import Dense


def test_every_op_has_a_rule_and_a_kernel() -> None:
    assert list(OP_SPECS) == list(OP_RULES) == list(KERNELS)


def test_every_activation_is_an_op_a_dense_layer_can_fuse() -> None:
    assert set(ACTIVATIONS) <= set(OP_SPECS)
    fusable = typing.get_args(typing.get_args(Dense.model_fields["activation"].annotation)[0])
    assert set(fusable) == set(ACTIVATIONS)


def test_the_loss_field_takes_every_loss() -> None:
    annotation = Spec.model_fields["loss"].annotation
    assert set(typing.get_args(typing.get_args(annotation)[0])) == set(LOSSES)
