"""The spec format: pydantic models of a spec file, and loading with located errors."""

from nnc.spec.load import SpecFile, load_spec, load_spec_text
from nnc.spec.model import GraphSpec, Spec
from nnc.spec.ops import OP_SPECS, OpSpec, parse_init

__all__ = ["OP_SPECS", "GraphSpec", "OpSpec", "Spec", "SpecFile", "load_spec", "load_spec_text",
           "parse_init"]
