"""The training loop: epochs of shuffled minibatches, validation, early stopping.

The trainer never prints; it reports to a ``Callback`` (the CLI draws the progress).
What changes while it trains is its state: the counters (``TrainState``), the history,
the parameters, the optimizer's state, the best weights kept, the epoch's sample order
and the two random generators. ``state_dict()`` gives all of it and
``load_state_dict()`` takes it back, so a checkpoint of it resumes the run exactly, even
in the middle of an epoch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from nnc.base.errors import DataError, Interrupted, TrainingError
from nnc.compiler.plan import Plan
from nnc.compiler.state import diagnostics_every, kept_weights
from nnc.runtime.data import Dataset
from nnc.runtime.diagnostics import Diagnostics
from nnc.runtime.executor import Executor
from nnc.runtime.losses import BoundLoss
from nnc.runtime.optim import lr_at, make_optimizer
from nnc.runtime.params import ParamStore
from nnc.runtime.records import (
    Callback,
    EpochRecord,
    Hooks,
    StateMismatch,
    TrainerState,
    TrainResult,
    TrainState,
    Weights,
)
from nnc.spec.sections import TrainSpec

__all__ = [
    "Callback",
    "EpochRecord",
    "StateMismatch",
    "TrainResult",
    "TrainState",
    "Trainer",
    "TrainerState",
    "Weights",
    "first_non_finite",
]

SHUFFLE_STREAM, NOISE_STREAM = 11, 12  # SeedSequence spawn keys (init uses 10, data 1 and 2)
BLOW_UP = 1000.0  # a step's loss this many times the first (or 1, if larger) stops the run

class Trainer:
    """Trains ``params`` (initialized by the caller) on ``data`` as ``config`` says.

    ``checkpoint(trainer)`` saves ``trainer.state_dict()``. It is called at the end of an
    epoch every ``config.checkpoint_every`` epochs (by default: when
    ``config.checkpoint_seconds`` have passed since the last one), after the last epoch,
    and when ``should_stop()`` returns a signal number (checked after every step).
    """

    def __init__(self, plan: Plan, params: ParamStore, data: Dataset, config: TrainSpec,
                 loss: str, callback: Any = None,
                 checkpoint: Callable[["Trainer"], Any] | None = None,
                 should_stop: Callable[[], int | None] | None = None):
        self.plan, self.params, self.data, self.config = plan, params, data, config
        self.hooks = Hooks(callback)
        self.weights = Weights(params)
        self.checkpoint, self.should_stop = checkpoint, should_stop
        self.batch = max(1, min(config.batch_size, len(data.x_train)))
        seed = config.seed
        self.shuffle_rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(SHUFFLE_STREAM,)))
        noise_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(NOISE_STREAM,)))
        self.executor = Executor(plan, params, self.batch, training=True, rng=noise_rng)
        arena = self.executor.arena
        self.loss = BoundLoss(loss, arena, math.prod(plan.graph.output_shape))
        grads = cast(np.ndarray, self.executor.grad)  # a training executor has them
        self.optimizer = make_optimizer(config, params.data, grads, plan.n_weights, arena)
        self.best = arena.allocate(kept_weights(config, plan.n_params)).get("best")
        every = diagnostics_every(config)
        probe_x, probe_y = (data.x_val, data.y_val) if len(data.x_val) else \
            (data.x_train, data.y_train)
        self.diagnostics = Diagnostics(plan, params, probe_x, probe_y, every) if every else None
        self.measure_every = 0  # during a diagnostic epoch: steps between measured steps
        self.order: np.ndarray | None = None  # the current epoch's shuffled sample order
        self.state = TrainState()
        self.history: list[EpochRecord] = []
        self.clock: float | None = None  # while running: when train_seconds was last updated
        self.last_checkpoint = 0.0
        if config.early_stopping and len(data.x_val) == 0:
            raise DataError("train.early_stopping needs a validation set: set data.val_split "
                            "above 0 (or give x_val/y_val)")

    @property
    def noise_rng(self) -> np.random.Generator:
        return self.executor.rng

    # ------------------------------------------------------------------------ state

    def state_dict(self) -> TrainerState:
        """Everything that changes while training (the arrays are not copied)."""
        arrays = {"params": self.params.data, **self.optimizer.state_dict()}
        if self.best is not None and self.state.best_epoch is not None:
            arrays["best"] = self.best
        if self.order is not None:
            arrays["order"] = self.order
        rng = {"shuffle": self.shuffle_rng.bit_generator.state,
               "noise": self.noise_rng.bit_generator.state}
        counters = dataclasses.replace(self.state)
        if self.diagnostics is not None and self.measure_every:
            counters.measuring = self.diagnostics.state()  # interrupted on a diagnostic epoch
        return TrainerState(arrays, counters, rng, list(self.history))

    def load_state_dict(self, saved: TrainerState) -> None:
        """Continue from ``saved``; StateMismatch if it cannot be this trainer's state."""
        problem = self._mismatch(saved)
        if problem:
            raise StateMismatch(problem)
        arrays = saved.arrays
        self.params.data[...] = arrays["params"]
        self.optimizer.load_state_dict(arrays)
        if self.best is not None and "best" in arrays:
            self.best[...] = arrays["best"]
        self.order = arrays.get("order")
        self.state = dataclasses.replace(saved.counters, measuring=None)
        self.history = list(saved.history)
        if self.diagnostics is not None and saved.counters.measuring is not None:
            self.diagnostics.load_state(saved.counters.measuring)
        self.shuffle_rng.bit_generator.state = saved.rng["shuffle"]
        self.noise_rng.bit_generator.state = saved.rng["noise"]

    def _mismatch(self, saved: TrainerState) -> str | None:
        """What keeps ``saved`` from fitting this trainer, or None."""
        arrays, state = saved.arrays, saved.counters
        if "params" not in arrays:
            return "the parameters are missing"
        expected = {"params": self.params.data, **self.optimizer.state_dict(), "best": self.best}
        for name, like in expected.items():
            a = arrays.get(name)
            problem = None if a is None or like is None else array_problem(name, a, like)
            if problem:
                return problem
        if self.best is not None and state.best_epoch is not None and "best" not in arrays:
            return f"the best weights (of epoch {state.best_epoch}) are missing"
        if len(saved.history) != state.epoch or any(
                r.epoch != i for i, r in enumerate(saved.history, 1)):
            return f"the history does not hold epochs 1..{state.epoch}"
        if state.best_epoch is not None and state.best_epoch > state.epoch:
            return f"state.best_epoch is {state.best_epoch}, after epoch {state.epoch}"
        n = len(self.data.x_train)
        batches = math.ceil(n / self.batch)
        if state.batch >= batches:
            return f"state.batch is {state.batch}, but an epoch has {batches} batches"
        order = arrays.get("order")
        if order is None and state.batch:
            return f"the sample order of the interrupted epoch (at batch {state.batch}) is missing"
        if order is not None and not (order.dtype.kind in "iu" and order.shape == (n,)
                                      and np.array_equal(np.sort(order), np.arange(n))):
            return (f"order must be a permutation of the {n} training samples (found "
                    f"{order.dtype} {list(order.shape)})")
        for name, rng in (("shuffle", self.shuffle_rng), ("noise", self.noise_rng)):
            probe = type(rng.bit_generator)()
            try:
                probe.state = saved.rng[name]
            except (TypeError, ValueError, KeyError, OverflowError) as e:
                return f"rng.{name} is not a {type(probe).__name__} state ({str(e)[:80]})"
        return None

    def tick(self) -> None:
        """While running, add the time since the last tick to ``state.train_seconds``."""
        if self.clock is not None:
            now = time.perf_counter()
            self.state.train_seconds += now - self.clock
            self.clock = now

    # ----------------------------------------------------------------------- epochs

    def run(self) -> TrainResult:
        """Train until the configured epochs are done (or early stopping), then evaluate."""
        started = self.clock = self.last_checkpoint = time.perf_counter()
        epochs = self.config.epochs
        if self.diagnostics is not None and self.state.initial is None and not self.history:
            self.state.initial = self.observe_initial()
        try:
            # overflow is reported as divergence, by the checks of each step, not as warnings
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.state.epoch < epochs and not self.state.stopped_early:
                    self.run_epoch()
            self.tick()
        finally:
            self.clock = None
        state = self.state
        if self.best is not None and state.best_epoch is not None:
            self.params.data[...] = self.best
        return self.result(time.perf_counter() - started)

    def run_epoch(self) -> EpochRecord:
        state, config, data = self.state, self.config, self.data
        lr = lr_at(config.optimizer.lr, config.lr_schedule, state.epoch, config.epochs)
        n = len(data.x_train)
        if self.order is None:  # a fresh epoch (a resumed one brings its order along)
            self.order = self.new_order(n)
        batches = math.ceil(n / self.batch)
        on_batch = self.hooks.on_batch
        diagnostics = self.diagnostics
        self.measure_every = diagnostics.sample_every(batches) if diagnostics is not None \
            and diagnostics.due(state.epoch + 1, config.epochs) else 0
        started = time.perf_counter()
        while state.batch < batches:
            start = state.batch * self.batch
            rows: np.ndarray | slice
            if config.shuffle:
                rows = self.order[start:start + self.batch]
                count = len(rows)
            else:  # in order: views, no copy
                stop = min(start + self.batch, n)
                rows, count = slice(start, stop), stop - start
            measure = self.measure_every and state.batch % self.measure_every == 0
            loss, right = self.step(rows, lr, bool(measure))
            state.loss_sum += loss * count
            state.correct += right
            state.batch += 1
            if on_batch is not None:
                on_batch(state.epoch + 1, state.batch, batches)
            if self.should_stop is not None:
                signal = self.should_stop()
                if signal is not None and state.batch < batches:
                    state.epoch_seconds += time.perf_counter() - started
                    self.interrupt(signal)
        state.epoch_seconds += time.perf_counter() - started
        record = self.finish_epoch(lr)
        signal = self.should_stop() if self.should_stop else None
        if self.checkpoint and (signal is not None or self.checkpoint_due()):
            self.tick()  # the time so far goes into the checkpoint
            self.checkpoint(self)
            self.last_checkpoint = time.perf_counter()
        if signal is not None and state.epoch < config.epochs and not state.stopped_early:
            raise Interrupted(signal, f"at the end of epoch {state.epoch}")
        return record

    def new_order(self, n: int) -> np.ndarray:
        """The sample order of a new epoch: a random permutation, each minibatch's indices
        then sorted (the same batches; ascending rows gather faster from memory); or the
        data's order without shuffling."""
        if not self.config.shuffle:
            return np.arange(n)
        order = self.shuffle_rng.permutation(n)
        full = n - n % self.batch
        order[:full].reshape(-1, self.batch).sort(axis=1)
        order[full:].sort()
        return order

    def checkpoint_due(self) -> bool:
        """Whether the epoch just finished ends with a checkpoint."""
        config, state = self.config, self.state
        if state.epoch == config.epochs or state.stopped_early:
            return config.checkpoint_every != 0  # the last epoch: resumable with more epochs
        every = config.checkpoint_every
        if every is None:
            return time.perf_counter() - self.last_checkpoint >= config.checkpoint_seconds
        return every > 0 and state.epoch % every == 0

    def finish_epoch(self, lr: float) -> EpochRecord:
        state, n = self.state, len(cast(np.ndarray, self.order))  # this epoch's
        val_loss, val_acc = self.evaluate(self.data.x_val, self.data.y_val)
        if val_loss is not None and not math.isfinite(val_loss):
            self.diverged(f"the validation loss is {val_loss}",
                          where=f"after epoch {state.epoch + 1}, on the validation set")
        record = EpochRecord(state.epoch + 1, lr, state.loss_sum / n + self.optimizer.l2_penalty(),
                             state.correct / n if self.loss.classification else None,
                             val_loss, val_acc, state.epoch_seconds)
        state.samples_seen += n
        state.epoch += 1
        state.batch, state.loss_sum, state.correct, state.epoch_seconds = 0, 0.0, 0, 0.0
        self.order = None
        self.track_best(record)
        last = state.epoch == self.config.epochs or state.stopped_early
        if self.diagnostics is not None and (self.measure_every or last):
            record.diagnostics = self.diagnostics.observe(
                last or self.diagnostics.histogram_due(state.epoch, self.config.epochs))
        self.measure_every = 0
        self.history.append(record)
        self.tick()
        self.hooks.on_epoch(record, self.weights)
        return record

    def observe_initial(self) -> dict[str, Any]:
        """The diagnostics at initialization, with the loss on the probe samples."""
        diagnostics = cast(Diagnostics, self.diagnostics)
        measured = diagnostics.observe()
        with np.errstate(all="ignore"):
            loss, _ = self.evaluate(diagnostics.probe, diagnostics.probe_y)
        measured["loss"] = loss if loss is not None and math.isfinite(loss) else None
        return measured

    def step(self, rows: np.ndarray | slice, lr: float, measure: bool = False
             ) -> tuple[float, int]:
        """One SGD step on the samples ``rows`` (indices, gathered into the batch buffers,
        or a slice, read in place): (mean data loss, correctly classified). With
        ``measure``, the diagnostics measure the gradient and the update."""
        if isinstance(rows, slice):
            x, y = self.data.x_train[rows], self.data.y_train[rows]
            n = len(x)
        else:
            n = len(rows)
            x = np.take(self.data.x_train, rows, axis=0, out=self.executor.x[:n], mode="clip")
            y = np.take(self.data.y_train, rows, axis=0, out=self.loss.labels[:n], mode="clip")
        scores = self.executor.forward(x, train=True)
        loss = self.loss(scores, y)
        if not math.isfinite(loss):
            self.diverged(f"the loss is {loss}")
        first = self.state.first_loss
        if first is None:
            self.state.first_loss = loss
        elif loss > BLOW_UP * max(first, 1.0):
            self.diverged(f"the loss blew up to {loss:.3g}, more than {BLOW_UP:g} times its "
                          f"first value ({first:.3g})")
        right = self.loss.correct(scores, y) if self.loss.classification else 0
        grads = self.executor.backward(self.loss.dscores[:n])
        if measure:
            cast(Diagnostics, self.diagnostics).gradients(grads)
        # the optimizer sums the squares of the updated parameters as it goes; an overflow
        # of the sum (weights of 1e19) is confirmed parameter by parameter
        if not math.isfinite(self.optimizer.step(lr)) and first_non_finite(self.params):
            self.diverged("a parameter became non-finite")
        if measure:  # the gradient buffer now holds the update the optimizer applied
            cast(Diagnostics, self.diagnostics).updates(grads)
        return loss, right

    def interrupt(self, signal: int) -> None:
        """Checkpoint in the middle of the epoch, then stop."""
        if self.checkpoint:
            self.tick()
            self.checkpoint(self)
        state = self.state
        raise Interrupted(signal, f"at epoch {state.epoch + 1}, step {state.batch}")

    # ------------------------------------------------------------------- evaluation

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
        """Mean data loss and accuracy (None for regression) in inference mode."""
        if len(x) == 0:
            return None, None
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), self.batch):
            xb, yb = x[start:start + self.batch], y[start:start + self.batch]
            scores = self.executor.forward(xb, train=False)
            loss_sum += self.loss(scores, yb) * len(xb)
            if self.loss.classification:
                correct += self.loss.correct(scores, yb)
        accuracy = correct / len(x) if self.loss.classification else None
        return loss_sum / len(x), accuracy

    def track_best(self, record: EpochRecord) -> None:
        stopping, state = self.config.early_stopping, self.state
        if stopping is None:
            return
        # early stopping has validation data (see __init__), and val_accuracy a
        # classification loss (the spec's validator)
        if stopping.metric == "val_loss":
            value = cast(float, record.val_loss)
        else:
            value = -cast(float, record.val_accuracy)
        if state.best_metric is None or value < state.best_metric - stopping.min_delta:
            state.best_metric, state.best_epoch, state.bad_epochs = value, record.epoch, 0
            np.copyto(cast(np.ndarray, self.best), self.params.data)  # kept for early stopping
        else:
            state.bad_epochs += 1
            state.stopped_early = state.bad_epochs >= stopping.patience

    def result(self, seconds: float) -> TrainResult:
        state, data = self.state, self.data
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            train_loss, train_acc = self.evaluate(data.x_train, data.y_train)
            val_loss, val_acc = self.evaluate(data.x_val, data.y_val)
        speed = state.samples_seen / state.train_seconds if state.train_seconds else 0.0
        return TrainResult(self.history, state.epoch, state.best_epoch, state.stopped_early,
                           seconds, speed, train_loss, train_acc, val_loss, val_acc)

    # --------------------------------------------------------------------- failures

    def diverged(self, what: str, where: str | None = None) -> None:
        state = self.state
        bad = first_non_finite(self.params)
        lr, field = self.config.optimizer.lr, self.config.optimizer.lr_field
        where = where or f"at epoch {state.epoch + 1}, step {state.batch + 1}"
        raise TrainingError(
            f"training diverged {where}: {what}"
            + (f" (first non-finite parameter: {bad})" if bad else "")
            + f"; try a smaller learning rate ({field} is {lr:g}, e.g. "
              f"--set {field}={lr / 10:g})")


def array_problem(name: str, a: np.ndarray, like: np.ndarray) -> str | None:
    """Why a saved array cannot stand for ``like`` (its kind and shape; floats finite,
    counts at least 0), or None."""
    floats = like.dtype.kind == "f"
    if a.dtype.kind == like.dtype.kind and a.shape == like.shape and (
            np.isfinite(a).all() if floats else (a >= 0).all()):
        return None
    what = "finite floats" if floats else f"{like.dtype} values at least 0"
    return f"{name} must be {like.size} {what} (found {a.dtype} {list(a.shape)})"


def first_non_finite(params: ParamStore) -> str | None:
    """The name of the first parameter holding a NaN or an infinity."""
    for name, view in params.views.items():
        if not np.isfinite(view).all():
            return name
    return None
