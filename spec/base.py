"""Shared building blocks of the spec models."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_UNITS = 2**31 - 1  # ONNX and NumPy index with int64; anything above is a typo

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=64,
                            description="letters, digits, _ and -, not starting with a digit")]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS)]
Shape = Annotated[list[Units], Field(min_length=1, max_length=8,
                                     description="feature shape of one sample, e.g. [3072]")]


def _one_of_schema(schema: dict[str, Any], cls: type) -> None:
    choices = getattr(cls, "choices", ())
    if choices:
        schema["oneOf"] = [{"required": [c]} for c in choices]


class Strict(BaseModel):
    """Frozen, strict, and refusing unknown keys: a typo is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              json_schema_extra=_one_of_schema)


class OneOf(Strict):
    """A mapping naming exactly one of its optional ``choices``, like ``data: {digits: {}}``."""

    choices: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _exactly_one(self) -> "OneOf":
        given = [c for c in self.choices if getattr(self, c) is not None]
        if len(given) != 1:
            got = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"give exactly one of {', '.join(self.choices)} ({got})")
        return self

    @property
    def chosen(self) -> tuple[str, Any]:
        """The (key, value) that was given."""
        key = next(c for c in self.choices if getattr(self, c) is not None)
        return key, getattr(self, key)
