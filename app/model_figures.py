"""The figures of a run's report that run its model: decision regions and hidden units
over the plane (two-dimensional inputs), the learned function (regression), and the
first layer's weights drawn as images (image inputs)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from nnc.base.errors import DataError
from nnc.figures import Figure, plt, render, spaced  # plt: pyplot on Agg, as figures set it

GRID = 160  # points per side of the plane's grid
MAX_UNITS = 32  # hidden units drawn over the plane
MAX_IMAGES = 64  # first-layer weights drawn as images
MAX_TARGETS = 4  # regression targets drawn predicted against true


@dataclass
class Samples:
    """Raw inputs and labels (or targets) of a split."""

    x: np.ndarray
    y: np.ndarray


Forward = Callable[[np.ndarray], np.ndarray]  # raw inputs [n, d] -> scores [n, k]


def _plane(points: list[np.ndarray]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A grid over the points' extent (with a margin) and that extent."""
    xy = np.concatenate(points)
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = (high - low) * 0.08 + 1e-6
    x0, y0 = low - pad
    x1, y1 = high + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    return np.c_[gx.ravel(), gy.ravel()].astype(np.float32), (x0, x1, y0, y1)


def decision_regions(classify: Forward, classes_count: int, train: Samples,
                     val: Samples | None, name: str) -> Figure:
    """The class the model gives each point of the plane, with the samples on it."""
    grid, extent = _plane([train.x] + ([val.x] if val is not None and len(val.x) else []))
    classes = classify(grid)
    n = max(2, classes_count)
    fig, ax = plt.subplots(figsize=(5, 4.6))
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    ax.imshow(classes.reshape(GRID, GRID), origin="lower", extent=extent, cmap=cmap,
              vmin=0, vmax=cmap.N - 1, alpha=0.35, interpolation="nearest", aspect="auto")
    ax.scatter(train.x[:, 0], train.x[:, 1], c=train.y, cmap=cmap, vmin=0, vmax=cmap.N - 1,
               s=12, edgecolors="k", linewidths=0.3, label="training")
    if val is not None and len(val.x):
        ax.scatter(val.x[:, 0], val.x[:, 1], c=val.y, cmap=cmap, vmin=0, vmax=cmap.N - 1,
                   s=28, marker="X", edgecolors="k", linewidths=0.4, label="validation")
    ax.legend(fontsize=7, loc="upper right")
    ax.set(title=f"decision regions of {name}")
    return render(fig, "regions", "Decision regions",
                  "The class the network gives each point of the plane (as ConvNetJS's demo "
                  "draws them); dots are training samples, crosses validation samples.")


def mosaic(tiles: list[np.ndarray], cols: int, pad: int = 1) -> np.ndarray:
    """Images of one shape ([h, w] or [h, w, 3], each scaled to [0, 1]) tiled into one,
    rows of ``cols``, with a white border: one image draws far faster than many axes."""
    h, w = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, *tiles[0].shape[2:]))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = tile
    return out


def _unit_scaled(a: np.ndarray) -> np.ndarray:
    low, spread = float(a.min()), float(np.ptp(a))
    return (a - low) / (spread or 1.0)


def unit_responses(layer: Forward, train: Samples, name: str) -> Figure | None:
    """Each first-layer hidden unit's output over the plane (up to MAX_UNITS)."""
    grid, _extent = _plane([train.x])
    values = layer(grid)
    units = min(values.shape[1], MAX_UNITS)
    if units == 0:
        return None
    side = 48  # thumbnails of 48 x 48 points of the grid
    step = GRID // side
    tiles = [_unit_scaled(values[:, i].reshape(GRID, GRID)[::-1][::step, ::step])
             for i in range(units)]
    fig, ax = plt.subplots(figsize=(9, 1.3 * math.ceil(units / 8) + 0.5))
    ax.imshow(mosaic(tiles, 8), cmap="viridis", interpolation="nearest")
    ax.axis("off")
    ax.set_title(f"first hidden layer ({name}): each unit's output over the plane", fontsize=9)
    spaced(fig, bottom=0.02, top=0.9, left=0.01, right=0.99)
    return render(fig, "units", "Hidden units over the plane",
                  f"What each of the first {units} units of the first hidden layer computes "
                  "at each point of the plane above (bright: high): the network's output is a "
                  "combination of these pieces.")


