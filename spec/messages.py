"""Pydantic's validation errors, told as located, one-line problems with hints."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from nnc.base.errors import Problem
from nnc.spec.source import FieldPath, Source


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'units'?"`` for a near miss, else the list of what is valid."""
    options = sorted(options)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(options)}" if options else ""


def validation_problems(error: ValidationError, source: Source,
                        root: type[BaseModel]) -> list[Problem]:
    """One problem per pydantic error, at the line and column of the offending value."""
    problems = []
    for err in error.errors(include_url=False):
        path = _data_path(source.data, err["loc"], err["type"] == "missing")
        dotted = ".".join(str(p) for p in path) or None
        at_key = err["type"] == "extra_forbidden"  # the key is what is wrong, not its value
        problems.append(source.problem(path, _message(err, root), dotted, at_key))
    return problems


def _data_path(data: Any, loc: tuple[Any, ...], missing: bool = False) -> FieldPath:
    """Drop what pydantic adds to ``loc`` that is not in the data (union tags, validator
    names); a ``missing`` field keeps its name."""
    path: list[Any] = []
    for i, part in enumerate(loc):
        if (isinstance(data, dict) and part in data) or (
                isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)):
            data = data[part]
        elif missing and i == len(loc) - 1 and isinstance(data, dict):
            pass  # a missing field: keep its name in the path
        else:
            continue
        path.append(part)
    return tuple(path)


def _message(err: ErrorDetails, root: type[BaseModel]) -> str:
    kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _fields_at(root, loc[:-1])
        return f"unknown key {loc[-1]!r}" + did_you_mean(str(loc[-1]), allowed)
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in ctx.get("expected_tags", "").split(",")]
        return f"unknown op {ctx.get('tag')!r}" + did_you_mean(str(ctx.get("tag")), tags)
    if kind == "union_tag_not_found":
        return "missing `op`: each layer is an op, e.g. {op: dense, units: 10} or relu"
    if kind == "literal_error":
        expected = [e.strip(" '") for e in ctx.get("expected", "").replace(" or ", ",").split(",")]
        got = err.get("input")
        return f"{got!r} is not valid" + did_you_mean(str(got), [e for e in expected if e])
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    if kind == "string_pattern_mismatch":
        return f"{_short(err.get('input'))} is not a valid name: use letters, digits, _ and -, " \
               "not starting with a digit"
    if kind == "too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} items (got {ctx.get('actual_length')})"
    if kind == "too_long" and "max_length" in ctx:
        return f"takes at most {ctx['max_length']} items (got {ctx.get('actual_length')})"
    if kind == "finite_number":
        return f"must be a finite number (got {_short(err.get('input'))})"
    msg = err["msg"].replace("Input should be", "must be").replace("Input should have", "must have")
    if "input" in err and not isinstance(err["input"], (dict, list)):
        msg += f" (got {_short(err['input'])})"
    return msg


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` below ``model``, following pydantic's loc (tags included)."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part)
        return field.annotation if field else None
    if origin in (list, tuple):
        return typing.get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin in (typing.Union, types.UnionType):  # a tagged union: ``part`` is the tag
        for arg in typing.get_args(tp):
            member = _unwrap(arg)
            if isinstance(member, type) and issubclass(member, BaseModel):
                field = member.model_fields.get("op")
                if field is not None and part in typing.get_args(field.annotation):
                    return member
    return None
