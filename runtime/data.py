"""Data sets for the trainer: load a source, check it against the network, split, preprocess.

    dataset = load_data(spec.data, base_dir=Path("models"), features=64, outputs=10,
                        loss="softmax_cross_entropy", seed=0, spec_file="models/digits.yaml")

Every problem with the data is a DataError of one line naming the file (the data file, or
the spec file and field for built-in sets) and the place. Randomness comes from
``SeedSequence(seed, spawn_key=(1,))`` (synthetic samples) and ``spawn_key=(2,)`` (the
split), so a seed gives the same arrays everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from nnc.base.coding import NO_CODING, Coding, class_names_of, fit_columns, is_number
from nnc.base.errors import DataError, excerpt, listing
from nnc.base.inputs import (
    CHUNK,
    Origin,
    as_features,
    as_rows,
    check_finite,
    class_labels,
    named_class_labels,
    units,
)
from nnc.base.losses import LOSSES
from nnc.runtime import sources
from nnc.runtime.cifar10 import read_cifar10
from nnc.runtime.sources import SPLIT_STREAM, Raw, SourceContext
from nnc.spec.sections import DataSpec

SOURCES: dict[str, Callable[..., Raw]] = {
    "digits": sources.digits,
    "breast_cancer": sources.breast_cancer,
    "spiral": sources.spiral,
    "function": sources.function,
    "npz": sources.npz,
    "csv": sources.csv_file,
    "cifar10": read_cifar10,
}


@dataclass
class Preprocess:
    """x' = (x - shift) * scale, per feature, fitted on the training split only.

    shift: float32 [D]; scale: float32 [D].
    """

    shift: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """Inputs: x [N, D]. Returns float32 [N, D], (x - shift) * scale.

        A new array, unless ``inplace`` is given with a writable float32 C-contiguous ``x``:
        then ``x`` itself is overwritten and returned (no temporary the size of ``x``).
        """
        if not (inplace and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable):
            x = np.array(x, dtype=np.float32, order="C")
        x -= self.shift
        x *= self.scale
        return x


@dataclass
class Dataset:
    """The samples the trainer uses, split and preprocessed.

    x_train: float32 [N, D], C-contiguous, preprocessed.
    y_train: int64 [N] class labels (classification losses), or float32 [N, outputs] (mse).
    x_val, y_val: the same for the validation set ([0, D] when there is none).
    x_val_raw: x_val as the exported model takes it: float32 [M, D] before preprocessing,
    or a CSV table's cells [M, columns] (float with NaN where empty, or strings).
    image: the shape of the image a sample's features are, if they are one.
    coding: feature and class names, a table's column coding, the targets' standardization.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_val_raw: np.ndarray
    preprocess: Preprocess | None
    classes: int | None
    name: str
    image: tuple[int, ...] | None = None
    coding: Coding = NO_CODING

    def raw_train(self, limit: int) -> np.ndarray:
        """Up to ``limit`` training samples as the data had them (before preprocessing)."""
        x = self.x_train[:limit]
        if self.preprocess is None:
            return np.array(x)
        return np.asarray(x / self.preprocess.scale + self.preprocess.shift)


def load_data(data: DataSpec, *, base_dir: Path, features: int | None, outputs: int | None,
              loss: str, seed: int, spec_file: str) -> Dataset:
    """Load the source of ``data``, check it fits the network, split it and preprocess it.

    features: the product of the network's input shape; outputs: its output units (None:
    not known yet, to learn how many features the data gives the network);
    loss: the spec's loss; base_dir: the folder relative paths are relative to.
    Raises DataError.
    """
    key, section = data.chosen
    raw = SOURCES[key](section, SourceContext(Path(base_dir), spec_file, f"data.{key}", seed))
    return make_dataset(raw, features=features, outputs=outputs, loss=loss, seed=seed,
                        val_split=data.val_split, standardize=data.standardize,
                        spec_file=spec_file, standardize_targets=data.standardize_targets)


