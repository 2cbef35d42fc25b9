"""scikit-learn estimators made from nnc specs: ``NNClassifier`` and ``NNRegressor``.

    from nnc.sklearn import NNClassifier
    net = NNClassifier("models/digits.yaml", set={"train.epochs": 20})
    GridSearchCV(net, {"layers.0.units": [64, 128], "train.l2": [1e-4, 1e-3]}).fit(X, y)

Two parameters, stored as given and read only in ``fit`` (scikit-learn's rules):

- ``spec``: a spec file's path, a dict of a spec's plain data, a ``Spec`` (or a loaded
  ``SpecFile``), or None for :data:`DEFAULT_SPEC`, a net with one hidden layer;
- ``set``: spec fields by the dotted paths ``--set`` takes (``"layers.0.units"``,
  ``"train.optimizer.sgd.lr"``), with their values (Python values, not YAML text), applied
  before validation. Each is also a parameter of its own: ``get_params()`` lists it and
  ``set_params(**{"layers.0.units": 64})`` adds it to ``set``, so a grid of
  ``GridSearchCV`` names spec fields directly (in a Pipeline: ``"net__layers.0.units"``).

``fit(X, y)`` runs the steps ``nnc train`` runs (``pipeline.prepare``, then
``pipeline.train`` on the Dataset ``runtime.data.from_arrays`` makes of X and y, with its
checks). The spec's data source is ignored: the data are fit's arrays; its ``val_split``
(default 0.2), ``standardize`` and ``standardize_targets`` still apply. Without a data
section nothing is held out (0.1 with ``train.early_stopping``). What the spec leaves out
comes from the data: ``input`` (X's features), the ``units`` of a last dense or maxout
layer written without them (the classes, 1 for binary_cross_entropy, or y's columns), the
``loss`` (softmax_cross_entropy, mse) and the ``name``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nnc import pipeline
from nnc.base.errors import NncError
from nnc.base.losses import LOSSES
from nnc.spec import Spec, SpecFile
from nnc.spec.load import read_spec_text, validate_source
from nnc.spec.overrides import apply_overrides
from nnc.spec.source import Source, parse

if TYPE_CHECKING:
    import onnx

    from nnc.runtime.data import Dataset

SpecArg = str | os.PathLike[str] | dict[str, Any] | Spec | SpecFile | None

DEFAULT_SPEC: dict[str, Any] = {
    "layers": [{"op": "dense", "units": 100}, "relu", {"op": "dense"}],
    "data": {"standardize": True},
    "train": {"epochs": 100, "batch_size": 64, "l2": 1.0e-4,
              "optimizer": {"sgd": {"lr": 0.01, "momentum": 0.9}}, "diagnostics_every": 0},
}
"""The net of ``spec=None``, like ``MLPClassifier()``'s: 100 ReLU units, inputs standardized
(inside the model), 100 epochs of SGD with momentum; the output units and the loss come
from the estimator and the data. (Adaptive optimizers, when the spec format has them, are
chosen with ``set={"train.optimizer": ...}``.)"""

DATA_OPTIONS = ("val_split", "standardize", "standardize_targets")
ROWS = 4096  # rows predicted at once


class _NNEstimator(BaseEstimator):  # type: ignore[misc]
    """What both estimators share; a subclass says how it reads y."""

    _kind = "estimator"
    _loss = ""
    _y_rules: ClassVar[dict[str, Any]] = {}  # validate_data's rules for y
    # fitted attributes (set by fit and partial_fit)
    prepared_: pipeline.Prepared
    model_: pipeline.Trained  # the weights, the preprocessing, the coding, the last result
    spec_: Spec  # the spec trained, completed from the data
    loss_: str
    history_: list[dict[str, Any]]  # every epoch's record, partial_fit's appended
    n_iter_: int
    warnings_: list[str]  # what nnc's diagnostics warned of, with what to try

    def __init__(self, spec: SpecArg = None, *, set: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.set = set

    # ------------------------------------------------------------- parameters

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``spec`` and ``set``, and with ``deep`` each spec field of ``set`` by its path."""
        params: dict[str, Any] = super().get_params(deep=False)
        if deep and isinstance(self.set, dict):
            params.update(self.set)
        return params

    def set_params(self, **params: Any) -> "_NNEstimator":
        """Set ``spec`` or ``set``; a dotted name sets that spec field (added to ``set``)."""
        fields = {k: v for k, v in params.items() if "." in k and "__" not in k}
        rest = {k: v for k, v in params.items() if k not in fields}
        if rest:
            super().set_params(**rest)
        if fields:
            self.set = {**(self.set or {}), **fields}
        return self

    # -------------------------------------------------------------- the spec

    def _source(self) -> tuple[Source, Path | None]:
        """The spec's plain data (a copy) and its file, if it has one."""
        spec = self.spec
        if spec is None:
            return Source("<default spec>", copy.deepcopy(DEFAULT_SPEC)), None
        if isinstance(spec, SpecFile):
            return dataclasses.replace(spec.source, data=copy.deepcopy(spec.source.data)), \
                spec.path
        if isinstance(spec, Spec):
            return Source("<spec>", spec.model_dump(mode="json", exclude_none=True)), None
        if isinstance(spec, dict):
            return Source("<spec>", copy.deepcopy(spec)), None
        if isinstance(spec, (str, os.PathLike)):
            path = Path(spec)
            text, fmt = read_spec_text(path)
            return parse(text, str(path), fmt), path
        raise TypeError(f"spec must be a spec file's path, a dict, a Spec or None (got "
                        f"{type(spec).__name__})")

    def _spec_file(self, features: int, units: Callable[[str], int]
                   ) -> tuple[SpecFile, float, bool, bool | None]:
        """The spec to train, completed from the data (``units(loss)``: the output units the
        loss needs), and its data options: val_split, standardize, standardize_targets."""
        if self.set is not None and not isinstance(self.set, dict):
            raise TypeError(f"set must be a dict of spec field paths to values (got "
                            f"{type(self.set).__name__})")
        source, path = self._source()
        overrides = tuple(f"{key}={_value_text(key, value)}"
                          for key, value in (self.set or {}).items())
        apply_overrides(source, overrides)
        had_data = isinstance(source.data, dict) and isinstance(source.data.get("data"), dict)
        if isinstance(source.data, dict):
            _complete(source.data, self._kind, self._loss, features, units)
        spec_file = validate_source(source, file_path=path)
        spec = spec_file.spec
        loss = spec.loss or self._loss
        if LOSSES[loss].classification != (self._kind == "classifier"):
            what = "a classification" if self._kind == "classifier" else "a regression"
            raise ValueError(f"{type(self).__name__} needs {what} loss; the spec's is {loss}")
        data = spec.data
        assert data is not None  # _complete gave it one
        val_split = data.val_split if had_data else 0.1 if spec.train.early_stopping else 0.0
        spec_file = dataclasses.replace(spec_file, spec=spec.model_copy(update={"data": None}),
                                        overrides=overrides)
        return spec_file, val_split, data.standardize, data.standardize_targets

    # -------------------------------------------------------------- training

    def _targets(self, y: np.ndarray, first: bool, classes: Any) -> tuple[np.ndarray, int]:
        raise NotImplementedError  # each estimator reads y its own way

    def _units(self, outputs: int) -> Callable[[str], int]:
        return lambda loss: outputs

    def _fit(self, X: Any, y: Any, partial: bool, classes: Any = None) -> "_NNEstimator":
        first = not (partial and hasattr(self, "model_"))
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32),
                             **self._y_rules)
        targets, outputs = self._targets(y, first, classes)
        try:
            if first:
                spec_file, val_split, standardize, standardize_y = \
                    self._spec_file(X.shape[1], self._units(outputs))
                prepared = pipeline.prepare(spec_file)
            else:
                prepared = self.prepared_
                val_split, standardize, standardize_y = 0.0, False, False
            dataset = self._dataset(prepared, X, targets, outputs,
                                    0.0 if partial else val_split, standardize, standardize_y)
            if not first:
                self._as_before(dataset)
            run = _one_epoch(prepared) if partial else prepared
            before = None if first else self.model_
            trained = pipeline.train(run, dataset=dataset,
                                     init=before.params.state_dict() if before else None,
                                     init_optimizer=before.optimizer if before else None)
        except NncError as e:
            raise ValueError(str(e)) from e
        result = trained.result
        assert result is not None  # trained on data
        history = [] if first else list(self.history_)
        self.history_ = history + [r.to_dict() for r in result.history]
        self.n_iter_ = len(self.history_)
        self.warnings_ = [w["message"] for w in trained.extra.get("warnings", [])]
        self.prepared_ = prepared
        self.spec_ = prepared.spec_file.spec
        self.loss_ = prepared.spec_file.spec.loss or self._loss
        self.model_ = dataclasses.replace(trained, dataset=None, extra={})
        return self

    def _dataset(self, prepared: pipeline.Prepared, X: np.ndarray, targets: np.ndarray,
                 outputs: int, val_split: float, standardize: bool,
                 standardize_y: bool | None) -> "Dataset":
        from nnc.runtime.data import from_arrays

        spec = prepared.spec_file.spec
        graph = prepared.graph
        dataset = from_arrays(X, targets, features=int(np.prod(graph.input_shape)),
                              outputs=int(np.prod(graph.output_shape)),
                              loss=spec.loss or self._loss, seed=spec.train.seed,
                              val_split=val_split, standardize=standardize,
                              standardize_targets=standardize_y)
        names = getattr(self, "feature_names_in_", None)
        dataset.coding = dataclasses.replace(
            dataset.coding, class_names=self._class_names(),
            feature_names=None if names is None else tuple(str(n) for n in names))
        return dataset

    def _as_before(self, dataset: "Dataset") -> None:
        """A later partial_fit's batch, preprocessed as the first one was (the inputs'
        standardization, the targets')."""
        before = self.model_
        if before.preprocess is not None:
            dataset.x_train = before.preprocess.apply(dataset.x_train)
        dataset.y_train = before.coding.standardized_targets(dataset.y_train)
        dataset.preprocess, dataset.coding = before.preprocess, before.coding

    def _class_names(self) -> tuple[str, ...] | None:
        return None

    # ------------------------------------------------------------ prediction

    def _scores(self, X: Any) -> np.ndarray:
        """The network's outputs for X [N, features], as the exported model gives them
        (regression targets in their units), float64 [N, units]."""
        from nnc.runtime.parity import numpy_scores

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        model, plan = self.model_, self.prepared_.plan
        parts = [numpy_scores(plan, model.params, X[i:i + ROWS], model.preprocess,
                              model.coding)[0] for i in range(0, len(X), ROWS)]
        return np.concatenate(parts).astype(np.float64)

    def to_onnx(self, path: str | os.PathLike[str] | None = None) -> "onnx.ModelProto":
        """The fitted network as an ONNX model (preprocessing inside; a classifier's
        ``label`` output gives class names unless the classes are 0..C-1), checked by
        onnx.checker and against onnxruntime as `nnc build` does; written (atomically) to
        ``path`` if given."""
        check_is_fitted(self)
        model, _ = pipeline.export(self.prepared_, self.model_,
                                   Path(path) if path is not None else None)
        return model


