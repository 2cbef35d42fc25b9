"""Parameters in one flat buffer (and gradients in another), with named views."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from nnc.compiler.plan import Plan

INIT_STREAM = 10  # SeedSequence spawn key of the initial weights (data uses 1 and 2)
DRAW_CHUNK = 1 << 16  # normals drawn at a time (float64): no temporary the size of a layer


class ParamStore:
    """All parameters of a plan: ``data`` flat, weights first; ``views[name]`` shaped."""

    def __init__(self, plan: Plan, dtype: DTypeLike = np.float32):
        self.plan = plan
        self.data = np.zeros(plan.n_params, dtype=dtype)
        self.views = self._views(self.data)

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {s.param.name: flat[s.offset:s.stop].reshape(s.param.shape)
                for s in self.plan.spans}

    def gradient_views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Views of a flat gradient buffer laid out like ``data``."""
        return self._views(flat)

    @property
    def weights(self) -> np.ndarray:
        """The weights (not biases or slopes): the part L2 acts on."""
        return self.data[:self.plan.n_weights]

    def initialize(self, seed: int) -> "ParamStore":
        """Draw every parameter from its init rule; depends only on the plan and ``seed``."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(INIT_STREAM,)))
        for param in self.plan.graph.params:  # graph order: stable under layout changes
            flat, init = self.views[param.name].reshape(-1), param.init
            if init.kind != "normal":
                flat[...] = init.scale
                continue
            for start in range(0, len(flat), DRAW_CHUNK):  # the same stream as one draw
                part = flat[start:start + DRAW_CHUNK]
                part[...] = rng.standard_normal(len(part)) * init.scale
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter by name, in graph order."""
        return {p.name: self.views[p.name].copy() for p in self.plan.graph.params}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy named arrays in; the caller has checked names and shapes."""
        for name, array in arrays.items():
            self.views[name][...] = array
