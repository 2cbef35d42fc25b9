"""The figures of a run's report that run its model: decision regions and hidden units
over the plane (two-dimensional inputs), the learned function (regression), and the
first layer's weights drawn as images (image inputs)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnc.figures import Figure, plt, render, spaced  # plt: pyplot on Agg, as figures set it

GRID = 160  # points per side of the plane's grid
MAX_UNITS = 32  # hidden units drawn over the plane
MAX_IMAGES = 64  # first-layer weights drawn as images


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


def decision_regions(forward: Forward, train: Samples, val: Samples | None,
                     name: str) -> Figure:
    """The class the model gives each point of the plane, with the samples on it."""
    grid, extent = _plane([train.x] + ([val.x] if val is not None and len(val.x) else []))
    scores = forward(grid)
    classes = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(1)
    n = max(2, scores.shape[1], int(train.y.max()) + 1)
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


def regression_fit(forward: Forward, val: Samples, train: Samples) -> Figure:
    """Predicted against true; for one input feature, the learned curve over the data."""
    one_d = train.x.shape[1] == 1
    fig, axes = plt.subplots(1, 2 if one_d else 1, figsize=(10 if one_d else 5, 4),
                             squeeze=False)
    shown = val if len(val.x) else train
    predicted = forward(shown.x)
    ax = axes[0][0]
    ax.scatter(shown.y[:, 0], predicted[:, 0], s=8, alpha=0.6)
    low, high = float(shown.y.min()), float(shown.y.max())
    ax.plot([low, high], [low, high], color="#999", ls="--")
    ax.set(xlabel="true", ylabel="predicted", title="predicted against true")
    if one_d:
        ax = axes[0][1]
        xs = np.linspace(float(train.x.min()), float(train.x.max()), 400,
                         dtype=np.float32)[:, None]
        ax.scatter(train.x[:, 0], train.y[:, 0], s=6, alpha=0.4, color="#999", label="data")
        ax.plot(xs[:, 0], forward(xs)[:, 0], color="#d62728", label="network")
        ax.set(xlabel="x", ylabel="y", title="the learned function")
        ax.legend(fontsize=7, loc="upper left")
    spaced(fig)
    return render(fig, "regression", "The fit",
                  "One hidden layer approximates any continuous function on an interval "
                  "(universal approximation).")


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
