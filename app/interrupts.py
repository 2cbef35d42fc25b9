"""SIGINT and SIGTERM: during training, finish the step, checkpoint, then stop; at any
other moment, or when asked twice, stop at once."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any


class Stopped(KeyboardInterrupt):
    """Raised by a signal that stops the process at once (exit 128 + ``signal``): a second
    one, or one while nothing polls for it. A KeyboardInterrupt, so that no ``except
    Exception`` on the way takes it for an error of the work it interrupts."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signal = signum


class StopOnSignal:
    """Within the block, SIGINT/SIGTERM ask the work to stop when it next polls (call the
    object to learn whether one came): always when ``defer``, else only inside
    ``deferring()`` (training, which polls after every step). Any other signal, and a
    second one, raise Stopped at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, defer: bool = True) -> None:
        self.defer = defer
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __call__(self) -> int | None:
        return self.received

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None or not self.defer:
            raise Stopped(signum)
        self.received = signum

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """A first signal within the block waits for the work to poll."""
        before, self.defer = self.defer, True
        try:
            yield
        finally:
            self.defer = before

    def __enter__(self) -> "StopOnSignal":
        for s in self.SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread: signals stay as they are
                self.previous[s] = signal.signal(s, self.handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def while_training(should_stop: Callable[[], int | None] | None
                   ) -> contextlib.AbstractContextManager[None]:
    """The block where ``should_stop`` (a StopOnSignal, or any function) is polled after
    every training step: a first signal there waits for the step to end."""
    if isinstance(should_stop, StopOnSignal):
        return should_stop.deferring()
    return contextlib.nullcontext()
