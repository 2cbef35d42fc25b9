"""The errors nnc reports to its users.

Every error a user can cause (a bad spec, data file, weights file, argument) is an
``NncError``; the CLI prints its lines and exits with its ``exit_code``, without a
traceback. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located as precisely as known: ``FILE:LINE:COL: path: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if where and self.line is not None:
            where += f":{self.line}:{self.col or 1}"
        return ": ".join(part for part in (where, self.path, self.message) if part)


class NncError(Exception):
    """Base of every error caused by user input or by a failed run."""

    exit_code = 2

    def __init__(self, problems: str | Problem | Iterable[Problem], *, file: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems, file=file)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem, as printed by the CLI: no line breaks, and no control
        character (a hostile file's escape sequences never reach the terminal)."""
        return [printable(str(p).replace("\n", " ")) for p in self.problems]


class SpecError(NncError):
    """Raised when a spec file cannot be read, parsed or validated, or an override is bad."""


class CompileError(NncError):
    """Raised when a valid spec does not make a network: bad references, cycles, shapes, sizes."""


class DataError(NncError):
    """Raised when a data set, weights, checkpoint, ONNX or input file cannot be used."""


class TrainingError(NncError):
    """Raised when training fails at run time, e.g. the loss or a parameter becomes non-finite."""

    exit_code = 1


class ExportError(NncError):
    """Raised when a graph cannot be exported to ONNX as asked (e.g. an unsupported opset)."""


class ParityError(ExportError):
    """Raised when onnxruntime does not compute what the NumPy runtime computed."""

    exit_code = 1


class Interrupted(NncError):
    """Raised when SIGINT or SIGTERM stopped training (after a checkpoint was written).

    The exit code is 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signal: int, where: str):
        import signal as signals

        self.signal, self.where = signal, where
        self.exit_code = 128 + signal
        name = signals.Signals(signal).name if signal in list(signals.Signals) else str(signal)
        super().__init__(f"interrupted by {name} {where}")


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\x1b``, ``\\u200b``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text)


def excerpt(text: object, limit: int = 40, quote: bool = True) -> str:
    """What a message quotes of a file's contents (a cell, a column's name, a label): at
    most ``limit`` characters of it (then "..."), control and invisible characters escaped,
    in quotes (unless not ``quote``): ``'abc'``. Every message that quotes a file goes
    through here, so a message never echoes a whole line of a file (a password hash) or an
    escape sequence."""
    text = str(text)
    short = text if len(text) <= limit else text[:limit] + "..."
    return f"'{printable(short)}'" if quote else printable(short)


def listing(names: Iterable[object], count: int = 8, limit: int = 20) -> str:
    """The first ``count`` of ``names``, each an :func:`excerpt` of ``limit`` characters:
    ``'a', 'b', ...``."""
    names = list(names)
    shown = ", ".join(excerpt(n, limit) for n in names[:count])
    return shown + (", ..." if len(names) > count else "")


def brief(error: BaseException | str, limit: int = 160) -> str:
    """The first line of an error's message, spaces folded, at most about ``limit``
    characters (the name of the exception's type if it has no message)."""
    text = str(error).strip()
    first = " ".join(text.splitlines()[0].split()) if text else ""
    if not first:
        first = type(error).__name__ if isinstance(error, BaseException) else "?"
    first = printable(first)
    return first if len(first) <= limit else first[:limit - 3] + "..."