def regression_fit(forward: Forward, shown: Samples, train: Samples | None) -> Figure:
    """Predicted against true for up to MAX_TARGETS targets; for one input feature, the
    learned curve over the data."""
    predicted = forward(shown.x)
    targets = min(predicted.shape[1], MAX_TARGETS)
    one_d = train is not None and train.x.shape[1] == 1
    panels = targets + one_d
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels + 0.5, 3.8), squeeze=False)
    y = shown.y.reshape(len(shown.y), -1)
    for t in range(targets):
        ax = axes[0][t]
        ax.scatter(y[:, t], predicted[:, t], s=8, alpha=0.6)
        low, high = float(y[:, t].min()), float(y[:, t].max())
        ax.plot([low, high], [low, high], color="#999", ls="--")
        ax.set(xlabel="true", ylabel="predicted",
               title="predicted against true" + (f" (target {t})" if targets > 1 else ""))
    if one_d and train is not None:
        ax = axes[0][-1]
        xs = np.linspace(float(train.x.min()), float(train.x.max()), 400,
                         dtype=np.float32)[:, None]
        ax.scatter(train.x[:, 0], train.y.reshape(len(train.y), -1)[:, 0], s=6, alpha=0.4,
                   color="#999", label="data")
        ax.plot(xs[:, 0], forward(xs)[:, 0], color="#d62728", label="network")
        ax.set(xlabel="x", ylabel="y", title="the learned function")
        ax.legend(fontsize=7, loc="upper left")
    spaced(fig)
    more = f" (the first {targets} of {predicted.shape[1]} targets)" \
        if predicted.shape[1] > targets else ""
    return render(fig, "regression", "The fit",
                  f"On the {len(shown.x)} validation samples{more}. One hidden layer "
                  "approximates any continuous function on an interval (universal "
                  "approximation).")


