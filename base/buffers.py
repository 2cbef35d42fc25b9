"""Buffers declared once: the sizing report counts them, the runtime allocates them.

A kernel, a loss, the executor and the optimizer each say which arrays they need as a
list of :class:`Buffer`; the memory estimate sums their bytes and the runtime allocates
exactly those arrays (a test checks the two agree to the byte).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLOAT_BYTES = 4  # float32, everywhere outside gradient checks
DTYPE_BYTES = {"float": FLOAT_BYTES, "bool": 1, "int64": 8}


@dataclass(frozen=True)
class Buffer:
    """An array of ``shape`` per sample ([batch, *shape] is allocated), or of ``shape`` in
    all when not ``per_sample`` (optimizer state).

    ``dtype`` is "float" (the runtime's float type: float32, float64 in gradient checks),
    "bool" or "int64". ``training``: only a training executor allocates it (gradients and
    what the backward pass reads).
    """

    name: str
    shape: tuple[int, ...] = ()
    dtype: str = "float"
    training: bool = False
    per_sample: bool = True

    @property
    def elements(self) -> int:
        """Elements per sample (or in all, when not per sample)."""
        return math.prod(self.shape)

    def nbytes(self, batch: int = 1) -> int:
        """Bytes at ``batch`` samples (float as float32)."""
        return DTYPE_BYTES[self.dtype] * self.elements * (batch if self.per_sample else 1)


def total_bytes(buffers: list[Buffer] | tuple[Buffer, ...], batch: int = 1,
                training: bool = True) -> int:
    """The bytes of ``buffers`` at ``batch`` samples (training buffers only if ``training``)."""
    return sum(b.nbytes(batch) for b in buffers if training or not b.training)
