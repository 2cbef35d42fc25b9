"""Real tables, as a user with a CSV has them: string labels, feature columns matched by
name, missing values and categories encoded inside the exported model, regression targets
in their units, warm starts, and the input problems each named in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

SPEC = """name: {name}
layers: [{{op: dense, units: 16}}, relu, {{op: dense, units: {units}}}]
loss: {loss}
data: {{csv: {{path: {file}, label: {label}}}, standardize: true}}
train: {{epochs: {epochs}, batch_size: 32}}
"""


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def spec(tmp: Path, file: str, label: str, loss: str = "softmax_cross_entropy", units: int = 2,
         epochs: int = 40, name: str = "table") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, file=file, label=label, loss=loss, units=units,
                                epochs=epochs))
    return path


@pytest.fixture(scope="module")
def cancer(tmp_path_factory) -> tuple[Path, list[str], np.ndarray, np.ndarray]:
    """scikit-learn's breast-cancer table as a CSV with a header and string labels."""
    from sklearn.datasets import load_breast_cancer

    tmp = tmp_path_factory.mktemp("cancer")
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    labels = np.asarray(data.target_names)[data.target]
    write_csv(tmp / "cancer.csv", [*names, "diagnosis"],
              [[f"{v:.6g}" for v in row] + [label] for row, label in zip(data.data, labels)])
    return tmp, names, data.data, labels


def test_a_csv_with_string_labels_builds_without_input_and_predicts_by_column_name(
        cli, cancer) -> None:
    tmp, names, x, labels = cancer
    built = cli("build", spec(tmp, "cancer.csv", "diagnosis"), "-o", tmp / "out", "-q",
                "--no-report")
    assert built.exit_code == 0, built.stderr
    assert "note: input: [30], the features per sample of the data (cancer.csv, read)" \
        in built.stderr
    report = json.loads((tmp / "out" / "report.json").read_text())
    assert report["data"]["class_names"] == ["benign", "malignant"]
    assert report["data"]["feature_names"] == names
    assert set(report["metrics"]["per_class"]) >= {"precision", "recall", "f1"}
    assert report["metrics"]["roc_auc"] > 0.95

    model = tmp / "out" / "model.onnx"
    sess = ort.InferenceSession(str(model))
    assert [o.name for o in sess.get_outputs()] == ["scores", "probabilities", "label"]
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == names
    assert json.loads(meta["class_names"]) == ["benign", "malignant"]
    label, = sess.run(["label"], {"input": x.astype(np.float32)})
    assert set(label) <= {"benign", "malignant"} and (label == labels).mean() > 0.95

    order = np.random.default_rng(0).permutation(31)  # every column moved, the label too
    header = [*names, "diagnosis"]
    write_csv(tmp / "shuffled.csv", [header[j] for j in order],
              [[([f"{v:.6g}" for v in row] + [lab])[j] for j in order]
               for row, lab in zip(x, labels)])
    runs = []
    for file in ("cancer.csv", "shuffled.csv"):
        result = cli("predict", model, tmp / file, "--label", "diagnosis", "--classes",
                     "-o", tmp / f"{file}.npy")
        assert result.exit_code == 0, result.stderr
        assert "accuracy: 0.9" in result.stdout and "ROC AUC" in result.stdout
        runs.append(np.load(tmp / f"{file}.npy"))
    assert runs[0].dtype.kind == "U" and (runs[0] == runs[1]).all()
    assert (runs[0] == label).all()

    write_csv(tmp / "lacking.csv", names[1:], [[f"{v:.6g}" for v in row[1:]] for row in x])
    lacking = cli("predict", model, tmp / "lacking.csv")
    assert lacking.exit_code == 2
    assert lacking.stderr.startswith(f"{tmp / 'lacking.csv'}:1:1: no column 'mean_radius'")
    assert len(lacking.stderr.strip().splitlines()) == 1

    extra = tmp / "extra.csv"
    write_csv(extra, ["id", *names], [[i, *(f"{v:.6g}" for v in row)] for i, row in enumerate(x)])
    noted = cli("predict", model, extra, "-v")
    assert noted.exit_code == 0 and "columns the model does not take were ignored: 'id'" \
        in noted.stderr and f"features: {', '.join(names)}" in noted.stderr

    (tmp / "unknown.csv").write_text((tmp / "cancer.csv").read_text().replace(
        ",benign\n", ",healthy\n", 1))
    unknown = cli("predict", model, tmp / "unknown.csv", "--label", "diagnosis")
    assert unknown.exit_code == 2 and "column 'diagnosis': label 'healthy' is not one of the " \
        "model's classes ('benign', 'malignant')" in unknown.stderr


