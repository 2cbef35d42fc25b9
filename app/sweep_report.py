"""sweep.html: one self-contained page about a sweep, drawn from its folder: the trials
ranked by the metric, the metric against each parameter, a heatmap of two-parameter grids
(the metric and the train/validation gap: capacity against regularization), the learning
curves of the best trials, the parameters' importances, and for inputs of two features
each trial's decision regions side by side. Like report.html: no script, nothing fetched.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from nnc import sweep_driver
from nnc.base.files import make_dir, write_atomic
from nnc.figures import Figure, log_y, plt, render, spaced
from nnc.html_report import STYLE, _figure, read_report
from nnc.spec.sweep import Span, SweepSpec

BEST_CURVES = 5  # learning curves drawn: the best trials'
IMPORTANCE_TRIALS = 4  # complete trials before the parameters' importances are estimated
MAX_BINS = 5  # groups a range's values are put in, by rank, for its importance
MAX_THUMBNAILS = 36  # decision regions drawn, the best trials first
THUMB_GRID = 80  # points per side of a thumbnail's plane


def write_report(folder: Path, name: str, sweep: SweepSpec, rows: list[dict[str, Any]],
                 best: dict[str, Any] | None) -> Path:
    """Draw sweep.html (and figures/*.png) in the sweep's ``folder`` from its trials' rows
    (as trials.csv holds them) and their folders; returns the page's path."""
    ranked = sweep_driver.ranked(rows, sweep)
    reports = {r["number"]: _trial_report(folder, r["number"]) for r in ranked
               if r["state"] == "complete"}
    drawn = [metric_against_parameters(ranked, sweep), grid_heatmaps(ranked, sweep, reports),
             best_curves(ranked, sweep, reports),
             importance_bars(importances(ranked, sweep)),
             region_thumbnails(folder, ranked, sweep, reports)]
    figures = [d for d in drawn if d is not None]
    images = make_dir(folder / "figures")
    for figure in figures:
        write_atomic(images / f"{figure.slug}.png", figure.png)
    path = folder / "sweep.html"
    write_atomic(path, _page(name, sweep, ranked, best, figures).encode())
    return path


def _trial_report(folder: Path, number: int) -> dict[str, Any] | None:
    trial = sweep_driver.trial_folder(folder, number)
    return read_report(trial) if (trial / "report.json").is_file() else None


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------------- figures

def metric_against_parameters(ranked: list[dict[str, Any]], sweep: SweepSpec) -> Figure | None:
    complete = [r for r in ranked if r["state"] == "complete"]
    if not complete:
        return None
    names = list(sweep.parameters)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names) + 0.6, 3.2),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        parameter = sweep.parameters[name]
        ys = [r[sweep.metric] for r in complete]
        if isinstance(parameter, Span):
            ax.scatter([r[name] for r in complete], ys, s=18)
            if parameter.log:
                ax.set_xscale("log")
        else:
            labels = [_label(v) for v in parameter.values]
            ax.scatter([labels.index(_label(r[name])) for r in complete], ys, s=18)
            ax.set_xticks(range(len(labels)), labels, fontsize=7,
                          rotation=30 if max(map(len, labels)) > 6 else 0)
        ax.set(xlabel=name, ylabel=sweep.metric)
    spaced(fig, bottom=0.22, wspace=0.35)
    return render(fig, "metric-by-parameter", f"{sweep.metric} against each parameter",
                  f"One dot per complete trial ({len(complete)}).")


def _gap(report: dict[str, Any] | None) -> float | None:
    """Train minus validation accuracy, else validation minus training loss."""
    train = (report or {}).get("train") or {}
    if train.get("train_accuracy") is not None and train.get("val_accuracy") is not None:
        return float(train["train_accuracy"] - train["val_accuracy"])
    if train.get("val_loss") is not None and train.get("train_loss") is not None:
        return float(train["val_loss"] - train["train_loss"])
    return None


def grid_heatmaps(ranked: list[dict[str, Any]], sweep: SweepSpec,
                  reports: dict[int, dict[str, Any] | None]) -> Figure | None:
    """For a grid of two parameters: the metric, and the train/validation gap, per cell."""
    names = list(sweep.parameters)
    if len(names) != 2 or any(isinstance(p, Span) for p in sweep.parameters.values()):
        return None
    rows_of, cols_of = ([_label(v) for v in sweep.parameters[n].values]  # type: ignore[union-attr]
                        for n in names)
    metric, gap = (np.full((len(rows_of), len(cols_of)), np.nan) for _ in range(2))
    for r in ranked:
        if r["state"] != "complete":
            continue
        i, j = rows_of.index(_label(r[names[0]])), cols_of.index(_label(r[names[1]]))
        metric[i, j] = r[sweep.metric]
        g = _gap(reports.get(r["number"]))
        gap[i, j] = g if g is not None else np.nan
    if np.isnan(metric).all():
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 0.45 * len(rows_of) + 2.6))
    for ax, values, title, cmap in ((axes[0], metric, sweep.metric, "viridis"),
                                    (axes[1], gap, "train/validation gap", "magma")):
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="w" if v < np.nanmean(values) else "k")
        ax.set_xticks(range(len(cols_of)), cols_of, fontsize=8)
        ax.set_yticks(range(len(rows_of)), rows_of, fontsize=8)
        ax.set(xlabel=names[1], ylabel=names[0], title=title)
        fig.colorbar(image, ax=ax, shrink=0.8)
    spaced(fig, bottom=0.18, left=0.1, wspace=0.35)
    return render(fig, "grid", "The grid",
                  f"{sweep.metric} of each trial, and how far training outdoes validation "
                  "(accuracy: train minus validation; else validation loss minus training "
                  "loss). Capacity against regularization: small networks underfit whatever "
                  "the regularization; large ones overfit unless regularized.")


def best_curves(ranked: list[dict[str, Any]], sweep: SweepSpec,
                reports: dict[int, dict[str, Any] | None]) -> Figure | None:
    shown = [(r, reports.get(r["number"])) for r in ranked[:BEST_CURVES]
             if r["state"] == "complete"]
    shown = [(r, rep) for r, rep in shown if rep and (rep.get("train") or {}).get("history")]
    if not shown:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for k, (r, rep) in enumerate(shown):
        history = rep["train"]["history"]  # type: ignore[index]
        epochs = [h["epoch"] for h in history]
        color = plt.get_cmap("tab10")(k)
        label = f"trial {r['number']}"
        axes[0].plot(epochs, [h["train_loss"] for h in history], color=color, ls="--", lw=1)
        if history[0].get("val_loss") is not None:
            axes[0].plot(epochs, [h["val_loss"] for h in history], color=color, label=label)
        key = "val_accuracy" if history[0].get("val_accuracy") is not None else "train_loss"
        axes[1].plot(epochs, [h[key] for h in history], color=color, label=label)
        axes[1].set(ylabel=key)
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss (dashed: training)")
    log_y(axes[0])
    axes[1].set(xlabel="epoch", title="validation accuracy" if key == "val_accuracy" else key)
    axes[1].legend(fontsize=7)
    spaced(fig)
    return render(fig, "best-curves", "Learning curves of the best trials",
                  f"The {len(shown)} best trials by {sweep.metric}.")


def importances(rows: list[dict[str, Any]], sweep: SweepSpec) -> dict[str, float] | None:
    """Each parameter's main effect on the metric over the complete trials, as shares
    summing to 1, largest first. An analysis of variance of the metric on every parameter
    at once (their values as groups; numbers of more than MAX_BINS values grouped by rank
    into bins): a parameter's effect is what its groups explain beyond the others (type
    II sums of squares), less what chance gives as many groups (their count - 1 times the
    mean square left unexplained; at least 0, as omega squared is). None with fewer than
    IMPORTANCE_TRIALS trials, one parameter, or no effect.

    Not Optuna's estimators: importing ``optuna.importance`` imports scikit-learn's random
    forests, about 2 s of a short sweep's last step, for these few numbers."""
    complete = [r for r in rows if r["state"] == "complete"]
    if len(complete) < IMPORTANCE_TRIALS or len(sweep.parameters) < 2:
        return None
    y = np.array([r[sweep.metric] for r in complete], dtype=np.float64)
    spread = float(((y - y.mean()) ** 2).sum())
    if not spread > 0:
        return None
    columns = {}  # each parameter's groups as indicator columns, one dropped (the base)
    for path, parameter in sweep.parameters.items():
        groups = _groups([r[path] for r in complete], isinstance(parameter, Span))
        columns[path] = np.stack([np.isin(np.arange(len(y)), g) for g in groups[1:]], axis=1) \
            if len(groups) > 1 else np.zeros((len(y), 0))

    def unexplained(paths: list[str]) -> tuple[float, int]:
        design = np.hstack([np.ones((len(y), 1)), *(columns[p] for p in paths)],
                           dtype=np.float64)
        fit, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
        return float(((y - design @ fit) ** 2).sum()), int(rank)

    left, rank = unexplained(list(columns))
    chance = left / (len(y) - rank) if len(y) > rank else 0.0
    effects = {}
    for path in columns:
        without, _ = unexplained([p for p in columns if p != path])
        effects[path] = max(without - left - columns[path].shape[1] * chance, 0.0)
    explained = sum(effects.values())
    if not explained > 1e-12 * spread:  # nothing but rounding
        return None
    return {p: float(e / explained) for p, e in sorted(effects.items(), key=lambda pe: -pe[1])}


def _groups(values: list[Any], span: bool) -> list[np.ndarray]:
    """The trials' indices grouped by value; numbers (a range's, or listed ones) of more
    than MAX_BINS values by rank into bins."""
    keys = [json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
            for v in values]
    distinct = {k: [i for i, key in enumerate(keys) if key == k] for k in dict.fromkeys(keys)}
    numbers = span or all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in values)
    if not numbers or len(distinct) <= MAX_BINS:
        return [np.array(g) for g in distinct.values()]
    bins = min(MAX_BINS, max(2, round(math.sqrt(len(values)))))
    return list(np.array_split(np.argsort(np.asarray(values, dtype=np.float64),
                                          kind="stable"), bins))


def importance_bars(shares: dict[str, float] | None) -> Figure | None:
    if not shares:
        return None
    names = list(shares)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2))
    ax.barh(names, [shares[n] for n in names], color="#1f77b4")
    ax.set(xlabel="importance (shares summing to 1)")
    spaced(fig, left=0.3, bottom=0.25)
    return render(fig, "importances", "Parameter importances",
                  "How much of the metric's spread over the complete trials each parameter "
                  "explains alone (its main effect, less what chance would give as many "
                  "groups of trials), as shares; with few trials it is rough.")


def region_thumbnails(folder: Path, ranked: list[dict[str, Any]], sweep: SweepSpec,
                      reports: dict[int, dict[str, Any] | None]) -> Figure | None:
    """Each complete trial's decision regions, for classifiers of two input features."""
    from nnc.model_figures import Model, _samples

    shown = []
    for r in ranked[:MAX_THUMBNAILS]:
        report = reports.get(r["number"]) if r["state"] == "complete" else None
        data = (report or {}).get("data") or {}
        if not report or data.get("features") != 2 or not data.get("classes"):
            continue
        trial = sweep_driver.trial_folder(folder, r["number"])
        samples = _samples(trial, (report.get("files") or {}).get("samples"), 2)
        if samples is None:
            continue
        shown.append((r, Model.load(trial), samples, int(data["classes"])))
    if not shown:
        return None
    # the trials of a two-parameter grid in its rows and columns; else best first
    names = list(sweep.parameters)
    cols = math.ceil(math.sqrt(len(shown)))
    if len(names) == 2 and all(not isinstance(p, Span) for p in sweep.parameters.values()):
        cols = len(sweep.parameters[names[1]].values)  # type: ignore[union-attr]
        order = {(_label(a), _label(b)): k for k, (a, b) in enumerate(
            (a, b) for a in sweep.parameters[names[0]].values  # type: ignore[union-attr]
            for b in sweep.parameters[names[1]].values)}  # type: ignore[union-attr]
        shown.sort(key=lambda s: order.get((_label(s[0][names[0]]), _label(s[0][names[1]])), 0))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.4 * rows), squeeze=False)
    every = np.concatenate([s[2].x for s in shown])
    low, high = every.min(axis=0), every.max(axis=0)
    pad = (high - low) * 0.08 + 1e-6
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], THUMB_GRID),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], THUMB_GRID))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    extent = (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (r, model, samples, classes) in zip(axes.ravel(), shown):
        cmap = plt.get_cmap("tab10" if classes <= 10 else "tab20")
        ax.imshow(model.classes(grid).reshape(THUMB_GRID, THUMB_GRID), origin="lower",
                  extent=extent, cmap=cmap, vmin=0, vmax=cmap.N - 1, alpha=0.35,
                  interpolation="nearest", aspect="auto")
        ax.scatter(samples.x[:, 0], samples.x[:, 1], c=samples.y, cmap=cmap, vmin=0,
                   vmax=cmap.N - 1, s=3, linewidths=0)
        values = ", ".join(f"{n.rsplit('.', 1)[-1]} {_label(r[n])}" for n in names)
        ax.set_title(f"{values}\n{sweep.metric} {r[sweep.metric]:.3g}", fontsize=7)
    spaced(fig, bottom=0.02, top=0.9, left=0.01, right=0.99, wspace=0.08, hspace=0.35)
    return render(fig, "regions", "Decision regions of the trials",
                  "Each trial's classes over the plane, with its training samples.")


# ---------------------------------------------------------------------------- page

def _page(name: str, sweep: SweepSpec, ranked: list[dict[str, Any]],
          best: dict[str, Any] | None, figures: list[Figure]) -> str:
    e = html.escape
    counts = {s: sum(r["state"] == s for r in ranked) for s in ("complete", "pruned", "failed")}
    title = f"sweep: {sweep.metric} ({sweep.chosen_goal})"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>nnc "
             f"{e(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Sweep of {e(name)}</h1>",
             f"<p>{len(ranked)} trials: {counts['complete']} complete, {counts['pruned']} "
             f"pruned, {counts['failed']} failed. Sampler {e(sweep.chosen_sampler)}, pruner "
             f"{e(sweep.pruner)}, seed {sweep.seed}; {e(sweep.chosen_goal)} "
             f"<code>{e(sweep.metric)}</code>.</p>"]
    if best is not None:
        values = ", ".join(f"<code>{e(p)}</code> = {e(_label(best[p]))}"
                           for p in sweep.parameters)
        parts.append(f"<p class='ok'>Best: trial {best['number']}, {e(sweep.metric)} "
                     f"{best[sweep.metric]:.5g}, with {values}. Its spec: "
                     "<a href='best.yaml'>best.yaml</a>; its build: "
                     "<a href='best/report.html'>best/report.html</a>.</p>")
    else:
        parts.append("<p class='warn'>No trial completed.</p>")
    parts.append(_table(sweep, ranked))
    parts += [_figure(f) for f in figures]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(sweep: SweepSpec, ranked: list[dict[str, Any]]) -> str:
    e = html.escape
    columns = sweep_driver.table_columns(sweep)
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for r in ranked:
        cells = []
        for c in columns:
            v = r.get(c)
            text = "" if v is None else f"{v:.5g}" if isinstance(v, float) else _label(v)
            cls = " class='l'" if c in ("state", "message") else ""
            cells.append(f"<td{cls}>{e(str(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<h2>Trials</h2><p class='muted'>Best first (<a href='trials.csv'>trials.csv"
            f"</a>)</p><table id='trials'><tr>{head}</tr>{''.join(body)}</table>")
