"""A hand-tuned NumPy training loop for dense ReLU nets with softmax cross-entropy: the
reference nnc's runtime is measured against (not part of nnc).

Parameters, gradients and momentum each live in one flat float32 buffer (layers are
views); every activation and delta is preallocated for the batch size; every matmul
writes with ``out=``; the softmax-cross-entropy gradient is fused in place; bias
gradients are GEMVs.
"""

from __future__ import annotations

import itertools

import numpy as np


class HandLoop:
    def __init__(self, sizes: list[int], batch: int, lr: float = 0.01, momentum: float = 0.9,
                 l2: float = 1e-4, seed: int = 0):
        rng = np.random.default_rng(seed)
        shapes = [(o, i) for i, o in itertools.pairwise(sizes)]
        n_w = sum(o * i for o, i in shapes)
        n = n_w + sum(o for o, _ in shapes)
        self.p, self.g, self.v = (np.zeros(n, np.float32) for _ in range(3))
        self.n_w, self.lr, self.mu, self.l2 = n_w, lr, momentum, l2
        self.W, self.b, self.dW, self.db = [], [], [], []
        w_off, b_off = 0, n_w
        for o, i in shapes:
            self.W.append(self.p[w_off:w_off + o * i].reshape(o, i))
            self.dW.append(self.g[w_off:w_off + o * i].reshape(o, i))
            self.b.append(self.p[b_off:b_off + o])
            self.db.append(self.g[b_off:b_off + o])
            self.W[-1][...] = rng.standard_normal((o, i)) * np.sqrt(2 / i)
            w_off, b_off = w_off + o * i, b_off + o
        self.h = [np.empty((batch, o), np.float32) for o, _ in shapes]
        self.d = [np.empty((batch, o), np.float32) for o, _ in shapes]
        self.ones = np.ones(batch, np.float32)
        self.row = np.empty((batch, 1), np.float32)
        self.rows = np.arange(batch)
        self.tmp = np.empty(n_w, np.float32)

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        n, last = len(x), len(self.W) - 1
        a = x
        for k, (W, b) in enumerate(zip(self.W, self.b)):
            h = self.h[k][:n]
            np.matmul(a, W.T, out=h)
            h += b
            if k < last:
                np.maximum(h, 0, out=h)
            a = h
        d = self.d[last][:n]  # softmax - onehot, in place
        row = self.row[:n]
        np.max(a, axis=1, keepdims=True, out=row)
        np.subtract(a, row, out=d)
        np.exp(d, out=d)
        np.sum(d, axis=1, keepdims=True, out=row)
        d /= row
        d[self.rows[:n], y] -= 1
        d *= 1.0 / n
        for k in range(last, -1, -1):
            inp = x if k == 0 else self.h[k - 1][:n]
            np.matmul(d.T, inp, out=self.dW[k])
            np.matmul(self.ones[:n], d, out=self.db[k])
            if k:
                dp = self.d[k - 1][:n]
                np.matmul(d, self.W[k], out=dp)
                dp *= inp > 0
                d = dp
        np.multiply(self.p[:self.n_w], self.l2, out=self.tmp)
        self.g[:self.n_w] += self.tmp
        self.v *= self.mu
        self.v += self.g
        np.multiply(self.v, self.lr, out=self.g)
        self.p -= self.g
