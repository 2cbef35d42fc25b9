"""The `data`, `train` and `export` sections of a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from nnc.base.losses import LOSSES
from nnc.spec.base import OneOf, Strict

if TYPE_CHECKING:
    LossName = str
else:
    LossName = Literal[tuple(LOSSES)]
    """The name of a loss of ``base/losses.py``."""

FilePath = Field(min_length=1, max_length=4096, description="relative to the spec file")


# ----------------------------------------------------------------------------- data

class Digits(Strict):
    """scikit-learn's bundled 8x8 digits: 1797 samples, 64 features, 10 classes."""


class BreastCancer(Strict):
    """scikit-learn's bundled Wisconsin breast cancer set: 569 samples, 30 features, 2 classes."""


class Spiral(Strict):
    """CS231n's synthetic spiral: ``classes`` arms of ``points`` 2-D points each."""

    classes: int = Field(3, ge=2, le=1000)
    points: int = Field(100, ge=1, le=1_000_000, description="points per class")
    noise: float = Field(0.2, ge=0, le=100)


class Function(Strict):
    """Samples of a 1-D function on [low, high], for regression (universal approximation)."""

    fn: Literal["sin", "abs", "step"] = "sin"
    low: float = Field(-3.141592653589793, ge=-1e6, le=1e6)
    high: float = Field(3.141592653589793, ge=-1e6, le=1e6)
    samples: int = Field(1000, ge=2, le=10_000_000)
    noise: float = Field(0.0, ge=0, le=1e6)

    @model_validator(mode="after")
    def _interval(self) -> "Function":
        if not self.low < self.high:
            raise ValueError(f"low must be below high (got low={self.low}, high={self.high})")
        return self


class Npz(Strict):
    """A NumPy .npz file with arrays ``x``, ``y`` and optionally ``x_val``, ``y_val``."""

    path: str = FilePath


class Csv(Strict):
    """A CSV file with a header row; ``label`` names the target column, the rest are features."""

    path: str = FilePath
    label: str = Field(min_length=1)
    delimiter: str = Field(",", min_length=1, max_length=1)


class Cifar10(Strict):
    """The CIFAR-10 python-version batch directory (data_batch_1..5, test_batch, batches.meta)."""

    path: str = FilePath
    preprocess: Literal["mean_image", "standardize", "scale"] = Field(
        "mean_image",
        description="pixels are scaled to [0, 1]; mean_image then subtracts the training "
                    "split's mean image, standardize divides by its per-pixel std too")
    limit: int | None = Field(None, ge=1, description="use only the first N training images")


class DataSpec(OneOf):
    """Where the samples come from (exactly one source) and how they are split."""

    choices = ("digits", "breast_cancer", "spiral", "function", "npz", "csv", "cifar10")

    digits: Digits | None = None
    breast_cancer: BreastCancer | None = None
    spiral: Spiral | None = None
    function: Function | None = None
    npz: Npz | None = None
    csv: Csv | None = None
    cifar10: Cifar10 | None = None
    val_split: float = Field(0.2, ge=0, lt=1, description="fraction held out for validation")
    standardize: bool = Field(False, description="z-score features, fitted on the training split")
    standardize_targets: bool | None = Field(
        None, description="z-score regression targets for training, fitted on the training "
                          "split; the exported model gives values in the targets' units "
                          "(default: true for mse)")


# ---------------------------------------------------------------------------- train

class Sgd(Strict):
    """SGD, PyTorch's convention: v = momentum*v + g; w -= lr*v."""

    lr: float = Field(0.01, gt=0, le=1e9)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False

    counts_steps: ClassVar[bool] = False  # whether it keeps a step count (bias corrections)

    def state_vectors(self) -> tuple[str, ...]:
        """Its per-parameter state (the velocity, with momentum)."""
        return ("velocity",) if self.momentum > 0 else ()

    def needs_scratch(self, l2: float) -> bool:
        """Whether its in-place update needs the scratch (L2, Nesterov's look-ahead)."""
        return l2 > 0 or self.nesterov

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "Sgd":
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum above 0")
        return self


