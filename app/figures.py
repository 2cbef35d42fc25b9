"""The figures of a run's report that its saved figures hold: the network, learning
curves, activation health, histograms, gradients and updates, and the metrics.

Each function takes what report.json holds and returns a :class:`Figure` (a PNG and its
caption), or None when the run has nothing to draw. matplotlib (Agg) is imported here,
and this module only when a report is drawn.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from nnc.runtime import health

__all__ = ["Figure", "log_y", "plt", "render", "spaced"]

DPI = 72
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"


@dataclass(frozen=True)
class Figure:
    """A drawn figure: ``slug`` names its PNG file (figures/<slug>.png)."""

    slug: str
    title: str
    caption: str
    png: bytes


def render(fig: MplFigure, slug: str, title: str, caption: str) -> Figure:
    """The PNG of ``fig`` (laid out by hand: matplotlib's automatic layouts draw the figure
    twice, the larger part of a report's time)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return Figure(slug, title, caption, buffer.getvalue())


def log_y(ax: Any) -> None:
    """A logarithmic y axis with plain tick labels (matplotlib's default typesets each with
    its math parser, most of a figure's time)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


def spaced(fig: MplFigure, *, bottom: float = 0.16, top: float = 0.88, left: float = 0.07,
           right: float = 0.98, wspace: float = 0.3, hspace: float = 0.45) -> None:
    """Margins that leave room for titles, labels and ticks."""
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, wspace=wspace,
                        hspace=hspace)


# ------------------------------------------------------------------------- network

def network(graph: dict[str, Any]) -> Figure:
    """The network as a graph of its nodes, left to right in data-flow order."""
    nodes = graph["nodes"]
    depth = {graph["input"]: 0}
    for node in nodes:
        depth[node["name"]] = 1 + max(depth[i] for i in node["inputs"])
    columns: dict[int, list[str]] = {}
    for name, d in depth.items():
        columns.setdefault(d, []).append(name)
    where = {name: (d, i - (len(names) - 1) / 2)
             for d, names in columns.items() for i, name in enumerate(names)}
    labels = {graph["input"]: f"{graph['input']}\n{graph['input_shape']}"}
    for node in nodes:
        op = node["op"] + (f" + {node['activation']}" if node.get("activation") else "")
        labels[node["name"]] = f"{node['name']}\n{op} {node['shape']}"
    width = max(3.0, 1.55 * len(columns))
    height = max(1.1, 0.9 * max(len(n) for n in columns.values()))
    fig, ax = plt.subplots(figsize=(width, height))
    for node in nodes:
        for source in node["inputs"]:
            (x0, y0), (x1, y1) = where[source], where[node["name"]]
            ax.annotate("", xy=(x1 - 0.3, y1), xytext=(x0 + 0.3, y0),
                        arrowprops={"arrowstyle": "->", "color": "#555"})
    for name, (x, y) in where.items():
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": "#eef3fb" if name != graph["input"]
                      else "#f4f4f4", "ec": "#7a96c2"})
    ax.set_xlim(-0.5, len(columns) - 0.5)
    half = max(len(n) for n in columns.values()) / 2
    ax.set_ylim(-half, half)
    ax.axis("off")
    spaced(fig, left=0.0, right=1.0, bottom=0.0, top=1.0)
    return render(fig, "network", "The network",
                  "Nodes in data-flow order, with their op and output shape per sample "
                  "(an activation a dense layer computes itself is shown with it).")


# -------------------------------------------------------------------------- curves

def curves(history: list[dict[str, Any]]) -> Figure | None:
    """Loss (log scale), accuracy and, when it changes, the learning rate over the epochs."""
    if not history:
        return None
    epochs = [r["epoch"] for r in history]
    lrs = [r["lr"] for r in history]
    has_accuracy = history[0].get("train_accuracy") is not None
    panels = 1 + has_accuracy + (min(lrs) != max(lrs))
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels + 0.6, 3.2), squeeze=False)
    ax = axes[0][0]
    ax.plot(epochs, [r["train_loss"] for r in history], color=TRAIN_COLOR, label="training")
    if history[0].get("val_loss") is not None:
        ax.plot(epochs, [r["val_loss"] for r in history], color=VAL_COLOR, label="validation")
    log_y(ax)
    ax.set(xlabel="epoch", title="loss")
    ax.legend(loc="upper right", fontsize=8)
    if has_accuracy:
        ax = axes[0][1]
        ax.plot(epochs, [r["train_accuracy"] for r in history], color=TRAIN_COLOR,
                label="training")
        if history[0].get("val_accuracy") is not None:
            val = [r["val_accuracy"] for r in history]
            ax.plot(epochs, val, color=VAL_COLOR, label="validation")
            ax.fill_between(epochs, val, [r["train_accuracy"] for r in history],
                            color="#f2b8b8", alpha=0.5, label="gap")
        ax.set(xlabel="epoch", title="accuracy")
        ax.legend(loc="lower right", fontsize=8)
    if min(lrs) != max(lrs):
        ax = axes[0][-1]
        ax.plot(epochs, lrs, color="#555")
        ax.set(xlabel="epoch", title="learning rate")
    spaced(fig)
    rate = f" The learning rate stayed {lrs[0]:g}." if min(lrs) == max(lrs) else ""
    return render(fig, "curves", "Learning curves",
                  "Training loss is the running mean over each epoch's batches (dropout and "
                  "noise on, L2 included); validation figures are computed in inference mode. "
                  "A validation curve that turns up while training falls is overfitting."
                  + rate)


# --------------------------------------------------------------------- diagnostics

def activation_health(diagnostics: dict[str, Any] | None) -> Figure | None:
    """Dead and saturated shares of each activation over the epochs."""
    nodes = (diagnostics or {}).get("nodes") or {}
    lines = [(name, key, values) for name, node in nodes.items()
             for key, values in node.items()
             if key in ("dead_fraction", "saturated_fraction") and isinstance(values, list)]
    if not lines:
        return None
    epochs = diagnostics["epochs"]  # type: ignore[index]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, key, values in lines:
        ax.plot(epochs, [100 * v if v is not None else math.nan for v in values], marker="o",
                ms=3, ls="-" if key == "dead_fraction" else "--",
                label=f"{name}: {'dead units' if key == 'dead_fraction' else 'saturated'}")
    ax.axhline(100 * health.DEAD, color="#c00", lw=0.8, ls=":")
    ax.set(xlabel="epoch (0: initialization)", ylabel="%", ylim=(-3, 103),
           title="activation health on the probe samples")
    ax.legend(fontsize=7, loc="upper left")
    spaced(fig, left=0.1)
    return render(fig, "activation-health", "Activation health",
                  "Dead units are inactive on every probe sample (solid lines); saturated "
                  "outputs lie in a sigmoid's or tanh's flat tails (dashed). Above the dotted "
                  f"line ({health.DEAD:.0%}) nnc warns: dead ReLUs pass no gradient and do not "
                  "recover; "
                  "saturated units pass almost none.")


def histograms(diagnostics: dict[str, Any] | None) -> Figure | None:
    """Each activation's outputs at initialization, in the middle and at the end."""
    nodes = {n: v for n, v in ((diagnostics or {}).get("nodes") or {}).items()
             if isinstance(v.get("histogram"), list)}
    if not nodes:
        return None
    epochs = diagnostics["epochs"]  # type: ignore[index]
    drawn = [i for i, h in enumerate(next(iter(nodes.values()))["histogram"]) if h is not None]
    picks = sorted({drawn[0], drawn[len(drawn) // 2], drawn[-1]})
    cols = min(3, len(nodes))
    rows = math.ceil(len(nodes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols + 0.5, 2.6 * rows + 0.3),
                             squeeze=False)
    for ax, (name, node) in zip(axes.ravel(), nodes.items()):
        for i, color in zip(picks, ("#999", "#7a96c2", "#1f3f7a")):
            h = node["histogram"][i]
            ax.stairs(h["counts"], h["edges"], color=color, lw=1.4, label=f"epoch {epochs[i]}")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes.ravel()[len(nodes):]:
        ax.axis("off")
    spaced(fig, left=0.12 / cols + 0.02)
    return render(fig, "histograms", "Activation histograms",
                  "Outputs of each activation on the probe samples. Mass piled at 0 (ReLU) or "
                  "at the ends (sigmoid 0 and 1, tanh ±1) is where gradients vanish.")


def gradients(diagnostics: dict[str, Any] | None) -> Figure | None:
    """Gradient norms and update/weight ratios of each parameter tensor."""
    params = (diagnostics or {}).get("params") or {}
    epochs = (diagnostics or {}).get("epochs") or []
    measured = {n: p for n, p in params.items()
                if any(v is not None for v in p.get("grad_norm") or [])}
    if not measured:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for name, p in measured.items():
        axes[0].plot(epochs, [v if v is not None else math.nan for v in p["grad_norm"]],
                     marker="o", ms=3, label=name)
        axes[1].plot(epochs, [v if v is not None else math.nan for v in p["update_ratio"]],
                     marker="o", ms=3, label=name)
    log_y(axes[0])
    axes[0].set(xlabel="epoch", title="gradient norm (mean over sampled steps)")
    axes[1].axhspan(health.UPDATE_LOW, health.UPDATE_HIGH, color="#cdeccd", alpha=0.6,
                    label="no warning")
    axes[1].axhline(health.HEALTHY_UPDATE, color="#393", lw=0.8, label="healthy")
    log_y(axes[1])
    axes[1].set(xlabel="epoch", title="||lr · update|| / ||w||")
    for ax in axes:
        ax.legend(fontsize=7, loc="lower left")
    spaced(fig)
    return render(fig, "gradients", "Gradients and updates",
                  "Per parameter tensor. An update ratio near "
                  f"{health.HEALTHY_UPDATE:g} is healthy (CS231n's notes); far above, the "
                  "learning rate is too high; far below, too low: outside the shaded band "
                  f"({health.UPDATE_LOW:g} to {health.UPDATE_HIGH:g}) nnc warns. A layer's "
                  f"gradient {health.VANISHING:g} times below the output layer's is a "
                  "vanishing gradient.")


# ------------------------------------------------------------------------- metrics

def confusion(metrics: dict[str, Any] | None, class_names: list[str]) -> Figure | None:
    """The confusion matrix (its counts are in the page's table) and each class's
    precision and recall."""
    if not metrics or "confusion_matrix" not in metrics:
        return None
    matrix = metrics["confusion_matrix"]
    n = len(matrix)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.4]})
    ax = axes[0]
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted", ylabel="true", title="confusion matrix")
    per = metrics["per_class"]
    x = range(n)
    axes[1].bar([i - 0.2 for i in x], per["precision"], width=0.4, label="precision")
    axes[1].bar([i + 0.2 for i in x], per["recall"], width=0.4, label="recall")
    axes[1].set(xticks=list(x), xticklabels=class_names, ylim=(0, 1.05),
                title=f"per class (accuracy {metrics['accuracy']:.3f})")
    axes[1].legend(fontsize=7, loc="lower right")
    spaced(fig)
    return render(fig, "confusion", "Confusion matrix",
                  f"On the {metrics['samples']} validation samples (training samples when "
                  "there is no validation split); the counts are in the table below.")


def binary_curves(metrics: dict[str, Any] | None) -> Figure | None:
    """ROC and precision-recall curves of a two-class model."""
    if not metrics or "roc_curve" not in metrics:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    roc, pr = metrics["roc_curve"], metrics["pr_curve"]
    axes[0].plot(roc["fpr"], roc["tpr"], color=TRAIN_COLOR)
    axes[0].plot([0, 1], [0, 1], color="#999", ls="--")
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate",
                title=f"ROC (area {metrics['roc_auc']:.3f})")
    axes[1].plot(pr["recall"], pr["precision"], color=VAL_COLOR)
    axes[1].set(xlabel="recall", ylabel="precision", ylim=(0, 1.05),
                title=f"precision-recall (average precision {metrics['average_precision']:.3f})")
    spaced(fig)
    return render(fig, "binary", "ROC and precision-recall",
                  "Class 1 against class 0, over every threshold of the model's score.")
