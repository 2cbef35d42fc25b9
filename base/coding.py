"""What a model's raw inputs and outputs mean, fitted on the training data and kept with
the model (weights.npz, the ONNX model's metadata, report.json):

- the names of the input's features (a CSV header, an .npz's ``feature_names``);
- for a CSV table, how each column becomes features: a column of numbers stays one
  feature, its empty cells filled with the training mean; a column of words (categories)
  becomes one feature per category of the training split (one-hot; an unseen category
  is all zeros);
- the names of the classes, when the labels were words or numbers other than 0..C-1
  (class i is the i-th name in sorted order);
- the standardization of regression targets, undone by the exported model.

The NumPy runtime (:meth:`Coding.encode`) and the ONNX export (``compiler/onnx_export``)
both read this one description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from nnc.base.errors import DataError, Problem, excerpt, listing

MISSING = ""  # an empty cell of a CSV table (after stripping spaces)
# the exported model's inputs and outputs, as the export writes them and predict reads them
INPUT, SCORES, PROBABILITIES, LABEL = "input", "scores", "probabilities", "label"
TEXT_TENSOR = "tensor(string)"  # onnxruntime's type of an input of a table's cells


@dataclass(frozen=True)
class Column:
    """One column of a CSV table: ``number`` (empty cells become ``fill``, the training
    mean) or ``category`` (one feature per name in ``categories``)."""

    name: str
    kind: Literal["number", "category"]
    fill: float = 0.0
    categories: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 1 if self.kind == "number" else len(self.categories)


@dataclass(frozen=True)
class Coding:
    """See the module docstring. Every field is optional: an empty Coding means raw float
    features in, scores out, classes by index."""

    feature_names: tuple[str, ...] | None = None
    columns: tuple[Column, ...] | None = None
    class_names: tuple[str, ...] | None = None
    target_shift: tuple[float, ...] | None = None
    target_scale: tuple[float, ...] | None = None

    @property
    def text_input(self) -> bool:
        """Whether the model takes the table's cells as strings (it has a category)."""
        return self.columns is not None and any(c.kind == "category" for c in self.columns)

    @property
    def width(self) -> int | None:
        """The number of features the network sees, for a table; else None."""
        return None if self.columns is None else sum(c.width for c in self.columns)

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """The network's features (float32 [N, width]) of a table's rows ``raw`` [N, columns]:
        float with NaN for empty cells, or strings when the table has categories. Without
        ``columns``, ``raw`` as float32."""
        if self.columns is None:
            return np.ascontiguousarray(raw, dtype=np.float32)
        out = np.empty((len(raw), cast(int, self.width)), dtype=np.float32)
        at = 0
        for j, column in enumerate(self.columns):
            cells = raw[:, j]
            if column.kind == "number":
                values = _numbers(cells) if raw.dtype.kind in "US" else \
                    np.asarray(cells, dtype=np.float64)
                out[:, at] = np.where(np.isnan(values), column.fill, values)
            else:
                known = np.asarray(column.categories)
                out[:, at:at + column.width] = \
                    np.asarray(cells, dtype=str)[:, None] == known[None, :]
            at += column.width
        return out

    def unseen(self, raw: np.ndarray) -> list[str]:
        """Notes on categories of ``raw`` the training split did not have."""
        notes = []
        for j, column in enumerate(self.columns or ()):
            if column.kind == "category":
                cells = np.asarray(raw[:, j], dtype=str)
                new = sorted({str(c) for c in np.unique(cells)} - set(column.categories)
                             - {MISSING})
                if new:
                    shown = listing(new, 5)
                    notes.append(f"column {excerpt(column.name, 30)}: categories not seen in "
                                 "training "
                                 f"({shown}) are encoded as all zeros")
        return notes

    def example_rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` made-up rows of a table as its model takes them, to check the export when
        no real rows are at hand: numbers around each column's mean, categories, unseen
        ones and empty cells among them."""
        columns = self.columns or ()
        values = np.array([[c.fill for c in columns]]) + \
            rng.standard_normal((n, len(columns))) * np.maximum(1.0, np.abs(
                [c.fill for c in columns]))
        empty = rng.random((n, len(columns))) < 0.1
        if not self.text_input:
            return np.where(empty, np.nan, values).astype(np.float32)
        cells = np.empty((n, len(columns)), dtype=object)
        for j, column in enumerate(columns):
            if column.kind == "number":
                cells[:, j] = [f"{v:.6g}" for v in values[:, j]]
            else:
                choices = [*column.categories, "unseen"]
                cells[:, j] = [choices[k] for k in rng.integers(0, len(choices), n)]
        cells[empty] = MISSING
        return cells.astype(str)

    def standardized_targets(self, y: np.ndarray) -> np.ndarray:
        """Regression targets [N, k] as the network learns them: (y - shift) / scale (in
        float64, then float32), or as they are when the targets are not standardized."""
        if self.target_scale is None or self.target_shift is None:
            return y
        standardized = (y - np.asarray(self.target_shift)) / np.asarray(self.target_scale)
        return np.asarray(standardized, dtype=np.float32)

    def targets_in_units(self, scores: np.ndarray) -> np.ndarray:
        """Standardized regression outputs [N, k] back in the targets' units."""
        if self.target_scale is None or self.target_shift is None:
            return scores
        return scores * np.asarray(self.target_scale, np.float32) + \
            np.asarray(self.target_shift, np.float32)

    def differences(self, other: "Coding") -> list[str]:
        """What ``other`` describes differently, of what this says: the feature names, the
        table's columns (names, kinds, categories), the class names."""
        out = []
        if self.feature_names is not None and self.feature_names != other.feature_names:
            out.append("feature names")
        if self.columns is not None and [(c.name, c.kind, c.categories) for c in self.columns] \
                != [(c.name, c.kind, c.categories) for c in other.columns or ()]:
            out.append("columns")
        if self.class_names is not None and self.class_names != other.class_names:
            out.append("class names")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (report.json, the model's metadata, weights.npz)."""
        out: dict[str, Any] = {}
        if self.feature_names is not None:
            out["feature_names"] = list(self.feature_names)
        if self.columns is not None:
            out["columns"] = [{"name": c.name, "kind": c.kind, "fill": c.fill} if
                              c.kind == "number" else
                              {"name": c.name, "kind": c.kind, "categories": list(c.categories)}
                              for c in self.columns]
        if self.class_names is not None:
            out["class_names"] = list(self.class_names)
        if self.target_shift is not None and self.target_scale is not None:
            out["target"] = {"shift": list(self.target_shift), "scale": list(self.target_scale)}
        return out

    @classmethod
    def from_dict(cls, data: Any, file: str) -> "Coding":
        """The Coding of :meth:`to_dict`'s output; a DataError naming ``file`` if malformed."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            columns = data.get("columns")
            target = data.get("target")
            return cls(
                feature_names=_strings(data.get("feature_names")),
                columns=None if columns is None else tuple(
                    Column(str(c["name"]), "number", fill=float(c["fill"]))
                    if c["kind"] == "number" else
                    Column(str(c["name"]), "category",
                           categories=tuple(_strings(c["categories"]) or ()))
                    for c in columns),
                class_names=_strings(data.get("class_names")),
                target_shift=None if target is None else tuple(map(float, target["shift"])),
                target_scale=None if target is None else tuple(map(float, target["scale"])))
        except (TypeError, KeyError, ValueError) as e:
            raise DataError(f"its description of the data is malformed ({e})",
                            file=file) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def empty(self) -> bool:
        return not self.to_dict()


def _strings(values: Any) -> tuple[str, ...] | None:
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("expected a list of strings")
    return tuple(values)


def _numbers(cells: np.ndarray) -> np.ndarray:
    """Cells of a number column (checked when the table was read) as float64, NaN where
    empty."""
    text = np.char.strip(np.asarray(cells, dtype=str))
    out = np.full(len(text), np.nan)
    filled = text != MISSING
    out[filled] = text[filled].astype(np.float64)
    return out


# --------------------------------------------------------------------- fitting

def fit_columns(names: Sequence[str], kinds: Sequence[str], train: np.ndarray
                ) -> tuple[Column, ...]:
    """Each column's coding, fitted on the training rows ``train`` [N, columns] (float with
    NaN where empty, or strings): the mean of a number column, the sorted categories of a
    word column."""
    columns = []
    for j, (name, kind) in enumerate(zip(names, kinds)):
        cells = train[:, j]
        if kind == "number":
            values = _numbers(cells) if train.dtype.kind in "US" else \
                np.asarray(cells, dtype=np.float64)
            present = values[~np.isnan(values)]
            columns.append(Column(name, "number",
                                  fill=float(present.mean()) if len(present) else 0.0))
        else:
            found = np.unique(np.asarray(cells, dtype=str))
            columns.append(Column(name, "category",
                                  categories=tuple(str(c) for c in found if c != MISSING)))
    return tuple(columns)


def column_kinds(cells: list[list[str]], names: Sequence[str], lines: Sequence[int],
                 file: str) -> list[str]:
    """"number" or "category" for each column of a table's text cells: a column holds
    numbers (empty cells allowed) or words, and a mix of both is a DataError at the first
    cell that differs from the column's first filled one."""
    kinds: list[str | None] = [None] * len(names)
    first: list[tuple[str, int] | None] = [None] * len(names)
    for row, line in zip(cells, lines):
        for j, cell in enumerate(row):
            text = cell.strip()
            if text == MISSING:
                continue
            kind = "number" if is_number(text) else "category"
            if kinds[j] is None:
                kinds[j], first[j] = kind, (text, line)
            elif kinds[j] != kind:
                seen, at = first[j] or ("", 0)
                what = "a number" if kind == "number" else "not a number"
                raise DataError(Problem(
                    f"{excerpt(text)} is {what}, but the column's first value {excerpt(seen)} "
                    f"(line {at}) is {'not ' if kind == 'number' else ''}one: a column holds "
                    "numbers or categories (words), not both", file=file, line=line,
                    path=f"column {excerpt(names[j], 30)}"))
    return [k or "number" for k in kinds]


# a number cell: ASCII decimal or scientific notation, inf, infinity or nan, what both
# Python and onnxruntime's string-to-float Cast read alike (not "1_000", not other digits)
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                     re.IGNORECASE)


def is_number(text: str) -> bool:
    """Whether a cell (spaces stripped) is a number, as the exported model reads it too."""
    return _NUMBER.fullmatch(text) is not None


# --------------------------------------------------------------------- classes

def class_names_of(y: np.ndarray, units: int) -> tuple[str, ...] | None:
    """The class names that labels ``y`` [N] need, or None when they are to be read as
    class indices (0..units-1). Words name the classes in sorted order; so do integers
    such as 2 and 4 (by value) when there are as many of them as classes (``units``):
    otherwise an integer beyond 0..units-1 is a stray label, and the label check names
    its row."""
    if y.dtype.kind in "US":
        return tuple(str(v) for v in np.unique(y))
    if y.dtype.kind not in "fiub" or len(y) == 0:
        return None
    with np.errstate(invalid="ignore"):
        integral = bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
    if not integral or (y.min() >= 0 and y.max() < units):
        return None
    found = np.unique(y)
    return tuple(_number_text(v) for v in found) if len(found) == units else None


def _number_text(v: Any) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e18 else repr(f)


def label_texts(y: np.ndarray) -> np.ndarray:
    """Labels as the names :func:`class_names_of` gives them (str [N])."""
    if y.dtype.kind in "US":
        return np.asarray(y, dtype=str)
    return np.asarray([_number_text(v) for v in y], dtype=str)


NO_CODING = Coding()  # raw float features in, scores out, classes by index
