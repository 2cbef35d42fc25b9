"""The one entry point that turns a spec file into a validated :class:`Spec`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from nnc.base.errors import Problem, SpecError
from nnc.base.files import read_bytes
from nnc.spec.messages import validation_problems
from nnc.spec.model import Spec
from nnc.spec.overrides import apply_overrides
from nnc.spec.source import MAX_BYTES, FieldPath, Source, parse

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


@dataclass(frozen=True)
class SpecFile:
    """A validated spec with the file it came from, so later stages can point into it."""

    spec: Spec
    source: Source
    path: Path | None = None
    overrides: tuple[str, ...] = ()  # the --set overrides applied, in order

    @property
    def base_dir(self) -> Path:
        """The folder data paths are relative to."""
        return self.path.parent if self.path else Path.cwd()

    @classmethod
    def of(cls, spec: Spec) -> "SpecFile":
        """A spec built in Python, as if read from a file named ``<spec>``."""
        return cls(spec, Source("<spec>", spec.model_dump(mode="json", exclude_none=True)))

    def problem(self, path: FieldPath, message: str) -> Problem:
        """A problem located at a field path of the spec, e.g. ``("layers", 2)``."""
        return self.source.problem(path, message, ".".join(str(p) for p in path) or None)


def load_spec(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> SpecFile:
    """Read, override (``key.path=value``) and validate the spec file at ``path``.

    Raises SpecError carrying every problem found, each located in the file.
    """
    path = Path(path)
    text, fmt = read_spec_text(path)
    return load_spec_text(text, str(path), fmt, overrides, file_path=path)


def read_spec_text(path: Path) -> tuple[str, str]:
    """The text of the spec file at ``path`` and its format ("yaml" or "json")."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(f"unknown spec format {path.suffix or '(no extension)'!r}; "
                        "use .yaml, .yml or .json", file=str(path))
    return _read_text(path), fmt


def load_spec_text(text: str, file: str = "<spec>", fmt: str = "yaml",
                   overrides: Iterable[str] = (), *, file_path: Path | None = None) -> SpecFile:
    """Validate spec ``text`` given in ``fmt`` ("yaml" or "json"); ``file`` names it in errors."""
    if "\x00" in text:
        raise SpecError("the file holds NUL bytes: not a text spec", file=file)
    return validate_source(parse(text, file, fmt), overrides, file_path=file_path)


def validate_source(source: Source, overrides: Iterable[str] = (), *,
                    file_path: Path | None = None) -> SpecFile:
    """Override and validate a spec's plain data (``source.data``, changed in place), read
    from a file or built in Python (the scikit-learn estimators' dicts)."""
    if not isinstance(source.data, dict):
        kind = type(source.data).__name__
        raise SpecError(source.problem((), f"a spec is a mapping of keys (name, input, layers, "
                                           f"...), not a {kind}"))
    overrides = tuple(overrides)
    apply_overrides(source, overrides)
    try:
        spec = Spec.model_validate(source.data)
    except ValidationError as e:
        problems = validation_problems(e, source, Spec)
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        raise SpecError(problems) from None
    return SpecFile(spec, source, file_path, overrides)


def _read_text(path: Path) -> str:
    data = read_bytes(path, MAX_BYTES, "a spec file", SpecError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (byte {e.start}): not a spec file",
                        file=str(path)) from None
