"""The CIFAR-10 python-version batch folder, read without trusting its pickles.

The folder a user downloads (``cifar-10-python.tar.gz``, extracted) holds ``data_batch_1``
.. ``data_batch_5``, ``test_batch`` and ``batches.meta``. Each batch is a pickle of a dict
``{b'batch_label': bytes, b'labels': [int], b'data': uint8 [n, 3072], b'filenames': [bytes]}``
(Python 2, protocol 2, so it is loaded with ``encoding='bytes'``). A pickle can run any
code while it loads, so :class:`RestrictedUnpickler` resolves only the globals that NumPy's
array reconstruction needs and refuses every other one before it could be called; what it
returns is then checked for types, shapes and values.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from nnc.base.errors import DataError, brief, excerpt
from nnc.base.files import kind_of, os_error, read_bytes
from nnc.runtime.sources import Raw, SourceContext
from nnc.spec.sections import Cifar10

PIXELS = 32 * 32 * 3
CLASSES = 10
EXPECTED = "data_batch_1 .. data_batch_5, test_batch and batches.meta"
BATCH = re.compile(r"data_batch_([1-9][0-9]*)")
MAX_BYTES = 1 << 30  # a real batch is 31 MB
MAX_OPS = 1_000_000  # a real batch of 10,000 images takes about 40,000 pickle operations
MAX_DEPTH = 16       # a real batch nests 4 deep: dict, list of labels, array's state tuple


def _reconstruct_function() -> Callable[..., object]:
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct as numpy1_reconstruct  # untyped
        return cast(Callable[..., object], numpy1_reconstruct)
    return _reconstruct


def _reconstruct_empty(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """``_reconstruct`` as a pickled array calls it: an empty ndarray, which the pickle's
    BUILD then fills with the bytes of the file. Any other shape would allocate memory
    the file does not hold (a few bytes asking for terabytes)."""
    if subtype is not np.ndarray or shape != (0,):
        raise pickle.UnpicklingError(f"numpy _reconstruct({getattr(subtype, '__name__', '?')}, "
                                     f"{str(shape)[:40]}) is not how an array is pickled")
    return cast(np.ndarray, _reconstruct_function()(subtype, shape, dtype))


# (module, name) -> object: all a pickled NumPy array needs, under its NumPy 1 and 2 names.
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`; it was not imported."""

    def __init__(self, name: str):
        super().__init__(f"refused global {name}")
        self.name = name


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose only globals are those of :data:`ALLOWED_GLOBALS`.

    Every way a pickle names a callable (GLOBAL, STACK_GLOBAL, INST, EXT*) goes through
    ``find_class``, so a refused name is never imported, let alone called.
    """

    def find_class(self, module: str, name: str) -> object:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


Item = int | str | None  # a container by number, "mark", or a scalar


class _Shape:
    """What :func:`check_pickle` tracks of a pickle without building it: every container
    it would make, as the objects it would hold (by number), and scalars as None."""

    CONTAINERS: ClassVar = frozenset({"list", "tuple", "dict", "set", "frozenset"})
    MUTATE: ClassVar = {"APPEND": 1, "SETITEM": 2, "BUILD": 1, "APPENDS": -1, "SETITEMS": -1,
              "ADDITEMS": -1}

    def __init__(self) -> None:
        self.children: list[list[int]] = []
        self.stack: list[Item] = []
        self.memo: dict[object, Item] = {}

    def pop_to_mark(self) -> list[Item]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] == "mark":
                items = self.stack[i + 1:]
                del self.stack[i:]
                return items
        raise pickle.UnpicklingError("a pickle operation without its MARK")

    def pop(self, n: int) -> list[Item]:
        if n > len(self.stack):
            raise pickle.UnpicklingError("a pickle operation on an empty stack")
        items = self.stack[len(self.stack) - n:]
        del self.stack[len(self.stack) - n:]
        return items

    def step(self, op: pickletools.OpcodeInfo, arg: object) -> None:
        name, before = op.name, [s.name for s in op.stack_before]
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if not self.stack:
                raise pickle.UnpicklingError("a pickle operation on an empty stack")
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise pickle.UnpicklingError(f"memo key {arg!r} not found")
            self.stack.append(self.memo[arg])
        elif name == "DUP":
            self.stack.append(self.pop(1)[0])
            self.stack.append(self.stack[-1])
        elif name == "MARK":
            self.stack.append("mark")
        elif name in self.MUTATE:
            count = self.MUTATE[name]
            items = self.pop_to_mark() if count < 0 else self.pop(count)
            node = self.stack[-1] if self.stack else None
            if isinstance(node, int):  # else the unpickler itself fails on it
                self.children[node].extend(i for i in items if isinstance(i, int))
        else:
            items = self.pop_to_mark() if "mark" in before else []
            items += self.pop(len([b for b in before if b not in ("mark", "stackslice")]))
            for out in op.stack_after:
                self.stack.append(self.new(items) if items or out.name in self.CONTAINERS
                                  else None)

    def new(self, items: list[Item]) -> int:
        self.children.append([i for i in items if isinstance(i, int)])
        return len(self.children) - 1

    def depth(self) -> int:
        """The deepest nesting of what the pickle builds (a cycle is refused)."""
        depth: dict[int, int] = {}
        for root in range(len(self.children)):
            if root in depth:
                continue
            todo, on_path = [(root, 0)], set()
            while todo:
                node, i = todo.pop()
                kids = self.children[node]
                if i == 0:
                    on_path.add(node)
                if i < len(kids):
                    todo.append((node, i + 1))
                    kid = kids[i]
                    if kid in on_path:
                        raise pickle.UnpicklingError("an object that contains itself")
                    if kid not in depth:
                        todo.append((kid, 0))
                    continue
                on_path.discard(node)
                depth[node] = 1 + max((depth[k] for k in kids), default=0)
                if depth[node] > MAX_DEPTH:
                    return depth[node]
        return max(depth.values(), default=0)


def check_pickle(data: bytes) -> None:
    """Walk the operations of the pickle ``data`` without running any, and refuse one that
    would build objects nested deeper than MAX_DEPTH (hashing or printing them would make
    Python recurse until it crashes) or takes more than MAX_OPS operations.

    A pickle that is malformed at some point is checked up to that point: the unpickler
    then stops there too, with its own message."""
    shape = _Shape()
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(io.BytesIO(data))):
            if count >= MAX_OPS:
                raise pickle.UnpicklingError(f"more than {MAX_OPS} pickle operations")
            if op.name == "STOP":
                break
            shape.step(op, arg)
    except ValueError:  # an unknown opcode, a truncated argument: the unpickler says which
        pass
    if shape.depth() > MAX_DEPTH:
        raise pickle.UnpicklingError(f"objects nested deeper than {MAX_DEPTH} levels")


def unpickle(path: Path) -> object:
    """The object pickled in the file ``path``, loaded by a RestrictedUnpickler after
    :func:`check_pickle`.

    Raises DataError naming the file: refused globals, truncated or corrupt pickles, deep
    nesting, OSErrors.
    """
    data = read_bytes(path, MAX_BYTES, "a CIFAR-10 batch file")
    try:
        check_pickle(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except RefusedGlobal as e:
        raise DataError(f"refused to unpickle the global '{e.name}': a CIFAR-10 batch holds "
                        "only NumPy arrays, lists, ints and bytes, so this file is not one "
                        "(or was tampered with); nothing in it was run",
                        file=str(path)) from None
    except Exception as e:
        raise DataError(f"not a readable CIFAR-10 batch (a pickle): {type(e).__name__}: "
                        f"{brief(e)}", file=str(path)) from None


def read_cifar10(section: Cifar10, ctx: SourceContext) -> Raw:
    """Every data_batch_N of the folder in order (the first ``limit`` images): x uint8 [N, 3072]."""
    folder = ctx.resolve(section.path)
    batches = batch_files(folder)
    check_meta(folder / "batches.meta")
    xs, ys, have = [], [], 0
    for path in batches:
        data, labels = read_batch(path)
        if section.limit is not None:
            data, labels = data[:section.limit - have], labels[:section.limit - have]
        xs.append(data)
        ys.append(labels)
        have += len(labels)
        if section.limit is not None and have >= section.limit:
            break
    x = xs[0] if len(xs) == 1 else np.concatenate(xs)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    return Raw(f"cifar10:{section.path}", x, y, ctx.spec_origin(), "cifar10", classes=CLASSES,
               pixels=section.preprocess, image=(32, 32, 3))


def batch_files(folder: Path) -> list[Path]:
    """The data_batch_N files of ``folder`` by N; none is a DataError saying what is expected."""
    found = kind_of(folder)
    if found is None:
        raise DataError("no such folder (relative paths are relative to the spec's folder); "
                        f"expected the CIFAR-10 python-version folder with {EXPECTED}",
                        file=str(folder))
    if found != "dir":
        hint = " (extract it with tar xzf and give the folder cifar-10-batches-py)" \
            if folder.name.endswith((".tar.gz", ".tgz", ".tar")) else ""
        raise DataError(f"is a file, expected the CIFAR-10 python-version folder with "
                        f"{EXPECTED}{hint}", file=str(folder))
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise os_error(folder, e) from None
    numbered = {int(m.group(1)): folder / n for n in names if (m := BATCH.fullmatch(n))}
    if not numbered:
        inner = folder / "cifar-10-batches-py"
        hint = f"; did you mean {inner}?" if kind_of(inner) == "dir" else ""
        listing = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") or "nothing"
        raise DataError(f"no CIFAR-10 training batch: expected {EXPECTED}{hint} "
                        f"(the folder holds: {listing})", file=str(folder))
    return [numbered[k] for k in sorted(numbered)]


def check_meta(path: Path) -> None:
    """If ``batches.meta`` is there, its b'label_names' must name 10 classes."""
    if kind_of(path) is None:
        return
    meta = unpickle(path)
    if not isinstance(meta, dict):
        raise DataError(f"holds a {type(meta).__name__}, expected a dict with b'label_names'",
                        file=str(path))
    names = _entry(meta, "label_names")
    if names is None:
        return
    if not isinstance(names, (list, tuple)) or len(names) != CLASSES:
        count = f"{len(names)} names" if isinstance(names, (list, tuple)) else \
            f"a {type(names).__name__}"
        raise DataError(f"b'label_names' holds {count}, but CIFAR-10 has {CLASSES} classes "
                        "(is this CIFAR-100?)", file=str(path))


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: its pixels, uint8 [n, 3072], and its labels, int64 [n] in 0..9."""
    batch = unpickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"holds a {type(batch).__name__}, expected a dict with b'data' and "
                        "b'labels'", file=str(path))
    data, labels = _entry(batch, "data"), _entry(batch, "labels")
    missing = [f"b'{k}'" for k, v in (("data", data), ("labels", labels)) if v is None]
    if missing:
        keys = ", ".join(excerpt(repr(k), 30, quote=False) for k in list(batch)[:8]) or "none"
        raise DataError(f"no {' or '.join(missing)} entry (the keys: {keys})", file=str(path))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == PIXELS):
        got = f"a {data.dtype} array of shape {list(data.shape)}" \
            if isinstance(data, np.ndarray) else f"a {type(data).__name__}"
        raise DataError(f"b'data' is {got}, expected a uint8 array [n, {PIXELS}]",
                        file=str(path))
    return data, _labels(labels, len(data), path)