def test_a_regression_table_trains_at_the_default_rate_and_exports_its_units(cli,
                                                                          tmp_path) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 3))
    price = 400 + 120 * x[:, 0] - 60 * x[:, 1] + 5 * rng.standard_normal(300)
    assert price.std() > 100
    write_csv(tmp_path / "p.csv", ["a", "b", "c", "price"],
              [[f"{v:.5f}" for v in row] + [f"{p:.3f}"] for row, p in zip(x, price)])
    path = spec(tmp_path, "p.csv", "price", loss="mse", units=1, epochs=60)
    built = cli("build", path, "-o", tmp_path / "out", "-q", "--no-report")
    assert built.exit_code == 0, built.stderr
    assert "validation: mae " in built.stdout and "in the targets' units" in built.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["metrics"]["r2"] > 0.95 and {"mae", "rmse"} <= set(report["metrics"])

    from nnc import pipeline
    from nnc.runtime.parity import numpy_scores

    prepared = pipeline.prepare(tmp_path / "out" / "spec.resolved.yaml", memory="none")
    trained = pipeline.load_trained(prepared, tmp_path / "out" / "weights.npz")
    ours, _ = numpy_scores(prepared.plan, trained.params, x.astype(np.float32),
                           trained.preprocess, trained.coding)
    sess = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"))
    theirs, = sess.run(["scores"], {"input": x.astype(np.float32)})
    np.testing.assert_allclose(theirs, ours, rtol=1e-4)
    assert abs(theirs[:, 0].mean() - price.mean()) < 20  # in dollars, not standardized

    result = cli("predict", tmp_path / "out" / "model.onnx", tmp_path / "p.csv", "--label",
                 "price")
    assert result.exit_code == 0, result.stderr
    assert "mae: " in result.stderr and "rmse: " in result.stderr and "r2: 0.9" in result.stderr
    classes = cli("predict", tmp_path / "out" / "model.onnx", tmp_path / "p.csv", "--classes")
    assert classes.exit_code == 2 and "regression" in classes.stderr


