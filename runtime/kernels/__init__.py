"""The runtime's table of kernels: one per tag of the spec's registry (``OP_SPECS``)."""

from nnc.base.activations import ACTIVATIONS
from nnc.runtime.kernels.activations import ActivationKernel
from nnc.runtime.kernels.base import Arena, Kernel, KernelBinding
from nnc.runtime.kernels.dense import DenseKernel
from nnc.runtime.kernels.joins import AddKernel, ConcatKernel
from nnc.runtime.kernels.maxout import MaxoutKernel
from nnc.runtime.kernels.noise import DropoutKernel, GaussianNoiseKernel
from nnc.runtime.kernels.prelu import PreluKernel

KERNELS: dict[str, type[Kernel]] = {
    "dense": DenseKernel, **{tag: ActivationKernel for tag in ACTIVATIONS},
    "prelu": PreluKernel, "maxout": MaxoutKernel, "dropout": DropoutKernel,
    "gaussian_noise": GaussianNoiseKernel, "add": AddKernel, "concat": ConcatKernel,
}

__all__ = ["KERNELS", "Arena", "Kernel", "KernelBinding"]
