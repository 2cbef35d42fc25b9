"""Progress on a terminal: of training, a bar per epoch and one line per finished epoch;
of a sweep, one line per finished trial and a status line."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from nnc.runtime.trainer import Callback, EpochRecord, Weights
from nnc.sweep_driver import Progress


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


class SweepProgress(Progress):
    """A line per trial that ends (unless ``quiet``) and, on a terminal, a status line:
    trials done, running and left, the best so far, the time left."""

    def __init__(self, metric: str, parameters: list[str], quiet: bool = False,
                 stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.metric, self.parameters, self.quiet = metric, parameters, quiet
        self.last = 0.0

    def note(self, text: str) -> None:
        self._line(text)

    def trial(self, row: dict[str, Any]) -> None:
        if self.quiet:
            return
        values = ", ".join(f"{p} {_shown(row.get(p))}" for p in self.parameters)
        result = f"{self.metric} {row[self.metric]:.5g}" if row["state"] == "complete" else \
            row.get("message") or ""
        seconds = f" in {row['seconds']:.2f} s" if row.get("seconds") else ""
        self._line(f"trial {row['number']} {row['state']}: {result} ({values}){seconds}")

    def status(self, done: int, running: int, left: int, best: dict[str, Any] | None,
               seconds_left: float | None) -> None:
        now = time.monotonic()
        if not self.live or now - self.last < 0.25:
            return
        self.last = now
        text = f"trials: {done} done, {running} running, {left} left"
        if best is not None:
            text += f"; best {self.metric} {best[self.metric]:.5g} (trial {best['number']})"
        if seconds_left is not None:
            text += f"; about {seconds_left:.0f} s left"
        self.stream.write("\r\033[K" + text)
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(("\r\033[K" if self.live else "") + text + "\n")
        self.stream.flush()


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
