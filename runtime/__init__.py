"""The NumPy runtime: kernels, losses, optimizer, trainer, data sets, weights, onnxruntime."""
