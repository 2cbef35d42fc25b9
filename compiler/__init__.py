"""The compiler: spec -> graph IR -> sizing report, runtime plan and ONNX."""

from nnc.compiler.build import compile_spec
from nnc.compiler.ir import Graph, InitRule, Node, Param
from nnc.compiler.plan import Plan, lower_to_plan
from nnc.compiler.sizing import SizingReport, size_graph

__all__ = ["Graph", "InitRule", "Node", "Param", "Plan", "SizingReport", "compile_spec",
           "lower_to_plan", "size_graph"]
