"""Where samples come from: the built-in sets and the readers of ``.npz`` and ``.csv`` files.

Each source turns its section of the spec into a :class:`Raw` set: the samples as read,
before any check, split or preprocessing, and an :class:`Origin` that tells the checks in
:mod:`nnc.runtime.data` where to point an error. The CIFAR-10 reader lives in
:mod:`nnc.runtime.cifar10`; the table of sources in :mod:`nnc.runtime.data`.

Nothing here unpickles: ``np.load`` runs with ``allow_pickle=False``.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnc.base.coding import column_kinds
from nnc.base.errors import DataError, Problem
from nnc.base.files import MISSING, require_file
from nnc.base.inputs import (
    Origin,
    as_rows,
    check_finite,
    label_cells,
    read_csv,
    read_npz_samples,
    shape_text,
    table_cells,
    text_array,
)
from nnc.spec.sections import BreastCancer, Csv, Digits, Function, Npz, Spiral

SYNTHETIC_STREAM = 1  # spawn key of the generator that makes synthetic samples
SPLIT_STREAM = 2      # spawn key of the generator that splits off the validation set


@dataclass(frozen=True)
class SourceContext:
    """What every source needs besides its own section of the spec."""

    base_dir: Path   # the folder relative paths in the spec are relative to
    spec_file: str   # the spec's path, for errors about built-in sets
    field: str       # the spec field of the source, e.g. "data.digits"
    seed: int

    def rng(self) -> np.random.Generator:
        """The generator of synthetic samples (spawn key 1 of ``seed``)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed,
                                                            spawn_key=(SYNTHETIC_STREAM,)))

    def resolve(self, path: str) -> Path:
        """``path`` as written in the spec, made relative to the spec's folder."""
        try:
            p = Path(path).expanduser()
        except RuntimeError:  # ~user of no such user
            raise DataError(f"cannot expand {path.partition('/')[0][:40]!r}: no such user",
                            file=path[:200]) from None
        return p if p.is_absolute() else self.base_dir / p

    def spec_origin(self) -> "Origin":
        return Origin(file=self.spec_file, field=self.field)


@dataclass
class Raw:
    """Samples as a source read them.

    x: [N, D] numbers as read (float32 for the built-in sets, uint8 pixels for CIFAR-10);
    for a CSV table, its feature cells: float with NaN where empty, or strings when a
    column holds categories (``kinds`` says which; the coding is fitted after the split).
    y: [N] or [N, k] numbers as read, or words naming classes. They are checked before
    they become float32.
    x_val, y_val: a validation set the source brought along (then val_split is ignored).
    """

    name: str                      # e.g. "digits", "npz:data/x.npz"
    x: np.ndarray
    y: np.ndarray
    origin: Origin
    subject: str                   # how messages name the samples: "digits", "x", ...
    classes: int | None = None     # the number of classes, when the source knows it
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    pixels: str | None = None      # CIFAR-10's own preprocessing: mean_image|standardize|scale
    image: tuple[int, ...] | None = None  # the image a sample's features are (reports draw it)
    feature_names: tuple[str, ...] | None = None  # a CSV header's, an .npz's feature_names
    kinds: tuple[str, ...] | None = None  # a CSV table's columns: "number" or "category"


# --------------------------------------------------------------------------- built-in

def digits(section: Digits, ctx: SourceContext) -> Raw:
    """scikit-learn's bundled 8x8 digits: x [1797, 64] in 0..16, y [1797] in 0..9."""
    data = _bundled_table("digits.csv.gz")
    if data is not None:
        x, y = data[:, :-1], data[:, -1].astype(int)
    else:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
    return Raw("digits", x.astype(np.float32), y, ctx.spec_origin(), "digits", classes=10,
               image=(8, 8))


def breast_cancer(section: BreastCancer, ctx: SourceContext) -> Raw:
    """scikit-learn's bundled breast cancer set: x [569, 30], y [569] (0 malignant, 1 benign)."""
    data = _bundled_table("breast_cancer.csv")
    if data is not None:
        x, y = data[:, :-1], data[:, -1].astype(int)
    else:
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
    return Raw("breast_cancer", x.astype(np.float32), y, ctx.spec_origin(), "breast_cancer",
               classes=2)


@functools.cache
def _bundled_table(name: str) -> np.ndarray | None:
    """The numbers of a CSV file scikit-learn ships, as its loaders read it (after the
    header line of breast_cancer.csv), read once per process (a sweep's worker runs many
    trials on it) and read-only; None where the file is not."""
    path = _bundled(name)
    if path is None:
        return None
    with gzip.open(path) if name.endswith(".gz") else path.open("rb") as f:
        data = np.loadtxt(f, delimiter=",", skiprows=0 if name.endswith(".gz") else 1)
    data.flags.writeable = False
    return data


