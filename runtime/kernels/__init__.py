"""The runtime's table of kernels: one class per op tag, listed explicitly."""

from nnc.runtime.kernels.activations import (LeakyReluKernel, ReluKernel, SigmoidKernel,
                                             TanhKernel)
from nnc.runtime.kernels.base import Arena, Context, Kernel
from nnc.runtime.kernels.dense import DenseKernel
from nnc.runtime.kernels.joins import AddKernel, ConcatKernel
from nnc.runtime.kernels.maxout import MaxoutKernel
from nnc.runtime.kernels.noise import DropoutKernel, GaussianNoiseKernel
from nnc.runtime.kernels.prelu import PreluKernel

KERNELS: dict[str, type[Kernel]] = {
    k.tag: k
    for k in (DenseKernel, SigmoidKernel, TanhKernel, ReluKernel, LeakyReluKernel, PreluKernel,
              MaxoutKernel, DropoutKernel, GaussianNoiseKernel, AddKernel, ConcatKernel)
}

__all__ = ["KERNELS", "Arena", "Context", "Kernel"]