def _complete(data: dict[str, Any], kind: str, loss: str, features: int,
              units: Callable[[str], int]) -> None:
    """Fill in what the spec's plain data leave out and the data determine (in place)."""
    data.setdefault("name", f"nnc-{kind}")
    data.setdefault("loss", loss)
    section = data.get("data")
    kept = {k: section[k] for k in DATA_OPTIONS if k in section} \
        if isinstance(section, dict) else {}
    # a stand-in source, so that the options are validated where they are written; fit's
    # arrays are the data (the section is dropped once validated)
    data["data"] = {**kept, "digits": {}}
    last: Any = None
    if isinstance(data.get("layers"), list) and data["layers"] and "graph" not in data:
        data.setdefault("input", [features])
        last = data["layers"][-1]
    elif isinstance(data.get("graph"), dict) and isinstance(data["graph"].get("nodes"), list):
        output = data["graph"].get("output")
        last = next((n for n in data["graph"]["nodes"]
                     if isinstance(n, dict) and n.get("name") == output), None)
    if isinstance(last, dict) and last.get("op") in ("dense", "maxout") and "units" not in last:
        last["units"] = units(data["loss"]) if data["loss"] in LOSSES else 1


def _value_text(key: Any, value: Any) -> str:
    """A Python value as the YAML text of an override (JSON is YAML)."""
    if not isinstance(key, str):
        raise TypeError(f"set: a spec field is named by a dotted path string, not {key!r}")

    def plain(v: Any) -> Any:
        if isinstance(v, (np.generic, np.ndarray)):
            return v.tolist()
        raise TypeError(f"set: {key}: {type(v).__name__} is not a spec value")

    return json.dumps(value, default=plain)


