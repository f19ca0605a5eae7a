"""JSON Schema 2020-12 validators compiled once into Python closures, for the keyword subset the
bundled credential schemas use — the verifier's hot path (docs/benchmarks.md ``trust.verify_per_s``).

Semantics follow ``jsonschema`` (the reference the rest of batpass uses) keyword by keyword:
assertions apply only to instances of their type (``required`` to objects, ``minimum`` to
numbers, ``pattern`` to strings with ``re.search``), ``integer`` admits integral floats, ``true``
and ``1`` are different values for ``enum``/``const``, ``items`` covers what ``prefixItems``
leaves, and ``format`` asks the *same* format checker the reference validator holds. A schema
with any other keyword is not compiled (:class:`NotCompilable`): the caller then uses the
reference validator alone. The compiled form only answers valid / not valid; on "not valid"
callers ask the reference validator for the error it reports, so messages stay the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NotCompilable", "compile_schema"]

Check = Callable[[Any], bool]

#: annotations: no effect on validity
_IGNORED = frozenset({"$id", "$schema", "title", "description", "$comment", "examples", "default"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


class NotCompilable(ValueError):
    """The schema uses a keyword (or form) this compiler does not implement."""


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as ``jsonschema`` defines it: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return bool(a == b) and (isinstance(a, str) == isinstance(b, str))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compile_schema(schema: Any, conforms: Callable[[Any, str], bool]) -> Check:
    """Compile ``schema``; ``conforms(value, format)`` is the reference validator's format
    checker (``validator.format_checker.conforms``)."""
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, Mapping):
        raise NotCompilable(f"schema {schema!r} is not an object or boolean")
    checks = tuple(_keyword(key, arg, schema, conforms) for key, arg in schema.items() if key not in _IGNORED)
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        # a plain loop: cheaper than all() over a generator on this hot path
        for c in checks:  # noqa: SIM110
            if not c(v):
                return False
        return True

    return check


def _keyword(key: str, arg: Any, schema: Mapping[str, Any], conforms: Callable[[Any, str], bool]) -> Check:
    if key == "type":
        names = [arg] if isinstance(arg, str) else list(arg)
        if not all(n in _TYPES for n in names):
            raise NotCompilable(f"type {arg!r}")
        if len(names) == 1:
            return _TYPES[names[0]]
        preds = [_TYPES[n] for n in names]
        return lambda v: any(p(v) for p in preds)
    if key == "enum":
        options = list(arg)
        if all(isinstance(o, str) for o in options):
            strings = frozenset(options)
            return lambda v: isinstance(v, str) and v in strings
        return lambda v: any(_equal(v, o) for o in options)
    if key == "const":
        if isinstance(arg, str):
            return lambda v: isinstance(v, str) and v == arg
        return lambda v: _equal(v, arg)
    if key == "required":
        names = list(arg)
        return lambda v: not isinstance(v, dict) or all(n in v for n in names)
    if key == "properties":
        props = {name: compile_schema(sub, conforms) for name, sub in arg.items()}

        def properties(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for n, p in props.items():  # noqa: SIM110 (hot path, see above)
                if n in v and not p(v[n]):
                    return False
            return True

        return properties
    if key == "additionalProperties":
        if "patternProperties" in schema:
            raise NotCompilable("patternProperties")
        known = frozenset(schema.get("properties", {}))
        if arg is False:
            return lambda v: not isinstance(v, dict) or known.issuperset(v)
        extra = compile_schema(arg, conforms)
        return lambda v: not isinstance(v, dict) or all(extra(x) for k, x in v.items() if k not in known)
    if key == "propertyNames":
        names_ok = compile_schema(arg, conforms)
        return lambda v: not isinstance(v, dict) or all(names_ok(k) for k in v)
    if key == "prefixItems":
        firsts = [compile_schema(sub, conforms) for sub in arg]
        return lambda v: not isinstance(v, list) or all(p(x) for p, x in zip(firsts, v, strict=False))
    if key == "items":
        each = compile_schema(arg, conforms)
        skip = len(schema.get("prefixItems", []))
        return lambda v: not isinstance(v, list) or all(each(x) for x in v[skip:])
    if key == "contains":
        if "minContains" in schema or "maxContains" in schema:
            raise NotCompilable("minContains/maxContains")
        some = compile_schema(arg, conforms)
        return lambda v: not isinstance(v, list) or any(some(x) for x in v)
    if key == "minItems":
        return lambda v: not isinstance(v, list) or len(v) >= arg
    if key == "maxItems":
        return lambda v: not isinstance(v, list) or len(v) <= arg
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= arg
    if key == "maxLength":
        return lambda v: not isinstance(v, str) or len(v) <= arg
    if key == "pattern":
        rx = re.compile(arg)
        return lambda v: not isinstance(v, str) or rx.search(v) is not None
    if key == "minimum":
        return lambda v: not _is_number(v) or v >= arg
    if key == "maximum":
        return lambda v: not _is_number(v) or v <= arg
    if key == "format":
        fmt = str(arg)
        return lambda v: conforms(v, fmt)
    raise NotCompilable(f"keyword {key!r}")