def _bundled(name: str) -> Path | None:
    """A data file scikit-learn ships (sklearn/datasets/data/NAME), found without importing
    scikit-learn, whose import (SciPy's, mostly) takes about a second: most of a small
    run's start-up. None where the file is not (then sklearn's loader is used)."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / name
        if path.is_file():
            return path
    return None


def spiral(section: Spiral, ctx: SourceContext) -> Raw:
    """CS231n's spiral: x [classes*points, 2], y [classes*points], class j on arm j."""
    rng, n = ctx.rng(), section.points
    x = np.empty((section.classes * n, 2), dtype=np.float64)
    r = np.linspace(0.0, 1.0, n)
    for j in range(section.classes):
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * section.noise
        x[j * n:(j + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
    y = np.repeat(np.arange(section.classes, dtype=np.int64), n)
    return Raw("spiral", x.astype(np.float32), y, ctx.spec_origin(), "spiral",
               classes=section.classes)


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": np.sin,
    "abs": np.abs,
    "step": lambda x: (x >= 0).astype(np.float64),
}


def function(section: Function, ctx: SourceContext) -> Raw:
    """y = fn(x) + noise * N(0, 1) with x uniform on [low, high]: x [S, 1], y [S, 1]."""
    rng = ctx.rng()
    x = rng.uniform(section.low, section.high, section.samples)
    y = FUNCTIONS[section.fn](x) + section.noise * rng.standard_normal(section.samples)
    return Raw(f"function:{section.fn}", x.astype(np.float32)[:, None],
               y.astype(np.float32)[:, None], ctx.spec_origin(), f"function {section.fn}")


# ------------------------------------------------------------------------ files

def npz(section: Npz, ctx: SourceContext) -> Raw:
    """Arrays ``x`` [N, ...] and ``y`` (numbers, or words naming classes), optionally
    ``x_val`` and ``y_val``, and ``feature_names`` (one word per feature), of a .npz file."""
    path = ctx.resolve(section.path)
    require_file(path, "a .npz file", missing=MISSING)
    arrays = read_npz_samples(path, ("x", "y", "x_val", "y_val", "feature_names"),
                              required=("x", "y"))
    has_val = [name for name in ("x_val", "y_val") if name in arrays]
    if len(has_val) == 1:
        other = "y_val" if has_val[0] == "x_val" else "x_val"
        raise DataError(f"has {has_val[0]} but no {other}; give both or neither", file=str(path))
    x_val = arrays.get("x_val")
    subject = "x"
    if arrays["x"].ndim > 2:
        subject = f"x (shape {shape_text(arrays['x'].shape)})"
    x = as_rows(arrays["x"])
    names = arrays.get("feature_names")
    feature_names = None
    if names is not None:
        if names.dtype.kind not in "US" or names.shape != (x.shape[1],):
            raise DataError(f"feature_names must be {x.shape[1]} words, one per feature of x "
                            f"(found {names.dtype}, shape {shape_text(names.shape)})",
                            file=str(path))
        feature_names = tuple(str(n) for n in names)
    return Raw(f"npz:{section.path}", x, arrays["y"], Origin(file=str(path)), subject,
               x_val=None if x_val is None else as_rows(x_val), y_val=arrays.get("y_val"),
               feature_names=feature_names)


def csv_file(section: Csv, ctx: SourceContext) -> Raw:
    """A CSV file with a header row: column ``label`` is y, every other column a feature.
    Feature columns hold numbers (empty cells allowed) or words (categories); labels are
    numbers, or words naming classes."""
    path = ctx.resolve(section.path)
    require_file(path, "a .csv file", missing=MISSING)
    table = read_csv(path, section.delimiter, header_required=True)
    label = table.column(section.label)
    if len(table.names) == 1:
        raise DataError(Problem(f"no feature columns: the only column is the label "
                                f"'{section.label}'", file=str(path), line=table.header_line))
    features = [j for j in range(len(table.names)) if j != label]
    names = tuple(table.names[j] for j in features)
    origin = Origin(file=str(path), lines=np.asarray(table.lines, dtype=np.int64),
                    columns=names, label=section.label)
    kinds = column_kinds([[row[j] for j in features] for row in table.rows], names,
                         table.lines, str(path))
    numbers = table_cells(table, features, kinds)
    check_finite(numbers, origin, "x", "feature", missing_ok=True)
    x = numbers if "category" not in kinds else text_array(table, features)
    return Raw(f"csv:{section.path}", x, label_cells(table, label, origin), origin,
               f"the file (every column but '{section.label}')", feature_names=names,
               kinds=tuple(kinds))
