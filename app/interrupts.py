"""SIGINT and SIGTERM during training: finish the step, checkpoint, then stop."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
from typing import Any


class StopOnSignal:
    """Within the block, SIGINT/SIGTERM ask training to stop after its current step (call
    the object to learn whether one came); a second SIGINT stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __call__(self) -> int | None:
        return self.received

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now
        self.received = signum

    def __enter__(self) -> "StopOnSignal":
        for s in self.SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread: signals stay as they are
                self.previous[s] = signal.signal(s, self.handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
