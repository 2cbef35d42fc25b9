"""nnc: a declarative model spec compiler for small neural networks.

The public API (``load``, ``compile``, ``summarize``, ...) lives in :mod:`nnc.api` and is
re-exported here lazily, so that ``nnc --help`` does not pay for importing it.
"""

from typing import Any

from nnc.base.version import __version__ as __version__  # re-exported

_API = ("load", "compile", "summarize", "train", "export", "predict", "sweep")


def __getattr__(name: str) -> Any:
    if name in _API:
        from nnc import api

        return getattr(api, name)
    raise AttributeError(f"module 'nnc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
