"""Mutations of a JSON document for the property tests that hold a fast validator to its reference
(tests/unit/trust/test_trust_schema_compiled.py, tests/unit/dataspace/test_dataspace_schema_compiled.py).

Importable from every test: the directory of the top-level ``conftest.py`` is on ``sys.path``."""

from __future__ import annotations

import copy
from typing import Any


def json_paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` (the root first), as key / index paths."""
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(json_paths(v, (*here, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(json_paths(v, (*here, i)))
    return out


def mutated(doc: Any, pick: int, action: str, value: Any, name: str) -> Any:
    """A copy of ``doc`` changed at its ``pick``-th place (modulo their number): ``delete`` it,
    ``add`` ``name``: ``value`` to it (an object), ``duplicate`` its first element (a non-empty
    array), else (and for the root) ``set`` it to ``value``; the root itself is left as it is."""
    doc = copy.deepcopy(doc)
    paths = json_paths(doc)
    path = paths[pick % len(paths)]
    if not path:
        return doc
    parent: Any = doc
    for p in path[:-1]:
        parent = parent[p]
    here = parent[path[-1]]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(here, dict):
        here[name] = value
    elif action == "duplicate" and isinstance(here, list) and here:
        here.append(copy.deepcopy(here[0]))
    else:
        parent[path[-1]] = value
    return doc
