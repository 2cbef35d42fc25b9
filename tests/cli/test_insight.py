"""Seeing inside a run through the CLI: every example's report.json holds diagnostics and
warnings, the lecture's lessons raise theirs, a blow-up fails the run, `nnc report`
redraws the page from the outputs alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import MODELS

LESSONS = {"dying-relu": {"dead_units", "no_learning"},
           "sigmoid-saturation": {"saturated", "vanishing_gradients"},
           "overfitting": {"overfitting"},
           "digits": set()}
NEEDS_DOWNLOADS_OR_SIZE = {"cifar10-two-layer", "modern-96m", "sizing-26", "sizing-41"}


def built(cli, tmp_path: Path, model: str, *args: str) -> dict:
    result = cli("build", MODELS / f"{model}.yaml", "-o", tmp_path / model, "-q", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads((tmp_path / model / "report.json").read_text())


@pytest.mark.parametrize("model", sorted(LESSONS))
def test_each_lesson_raises_its_warnings(cli, tmp_path, model: str) -> None:
    report = built(cli, tmp_path, model, "--no-report")
    codes = {w["code"] for w in report["warnings"]}
    assert LESSONS[model] <= codes if LESSONS[model] else codes == set(), report["warnings"]
    for w in report["warnings"]:
        assert set(w) == {"code", "node", "epoch", "value", "message"}
    assert not (tmp_path / model / "report.html").exists()  # --no-report


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in sorted(MODELS.glob("*.yaml"))
                                  if p.stem not in NEEDS_DOWNLOADS_OR_SIZE],
                         ids=lambda p: p.stem)
def test_every_example_reports_diagnostics_and_warnings(cli, tmp_path, path: Path) -> None:
    report = built(cli, tmp_path, path.stem, "--set", "train.epochs=3", "--no-report")
    d = report["diagnostics"]
    assert d["epochs"][0] == 0 and d["epochs"][-1] == 3 and d["probe_samples"] > 0
    for node in d["nodes"].values():
        for key in ("dead_fraction", "saturated_fraction", "mean", "std"):
            assert node[key] is None or len(node[key]) == len(d["epochs"]), key
    assert set(d["params"]) == {f"{n['name']}.{role}" for n in report["sizing"]["nodes"]
                                for role, key in (("weight", "weights"), ("bias", "biases"),
                                                  ("slope", "other")) if n[key]}
    assert isinstance(report["warnings"], list)


def test_a_blow_up_fails_the_run_and_writes_no_model(cli, tmp_path) -> None:
    result = cli("build", MODELS / "spiral-two-layer.yaml", "-o", tmp_path, "-q",
                 "--set", "train.optimizer.sgd.lr=1e6")
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "training diverged at epoch" in line and ", step " in line
    assert "smaller learning rate" in line
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "weights.npz").exists()


def test_report_redraws_from_the_outputs(cli, tmp_path) -> None:
    built(cli, tmp_path, "spiral-two-layer")
    out = tmp_path / "spiral-two-layer"
    page = (out / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "id='warnings'" in page and "data:image/png;base64," in page
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"network", "curves", "activation-health", "gradients", "regions",
            "units"} <= figures
    (out / "report.html").unlink()
    result = cli("report", out)
    assert result.exit_code == 0 and (out / "report.html").is_file()


def test_report_of_a_folder_without_a_run_is_one_line(cli, tmp_path) -> None:
    result = cli("report", tmp_path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "report.json" in line and "no such file" in line


def test_images_and_regression_figures(cli, tmp_path) -> None:
    built(cli, tmp_path, "digits", "--set", "train.epochs=2")
    assert (tmp_path / "digits" / "figures" / "weights.png").is_file()
    built(cli, tmp_path, "regression-sin", "--set", "train.epochs=2")
    report = json.loads((tmp_path / "regression-sin" / "report.json").read_text())
    assert {"mae", "rmse", "r2"} <= set(report["metrics"])
    assert (tmp_path / "regression-sin" / "figures" / "regression.png").is_file()


def test_the_resolved_spec_builds_as_it_is(cli, tmp_path) -> None:
    first = built(cli, tmp_path, "spiral-two-layer", "--set", "train.epochs=5",
                  "--set", "layers.0.units=7", "--no-report")
    resolved = tmp_path / "spiral-two-layer" / "spec.resolved.yaml"
    assert first["overrides"] == ["train.epochs=5", "layers.0.units=7"]
    again = cli("build", resolved, "-o", tmp_path / "again", "-q", "--no-report")
    assert again.exit_code == 0, again.stderr
    second = json.loads((tmp_path / "again" / "report.json").read_text())
    assert second["params"] == first["params"]
    assert second["train"]["val_accuracy"] == first["train"]["val_accuracy"]
    assert (tmp_path / "again" / "weights.npz").read_bytes() == \
        (tmp_path / "spiral-two-layer" / "weights.npz").read_bytes()


def test_callbacks_get_the_record_and_read_only_weights() -> None:
    import nnc

    spec = nnc.load(MODELS / "spiral-two-layer.yaml", ["train.epochs=4",
                                                        "train.diagnostics_every=2"])
    seen: list = []
    nnc.train(spec, callback=lambda record: seen.append(record.epoch))
    assert seen == [1, 2, 3, 4]

    class Live:
        def __init__(self) -> None:
            self.diagnosed, self.norms = [], []

        def on_epoch(self, record, weights) -> None:
            self.diagnosed.append(record.diagnostics is not None)
            w = weights["dense_1.weight"]
            self.norms.append(float(np.linalg.norm(w)))
            with pytest.raises(ValueError):
                w[0, 0] = 1.0  # read-only

    live = Live()
    nnc.train(spec, callback=live)
    assert live.diagnosed == [False, True, False, True]
    assert len(set(live.norms)) == 4  # the weights the epochs left

    both: list = []
    nnc.train(spec, callback=lambda record, weights: both.append(sorted(weights)))
    assert both[0] == ["dense_1.bias", "dense_1.weight", "dense_2.bias", "dense_2.weight"]

    class Batches:  # only on_batch: called after every step
        def __init__(self) -> None:
            self.steps: list = []

        def on_batch(self, epoch, batch, batches) -> None:
            self.steps.append((epoch, batch, batches))

    batches = Batches()
    nnc.train(spec, callback=batches)
    per_epoch = batches.steps[0][2]
    assert len(batches.steps) == 4 * per_epoch  # (epoch, batches done, batches per epoch)
    assert batches.steps[0] == (1, 1, per_epoch) and batches.steps[-1] == (4, per_epoch, per_epoch)

    class OneArgument:  # on_epoch(record), like a plain function
        def __init__(self) -> None:
            self.epochs: list = []

        def on_epoch(self, record) -> None:
            self.epochs.append(record.epoch)

    one = OneArgument()
    nnc.train(spec, callback=one)
    assert one.epochs == [1, 2, 3, 4]
    with pytest.raises(TypeError, match="on_epoch, on_batch or on_note"):
        nnc.train(spec, callback=42)
