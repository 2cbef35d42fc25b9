"""Writers of the hostile and broken files of ``expected.yaml``, one small function each.

Every case runs in a workspace copied from :func:`write_base`: a small model trained and
built with the CLI (``build/``: model.onnx, weights.npz, two checkpoints), a good input
(``x.npy``) and its predictions (``pred.npy``), and a fake CIFAR-10 folder. A writer
turns one file of it (or a new one) into the case's file: ``writer(ws, file)``.
A payload, when run, creates ``ws / MARKER``; the test asserts it never appears.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnc.base.npz import write_npz
from nnc.runtime.checkpoint import digest

from cifar_fixture import Payload, batch_dict, fake_batch, py2_pickle, write_fake_cifar10

MARKER = "PWNED"
FILES = Path(__file__).parent / "files"

SPEC = """\
name: tiny
input: [4]
layers: [{{op: dense, units: 8}}, relu, {{op: dropout, p: 0.2}}, {{op: dense, units: 3}}]
loss: softmax_cross_entropy
data: {data}
train: {{epochs: 2, batch_size: 16, optimizer: {{sgd: {{lr: 0.1, momentum: 0.9}}}}, seed: 1,
        checkpoint_every: 1}}
"""
CIFAR_SPEC = """\
name: tiny-cifar
input: [3072]
layers: [{op: dense, units: 10}]
loss: softmax_cross_entropy
data: {cifar10: {path: cifar, preprocess: scale}}
train: {epochs: 1}
"""
CHECKPOINTS = "build/checkpoints"
NEWEST = f"{CHECKPOINTS}/ckpt-e000002-b000000.npz"
OLDEST = f"{CHECKPOINTS}/ckpt-e000001-b000000.npz"


def write_base(root: Path, nnc: Callable[..., object]) -> None:
    """The workspace every case starts from; ``nnc(*args)`` runs the CLI in ``root``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    np.savez(root / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    (root / "spec.yaml").write_text(SPEC.format(data="{npz: {path: data.npz}}"))
    (root / "cifar.yaml").write_text(CIFAR_SPEC)
    write_fake_cifar10(root / "cifar", n_per_batch=10, batches=1)
    np.save(root / "x.npy", x[:5])
    nnc("build", "spec.yaml", "-o", "build", "-q")
    nnc("predict", "build/model.onnx", "x.npy", "-o", "pred.npy")
    # what a resumed run must reproduce: three epochs without interruption
    nnc("train", "spec.yaml", "-o", "reference", "-q", "--set", "train.epochs=3")


def data_spec(ws: Path, data: str) -> None:
    """hostile.yaml: spec.yaml reading its samples as ``data`` says."""
    (ws / "hostile.yaml").write_text(SPEC.format(data=data))


# ------------------------------------------------------------------------ bytes

def truncated(ws: Path, file: Path, source: str | None = None, keep: float = 0.5) -> None:
    """The first ``keep`` of the bytes of ``source`` (default: ``file`` itself)."""
    data = (ws / (source or file)).read_bytes()
    file.write_bytes(data[:int(len(data) * keep)])


def bit_flipped(ws: Path, file: Path, source: str | None = None, at: float = 0.5) -> None:
    """``source`` with every bit of one byte (at that fraction of its length) inverted."""
    data = bytearray((ws / (source or file)).read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    file.write_bytes(bytes(data))


def zero_bytes(ws: Path, file: Path) -> None:
    file.write_bytes(b"")


def static(name: str, ws: Path, file: Path) -> None:
    """A hand-written file of files/, where the bytes themselves are the point."""
    shutil.copyfile(FILES / name, file)


def copy_of(source: str, ws: Path, file: Path) -> None:
    """A good file of the workspace, used in a way it does not allow."""
    shutil.copyfile(ws / source, file)


def directory(ws: Path, file: Path) -> None:
    file.mkdir()


def unreadable(ws: Path, file: Path, source: str | None = None) -> None:
    """A good file with mode 000 (root reads it anyway, unless without CAP_DAC_OVERRIDE)."""
    if source:
        shutil.copyfile(ws / source, file)
    file.chmod(0)


def symlink_loop(ws: Path, file: Path) -> None:
    """``file`` -> ``file``.loop -> ``file``."""
    other = file.with_name(file.name + ".loop")
    file.symlink_to(other.name)
    other.symlink_to(file.name)


# --------------------------------------------------------------------- payloads

def payload(ws: Path, how: str) -> Payload:
    """An object whose unpickling creates ``ws / MARKER``."""
    marker = str(ws / MARKER)
    if how == "posix.system":  # os.system pickles under its module's real name
        return Payload(os.system, f"touch '{marker}'")
    if how == "builtins.exec":
        return Payload(builtins.exec, f"open({marker!r}, 'w').close()")
    if how == "subprocess.call":
        return Payload(subprocess.call, ["touch", marker])
    raise ValueError(how)


def load_unsafely(file: Path) -> None:
    """What nnc never does: load ``file`` with pickles allowed (the tests' control)."""
    if zipfile.is_zipfile(file):
        with np.load(file, allow_pickle=True) as npz:
            for name in npz.files:
                npz[name]
    elif file.read_bytes().startswith(b"\x93NUMPY"):
        np.load(file, allow_pickle=True)
    else:
        with open(file, "rb") as f:
            pickle.load(f, encoding="bytes")


def pickled(ws: Path, file: Path, how: str = "posix.system", protocol: int = 4) -> None:
    """A pickle whose loading runs a command."""
    file.write_bytes(pickle.dumps(payload(ws, how), protocol))


def object_arrays(ws: Path, file: Path, names: tuple[str, ...], suffix: str = ".npz") -> None:
    """An .npz (or .npy) whose arrays are object arrays holding a payload."""
    evil = np.array([payload(ws, "posix.system")] * 5, dtype=object)
    if suffix == ".npy":
        with open(file, "wb") as f:
            np.save(f, evil, allow_pickle=True)
    else:
        with open(file, "wb") as f:
            np.savez(f, **{name: evil for name in names})


def header_bomb(ws: Path, file: Path, names: tuple[str, ...]) -> None:
    """An .npz whose members' headers declare 10**12 floats (4 TB), backed by 16 bytes."""
    with zipfile.ZipFile(file, "w") as archive:
        for name in names:
            header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array_header_1_0(member, header)
                member.write(b"\0" * 16)


# ---------------------------------------------------------------------- weights

def weights_with(ws: Path, file: Path, edit: Callable[[dict], None]) -> None:
    """build/weights.npz with its arrays changed by ``edit``."""
    with np.load(ws / "build/weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    edit(arrays)
    with open(file, "wb") as f:
        write_npz(f, arrays)


def with_nan(arrays: dict) -> None:
    arrays["dense_1.weight"][3, 1] = np.nan


def overflowing(arrays: dict) -> None:
    """Finite weights so large that every sum overflows float32 (NaN scores)."""
    arrays["dense_1.weight"][:] = 3e38


def overflowing_scale(arrays: dict) -> None:
    """A preprocessing scale of 3e38: scores are NaN on inputs of unit scale."""
    arrays["preprocess.shift"] = np.zeros(4, np.float32)
    arrays["preprocess.scale"] = np.full(4, 3e38, np.float32)


def another_spec(arrays: dict) -> None:
    shapes = {"fc1.weight": (16, 4), "fc1.bias": (16,), "fc2.weight": (3, 16), "fc2.bias": (3,)}
    arrays.clear()
    arrays.update({name: np.zeros(shape, np.float32) for name, shape in shapes.items()})


def wrong_shape(arrays: dict) -> None:
    arrays["dense_2.weight"] = np.zeros((8, 3), np.float32)


def empty_archive(ws: Path, file: Path) -> None:
    with zipfile.ZipFile(file, "w"):
        pass


def compressed_bit_flipped(ws: Path, file: Path, source: str) -> None:
    """``source`` re-saved with np.savez_compressed, one byte of its deflate stream flipped."""
    with np.load(ws / source) as npz:
        arrays = {k: npz[k] for k in npz.files}
    with open(file, "wb") as f:
        np.savez_compressed(f, **arrays)
    with zipfile.ZipFile(file) as archive:
        first = archive.infolist()[0]
    # inside the first member's data: after its local header (30 bytes + name + extra)
    bit_flipped(ws, file, at=(first.header_offset + 30 + len(first.filename) + 24)
                / file.stat().st_size)


# ------------------------------------------------------------------------- ONNX

def model(ws: Path) -> onnx.ModelProto:
    return onnx.load(ws / "build/model.onnx")


def save(m: onnx.ModelProto, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(m.SerializeToString())


def external_data(ws: Path, file: Path, location: str, secret: str | None = None) -> None:
    """The model with dense_1.weight kept in the external file ``location``; ``secret``
    (relative to ws) gets exactly the bytes it needs, so a reader that followed the
    location would run the model and succeed."""
    m = model(ws)
    tensor = m.graph.initializer[0]
    raw = numpy_helper.to_array(tensor).tobytes()
    if secret:
        (ws / secret).write_bytes(raw)
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    save(m, file)


def scores_only(ws: Path, file: Path) -> None:
    """The model as exported with export.onnx.probabilities: false."""
    m = model(ws)
    node = next(n for n in m.graph.node if n.output[0] == "probabilities")
    m.graph.node.remove(node)
    output = next(o for o in m.graph.output if o.name == "probabilities")
    m.graph.output.remove(output)
    save(m, file)


def custom_op(ws: Path, file: Path) -> None:
    """The ReLU replaced by an op of a domain onnxruntime does not know."""
    m = model(ws)
    node = next(n for n in m.graph.node if n.op_type == "Relu")
    node.op_type, node.domain = "Pwn", "com.evil"
    m.opset_import.append(helper.make_opsetid("com.evil", 1))
    save(m, file)


def foreign_graph(ws: Path, file: Path, dtype: int = TensorProto.FLOAT, output: str = "y",
                  node: str = "Identity") -> None:
    """A valid ONNX model that is not one nnc exports."""
    x = helper.make_tensor_value_info("input", dtype, ["batch", 4])
    nodes, inits, units = [helper.make_node("Identity", ["input"], [output])], [], 4
    if node == "Reshape":  # rows of 4 reshaped to rows of 5: fails unless 5 divides the batch
        inits = [numpy_helper.from_array(np.array([-1, 5], np.int64), "shape")]
        nodes, units = [helper.make_node("Reshape", ["input", "shape"], [output])], 5
    if node == "FixedBatch":  # reshaped to [2, 4]: runs on the dry run's two rows only
        inits = [numpy_helper.from_array(np.array([2, 4], np.int64), "shape")]
        nodes = [helper.make_node("Reshape", ["input", "shape"], [output])]
    if node == "Concat":  # every row twice: 10 rows of scores for 5 inputs
        nodes = [helper.make_node("Concat", ["input", "input"], [output], axis=0)]
    if node == "NoColumns":  # scores [batch, 0]
        inits = [numpy_helper.from_array(np.array([v], np.int64), n)
                 for n, v in (("start", 0), ("end", 0), ("axis", 1))]
        nodes = [helper.make_node("Slice", ["input", "start", "end", "axis"], [output])]
        units = 0
    out = helper.make_tensor_value_info(output, dtype, ["batch", units])
    graph = helper.make_graph(nodes, "foreign", [x], [out], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    save(m, file)


# ----------------------------------------------------------------------- inputs

def input_array(ws: Path, file: Path, x: np.ndarray | None = None,
                y: np.ndarray | None = None) -> None:
    """x.npy's samples (or ``x``) as .npy, or as .npz with ``y`` when given."""
    x = np.load(ws / "x.npy") if x is None else x
    if file.suffix == ".npz":
        np.savez(file, x=x, **({"y": y} if y is not None else {}))
    else:
        np.save(file, x)


def with_nan_row(ws: Path, file: Path) -> None:
    x = np.load(ws / "x.npy")
    x[3, 2] = np.inf
    input_array(ws, file, x)


def not_a_table(ws: Path, file: Path) -> None:
    """A CSV path naming a file of another kind: its first line must not be quoted back."""
    file.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\n")


def escapes_in_header(ws: Path, file: Path) -> None:
    """A header whose column names hold terminal escape sequences."""
    file.write_text("a,\x1b[31mred\x1b]0;title\x07,c,d,labels\n1,2,3,4,0\n")


def npy_named_npz(ws: Path, file: Path) -> None:
    """A .npy file (one array) under the name of an .npz archive."""
    with open(file, "wb") as f:
        np.save(f, np.load(ws / "x.npy"))


# ----------------------------------------------------------------------- CIFAR-10

def cifar_batch(ws: Path, file: Path, protocol: int, how: str) -> None:
    """A batch that is a pickle of a payload."""
    file.write_bytes(pickle.dumps(payload(ws, how), protocol))


def cifar_nested(ws: Path, file: Path) -> None:
    """A real-looking batch (Python 2 format) with a payload among its labels."""
    data, labels = fake_batch(1, 10)
    labels[3] = payload(ws, "posix.system")
    file.write_bytes(py2_pickle(batch_dict(data, labels, b"training batch 1 of 5")))


def cifar_bomb(ws: Path, file: Path) -> None:
    """A batch whose b'data' asks numpy's _reconstruct for a [10**8, 3072] array (307 GB)
    instead of an empty one: a few bytes that would allocate far more than memory."""
    data, labels = fake_batch(1, 10)
    raw = py2_pickle(batch_dict(data, labels, b"training batch 1 of 5"))
    # the standard pickle of an array calls _reconstruct(ndarray, (0,), b'b'): K\x00\x85
    empty = b"K\x00\x85"
    assert raw.count(empty) == 1, raw.count(empty)
    file.write_bytes(raw.replace(empty, b"J\x00\xe1\xf5\x05M\x00\x0c\x86"))


# ------------------------------------------------------------------ checkpoints

def checkpoint_with(ws: Path, file: Path, edit: Callable[[dict, dict], None]) -> None:
    """The newest checkpoint with its metadata and arrays changed by ``edit(meta, arrays)``,
    and a checksum that matches again: intact, but wrong."""
    with np.load(ws / NEWEST) as npz:
        arrays = {k: npz[k] for k in npz.files}
    del arrays["sha256"]
    meta = json.loads(arrays["meta"].tobytes())
    edit(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    arrays["sha256"] = np.frombuffer(digest(arrays).encode(), np.uint8)
    with open(file, "wb") as f:
        write_npz(f, arrays)


def set_state(key: str, value: object) -> Callable[[dict, dict], None]:
    def edit(meta: dict, arrays: dict) -> None:
        meta["state"][key] = value
    return edit


def order_of(order: np.ndarray, batch: int = 0) -> Callable[[dict, dict], None]:
    def edit(meta: dict, arrays: dict) -> None:
        arrays["order"] = order
        meta["state"]["batch"] = batch
    return edit


def rng_state(state: object) -> Callable[[dict, dict], None]:
    def edit(meta: dict, arrays: dict) -> None:
        meta["rng"]["shuffle"] = state
    return edit


def mt19937_state() -> dict:
    state = copy.deepcopy(np.random.MT19937(0).state)
    state["state"]["key"] = state["state"]["key"].tolist()
    return state


def velocity_of(size: int) -> Callable[[dict, dict], None]:
    def edit(meta: dict, arrays: dict) -> None:
        arrays["velocity"] = np.zeros(size, np.float32)
    return edit


def directory_checkpoint(ws: Path, file: Path) -> None:
    """A directory under the newest checkpoint's name."""
    file.unlink()
    file.mkdir()


def params_nan(meta: dict, arrays: dict) -> None:
    arrays["params"] = arrays["params"].copy()
    arrays["params"][5] = np.nan


def no_fingerprint(meta: dict, arrays: dict) -> None:
    del meta["fingerprint"]


def history_infinity(ws: Path, file: Path) -> None:
    """The first record of the run's history journal with an infinite validation loss, and
    the checkpoint's digest of the journal made to match: intact, but wrong."""
    def edit(meta: dict, arrays: dict) -> None:
        journal = ws / CHECKPOINTS / meta["history"]
        lines = journal.read_text().splitlines(keepends=True)
        record = json.loads(lines[0])
        record["val_loss"] = float("inf")
        lines[0] = json.dumps(record, sort_keys=True) + "\n"
        journal.write_text("".join(lines))
        digest = hashlib.sha256()
        for line in lines[:meta["state"]["epoch"]]:
            digest.update(line.encode())
        meta["history_sha256"] = digest.hexdigest()
    checkpoint_with(ws, file, edit)


def all_damaged(ws: Path, file: Path) -> None:
    """Every checkpoint damaged: the newest bit-flipped, the oldest truncated, and a
    stale one (epoch 9, from a longer run) that is a zero-byte file."""
    bit_flipped(ws, file)
    truncated(ws, ws / OLDEST)
    (ws / CHECKPOINTS / "ckpt-e000009-b000000.npz").write_bytes(b"")


WRITERS: dict[str, Callable[[Path, Path], None]] = {
    # weights.npz for `nnc export`
    "weights_truncated": partial(truncated, source="build/weights.npz"),
    "weights_bit_flipped": partial(bit_flipped, source="build/weights.npz"),
    "weights_zero_bytes": zero_bytes,
    "weights_empty_archive": empty_archive,
    "weights_text": partial(static, "weights_text.npz"),
    "weights_object_array": partial(object_arrays, names=("dense_1.weight",)),
    "weights_pickle": pickled,
    "weights_nan": partial(weights_with, edit=with_nan),
    "weights_other_spec": partial(weights_with, edit=another_spec),
    "weights_wrong_shape": partial(weights_with, edit=wrong_shape),
    "weights_npy": npy_named_npz,
    "weights_overflow": partial(weights_with, edit=overflowing),
    "weights_preprocess_overflow": partial(weights_with, edit=overflowing_scale),
    "weights_header_bomb": partial(header_bomb, names=("dense_1.weight",)),
    "weights_compressed_bit_flipped": partial(compressed_bit_flipped,
                                              source="build/weights.npz"),
    "weights_directory": directory,
    "weights_unreadable": partial(unreadable, source="build/weights.npz"),
    "weights_symlink_loop": symlink_loop,
    # .onnx for `nnc predict`
    # (cut inside the graph: a cut between two trailing metadata fields leaves a valid model)
    "onnx_truncated": partial(truncated, source="build/model.onnx", keep=0.3),
    "onnx_corrupted": partial(bit_flipped, source="build/model.onnx", at=0.0),
    "onnx_zero_bytes": zero_bytes,
    "onnx_text": partial(static, "model_text.onnx"),
    "onnx_external_absolute": partial(external_data, location="/etc/passwd"),
    "onnx_external_parent": partial(external_data, location="../../secret", secret="secret"),
    "onnx_external_cwd": partial(external_data, location="secret", secret="secret"),
    "onnx_custom_op": custom_op,
    "onnx_foreign_graph": foreign_graph,
    "onnx_int64_input": partial(foreign_graph, dtype=TensorProto.INT64, output="scores"),
    "onnx_fails_when_run": partial(foreign_graph, output="scores", node="Reshape"),
    "onnx_without_probabilities": scores_only,
    "onnx_fails_on_a_larger_batch": partial(foreign_graph, output="scores", node="FixedBatch"),
    "onnx_more_rows_than_inputs": partial(foreign_graph, output="scores", node="Concat"),
    "onnx_scores_without_columns": partial(foreign_graph, output="scores", node="NoColumns"),
    "onnx_directory": directory,
    "onnx_unreadable": partial(unreadable, source="build/model.onnx"),
    "onnx_symlink_loop": symlink_loop,
    # inputs for `nnc predict`
    "input_wrong_shape": partial(input_array, x=np.zeros((5, 5), np.float32)),
    "input_npz_object_array": partial(object_arrays, names=("x",)),
    "input_npy_pickle": partial(object_arrays, names=(), suffix=".npy"),
    "input_npy_truncated": partial(truncated, source="x.npy", keep=0.8),
    "input_npy_named_npz": npy_named_npz,
    "input_npz_compressed_bit_flipped": partial(compressed_bit_flipped, source="data.npz"),
    "input_npz_header_bomb": partial(header_bomb, names=("x",)),
    "input_infinity": with_nan_row,
    "input_labels_too_few": partial(input_array, y=np.zeros(3, np.int64)),
    "input_csv_ragged": partial(static, "ragged.csv"),
    "input_csv_non_numeric": partial(static, "non_numeric.csv"),
    "input_csv_nul": partial(static, "nul.csv"),
    "input_csv_not_utf8": partial(static, "latin1.csv"),
    "input_csv_header_only": partial(static, "header_only.csv"),
    "input_csv_not_a_table": not_a_table,
    "input_csv_escapes_in_header": escapes_in_header,
    "input_directory": directory,
    "input_unreadable": partial(unreadable, source="x.npy"),
    "input_symlink_loop": symlink_loop,
    # data files for `nnc train`
    "data_npz_object_array": partial(object_arrays, names=("x", "y")),
    "data_npz_truncated": partial(truncated, source="data.npz"),
    "data_npz_header_bomb": partial(header_bomb, names=("x", "y")),
    "data_npz_compressed_bit_flipped": partial(compressed_bit_flipped, source="data.npz"),
    "data_csv_ragged": partial(static, "ragged.csv"),
    "data_csv_non_numeric": partial(static, "non_numeric.csv"),
    "data_csv_nul": partial(static, "nul.csv"),
    "data_csv_not_utf8": partial(static, "latin1.csv"),
    "data_csv_header_only": partial(static, "header_only.csv"),
    "data_directory": directory,
    "data_unreadable": partial(unreadable, source="data.npz"),
    "data_symlink_loop": symlink_loop,
    # spec files
    "spec_directory": directory,
    "spec_unreadable": partial(unreadable, source="spec.yaml"),
    "spec_symlink_loop": symlink_loop,
    # CIFAR-10 batches
    "cifar_os_system_protocol_0": partial(static, "cifar_os_system_p0.pickle"),
    "cifar_exec_protocol_2": partial(cifar_batch, protocol=2, how="builtins.exec"),
    "cifar_subprocess_protocol_4": partial(cifar_batch, protocol=4, how="subprocess.call"),
    "cifar_posix_system_protocol_5": partial(cifar_batch, protocol=5, how="posix.system"),
    "cifar_meta_payload": partial(cifar_batch, protocol=2, how="posix.system"),
    "cifar_payload_among_labels": cifar_nested,
    "cifar_allocation_bomb": cifar_bomb,
    # checkpoints for `--resume`: intact but wrong (refused)
    "ckpt_negative_epoch": partial(checkpoint_with, edit=set_state("epoch", -1)),
    "ckpt_order_wrong_length": partial(checkpoint_with, edit=order_of(np.arange(10))),
    "ckpt_order_not_a_permutation": partial(checkpoint_with,
                                            edit=order_of(np.zeros(48, np.int64), batch=1)),
    "ckpt_batch_without_order": partial(checkpoint_with, edit=set_state("batch", 1)),
    "ckpt_rng_wrong_shape": partial(checkpoint_with, edit=rng_state({"state": [1, 2, 3]})),
    "ckpt_rng_other_generator": partial(checkpoint_with, edit=rng_state(mt19937_state())),
    "ckpt_velocity_wrong_shape": partial(checkpoint_with, edit=velocity_of(10)),
    "ckpt_params_nan": partial(checkpoint_with, edit=params_nan),
    "ckpt_no_fingerprint": partial(checkpoint_with, edit=no_fingerprint),
    "ckpt_history_infinity": history_infinity,
    "build_resume_negative_epoch": partial(checkpoint_with, edit=set_state("epoch", -1)),
    "ckpt_directory": directory_checkpoint,
    # checkpoints for `--resume`: damaged (skipped, with a note)
    "ckpt_truncated": truncated,
    "ckpt_bit_flipped": bit_flipped,
    "ckpt_pickle_payload": pickled,
    "ckpt_npy": npy_named_npz,
    "ckpt_all_damaged": all_damaged,
}
