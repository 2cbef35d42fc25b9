"""Every optimizer against torch.optim (the oracle) in float64: two full-batch steps on a
random 3-layer net, from the initial weights of an `epochs: 0` run, with the same
hyperparameters; l2 is added to the weights' gradient after clipping, as nnc does.

Skipped, with the reason, where PyTorch is not installed, except in CI (CI=true), where
.ci/run installs it (the `bench` extra)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.trainer import Trainer
from nnc.spec import load_spec_text

from helpers import plan_of

try:
    import torch
except ImportError:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but PyTorch is missing: .ci/run installs the bench "
                           "extra") from None
    pytestmark = pytest.mark.skip(reason="PyTorch is not installed (pip install -e '.[bench]')")

NET = """\
name: three-layers
input: [5]
layers:
  - {op: dense, units: 7}
  - tanh
  - {op: dense, units: 6}
  - relu
  - {op: dense, units: 3}
loss: softmax_cross_entropy
data: {npz: {path: data.npz}, val_split: 0}
"""
SAMPLES = 40

# (nnc's optimizer section, torch's class and arguments, l2, clip_grad_norm)
CASES: dict[str, tuple[dict[str, Any], str, dict[str, Any], float, float | None]] = {
    "adam": ({"adam": {}}, "Adam", {}, 0.0, None),
    "adam-tuned": ({"adam": {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}}, "Adam",
                   {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}, 0.0, None),
    "adam-amsgrad-l2-clip": ({"adam": {"lr": 0.01, "amsgrad": True}}, "Adam",
                             {"lr": 0.01, "amsgrad": True}, 0.1, 0.5),
    "adamw": ({"adamw": {}}, "AdamW", {}, 0.0, None),
    "adamw-decay": ({"adamw": {"lr": 0.05, "weight_decay": 0.3}}, "AdamW",
                    {"lr": 0.05, "weight_decay": 0.3}, 0.0, None),
    "rmsprop": ({"rmsprop": {}}, "RMSprop", {}, 0.0, None),
    "rmsprop-momentum-centered": (
        {"rmsprop": {"lr": 0.005, "alpha": 0.9, "momentum": 0.8, "centered": True}}, "RMSprop",
        {"lr": 0.005, "alpha": 0.9, "momentum": 0.8, "centered": True}, 0.05, None),
    "adagrad": ({"adagrad": {}}, "Adagrad", {}, 0.0, None),
    "adagrad-l2-clip": ({"adagrad": {"lr": 0.1, "eps": 1e-6}}, "Adagrad",
                        {"lr": 0.1, "eps": 1e-6}, 0.2, 0.3),
    "sgd-nesterov": ({"sgd": {"lr": 0.1, "momentum": 0.9, "nesterov": True}}, "SGD",
                     {"lr": 0.1, "momentum": 0.9, "nesterov": True}, 0.1, None),
}


@pytest.fixture(scope="module")
def initial(tmp_path_factory) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The weights of an `epochs: 0` run (nnc train), and its data."""
    from click.testing import CliRunner

    from nnc.cli import main

    folder = tmp_path_factory.mktemp("optim")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((SAMPLES, 5)), rng.integers(0, 3, SAMPLES)
    np.savez(folder / "data.npz", x=x, y=y)
    (folder / "spec.yaml").write_text(NET + "train: {epochs: 0}\n")
    result = CliRunner().invoke(main, ["train", str(folder / "spec.yaml"), "--output",
                                       str(folder / "out"), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with np.load(Path(folder / "out" / "weights.npz")) as f:
        return {k: f[k] for k in f.files}, x, y


def nnc_steps(text: str, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
              ) -> dict[str, np.ndarray]:
    spec = load_spec_text(text).spec
    plan = plan_of(text)
    params = ParamStore(plan, np.float64)
    params.load_state_dict(weights)
    data = Dataset(x, y, x[:0], y[:0], x[:0], None, None, "arrays")
    trainer = Trainer(plan, params, data, spec.train, "softmax_cross_entropy")
    for _ in range(2):
        trainer.step(slice(None), spec.train.optimizer.lr)
    return params.state_dict()


def torch_steps(kind: str, kwargs: dict[str, Any], l2: float, clip: float | None,
                weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                ) -> dict[str, np.ndarray]:
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in weights.items()}
    weight_names = [k for k in p if k.endswith(".weight")]
    groups = [{"params": [p[k] for k in weight_names]},
              {"params": [p[k] for k in p if k not in weight_names]}]
    if kind == "AdamW":  # decoupled decay on the weights only, as nnc's
        groups[1]["weight_decay"] = 0.0
    optimizer = getattr(torch.optim, kind)(groups, **kwargs)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(2):
        optimizer.zero_grad()
        h = torch.tanh(xt @ p["dense_1.weight"].T + p["dense_1.bias"])
        h = torch.relu(h @ p["dense_2.weight"].T + p["dense_2.bias"])
        scores = h @ p["dense_3.weight"].T + p["dense_3.bias"]
        torch.nn.functional.cross_entropy(scores, yt).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(p.values()), clip)
        with torch.no_grad():
            for k in weight_names:  # nnc's l2: coupled, on the weights, after clipping
                p[k].grad += l2 * p[k]
        optimizer.step()
    return {k: v.detach().numpy() for k, v in p.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_full_batch_steps_equal_torch_optim(case: str, initial) -> None:
    section, kind, kwargs, l2, clip = CASES[case]
    weights, x, y = initial
    train = {"epochs": 2, "batch_size": SAMPLES, "optimizer": section, "l2": l2,
             "clip_grad_norm": clip}
    ours = nnc_steps(NET + f"train: {train!r}\n".replace("None", "null"), weights, x, y)
    theirs = torch_steps(kind, kwargs, l2, clip, weights, x, y)
    for name, w in weights.items():
        # the change the two steps made, to 1e-6 relative (and so the parameters)
        np.testing.assert_allclose(ours[name] - w, theirs[name] - w, rtol=1e-6, atol=0,
                                   err_msg=name)