def _one_epoch(prepared: pipeline.Prepared) -> pipeline.Prepared:
    """The spec of a partial_fit: one epoch, no early stopping, no diagnostics."""
    spec = prepared.spec_file.spec
    train = spec.train.model_copy(update={"epochs": 1, "early_stopping": None,
                                          "diagnostics_every": 0})
    spec_file = dataclasses.replace(prepared.spec_file,
                                    spec=spec.model_copy(update={"train": train}))
    return dataclasses.replace(prepared, spec_file=spec_file)


class NNClassifier(ClassifierMixin, _NNEstimator):  # type: ignore[misc]
    """A classifier made from an nnc spec (see the module docstring): any labels scikit-learn
    takes (numbers, words), ``classes_`` in sorted order."""

    _kind = "classifier"
    _loss = "softmax_cross_entropy"
    classes_: np.ndarray
    def fit(self, X: Any, y: Any) -> "NNClassifier":
        """Train the spec's network on X [N, features] and the labels y [N] from the start."""
        return self._fit(X, y, partial=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> "NNClassifier":
        """One epoch over X, y, from the weights and the optimizer's state (momentum, Adam's
        moments) so far, as scikit-learn's MLPClassifier goes on (the first call: from the
        seed's, and ``classes`` lists every class); the first call's preprocessing is
        kept."""
        if classes is None and not hasattr(self, "model_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, partial=True, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row of X: one of ``classes_``."""
        check_is_fitted(self)
        return self.classes_[LOSSES[self.loss_].classify(self._scores(X))]  # type: ignore[no-any-return]

    def _probabilities(self) -> bool:
        return not hasattr(self, "loss_") or LOSSES[self.loss_].probability is not None

    @available_if(_probabilities)  # type: ignore[untyped-decorator]
    def predict_proba(self, X: Any) -> np.ndarray:
        """Each row's probability of each class of ``classes_``, float64 [N, classes]
        (softmax; for binary_cross_entropy the sigmoid of the logit)."""
        scores = self._scores(X)  # first: unfitted, it raises NotFittedError
        p = LOSSES[self.loss_].probabilities(scores)
        return np.hstack([1.0 - p, p]) if p.shape[1] == 1 else p  # class 0's too

    def _targets(self, y: np.ndarray, first: bool, classes: Any) -> tuple[np.ndarray, int]:
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(classes)
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes} differs from those of the first "
                                 f"partial_fit call, {self.classes_}")
        if first:
            self.classes_ = np.unique(y) if classes is None else classes
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"got 1 class ({self.classes_[0]!r})")
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y holds labels not in classes: {np.unique(y[unknown])[:5]}")
        return np.searchsorted(self.classes_, y).astype(np.int64), len(self.classes_)

    def _units(self, outputs: int) -> Callable[[str], int]:
        return lambda loss: 1 if LOSSES[loss].labels == "binary" else outputs

    def _class_names(self) -> tuple[str, ...] | None:
        c = self.classes_
        if c.dtype.kind in "iu" and np.array_equal(c, np.arange(len(c))):
            return None  # the model's labels are the class indices themselves
        return tuple(str(v) for v in c)


