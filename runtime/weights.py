"""weights.npz: named float32 parameters (and the input preprocessing and the data's
coding, see ``nnc.base.coding``), written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from nnc.base.coding import NO_CODING, Coding
from nnc.base.errors import DataError, excerpt
from nnc.base.files import write_atomic
from nnc.base.inputs import FLOAT32_MAX
from nnc.base.npz import Declared, load_npz, write_npz
from nnc.compiler.plan import Plan
from nnc.runtime.data import Preprocess
from nnc.runtime.params import ParamStore

SHIFT, SCALE = "preprocess.shift", "preprocess.scale"
CODING = "data.coding"  # the Coding's JSON, as UTF-8 bytes (uint8: numbers, like the rest)


def save_weights(path: str | os.PathLike[str], params: ParamStore,
                 preprocess: Preprocess | None = None, coding: Coding = NO_CODING) -> None:
    """Write every parameter by name (float32), plus ``preprocess.shift/scale`` if any,
    and the data's coding if it says anything."""
    arrays = {name: a.astype(np.float32) for name, a in params.state_dict().items()}
    if preprocess is not None:
        arrays[SHIFT], arrays[SCALE] = preprocess.shift, preprocess.scale
    if not coding.empty:
        arrays[CODING] = np.frombuffer(coding.to_json().encode(), dtype=np.uint8)
    write_atomic(path, lambda f: write_npz(f, arrays))


def load_weights(path: str | os.PathLike[str], plan: Plan
                 ) -> tuple[dict[str, np.ndarray], Preprocess | None, Coding]:
    """Read and check a weights file against ``plan``: every parameter present with its
    shape, nothing unknown, all finite. Raises DataError naming the file and the array."""
    path = Path(path)
    arrays = read_npz(path, lambda declared: check_names_and_shapes(
        declared, plan, str(path), extra=(SHIFT, SCALE, CODING)))
    coding = _coding(arrays.pop(CODING, None), str(path))
    preprocess = None
    if SHIFT in arrays or SCALE in arrays:
        features = int(np.prod(plan.graph.input_shape))
        shift, scale = arrays.get(SHIFT), arrays.get(SCALE)
        if shift is None or scale is None or shift.shape != (features,) \
                or scale.shape != (features,):
            raise DataError(f"{SHIFT} and {SCALE} must both be [{features}] arrays",
                            file=str(path))
        preprocess = Preprocess(shift, scale)
    return {p.name: arrays[p.name] for p in plan.graph.params}, preprocess, coding


def _coding(stored: np.ndarray | None, file: str) -> Coding:
    if stored is None:
        return Coding()
    if stored.ndim != 1 or not np.all((stored >= 0) & (stored <= 255)
                                      & (stored == np.round(stored))):
        raise DataError(f"array {CODING!r} is not UTF-8 text", file=file)
    try:
        data = json.loads(stored.astype(np.uint8).tobytes().decode())
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"array {CODING!r} is not valid JSON", file=file) from None
    return Coding.from_dict(data, file)


def check_names_and_shapes(arrays: Mapping[str, np.ndarray | Declared], plan: Plan, file: str,
                           extra: tuple[str, ...] = ()) -> None:
    """DataError unless ``arrays`` holds every parameter of ``plan`` with its shape, and
    nothing else (but ``extra`` names)."""
    expected = {p.name: p.shape for p in plan.graph.params}
    missing = [n for n in expected if n not in arrays]
    unknown = [n for n in arrays if n not in expected and n not in extra]
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(excerpt(n, 60)[1:-1] for n in unknown[:8])}"
                  + (", ..." if len(unknown) > 8 else "")] if unknown else [])
        raise DataError(f"does not match the spec {plan.graph.name!r}: {'; '.join(parts)} "
                        "(was it written for another spec?)", file=file)
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise DataError(f"{name} has shape {list(arrays[name].shape)}, but the spec makes "
                            f"it {list(shape)}", file=file)


def read_npz(path: Path, check: Callable[[dict[str, Declared]], None] | None = None
             ) -> dict[str, np.ndarray]:
    """All arrays of an .npz as float32, refusing pickles, non-numeric and non-finite data
    and values beyond float32; ``check`` refuses the declared arrays before any is read."""
    raw = load_npz(path, "not a readable .npz weights file", check=check)
    out = {}
    for name, stored in raw.items():
        if stored.dtype.kind not in "fiu":
            raise DataError(f"array {name!r} has dtype {stored.dtype}, not numbers", file=str(path))
        with np.errstate(invalid="ignore", over="ignore"):
            if not np.isfinite(stored).all():
                raise DataError(f"array {name!r} holds NaN or infinite values", file=str(path))
            beyond = np.flatnonzero(np.abs(stored) > FLOAT32_MAX)
        if len(beyond):
            at = np.unravel_index(beyond[0], stored.shape)
            raise DataError(f"array {name!r} holds {float(stored.flat[beyond[0]]):g} at "
                            f"{list(map(int, at))}, beyond float32's range", file=str(path))
        out[name] = stored.astype(np.float32)
    return out
