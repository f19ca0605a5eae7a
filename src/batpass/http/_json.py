"""JSON bodies a route reads itself (an event batch, a standard API's message): parsed with the
same limits the typed routes get — nesting at most :data:`~batpass.http.MAX_JSON_DEPTH` levels and
finite numbers only (RFC 8259 §6 has no NaN or Infinity), text that is valid Unicode (no lone
surrogate escapes: :func:`~batpass.core.unicode.check_scalar_text`) — so a hostile body is a 400
naming the rule, never a ``RecursionError`` or a NaN stored and then unserialisable."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.unicode import check_scalar_text
from batpass.http._errors import MAX_JSON_DEPTH

__all__ = ["check_json", "loads_json"]

_DEPTH_RULE = f"JSON nesting at most {MAX_JSON_DEPTH} levels"
_FINITE_RULE = "RFC 8259 §6: JSON numbers are finite (no NaN or Infinity)"


def _too_deep(field: str) -> InvalidInput:
    return InvalidInput(f"the body nests deeper than {MAX_JSON_DEPTH} levels", field=field, rule=_DEPTH_RULE)


def check_json(value: Any, *, field: str = "(body)", max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a parsed JSON value nested deeper than ``max_depth``, holding a non-finite number or
    a string that is not valid Unicode (named by its path under ``field``). Iterative: no value
    can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, level = pop()
        kind = type(node)
        if kind is dict or kind is list:
            if level > max_depth:
                raise _too_deep(field)
            for child in node.values() if kind is dict else node:
                if type(child) is float:
                    if not math.isfinite(child):
                        raise _non_finite(value, field)
                elif isinstance(child, (dict, list)):
                    push((child, level + 1))
        elif kind is float and not math.isfinite(node):
            raise _non_finite(value, field)
    check_scalar_text(value, field=field)


def _non_finite(value: Any, field: str) -> InvalidInput:
    """The refusal of the first non-finite number in ``value``, named by its path (found again:
    the fast walk keeps no paths)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            where = ".".join(str(p) for p in (field, *path) if p != "(body)") or field
            return InvalidInput(f"{where}: {node!r} is not a finite number", field=where, rule=_FINITE_RULE)
    return InvalidInput(f"{field}: not a finite number", field=field, rule=_FINITE_RULE)  # pragma: no cover


def loads_json(raw: bytes | str, *, parse_float: Callable[[str], Any] | None = None, field: str = "(body)") -> Any:
    """``json.loads`` within the limits of :func:`check_json`. Malformed JSON still raises
    ``json.JSONDecodeError`` (a ``ValueError``), so callers keep their own message for it."""
    try:
        value = json.loads(raw, parse_float=parse_float) if parse_float else json.loads(raw)
    except RecursionError:
        raise _too_deep(field) from None
    check_json(value, field=field)
    return value