def test_empty_cells_and_categories_are_encoded_inside_the_model(cli, tmp_path) -> None:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(300):
        size, city = rng.normal(100, 30), str(rng.choice(["paris", "lyon", "nice"]))
        big = size + (80 if city == "paris" else 0) > 130
        rows.append(["" if i % 11 == 2 else f"{size:.2f}", "" if i % 13 == 4 else city,
                     f"{rng.integers(1, 5)}", "big" if big else "small"])
    write_csv(tmp_path / "t.csv", ["size", "city", "rooms", "kind"], rows)
    built = cli("build", spec(tmp_path, "t.csv", "kind", epochs=60), "-o", tmp_path / "out",
                "-q")  # the report too: its val.npz holds the table's cells
    assert built.exit_code == 0, built.stderr
    assert "confusion" in (tmp_path / "out" / "report.html").read_text()
    assert "input  [5]" in built.stdout or "input: [5]" in built.stdout  # 2 numbers + 3 cities
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    city = next(c for c in report["data"]["columns"] if c["name"] == "city")
    assert city["categories"] == ["lyon", "nice", "paris"]

    from nnc import pipeline
    from nnc.runtime.parity import numpy_scores

    prepared = pipeline.prepare(tmp_path / "out" / "spec.resolved.yaml", memory="none")
    trained = pipeline.load_trained(prepared, tmp_path / "out" / "weights.npz")
    with (tmp_path / "t.csv").open() as f:  # the cells exactly as the file has them
        cells = np.asarray([row[:3] for row in list(csv.reader(f))[1:]] +
                           [["", "rome", "2"]], dtype=str)
    ours, _ = numpy_scores(prepared.plan, trained.params, cells, trained.preprocess,
                           trained.coding)
    sess = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"))
    assert sess.get_inputs()[0].type == "tensor(string)"
    theirs, = sess.run(["scores"], {"input": cells})
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
    assert report["metrics"]["accuracy"] > 0.8
    import nnc  # the Python API takes the cells too, and names the classes

    named = nnc.predict(tmp_path / "out" / "model.onnx", cells, output="label")
    assert list(named) == [("big", "small")[i] for i in ours.argmax(1)]

    (tmp_path / "new.csv").write_text("size,city,rooms\n120,rome,2\n,paris,\n")
    result = cli("predict", tmp_path / "out" / "model.onnx", tmp_path / "new.csv", "--classes")
    assert result.exit_code == 0, result.stderr
    assert "column 'city': categories not seen in training ('rome')" in result.stderr
    assert result.stdout.split() in (["big", "big"], ["small", "big"], ["big", "small"],
                                     ["small", "small"])