class NNRegressor(RegressorMixin, _NNEstimator):  # type: ignore[misc]
    """A regressor made from an nnc spec (see the module docstring): y [N] or [N, targets];
    predictions in y's units (the targets are standardized for training by default)."""

    _kind = "regressor"
    _loss = "mse"
    n_outputs_: int
    _one_target: bool
    _y_rules: ClassVar[dict[str, Any]] = {"multi_output": True, "y_numeric": True}

    def fit(self, X: Any, y: Any) -> "NNRegressor":
        """Train the spec's network on X [N, features] and targets y from the start."""
        return self._fit(X, y, partial=False)

    def partial_fit(self, X: Any, y: Any) -> "NNRegressor":
        """One epoch over X, y, from the weights and the optimizer's state so far (the first
        call's standardization of inputs and targets is kept)."""
        return self._fit(X, y, partial=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, float64 [N] (or [N, targets] when fitted on columns)."""
        scores = self._scores(X)
        return scores[:, 0] if self._one_target else scores

    def _targets(self, y: np.ndarray, first: bool, classes: Any) -> tuple[np.ndarray, int]:
        if first:
            self._one_target = y.ndim == 1
        targets = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if first:
            self.n_outputs_ = targets.shape[1]
        return targets, self.n_outputs_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["DEFAULT_SPEC", "NNClassifier", "NNRegressor"]