def from_arrays(x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None,
                y_val: np.ndarray | None = None, *, features: int, outputs: int, loss: str,
                seed: int = 0, val_split: float = 0.2, standardize: bool = False,
                standardize_targets: bool | None = None) -> Dataset:
    """A Dataset from arrays in memory (the Python API's ``nnc.train(spec, x=..., y=...)``),
    with the same checks, split and preprocessing as a data file."""
    if (x_val is None) != (y_val is None):
        raise DataError("give both x_val and y_val, or neither", file="<arrays>")
    for name, given in (("x", x), ("y", y), ("x_val", x_val), ("y_val", y_val)):
        a = np.asarray(given) if given is not None else None
        words = name.startswith("y") and a is not None and a.dtype.kind in "US"
        if a is not None and (a.ndim == 0 or (a.dtype.kind not in "fiub" and not words)):
            raise DataError(f"{name} must be an array of numbers with one row per sample "
                            f"(got {a.dtype}, shape {list(a.shape)})", file="<arrays>")
    raw = Raw("arrays", as_rows(np.asarray(x)), np.asarray(y), Origin("<arrays>"), "x",
              x_val=None if x_val is None else as_rows(np.asarray(x_val)),
              y_val=None if y_val is None else np.asarray(y_val))
    return make_dataset(raw, features=features, outputs=outputs, loss=loss, seed=seed,
                        val_split=val_split, standardize=standardize, spec_file="<arrays>",
                        standardize_targets=standardize_targets)


def make_dataset(raw: Raw, *, features: int | None, outputs: int | None, loss: str, seed: int,
                 val_split: float, standardize: bool, spec_file: str,
                 standardize_targets: bool | None = None) -> Dataset:
    """Check samples read by a source against the network, split and preprocess them."""
    names = class_names(raw, outputs, loss)
    classes = check_network(raw, features, outputs, loss, names)
    x, y = check_samples(raw, raw.x, raw.y, "x", "y", loss, outputs, names)
    if raw.x_val is not None:
        given_y_val = cast(np.ndarray, raw.y_val)  # a source gives both or neither
        x_val, y_val = check_samples(raw, raw.x_val, given_y_val, "x_val", "y_val", loss,
                                     outputs, names)
        x_train, x_val_raw = _rows_of(x, None, raw), _rows_of(x_val, None, raw)
    else:
        train, val = split(len(y), val_split, y if classes else None, seed)
        x_train, y, x_val_raw, y_val = _rows_of(x, train, raw), y[train], \
            _rows_of(x, val, raw), y[val]
    coding = Coding(feature_names=raw.feature_names, class_names=names)
    if raw.kinds is not None:  # a CSV table: fill empty cells, one-hot its categories
        coding = replace(coding, columns=fit_columns(cast(tuple[str, ...], raw.feature_names),
                                                     raw.kinds, x_train))
        x_train = coding.encode(x_train)
        check_width(raw, coding, features)
    x_val = coding.encode(x_val_raw) if raw.kinds is not None else x_val_raw
    if _standardizes_targets(loss, standardize_targets) and len(y):
        mean, std = moments(y)
        scale = np.where(std > 0, std, 1.0)
        coding = replace(coding, target_shift=tuple(float(v) for v in mean),
                         target_scale=tuple(float(v) for v in scale))
        y, y_val = coding.standardized_targets(y), coding.standardized_targets(y_val)
    preprocess = fit(x_train, standardize=standardize, pixels=raw.pixels)
    if preprocess is not None:
        preprocess.apply(x_train, inplace=True)
        x_val = preprocess.apply(x_val)
    return Dataset(x_train, y, x_val, y_val, x_val_raw, preprocess, classes, raw.name,
                   raw.image, coding)


def _rows_of(x: np.ndarray, rows: np.ndarray | None, raw: Raw) -> np.ndarray:
    """x[rows] (every row: None) as the model takes it: float32 features, or a table's
    cells as they are."""
    if raw.kinds is None:
        return as_float(x) if rows is None else take(x, rows)
    picked = x if rows is None else x[rows]
    return picked.astype(np.float32) if picked.dtype.kind == "f" else picked


def _standardizes_targets(loss: str, setting: bool | None) -> bool:
    """data.standardize_targets, by default on for a regression loss."""
    return (not LOSSES[loss].classification) if setting is None else \
        setting and not LOSSES[loss].classification


def data_width(data: DataSpec, *, base_dir: Path, loss: str, seed: int,
               spec_file: str) -> tuple[int, str]:
    """How many features per sample the data gives the network (a table's after filling
    and one-hot encoding), to size a network whose spec leaves out ``input``; and how it
    was found: the built-in sets' known widths, an .npz's header of ``x`` (nothing
    decompressed), else the data read (a CSV table's columns decide its width)."""
    from nnc.base.npz import READ_ERRORS, declared_arrays
    from nnc.runtime.data_size import BUNDLED

    key, section = data.chosen
    known = {"spiral": 2, "function": 1, **{k: v[1] for k, v in BUNDLED.items()}}
    if key in known:
        return known[key], f"data.{key}"
    if key == "npz":
        path = SourceContext(base_dir, spec_file, "", seed).resolve(section.path)
        try:
            shape = declared_arrays(path, "not a readable .npz file")["x"].shape
            if len(shape) >= 2:
                return int(np.prod(shape[1:], dtype=np.int64)), f"the header of x in {path}"
        except (DataError, KeyError, *READ_ERRORS):
            pass  # loading it says what is wrong
    dataset = load_data(data, base_dir=base_dir, features=None, outputs=None, loss=loss,
                        seed=seed, spec_file=spec_file)
    return int(dataset.x_train.shape[1]), f"{getattr(section, 'path', f'data.{key}')}, read"