@pytest.mark.parametrize("text, where", [
    ("a,b,y\n1,2,x\n3,zz,y\n", "3:1: column 'b': 'zz' is not a number, but the column's first "
                               "value '2' (line 2) is one"),
    ("a,a,y\n1,2,x\n", "1:1: column 'a' appears 2 times in the header"),
    ("a,b,y\n1,2,x\n1,3,\n", "3:1: column 'y': empty label cell"),
])
def test_table_problems_are_one_line_naming_file_row_and_column(cli, tmp_path, text,
                                                                where) -> None:
    (tmp_path / "d.csv").write_text(text)
    result = cli("check", spec(tmp_path, "d.csv", "y"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tmp_path / 'd.csv'}:{where}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_spec_without_input_and_without_data_says_what_to_write(cli, tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nlayers: [{op: dense, units: 2}]\n")
    result = cli("check", path)
    assert result.exit_code == 2
    assert "no network: missing input, the features per sample (e.g. `input: [30]`); or give " \
        "`data` and nnc counts them there" in result.stderr


def test_warm_start_from_a_build_folder(cli, cancer) -> None:
    tmp, *_ = cancer
    path = spec(tmp, "cancer.csv", "diagnosis", name="warm", epochs=20)
    assert cli("train", path, "-o", tmp / "first", "-q", "--no-report").exit_code == 0
    again = cli("train", path, "-o", tmp / "again", "-q", "--no-report", "--set",
                "train.epochs=0", "--set", f"train.init_from={tmp / 'first'}")
    assert again.exit_code == 0, again.stderr
    with np.load(tmp / "first" / "weights.npz") as a, np.load(tmp / "again" / "weights.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files if k.startswith("dense"))
    wrong = cli("train", path, "-o", tmp / "wrong", "-q", "--no-report", "--set",
                "layers.0.units=8", "--set", f"train.init_from={tmp / 'first'}")
    assert wrong.exit_code == 2
    assert "dense_1.weight has shape [16, 30], but the spec makes it [8, 30]" in wrong.stderr


def small_table(tmp: Path, name: str = "w.csv", rows: int = 120) -> Path:
    rng = np.random.default_rng(9)
    data = [[f"{rng.normal(10, 3):.3f}", str(rng.choice(["red", "blue"])),
             str(rng.choice(["yes", "no"]))] for _ in range(rows)]
    return write_csv(tmp / name, ["size", "color", "kind"], data)


def test_a_table_model_exports_without_validation_rows_and_from_its_weights(cli,
                                                                           tmp_path) -> None:
    small_table(tmp_path)
    path = spec(tmp_path, "w.csv", "kind", epochs=5)
    built = cli("build", path, "-o", tmp_path / "out", "-q", "--no-report", "--set",
                "data.val_split=0")
    assert built.exit_code == 0, built.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["onnx"]["ok"]
    exported = cli("export", path, "--weights", tmp_path / "out" / "weights.npz", "-o",
                   tmp_path / "again.onnx")
    assert exported.exit_code == 0, exported.stderr
    import onnx  # the same graph; the build's metadata also holds its metrics

    assert onnx.load(tmp_path / "again.onnx").graph == \
        onnx.load(tmp_path / "out" / "model.onnx").graph


def test_cells_are_read_alike_by_nnc_and_by_the_exported_model(cli, tmp_path) -> None:
    small_table(tmp_path)
    built = cli("build", spec(tmp_path, "w.csv", "kind", epochs=5), "-o", tmp_path / "out",
                "-q", "--no-report")
    assert built.exit_code == 0, built.stderr
    model = tmp_path / "out" / "model.onnx"
    # onnxruntime reads "1_000" as 1: nnc refuses what the model would misread
    (tmp_path / "u.csv").write_text("size,color\n1_000,red\n")
    refused = cli("predict", model, tmp_path / "u.csv")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"{tmp_path / 'u.csv'}:2:1: column 'size': '1_000' is not "
                                     "a number")
    # spaces around cells are stripped; a headerless file is taken by position
    (tmp_path / "s.csv").write_text("size,color\n 12.5 , red\n12.5,red\n")
    (tmp_path / "h.csv").write_text("12.5,red\n")
    scores = []
    for file in ("s.csv", "h.csv"):
        result = cli("predict", model, tmp_path / file)
        assert result.exit_code == 0, result.stderr
        scores += result.stdout.split()
    assert scores[0] == scores[1] == scores[2]
    import nnc

    named = nnc.predict(model, np.array([[" 12.5", "red "]]), output="scores")
    assert ",".join(f"{v:.7g}" for v in named[0]) == scores[0]


def test_a_warm_start_refuses_weights_of_other_columns(cli, tmp_path) -> None:
    small_table(tmp_path)
    path = spec(tmp_path, "w.csv", "kind", epochs=2)
    assert cli("train", path, "-o", tmp_path / "first", "-q", "--no-report").exit_code == 0
    text = (tmp_path / "w.csv").read_text().replace("size,color,kind", "height,color,kind", 1)
    (tmp_path / "w.csv").write_text(text)
    again = cli("train", path, "-o", tmp_path / "again", "-q", "--no-report", "--set",
                f"train.init_from={tmp_path / 'first'}")
    assert again.exit_code == 2
    assert again.stderr.splitlines()[-1].startswith(  # after the note sizing the input
        f"{tmp_path / 'first' / 'weights.npz'}: was trained on data whose feature names and "
        "columns differ")


def test_an_npz_with_feature_names_and_word_labels_trains_and_predicts(cli, tmp_path) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((90, 3)).astype(np.float32)
    y = np.where(x[:, 0] > 0, "up", "down")
    np.savez(tmp_path / "d.npz", x=x, y=y, feature_names=np.array(["a", "b", "c"]))
    path = tmp_path / "n.yaml"
    path.write_text("name: n\nlayers: [{op: dense, units: 2}]\nloss: softmax_cross_entropy\n"
                    "data: {npz: {path: d.npz}}\ntrain: {epochs: 30}\n")
    built = cli("build", path, "-o", tmp_path / "out", "-q", "--no-report")
    assert built.exit_code == 0, built.stderr
    assert "(the header of x in" in built.stderr
    result = cli("predict", tmp_path / "out" / "model.onnx", tmp_path / "d.npz", "--classes")
    assert result.exit_code == 0, result.stderr
    assert set(result.stdout.split()) <= {"up", "down"} and "accuracy: " in result.stderr