def _labels(labels: object, rows: int, path: Path) -> np.ndarray:
    """b'labels' as int64 [rows], each in 0..9."""
    if isinstance(labels, np.ndarray) and labels.ndim == 1 \
            and np.issubdtype(labels.dtype, np.integer):
        bad = np.flatnonzero((labels < 0) | (labels >= CLASSES))
        first = int(bad[0]) if len(bad) else None
        value = labels[first] if first is not None else None
    elif isinstance(labels, (list, tuple)):
        first = next((i for i, v in enumerate(labels)
                      if type(v) is not int or not 0 <= v < CLASSES), None)
        value = labels[first] if first is not None else None
    else:
        raise DataError(f"b'labels' is a {type(labels).__name__}, expected a list of ints",
                        file=str(path))
    if first is not None:
        raise DataError(f"b'labels'[{first}] is {excerpt(repr(value), quote=False)}, "
                        f"expected a class 0..{CLASSES - 1}",
                        file=str(path))
    if len(labels) != rows:
        raise DataError(f"b'labels' has {len(labels)} entries, but b'data' has {rows} rows",
                        file=str(path))
    return np.asarray(labels, dtype=np.int64)


def _entry(d: dict[Any, Any], key: str) -> object:
    """``d[b'key']`` as Python 2 wrote it, or ``d['key']`` from a file re-pickled by Python 3."""
    return d.get(key.encode(), d.get(key))
