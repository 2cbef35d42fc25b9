"""Training progress on a terminal: a bar per epoch and one line per finished epoch."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from nnc.runtime.trainer import Callback, EpochRecord, Weights


class TerminalProgress(Callback):
    """Draws on ``stream`` (standard error); silent unless it is a terminal."""

    def __init__(self, epochs: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.epochs, self.last = epochs, 0.0

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and batch != batches):
            return
        self.last = now
        width = 30
        done = width * batch // batches
        self.stream.write(f"\repoch {epoch}/{self.epochs} [{'#' * done}{'.' * (width - done)}] "
                          f"{batch}/{batches}")
        self.stream.flush()

    def on_note(self, text: str) -> None:
        self.stream.write(("\r\033[K" if self.enabled else "") + text + "\n")
        self.stream.flush()

    def on_epoch(self, record: EpochRecord, weights: Weights) -> None:
        if not self.enabled:
            return
        parts = [f"epoch {record.epoch}/{self.epochs}", f"loss {record.train_loss:.4f}"]
        for label, value in (("acc", record.train_accuracy), ("val_loss", record.val_loss),
                             ("val_acc", record.val_accuracy)):
            if value is not None:
                parts.append(f"{label} {value:.4f}")
        parts.append(f"{record.seconds:.2f}s")
        self.stream.write("\r\033[K" + "  ".join(parts) + "\n")
        self.stream.flush()
