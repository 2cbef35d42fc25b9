"""The JSON Schema of the spec format, for editors and language servers."""

from __future__ import annotations

from typing import Any

from nnc.spec.model import Spec


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a spec file."""
    schema = Spec.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema, "title": "nnc spec (format v1)"}