class Adam(Strict):
    """Adam (torch.optim.Adam): m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g^2;
    w -= lr/(1-beta1^t) * m / (sqrt(v/(1-beta2^t)) + eps), t the step count."""

    lr: float = Field(0.001, gt=0, le=1e9)
    beta1: float = Field(0.9, ge=0, lt=1, description="decay of the mean of the gradient")
    beta2: float = Field(0.999, ge=0, lt=1, description="decay of the mean of its square")
    eps: float = Field(1e-8, gt=0, le=1, description="added to the denominator")
    amsgrad: bool = Field(False, description="divide by the running maximum of v (AMSGrad)")

    counts_steps: ClassVar[bool] = True

    def state_vectors(self) -> tuple[str, ...]:
        """The two moments (torch.optim's names), and their running maximum with amsgrad."""
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def needs_scratch(self, l2: float) -> bool:
        return True


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam, after w -= lr*weight_decay*w on the weights (not
    the biases): decoupled weight decay, not added to the gradient as l2 is."""

    weight_decay: float = Field(0.01, ge=0, le=1e6, description="decoupled, on the weights only")


class Rmsprop(Strict):
    """RMSprop (torch.optim.RMSprop): s = alpha*s + (1-alpha)*g^2; d = g / (sqrt(s) + eps);
    w -= lr*d, or with momentum b = momentum*b + d; w -= lr*b."""

    lr: float = Field(0.01, gt=0, le=1e9)
    alpha: float = Field(0.99, ge=0, lt=1, description="decay of the mean of the square")
    eps: float = Field(1e-8, gt=0, le=1, description="added to the denominator")
    momentum: float = Field(0.0, ge=0, lt=1)
    centered: bool = Field(False, description="divide by the estimated variance instead: "
                                              "s - a^2, a the mean of the gradient")

    counts_steps: ClassVar[bool] = False

    def state_vectors(self) -> tuple[str, ...]:
        """The mean square, and the momentum buffer and the mean gradient when asked."""
        return (("square_avg",) + (("momentum_buffer",) if self.momentum > 0 else ())
                + (("grad_avg",) if self.centered else ()))

    def needs_scratch(self, l2: float) -> bool:
        return True


class Adagrad(Strict):
    """Adagrad (torch.optim.Adagrad): s += g^2; w -= lr * g / (sqrt(s) + eps)."""

    lr: float = Field(0.01, gt=0, le=1e9)
    eps: float = Field(1e-10, gt=0, le=1, description="added to the denominator")

    counts_steps: ClassVar[bool] = False

    def state_vectors(self) -> tuple[str, ...]:
        """The sum of squares."""
        return ("state_sum",)

    def needs_scratch(self, l2: float) -> bool:
        return True


class Optimizer(OneOf):
    """The optimizer, with torch.optim's defaults and update equations; with every one,
    l2 adds l2*W to the gradient of the weights (coupled weight decay)."""

    choices = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
    sgd: Sgd | None = None
    adam: Adam | None = None
    adamw: AdamW | None = None
    rmsprop: Rmsprop | None = None
    adagrad: Adagrad | None = None

    @property
    def lr(self) -> float:
        """The chosen optimizer's learning rate."""
        return float(self.chosen[1].lr)

    @property
    def lr_field(self) -> str:
        """Where the learning rate is set, as --set names it."""
        return f"train.optimizer.{self.chosen[0]}.lr"


class StepSchedule(Strict):
    """lr * gamma ** (epoch // step_size)."""

    step_size: int = Field(ge=1)
    gamma: float = Field(0.1, gt=0, le=1)


class ExponentialSchedule(Strict):
    """lr * gamma ** epoch."""

    gamma: float = Field(gt=0, le=1)


class CosineSchedule(Strict):
    """min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2."""

    min_lr: float = Field(0.0, ge=0)


class LrSchedule(OneOf):
    choices = ("step", "exponential", "cosine")
    step: StepSchedule | None = None
    exponential: ExponentialSchedule | None = None
    cosine: CosineSchedule | None = None


class EarlyStopping(Strict):
    # the docstring is the schema's description (`nnc schema`): one line, as it was
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` epochs; keep the best."""  # noqa: E501

    patience: int = Field(5, ge=1)
    metric: Literal["val_loss", "val_accuracy"] = "val_loss"
    min_delta: float = Field(0.0, ge=0)


class TrainSpec(Strict):
    """How to train: epochs of shuffled minibatches, one optimizer step each."""

    epochs: int = Field(10, ge=0, le=1_000_000)
    batch_size: int = Field(64, ge=1, le=10_000_000)
    shuffle: bool = Field(True, description="draw each epoch's minibatches in a new random "
                                            "order (false: in the data's order, no copy)")
    optimizer: Optimizer = Optimizer(sgd=Sgd())
    l2: float = Field(0.0, ge=0, le=1e6, description="adds l2/2 * sum(W^2) over weights")
    lr_schedule: LrSchedule | None = None
    clip_grad_norm: float | None = Field(None, gt=0)
    early_stopping: EarlyStopping | None = None
    diagnostics_every: int | None = Field(
        None, ge=0, le=1_000_000,
        description="epochs between diagnostics (activation health, gradients, updates); "
                    "0: none; default: about 8 over the run")
    checkpoint_every: int | None = Field(
        None, ge=0, description="epochs between checkpoints; 0: none (but on an interrupt); "
                                "default: by time, see checkpoint_seconds")
    checkpoint_seconds: float = Field(
        10.0, gt=0, le=1e6, description="by default, a checkpoint at the end of the first epoch "
                                        "that ends this long after the last one")
    keep_checkpoints: int = Field(2, ge=1, le=1000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    threads: int | None = Field(None, ge=1, le=1024, description="BLAS threads; default: by size")
    init_from: str | None = Field(
        None, min_length=1, max_length=4096,
        description="start from trained parameters: a weights.npz, or a build or train "
                    "folder holding one (relative to the spec); names and shapes must match")


# --------------------------------------------------------------------------- export

class OnnxSpec(Strict):
    opset: int = Field(17, ge=13, le=64)
    probabilities: bool | None = Field(
        None, description="add a `probabilities` output (default: when the loss gives "
                          "probabilities, softmax or sigmoid of the scores)")


class ExportSpec(Strict):
    onnx: OnnxSpec = OnnxSpec()
