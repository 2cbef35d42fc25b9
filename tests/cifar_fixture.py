"""A small CIFAR-10 python-version folder, written in the format of the real download.

The real batches were pickled by Python 2 (protocol 2): their byte strings are ``str``
opcodes (BINSTRING), which Python 3 loads as ``bytes`` with ``encoding='bytes'``, and their
arrays name ``numpy.core.multiarray._reconstruct``. Python 3's own protocol-2 pickles
would instead wrap every bytes object in ``_codecs.encode``, so :class:`Py2Pickler`
writes byte strings the way Python 2 did.

    folder = write_fake_cifar10(tmp_path / "cifar-10-batches-py", n_per_batch=20, batches=2)
    x, y = fake_cifar10_arrays(n_per_batch=20, batches=2)   # what the batches hold
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
               b"ship", b"truck"]


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch table is a dict
    """Protocol 2 as Python 2 wrote it: bytes and str become Python 2 ``str`` (BINSTRING)."""

    dispatch: ClassVar[dict[type, Any]] = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes | str) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickle(obj: object, numpy_module: str = "numpy.core.multiarray") -> bytes:
    """``obj`` pickled as Python 2 did; arrays name ``numpy_module``._reconstruct."""
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    for name in (b"numpy._core.multiarray", b"numpy.core.multiarray"):
        data = data.replace(b"c" + name + b"\n_reconstruct\n",
                            b"c" + numpy_module.encode() + b"\n_reconstruct\n")
    return data


def fake_batch(index: int, n: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """The pixels (uint8 [n, 3072]) and labels (ints 0..9) of training batch ``index``."""
    rng = np.random.default_rng([seed, index])
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    return data, labels


def fake_cifar10_arrays(n_per_batch: int = 20, batches: int = 2,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every training image written by write_fake_cifar10 with these arguments, in order."""
    parts = [fake_batch(i, n_per_batch, seed) for i in range(1, batches + 1)]
    return (np.concatenate([d for d, _ in parts]),
            np.concatenate([np.asarray(lab, dtype=np.int64) for _, lab in parts]))


def batch_dict(data: np.ndarray, labels: list[int], label: bytes) -> dict:
    return {b"batch_label": label, b"labels": labels, b"data": data,
            b"filenames": [b"image_%05d.png" % i for i in range(len(labels))]}


def write_fake_cifar10(folder: str | os.PathLike, n_per_batch: int = 20, batches: int = 2, *,
                       seed: int = 0, test_batch: bool = True, meta: bool = True,
                       numpy_module: str = "numpy.core.multiarray") -> Path:
    """Write data_batch_1..data_batch_<batches>, test_batch and batches.meta into ``folder``.

    Returns the folder. The images are those of :func:`fake_cifar10_arrays`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, batches + 1):
        data, labels = fake_batch(i, n_per_batch, seed)
        batch = batch_dict(data, labels, b"training batch %d of 5" % i)
        (folder / f"data_batch_{i}").write_bytes(py2_pickle(batch, numpy_module))
    if test_batch:
        data, labels = fake_batch(0, n_per_batch, seed + 1)
        batch = batch_dict(data, labels, b"testing batch 1 of 1")
        (folder / "test_batch").write_bytes(py2_pickle(batch, numpy_module))
    if meta:
        info = {b"num_cases_per_batch": n_per_batch, b"label_names": LABEL_NAMES,
                b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(py2_pickle(info))
    return folder


class Payload:
    """Pickles as a call of ``function(argument)``: what a malicious pickle does on load."""

    def __init__(self, function: object, argument: str):
        self.function, self.argument = function, argument

    def __reduce__(self) -> tuple:
        return self.function, (self.argument,)


def malicious_payload(marker: Path, how: str) -> object:
    """An object whose unpickling creates the file ``marker``, by os.system or builtins.exec."""
    if how == "os.system":
        return Payload(os.system, f"touch '{marker}'")
    if how == "exec":
        return Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()")
    raise ValueError(how)
