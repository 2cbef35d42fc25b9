"""The ops of spec format v1: one pydantic model per op, tagged by ``op``.

A layer of the sequential form is an op without ``name``/``input``; a node of the
graph form names itself and its input(s). Which of those fields a form requires is
checked by the compiler, which knows the form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, Field, create_model

from nnc.base.activations import ACTIVATIONS
from nnc.spec.base import Name, Strict, Units

if TYPE_CHECKING:
    ActivationName = str
else:
    ActivationName = Literal[tuple(ACTIVATIONS)]
    """The name of any element-wise activation (``base/activations.py``)."""

_NORMAL = re.compile(r"^normal\(\s*([0-9.eE+-]+)\s*\)$")


def parse_init(text: str) -> tuple[str, float | None]:
    """Split an init string into (kind, std): ``he``, ``xavier`` or ``normal(0.01)``."""
    if text in ("he", "xavier"):
        return text, None
    match = _NORMAL.match(text)
    std = None
    if match:
        try:
            std = float(match.group(1))
        except ValueError:
            std = None
    if std is None or not (0 < std < 1e6):
        raise ValueError(f"init must be he, xavier or normal(STD) with STD > 0; got {text!r}")
    return "normal", std


def _check_init(text: str) -> str:
    parse_init(text)
    return text


Init = Annotated[str, AfterValidator(_check_init),
                 Field(description="he | xavier | normal(STD); default: he before ReLU-family "
                                   "activations and in maxout, xavier otherwise",
                       json_schema_extra={"pattern": r"^(he|xavier|normal\(\s*[0-9.eE+-]+\s*\))$"})]


class OpSpec(Strict):
    """Fields every op has."""

    name: Name | None = Field(None, description="node name; generated (dense_1, ...) in `layers`")
    arity: ClassVar[str] = "one"
    if TYPE_CHECKING:
        op: str  # the tag: each concrete op declares it as its Literal


class UnaryOp(OpSpec):
    input: Name | None = Field(None, description="graph form: the node (or graph input) read")


class JoinOp(OpSpec):
    inputs: list[Name] | None = Field(None, min_length=2, description="graph form: nodes joined")
    arity: ClassVar[str] = "many"


class Dense(UnaryOp):
    """Fully-connected layer s = Wx + b; W is [units, in]."""

    op: Literal["dense"]
    units: Units
    bias: bool = True
    init: Init | None = None
    activation: ActivationName | None = Field(
        None, description="shorthand for a following element-wise activation (its defaults)")


class Prelu(UnaryOp):
    """Leaky ReLU whose slope is learned: one per unit, or one shared."""

    op: Literal["prelu"]
    shared: bool = False


class Maxout(UnaryOp):
    """max over ``pieces`` affine maps: max_k (W_k x + b_k); W is [pieces, units, in]."""

    op: Literal["maxout"]
    units: Units
    pieces: int = Field(2, ge=2, le=64)
    bias: bool = True
    init: Init | None = None


class Dropout(UnaryOp):
    """Inverted dropout: zero each unit with probability p in training; identity otherwise."""

    op: Literal["dropout"]
    p: float = Field(0.5, ge=0, lt=1)


class GaussianNoise(UnaryOp):
    """Input noise: add N(0, std^2) in training; identity otherwise."""

    op: Literal["gaussian_noise"]
    std: float = Field(0.1, ge=0, le=1e6)


class Add(JoinOp):
    """Element-wise sum of inputs of one shape."""

    op: Literal["add"]


class Concat(JoinOp):
    """Inputs joined along the feature axis."""

    op: Literal["concat"]


def _activation_model(tag: str) -> type[UnaryOp]:
    """The spec model of an activation, made from its entry in ``ACTIVATIONS``."""
    activation = ACTIVATIONS[tag]
    fields: dict[str, Any] = {"op": (Literal[tag], ...), **activation.fields}
    name = "".join(part.capitalize() for part in tag.split("_"))
    model: type[UnaryOp] = create_model(name, __base__=UnaryOp, __doc__=activation.formula,
                                        __module__=__name__, **fields)
    globals()[name] = model  # found by its name, as pickle looks classes up
    return model


OP_SPECS: dict[str, type[OpSpec]] = {
    "dense": Dense,
    **{tag: _activation_model(tag) for tag in ACTIVATIONS},
    "prelu": Prelu, "maxout": Maxout, "dropout": Dropout, "gaussian_noise": GaussianNoise,
    "add": Add, "concat": Concat,
}
"""Every op of the format by tag: the registry. The compiler (``OP_RULES``) and the runtime
(``KERNELS``) find their rule and kernel of an op under the same tag."""

if TYPE_CHECKING:
    Op = OpSpec  # the union of the registry's models, known only at run time
else:
    Op = Annotated[Union[tuple(OP_SPECS.values())], Field(discriminator="op")]  # noqa: UP007
