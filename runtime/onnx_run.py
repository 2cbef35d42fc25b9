"""onnxruntime inference: reading ONNX files safely, sessions, batched runs."""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from google.protobuf.message import Message

from nnc.base.coding import TEXT_TENSOR
from nnc.base.errors import DataError, ExportError, Interrupted, brief, excerpt
from nnc.base.files import read_bytes
from nnc.base.machine import capped_threads

if TYPE_CHECKING:
    import onnxruntime as ort

MAX_ONNX_BYTES = 2 << 30  # protobuf's own limit


def read_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load and check an .onnx file; any problem is a DataError naming the file."""
    path = Path(path)
    data = read_bytes(path, MAX_ONNX_BYTES, "an ONNX file")
    try:
        model = onnx.load_model_from_string(data)
        external = external_tensor(model)
        if external is None:  # the checker would look for an external file in the cwd
            onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # protobuf's DecodeError, onnx's ValidationError, ...
        raise DataError(f"not a valid ONNX model (truncated or corrupted?): {brief(e)}",
                        file=str(path)) from None
    if external is not None:
        location = next((e.value for e in external.external_data if e.key == "location"), "")
        raise DataError(f"tensor {excerpt(external.name)} keeps its data in another file "
                        f"({excerpt(location, 100)}); nnc runs only self-contained ONNX files and "
                        "never opens a file a model names", file=str(path))
    if not model.graph.input or not model.graph.output:
        raise DataError("the ONNX graph has no input or no output", file=str(path))
    return model


def external_tensor(message: Message) -> onnx.TensorProto | None:
    """The first tensor anywhere in ``message`` (initializers, attributes, subgraphs,
    functions, sparse tensors) whose data lives in an external file, or None."""
    if isinstance(message, onnx.TensorProto) and (
            message.data_location == onnx.TensorProto.EXTERNAL or len(message.external_data)):
        return message
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for item in [value] if isinstance(value, Message) else value:
            if (found := external_tensor(item)) is not None:
                return found
    return None


def session(model: onnx.ModelProto | bytes, threads: int | None = None
            ) -> "ort.InferenceSession":
    """An onnxruntime CPU session for ``model``; onnxruntime's own log lines are not shown
    (its failures reach the user as nnc's one-line errors)."""
    import onnxruntime as ort

    quiet_logs()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = capped_threads(threads)[0]
        options.inter_op_num_threads = 1
    options.log_severity_level = FATAL
    data = model if isinstance(model, bytes) else model.SerializeToString()
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as e:
        text = str(e)
        if "opset" in text.lower():
            raise ExportError(f"onnxruntime {ort.__version__} cannot run this model: "
                              f"{brief(text, 200)} (newest opset it runs: "
                              f"{max_opset()})") from None
        raise


FATAL = 4  # onnxruntime's log severity: only fatal errors (its own coloured lines on stderr)


@functools.lru_cache(maxsize=1)
def quiet_logs() -> None:
    """Silence onnxruntime's default logger (used before a session's own options apply)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(FATAL)


BATCH = 4096  # rows per run: bounded memory for huge (memory-mapped) inputs


def batches(sess: "ort.InferenceSession", x: np.ndarray, outputs: list[str],
            batch: int = BATCH) -> Iterator[list[np.ndarray]]:
    """The model's ``outputs`` for x [n, ...], batch by batch (x was checked finite); an
    empty x runs once, on no rows."""
    given = sess.get_inputs()[0]
    dtype = str if given.type == TEXT_TENSOR else np.float32  # a table's cells, or numbers
    for start in range(0, max(len(x), 1), batch):
        chunk = np.ascontiguousarray(x[start:start + batch], dtype=dtype)
        yield run_once(sess, outputs, {given.name: chunk})


def run_once(sess: "ort.InferenceSession", outputs: list[str] | None,
             feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``sess.run(outputs, feed)`` that SIGINT and SIGTERM end, however long the model
    would run (a Loop of 2^62 iterations): onnxruntime runs on a helper thread while this
    one waits, so Python's handler runs; it sets the run's terminate flag, which
    onnxruntime checks between ops and loop iterations, and Interrupted is raised."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = FATAL  # its error lines (the terminate flag, a failed node)
    if threading.current_thread() is not threading.main_thread():
        return list(sess.run(outputs, feed, options))  # signals go to the main thread anyway
    done: dict[str, Any] = {}

    def work() -> None:
        try:
            done["outputs"] = sess.run(outputs, feed, options)
        except BaseException as e:  # handed to the waiting thread
            done["error"] = e

    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if received:  # asked twice: do not wait for onnxruntime (exit 130)
            raise KeyboardInterrupt
        received.append(signum)
        options.terminate = True

    worker = threading.Thread(target=work, name="onnxruntime", daemon=True)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        raise Interrupted(received[0], "while onnxruntime ran the model")
    if "error" in done:
        raise done["error"]
    return list(done["outputs"])


def run(sess: "ort.InferenceSession", x: np.ndarray, outputs: list[str],
        batch: int = BATCH) -> list[np.ndarray]:
    """Run ``sess`` on x [n, ...] in batches of ``batch`` rows; one array per output."""
    parts = list(batches(sess, x, outputs, batch))
    return [np.concatenate([p[i] for p in parts]) for i in range(len(outputs))]


@functools.lru_cache(maxsize=1)
def max_opset() -> int:
    """The newest default-domain opset the installed onnxruntime runs (probed once)."""
    from onnx import TensorProto, helper

    quiet_logs()
    newest = 13
    for opset in range(14, onnx.defs.onnx_opset_version() + 1):
        info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [info],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        opset_id = helper.make_opsetid("", opset)
        model = helper.make_model(graph, opset_imports=[opset_id])
        model.ir_version = helper.find_min_ir_version_for([opset_id])
        try:
            import onnxruntime as ort

            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:
            break
        newest = opset
    return newest