def first_layer_images(weight: np.ndarray, image: tuple[int, ...], title: str) -> Figure:
    """The first layer's weight rows drawn as images of the input's shape."""
    units = min(len(weight), MAX_IMAGES)
    cols = min(10 if units <= 10 else 16, units)
    tiles = [_unit_scaled(weight[i].reshape(image)) for i in range(units)]
    fig, ax = plt.subplots(figsize=(0.75 * cols + 0.4, 0.75 * math.ceil(units / cols) + 0.6))
    ax.imshow(mosaic(tiles, cols), cmap=None if len(image) == 3 else "gray",
              interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    spaced(fig, bottom=0.02, top=0.88, left=0.01, right=0.99)
    return render(fig, "weights", "First-layer weights",
                  "Each unit's weights over the input pixels (bright: positive). With a single "
                  "layer these are the linear classifier's class templates.")


def as_image_weights(weight: np.ndarray, image: tuple[int, ...]) -> np.ndarray:
    """A dense weight [units, features] whose features are the pixels of ``image``, with a
    colour image's channels last (CIFAR-10 stores them first)."""
    if len(image) == 3 and image[2] == 3:  # stored as [3, 32, 32] rows, drawn as [32, 32, 3]
        h, w, c = image
        channels_last: np.ndarray = weight.reshape(len(weight), c, h, w).transpose(0, 2, 3, 1)
        return channels_last.reshape(len(weight), -1)
    return weight


def image_shape(data: dict[str, Any] | None) -> tuple[int, ...] | None:
    """The image shape of a run's inputs (report.json's data.image), if they are images."""
    shape = (data or {}).get("image")
    return tuple(shape) if shape else None


# ---------------------------------------------------------------- from an output folder

def of_run(out_dir: Path, report: dict[str, Any]) -> list[Figure | None]:
    """The figures of a run that run its model: from the resolved spec, the weights, and
    the samples report.json lists (files of another run are never read)."""
    files = report.get("files") or {}
    if not (out_dir / "spec.resolved.yaml").is_file() or not (out_dir / "weights.npz").is_file():
        return []
    model = Model.load(out_dir)
    data = report.get("data") or {}
    drawn: list[Figure | None] = []
    image = image_shape(data)
    weight = model.first_weight()
    if image is not None and weight is not None and weight.shape[1] == int(np.prod(image)):
        drawn.append(first_layer_images(as_image_weights(weight, image), image,
                                        f"first-layer weights of {report['name']}"))
    features = int(data.get("features") or 0)
    if data.get("columns"):  # a table's val.npz holds its cells, not the network's features
        return drawn
    val = _samples(out_dir, files.get("val"), features)
    train = _samples(out_dir, files.get("samples"), features)
    if data.get("classes") and train is not None and features == 2:
        drawn.append(decision_regions(model.classes, int(data["classes"]), train, val,
                                      report["name"]))
        if model.hidden is not None:
            drawn.append(unit_responses(model.hidden_outputs, train, model.hidden))
    elif not data.get("classes") and (val or train) is not None:
        drawn.append(regression_fit(model.scores, cast(Samples, val or train), train))
    return drawn


def _samples(out_dir: Path, name: str | None, features: int) -> Samples | None:
    """The samples of a file the report lists, checked to fit the run's inputs."""
    from nnc.base.npz import load_npz

    if not name:
        return None
    path = out_dir / name
    arrays = load_npz(path, f"not a readable {name}", required=("x", "y"))
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or x.shape[1] != features or len(y) != len(x):
        raise DataError(f"holds x {list(x.shape)} and y {list(y.shape)}, but the run had "
                        f"{features} features: not this run's samples", file=str(path))
    return Samples(x, y)


class Model:
    """A trained network of an output folder, run by the NumPy runtime on raw inputs."""

    def __init__(self, prepared: Any, trained: Any):
        from nnc.base.losses import LOSSES
        from nnc.runtime.diagnostics import watched_steps

        self.plan, self.params, self.preprocess = prepared.plan, trained.params, \
            trained.preprocess
        self.coding = trained.coding
        loss = prepared.spec_file.spec.loss
        self.loss = LOSSES[loss] if loss else None
        watched = watched_steps(self.plan)
        self.hidden = watched[0].name if watched else None

    @classmethod
    def load(cls, out_dir: Path) -> "Model":
        from nnc import pipeline

        prepared = pipeline.prepare(out_dir / "spec.resolved.yaml", memory="none")
        return cls(prepared, pipeline.load_trained(prepared, out_dir / "weights.npz"))

    def run(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """The scores (regression targets in their units) and the executor, for raw x."""
        from nnc.runtime.parity import numpy_scores

        with np.errstate(all="ignore"):
            scores, executor = numpy_scores(self.plan, self.params, x, self.preprocess,
                                            self.coding)
        return np.array(scores), executor

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self.run(x)[0]

    def classes(self, x: np.ndarray) -> np.ndarray:
        """The classes the model's loss predicts for raw inputs x."""
        assert self.loss is not None and self.loss.classification
        return self.loss.classify(self.scores(x))

    def hidden_outputs(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.run(x)[1].value(self.hidden))

    def first_weight(self) -> np.ndarray | None:
        """The weight [units, features] of the first dense layer reading the input."""
        for step in self.plan.steps:
            if step.node.op == "dense" and step.inputs == (self.plan.graph.input_name,):
                return np.asarray(self.params.views[f"{step.node.name}.weight"])
        return None
