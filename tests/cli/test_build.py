"""The main job and the verbs around it, end to end through the CLI."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from nnc import pipeline
from nnc.base.activations import ACTIVATIONS
from nnc.runtime.params import ParamStore

from cifar_fixture import write_fake_cifar10
from helpers import MODELS


@pytest.fixture(scope="module")
def digits_build(tmp_path_factory):
    """`nnc build models/digits.yaml` once for the module: (folder, result)."""
    from click.testing import CliRunner

    from nnc.cli import main

    out = tmp_path_factory.mktemp("digits")
    result = CliRunner().invoke(main, ["build", str(MODELS / "digits.yaml"), "-o", str(out)],
                                catch_exceptions=False)
    return out, result


def test_build_writes_everything_and_summarizes(digits_build) -> None:
    out, result = digits_build
    assert result.exit_code == 0, result.stderr
    for name in ("model.onnx", "weights.npz", "report.json", "summary.txt", "history.csv",
                 "val.npz"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    train = report["train"]
    assert train["val_accuracy"] >= 0.97
    assert {"epochs_run", "final_loss", "train_accuracy", "val_accuracy", "seconds",
            "samples_per_second", "history"} <= set(train)
    assert report["params"]["params"] == 9610
    assert report["onnx"]["ok"] and report["onnx"]["max_abs_diff"] <= 1e-4
    assert f"val accuracy {train['val_accuracy']:.4f}" in result.output
    assert "params: 9,610" in result.output and "model.onnx" in result.output
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == train["epochs_run"] == 30
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    metrics = report["metrics"]  # of the validation split
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["data"]["val_samples"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(train["val_accuracy"])
    assert all(len(metrics["per_class"][k]) == 10 for k in ("precision", "recall", "f1"))
    assert f"validation: macro F1 {metrics['macro_f1']:.4f}" in result.output


def test_predict_reproduces_the_validation_accuracy(cli, digits_build) -> None:
    out, _ = digits_build
    report = json.loads((out / "report.json").read_text())
    result = cli("predict", out / "model.onnx", out / "val.npz", "-o", out / "pred.npy",
                 "--classes")
    assert result.exit_code == 0, result.stderr
    assert f"accuracy: {report['train']['val_accuracy']:.4f}" in result.output
    val = np.load(out / "val.npz")
    assert (np.load(out / "pred.npy") == val["y"]).mean() == report["train"]["val_accuracy"]


def test_predict_probabilities_and_csv(cli, digits_build, tmp_path) -> None:
    out, _ = digits_build
    x = np.load(out / "val.npz")["x"][:5]
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    result = cli("predict", out / "model.onnx", tmp_path / "x.csv", "--probabilities")
    assert result.exit_code == 0, result.stderr
    rows = [list(map(float, line.split(","))) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(abs(sum(r) - 1) < 1e-5 for r in rows)


def test_export_from_weights_matches_the_build(cli, digits_build, tmp_path) -> None:
    out, _ = digits_build
    result = cli("export", MODELS / "digits.yaml", "--weights", out / "weights.npz",
                 "-o", tmp_path / "again.onnx")
    assert result.exit_code == 0, result.stderr
    x = np.load(out / "val.npz")["x"]
    from nnc import predict

    np.testing.assert_allclose(predict(tmp_path / "again.onnx", x),
                               predict(out / "model.onnx", x), rtol=1e-6, atol=1e-6)


def test_train_writes_weights_history_report(cli, tmp_path) -> None:
    result = cli("train", "--no-report", MODELS / "regression-sin.yaml", "-o", tmp_path, "--set",
                 "train.epochs=100")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["train"]["train_accuracy"] is None and report["train"]["val_accuracy"] is None
    assert report["train"]["val_loss"] < 0.01  # one hidden layer fits sin
    assert not (tmp_path / "model.onnx").exists()


def test_weights_are_bit_identical_across_runs(cli, tmp_path) -> None:
    for run in ("a", "b"):
        result = cli("train", "--no-report", MODELS / "maxout.yaml", "-o", tmp_path / run, "--set",
                     "train.epochs=3")
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a/weights.npz").read_bytes() == (tmp_path / "b/weights.npz").read_bytes()


def test_epochs_zero_writes_the_initial_weights(cli, tmp_path) -> None:
    result = cli("train", "--no-report", MODELS / "dag.yaml", "-o", tmp_path, "--set",
                 "train.epochs=0")
    assert result.exit_code == 0, result.stderr
    prepared = pipeline.prepare(MODELS / "dag.yaml")
    initial = ParamStore(prepared.plan).initialize(0).state_dict()
    with np.load(tmp_path / "weights.npz") as saved:
        for name, array in initial.items():
            assert np.array_equal(saved[name], array), name


def test_spiral_needs_a_hidden_layer(cli, tmp_path) -> None:
    accuracy = {}
    for name in ("spiral-two-layer", "spiral-linear"):
        assert cli("train", "--no-report", MODELS / f"{name}.yaml", "-o",
                   tmp_path / name).exit_code == 0
        accuracy[name] = json.loads((tmp_path / name / "report.json").read_text())["train"]
    assert accuracy["spiral-two-layer"]["train_accuracy"] >= 0.95
    assert accuracy["spiral-linear"]["train_accuracy"] < 0.6


def test_a_spec_without_data_exports_its_initial_weights(cli, tmp_path) -> None:
    result = cli("build", "--no-report", MODELS / "sizing-41.yaml", "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["train"] is None and report["params"]["params"] == 41
    assert (tmp_path / "model.onnx").is_file() and not (tmp_path / "val.npz").exists()


def test_cifar10_example_on_a_cifar_folder(cli, tmp_path) -> None:
    folder = write_fake_cifar10(tmp_path / "cifar", n_per_batch=100, batches=2)
    result = cli("build", "--no-report", MODELS / "cifar10-two-layer.yaml", "-o",
                 tmp_path / "out", "--set",
                 f"data.cifar10.path={folder}", "--set", "train.epochs=2",
                 "--set", "data.val_split=0.1")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["data"]["train_samples"] == 180 and report["data"]["preprocess"]
    assert report["onnx"]["ok"]


@pytest.mark.parametrize("path", [p for p in sorted(MODELS.glob("*.yaml"))  # with data
                                  if "\ndata:" in p.read_text() and "cifar10" not in p.name],
                         ids=lambda p: p.stem)
def test_every_example_trains_with_a_falling_loss(cli, tmp_path, path) -> None:
    result = cli("train", "--no-report", path, "-o", tmp_path / path.stem, "--set",
                 "train.epochs=4")
    assert result.exit_code == 0, (path, result.stderr)
    history = json.loads((tmp_path / path.stem / "report.json").read_text())["train"]
    losses = [r["train_loss"] for r in history["history"]]
    assert losses[-1] < losses[0], (path.name, losses)


def test_failed_run_does_not_replace_good_outputs(cli, tmp_path) -> None:
    assert cli("train", "--no-report", MODELS / "linear-svm.yaml", "-o", tmp_path).exit_code == 0
    before = (tmp_path / "weights.npz").read_bytes()
    result = cli("train", "--no-report", MODELS / "linear-svm.yaml", "-o", tmp_path, "--set",
                 "train.optimizer.sgd.lr=1e6")
    assert result.exit_code == 1
    assert "diverged" in result.stderr and "smaller learning rate" in result.stderr
    assert (tmp_path / "weights.npz").read_bytes() == before
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("fused", [False, True], ids=["layer", "fused"])
def test_every_activation_builds_and_matches_onnxruntime(cli, tmp_path, activation, fused):
    """The spiral's hidden activation replaced, as a layer or as dense's shorthand."""
    sets = (["--set", "layers.1={op: gaussian_noise, std: 0}",
             "--set", f"layers.0.activation={activation}"]
            if fused else ["--set", f"layers.1={activation}"])
    result = cli("build", "--no-report", MODELS / "spiral-two-layer.yaml", "-o", tmp_path, "-q",
                 "--set", "train.epochs=20", "--set", "train.optimizer.sgd.lr=0.3",
                 "--set", "data.val_split=0.2", *sets)
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["onnx"]["ok"] and report["onnx"]["samples"] == 60


def test_predict_knows_a_regression_model(cli, tmp_path) -> None:
    """The model remembers its loss: labelled rows give MAE, RMSE and R2, as the run's own
    validation did; class indices of a regression model are refused."""
    out = tmp_path / "sin"
    built = cli("build", "--no-report", MODELS / "regression-sin.yaml", "-o", out, "-q",
                "--no-report",
                "--set", "train.epochs=30")
    assert built.exit_code == 0, built.stderr
    report = json.loads((out / "report.json").read_text())
    result = cli("predict", out / "model.onnx", out / "val.npz", "-o", tmp_path / "p.npy")
    assert result.exit_code == 0, result.stderr
    printed = re.search(r"rmse: (\S+),", result.output)
    assert printed and float(printed[1]) == pytest.approx(report["metrics"]["rmse"], rel=1e-5)
    val = np.load(out / "val.npz")
    rmse = float(np.sqrt(((np.load(tmp_path / "p.npy") - val["y"].reshape(-1, 1)) ** 2).mean()))
    assert rmse == pytest.approx(report["metrics"]["rmse"], rel=1e-4)
    refused = cli("predict", out / "model.onnx", out / "val.npz", "--classes")
    assert refused.exit_code == 2 and "regression" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_run_removes_what_an_earlier_run_wrote_and_it_does_not(cli, tmp_path) -> None:
    """A folder describes one run: after `nnc build`, `nnc train --no-report` leaves no
    model.onnx of the old weights, and no report of the old run."""
    spec = MODELS / "linear-svm.yaml"
    assert cli("build", spec, "-o", tmp_path).exit_code == 0
    assert {"model.onnx", "summary.txt", "report.html"} <= {p.name for p in tmp_path.iterdir()}
    assert any((tmp_path / "figures").glob("*.png"))
    (tmp_path / "figures" / "notes.txt").write_text("mine")  # not a report's: kept
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set",
               "train.epochs=2").exit_code == 0
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & {"model.onnx", "summary.txt", "report.html"}, left
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["notes.txt"]
