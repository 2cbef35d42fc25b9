"""The size of a spec's data set, known before it is loaded or generated.

The memory check (``compiler.sizing.check_memory``) counts the data set with the training
buffers, and trains at ``min(batch_size, samples)``: a spiral of a billion points is
refused before one is generated, and a batch size larger than the data costs nothing.
Sizes come from the spec for the built-in sets and from the arrays' headers for an .npz
file (nothing is decompressed); a CSV file or a CIFAR-10 folder is not sized beforehand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnc.base.errors import DataError
from nnc.base.npz import READ_ERRORS, declared_arrays
from nnc.runtime.sources import SourceContext
from nnc.spec.sections import DataSpec

FLOAT32, INDEX = 4, 8
BUNDLED = {"digits": (1797, 64), "breast_cancer": (569, 30)}  # (samples, features)


@dataclass(frozen=True)
class DataSize:
    """samples: of the set (training and validation); bytes: the estimate of what loading it
    holds at once: the arrays as read or generated, and the float32 set made of them."""

    samples: int
    bytes: int
    where: str  # "data.spiral" or the data file, for messages


def data_size(data: DataSpec, base_dir: Path, features: int) -> DataSize | None:
    """The size of the data set ``data`` describes, or None when it is not known beforehand
    (or its file cannot be read: loading it will say why)."""
    key, section = data.chosen
    as_trained = FLOAT32 * features + INDEX  # a float32 row and its label
    if key in BUNDLED:
        samples, columns = BUNDLED[key]
        return DataSize(samples, samples * (8 * (columns + 1) + as_trained), f"data.{key}")
    if key == "spiral":  # float64 points, their float32 copy, int64 labels
        samples = section.classes * section.points
        return DataSize(samples, samples * (2 * 8 + 2 * 4 + 8 + as_trained), "data.spiral")
    if key == "function":  # float64 x and y, their float32 copies
        samples = section.samples
        return DataSize(samples, samples * (8 + 8 + 4 + 4 + as_trained), "data.function")
    if key == "npz":
        try:
            path = SourceContext(base_dir, "", "", 0).resolve(section.path)
            arrays = declared_arrays(path, "not a readable .npz file")
        except (DataError, *READ_ERRORS):
            return None  # the loader reports it
        if "x" not in arrays or not arrays["x"].shape:
            return None
        samples = arrays["x"].shape[0] + (arrays["x_val"].shape[0] if "x_val" in arrays
                                          and arrays["x_val"].shape else 0)
        read = sum(a.nbytes for n, a in arrays.items() if n in ("x", "y", "x_val", "y_val"))
        return DataSize(samples, read + samples * as_trained, str(path))
    return None