# ------------------------------------------------------------------------- checks

def class_names(raw: Raw, outputs: int | None, loss: str) -> tuple[str, ...] | None:
    """The names of the classes when the labels are not class indices already (words, or
    numbers such as 2 and 4); None for regression and for labels 0..C-1."""
    entry = LOSSES[loss]
    if not entry.classification or (raw.y.ndim != 1 and not (raw.y.ndim == 2
                                                             and raw.y.shape[1] == 1)):
        return None
    units = 2 if entry.labels == "binary" else outputs if outputs is not None else 1 << 62
    y = raw.y.reshape(len(raw.y))
    if raw.y_val is not None and raw.y_val.size == len(raw.y_val):  # given validation labels
        y = np.concatenate([y, raw.y_val.reshape(len(raw.y_val))])  # name classes too
    return class_names_of(y, units)


def check_network(raw: Raw, features: int | None, outputs: int | None, loss: str,
                  names: tuple[str, ...] | None = None) -> int | None:
    """The number of classes the loss trains on (None for mse), after the checks that compare
    the whole data set with the network: features per sample, output units, classes."""
    origin = raw.origin
    if len(raw.x) == 0:
        raise origin.error(f"{raw.subject} has no samples")
    if features is not None and raw.kinds is None and raw.x.shape[1] != features:
        raise origin.error(f"{raw.subject} has {raw.x.shape[1]} features per sample",
                           f", but the network's input has {features}")
    if raw.x_val is not None and raw.x_val.shape[1] != raw.x.shape[1]:
        raise origin.error(f"x_val has {raw.x_val.shape[1]} features per sample",
                           f", but x has {raw.x.shape[1]}")
    labels = LOSSES[loss].labels  # the compiler checked the output units against the loss
    found = len(names) if names is not None else raw.classes
    listed = f" ({listing(names, 10)})" if names is not None else ""
    if labels == "binary":
        if found not in (None, 2):
            raise origin.error(f"{raw.subject} has {found} classes{listed}",
                               f", but {loss} takes 2 (labels 0 and 1)", part="y")
        return 2
    if labels == "classes":
        if outputs is None:
            return found if found is not None else int(raw.y.max()) + 1
        if found is not None and found != outputs:
            raise origin.error(f"{raw.subject} has {found} classes{listed}",
                               f", but the network has {units(outputs)}", part="y")
        return outputs
    return None


def check_width(raw: Raw, coding: Coding, features: int | None) -> None:
    """A table's features, once its categories are one-hot encoded, must fill the input."""
    width = cast(int, coding.width)
    if features is not None and width != features:
        expanded = " (its category columns one-hot encoded)" if coding.text_input else ""
        raise raw.origin.error(f"{raw.subject} has {width} features per sample{expanded}",
                               f", but the network's input has {features}")


