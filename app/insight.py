"""What a run's report says beyond its figures: the diagnostics as lists over the epochs,
the warnings they earn, and the metrics of the trained network on its validation data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from nnc.base.losses import LOSSES
from nnc.runtime.diagnostics import assemble
from nnc.runtime.health import Run, warnings_of

if TYPE_CHECKING:
    from nnc.pipeline import Prepared, Trained


def analyse(prepared: "Prepared", trained: "Trained", initial: dict[str, Any] | None,
            probe_samples: int) -> dict[str, Any]:
    """report.json's ``diagnostics``, ``warnings`` and ``metrics`` of a trained run."""
    result, dataset = trained.result, trained.dataset
    if result is None or dataset is None:
        return {}
    spec = prepared.spec_file.spec
    loss = cast(str, spec.loss)
    diagnostics = assemble(initial, result.history, probe_samples)
    majority = None
    if dataset.classes:
        counts = np.bincount(dataset.y_train, minlength=dataset.classes)
        majority = float(counts.max() / counts.sum())
    optimizer = spec.train.optimizer
    run = Run([r.to_dict() for r in result.history], diagnostics, loss, result.train_accuracy,
              result.val_accuracy, majority, dataset.classes, optimizer.lr,
              output=prepared.plan.steps[-1].node.name, lr_field=optimizer.lr_field)
    return {"diagnostics": diagnostics, "warnings": [w.to_dict() for w in warnings_of(run)],
            "metrics": metrics_of(prepared, trained)}


def metrics_of(prepared: "Prepared", trained: "Trained") -> dict[str, Any] | None:
    """Metrics of the trained network on the validation split (the training split when
    there is none)."""
    from nnc.runtime import metrics
    from nnc.runtime.executor import Executor

    d, loss = trained.dataset, prepared.spec_file.spec.loss
    if d is None or loss is None:
        return None
    x, y = (d.x_val, d.y_val) if len(d.x_val) else (d.x_train, d.y_train)
    executor = Executor(prepared.plan, trained.params, min(len(x), 4096), training=False)
    with np.errstate(all="ignore"):
        scores = np.concatenate([np.array(executor.forward(x[i:i + 4096]))
                                 for i in range(0, len(x), 4096)])
    if not np.isfinite(scores).all():
        return None
    entry = LOSSES[loss]
    if entry.classification:
        return metrics.classification(y, scores, d.classes or 2, entry.classify(scores))
    coding = d.coding  # the figures in the targets' units, not the standardized ones
    return metrics.regression(coding.targets_in_units(y), coding.targets_in_units(scores))


def warning_lines(report: dict[str, Any]) -> list[str]:
    """The warnings of a report as the CLI prints them, one line each."""
    return [f"warning: {w['code']}" + (f" ({w['node']})" if w.get("node") else "")
            + f": {w['message']}" for w in report.get("warnings") or []]
