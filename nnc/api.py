"""The Python API: the steps of ``nnc build``, callable one by one.

    import nnc
    spec = nnc.load("models/digits.yaml", overrides=["train.epochs=5"])
    graph = nnc.compile(spec)
    print(nnc.summarize(graph).totals.params)
"""

from __future__ import annotations

import os
from typing import Iterable

from nnc.compiler import Graph, SizingReport, compile_spec, size_graph
from nnc.spec import Spec, SpecFile, load_spec


def load(path: str | os.PathLike, overrides: Iterable[str] = ()) -> SpecFile:
    """Read and validate a spec file (.yaml/.yml/.json), applying ``key.path=value`` overrides."""
    return load_spec(path, overrides)


def compile(spec: Spec | SpecFile) -> Graph:  # noqa: A001 - the verb users expect
    """Compile a spec to the graph IR (names resolved, topological order, shapes, params)."""
    return compile_spec(spec)


def summarize(graph: Graph, batch_size: int | None = None) -> SizingReport:
    """The sizing report of a graph: per-node and total counts, MACs, training memory."""
    return size_graph(graph, batch_size)