def check_samples(raw: Raw, x: np.ndarray, y: np.ndarray, x_name: str, y_name: str, loss: str,
                  outputs: int | None, names: tuple[str, ...] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """x with finite values; y as int64 [N] labels or float32 [N, outputs] targets."""
    if len(y) != len(x):
        raise raw.origin.error(f"{x_name} has {len(x)} samples", f", but {y_name} has {len(y)}")
    if raw.kinds is None:  # a table's cells were checked as they were read
        check_finite(x, raw.origin, x_name, "feature")  # pixels (uint8) always are
    entry = LOSSES[loss]
    if entry.classification:
        if names is not None:
            return x, named_class_labels(y, names, raw.origin, y_name)
        if y.dtype.kind in "US":
            raise raw.origin.error(f"{y_name} holds words, but {x_name} was labelled with "
                                   "numbers")
        binary = loss if entry.labels == "binary" else None
        top = outputs if outputs is not None else 1 << 62
        return x, class_labels(y, raw.origin, y_name, top, binary)
    if y.dtype.kind in "US":
        cells = np.char.strip(np.asarray(y, dtype=str))
        bad = next((i for i, cell in enumerate(cells.reshape(-1)) if not is_number(cell)), None)
        if bad is not None:
            raise raw.origin.error(f"{excerpt(cells.reshape(-1)[bad])} is not a number",
                                   f" ({loss} learns numeric targets)", part=y_name, row=bad)
        y = cells.astype(np.float64)  # numbers written as text
    noun = y_name if raw.origin.field is None else raw.subject
    return x, targets(y, raw.origin, y_name, outputs,
                      noun="the label column" if raw.origin.lines is not None else noun)


def targets(y: np.ndarray, origin: Origin, part: str, outputs: int | None,
            noun: str) -> np.ndarray:
    """Regression targets as float32 [N, outputs]; ``noun`` names them in messages."""
    y = as_rows(y)
    if outputs is not None and y.shape[1] != outputs:
        what = f"{y.shape[1]} targets" if y.shape[1] != 1 else "1 target"
        raise origin.error(f"{noun} has {what} per sample",
                           f", but the network has {units(outputs)}", part=part)
    check_finite(y, origin, part, "target")
    return as_features(y)


# ------------------------------------------------------------------- split, fit

def split(n: int, fraction: float, y: np.ndarray | None,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val), each sorted, with about ``fraction`` of the n samples in val.

    Stratified when class labels ``y`` [n] are given: each class gives its share, and keeps at
    least one sample for training. Training always keeps at least one sample.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_STREAM,)))
    total = min(int(np.floor(fraction * n + 0.5)), n - 1)
    if total <= 0:
        return np.arange(n), np.empty(0, dtype=np.int64)
    order = rng.permutation(n)
    if y is None:
        return np.sort(order[total:]), np.sort(order[:total])
    _, group = np.unique(y, return_inverse=True)
    counts = np.bincount(group)
    share = _shares(fraction * counts, counts, total)
    order = order[np.argsort(group[order], kind="stable")]  # by class, random within a class
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    in_val = rank < share[group[order]]
    return np.sort(order[~in_val]), np.sort(order[in_val])


def _shares(want: np.ndarray, counts: np.ndarray, total: int) -> np.ndarray:
    """Integers close to ``want`` (largest remainders first) summing to at most ``total``,
    each below its class count."""
    share: np.ndarray = np.floor(want).astype(np.int64)
    for c in np.argsort(-(want - share), kind="stable"):
        if share.sum() >= total:
            break
        if share[c] < counts[c] - 1:
            share[c] += 1
    return share


def take(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """x[rows] (rows sorted, unique) as float32 C-contiguous, uint8 pixels converted once.

    Every row: x itself when it already is float32 C-contiguous (no copy).
    """
    if len(rows) == len(x):
        return as_float(x)
    return np.ascontiguousarray(x[rows], dtype=np.float32)


def as_float(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def fit(x: np.ndarray, *, standardize: bool, pixels: str | None) -> Preprocess | None:
    """The preprocessing fitted on the training features ``x`` [N, D], or None.

    standardize: z-score (a feature with std 0 is only shifted); it replaces ``pixels``.
    pixels (CIFAR-10): scale -> x / 255; mean_image -> (x - mean) / 255; standardize ->
    the z-score of x / 255 (a pixel with std 0 is shifted and divided by 255).
    """
    d = x.shape[1]
    if standardize:
        mean, std = moments(x)
        return Preprocess(mean, (1.0 / np.where(std > 0, std, 1.0)).astype(np.float32))
    if pixels is None:
        return None
    if pixels == "scale":
        return Preprocess(np.zeros(d, np.float32), np.full(d, 1 / 255, np.float32))
    mean, std = moments(x)
    if pixels == "mean_image":
        return Preprocess(mean, np.full(d, 1 / 255, np.float32))
    std = np.where(std > 0, std, 255.0)  # std 0 in units of x / 255 counts as 1
    return Preprocess(mean, (1.0 / std).astype(np.float32))


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean (float32 [D]) and std (float64 [D]) of x [N, D], in float64 by chunks.

    The std of a constant feature is exactly 0 (not a rounding residue that would blow up
    1 / std).
    """
    rows = max(1, CHUNK // max(1, x.shape[1]))
    total = np.zeros(x.shape[1], dtype=np.float64)
    for start in range(0, len(x), rows):
        total += x[start:start + rows].sum(axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros_like(mean)
    for start in range(0, len(x), rows):
        d = x[start:start + rows] - mean
        squares += np.einsum("ij,ij->j", d, d)
    constant = x.min(axis=0) == x.max(axis=0)
    std = np.where(constant, 0.0, np.sqrt(squares / len(x)))
    return mean.astype(np.float32), std
