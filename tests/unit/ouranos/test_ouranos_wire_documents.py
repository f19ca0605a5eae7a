"""The bundled OpenAPI documents read by the wire's loader (libyaml's where PyYAML has it) are
the very documents PyYAML's pure-Python safe loader reads: the same keys, values and types."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from batpass.ouranos import _wire


def _typed(node: Any) -> Any:
    """The document with each scalar's type beside it (``1`` and ``1.0`` and ``True`` compare
    equal in Python, but not here)."""
    if isinstance(node, dict):
        return {(type(k).__name__, k): _typed(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_typed(v) for v in node]
    return (type(node).__name__, node)


@pytest.mark.parametrize("name", [_wire.PUBLISHED, _wire.EXTENSIONS])
def test_a_bundled_document_reads_as_the_pure_python_safe_loader_reads_it(name: str) -> None:
    text = resources.files("batpass.ouranos").joinpath("_data", name).read_text(encoding="utf-8")
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    assert _typed(_wire._document(name)) == _typed(expected)


def test_the_wire_reads_with_a_safe_loader() -> None:
    """Safe: PyYAML's safe constructor builds the values (no Python objects from tags)."""
    assert issubclass(_wire.SAFE_LOADER, yaml.constructor.SafeConstructor)
