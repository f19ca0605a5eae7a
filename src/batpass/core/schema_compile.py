"""JSON Schema validators compiled once, for the keyword subsets batpass's bundled schemas use: the
credential verifier's hot path (docs/benchmarks.md ``trust.verify_per_s``) and the DSP messages of
every channel step (``dsp.federated_trace_ms``). Shared here, below both layers that use it.

:func:`compile_schema` generates one function per schema whose body tests the common keywords
inline (``type``, ``const``/``enum`` of strings, ``required``, ``properties``, ``prefixItems``,
``items``, ``pattern``, bounds, ``format``, ``additionalProperties: false``), so checking a
credential is one call; every
other keyword (and any sub-schema nested deeper than the generator goes) is checked by the
closure :func:`_closure` builds for it, which remains the definition of each keyword.

Semantics follow ``jsonschema`` (the reference the rest of batpass uses) keyword by keyword:
assertions apply only to instances of their type (``required`` to objects, ``minimum`` to
numbers, ``pattern`` to strings with ``re.search``), ``integer`` admits integral floats, ``true``
and ``1`` are different values for ``enum``/``const``, ``items`` covers what ``prefixItems``
leaves, and ``format`` asks the *same* format checker the reference validator holds. A schema
with any other keyword is not compiled (:class:`NotCompilable`): the caller then uses the
reference validator alone. The compiled form only answers valid / not valid; on "not valid"
callers ask the reference validator for the error it reports, so messages stay the same.

:func:`native_check` answers through ``jsonschema_rs`` where that answer is the reference's (a
conservative keyword subset, see :func:`_native_schema`); :func:`inline_refs` makes a schema
that references others (``$ref``, as the DSP 2025-1 schemas do) one self-contained schema for it,
its references all local (``#/$defs/...``), so neither validator ever looks a schema up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

import jsonschema_rs

__all__ = ["NotCompilable", "compile_schema", "inline_refs", "native_check"]

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


def compile_schema(schema: Any, conforms: Callable[[Any, str], bool], formats: Collection[str] | None = None) -> Check:
    """Compile ``schema``; ``conforms(value, format)`` is the reference validator's format
    checker (``validator.format_checker.conforms``). ``formats`` (the names that checker knows,
    ``format_checker.checkers``) lets the compiled form skip a format the checker does not know,
    which ``conforms`` admits whatever the value; without it every format asks ``conforms``."""
    if not isinstance(schema, Mapping):
        return _closure(schema, conforms)
    gen = _Generator(conforms, formats)
    body = gen.schema(schema, "v0", 1)
    source = "def check(v0):\n" + "".join(body) + "    return True\n"
    namespace: dict[str, Any] = dict(gen.constants)
    # the source is written above from the schema's structure only; its values are bound by name
    exec(compile(source, "<batpass compiled schema>", "exec"), namespace)
    check: Check = namespace["check"]
    return check


_MAX_DEPTH = 12  # nesting the generator inlines; deeper sub-schemas are closures


class _Generator:
    """Source lines of one compiled schema; constants (values, patterns, closures) are bound by
    name, never written into the source."""

    def __init__(self, conforms: Callable[[Any, str], bool], formats: Collection[str] | None) -> None:
        self.conforms = conforms
        self.formats = None if formats is None else frozenset(formats)
        self.constants: dict[str, Any] = {"_conforms": conforms, "_MISSING": _MISSING}
        self.var = 0

    def const(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def schema(self, schema: Any, v: str, depth: int) -> list[str]:
        pad = "    " * depth
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False\n"]
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return [f"{pad}if not {self.const(_closure(schema, self.conforms))}({v}):\n{pad}    return False\n"]
        lines: list[str] = []
        for key, arg in schema.items():
            if key not in _IGNORED:
                lines += self.keyword(key, arg, schema, v, depth)
        return lines

    def keyword(self, key: str, arg: Any, schema: Mapping[str, Any], v: str, depth: int) -> list[str]:
        pad = "    " * depth
        fail = f"{pad}    return False\n"
        inline = {"object": "dict", "array": "list", "string": "str", "boolean": "bool"}
        if key == "type" and isinstance(arg, str) and arg in inline:
            return [f"{pad}if not isinstance({v}, {inline[arg]}):\n", fail]
        if key == "type" and arg == "number":
            return [f"{pad}if not isinstance({v}, (int, float)) or isinstance({v}, bool):\n", fail]
        if key == "const" and isinstance(arg, str):
            return [f"{pad}if not isinstance({v}, str) or {v} != {self.const(arg)}:\n", fail]
        if key == "enum" and isinstance(arg, list) and all(isinstance(o, str) for o in arg):
            return [f"{pad}if not isinstance({v}, str) or {v} not in {self.const(frozenset(arg))}:\n", fail]
        if key == "required" and isinstance(arg, list) and all(isinstance(n, str) for n in arg):
            if not arg:
                return []
            # one set comparison against the keys: every name is a key
            return [f"{pad}if isinstance({v}, dict) and not {v}.keys() >= {self.const(frozenset(arg))}:\n", fail]
        if key == "properties" and isinstance(arg, Mapping) and arg:
            lines = [f"{pad}if isinstance({v}, dict):\n"]
            for name, sub in arg.items():
                self.var += 1
                w = f"v{self.var}"
                inner = self.schema(sub, w, depth + 2)
                if not inner:
                    continue
                lines.append(f"{pad}    {w} = {v}.get({self.const(name)}, _MISSING)\n")
                lines.append(f"{pad}    if {w} is not _MISSING:\n")
                lines += inner
            return lines if len(lines) > 1 else []
        if key == "prefixItems" and isinstance(arg, list):
            lines = [f"{pad}if isinstance({v}, list):\n"]
            for i, sub in enumerate(arg):
                self.var += 1
                w = f"v{self.var}"
                inner = self.schema(sub, w, depth + 2)
                if inner:
                    lines += [f"{pad}    if len({v}) > {i}:\n", f"{pad}        {w} = {v}[{i}]\n", *inner]
            return lines if len(lines) > 1 else []
        if key == "items" and (isinstance(arg, (Mapping, bool))):
            self.var += 1
            w = f"v{self.var}"
            inner = self.schema(arg, w, depth + 2)
            skip = len(schema.get("prefixItems", []))
            if not inner:
                return []
            return [f"{pad}if isinstance({v}, list):\n", f"{pad}    for {w} in {v}[{skip}:]:\n", *inner]
        if key == "additionalProperties" and arg is False and "patternProperties" not in schema:
            known = self.const(frozenset(schema.get("properties", {})))
            return [f"{pad}if isinstance({v}, dict) and not {known}.issuperset({v}):\n", fail]
        number = f"isinstance({v}, (int, float)) and not isinstance({v}, bool)"
        if key in ("minimum", "maximum") and _is_number(arg):
            op = ">=" if key == "minimum" else "<="
            return [f"{pad}if {number} and not ({v} {op} {self.const(arg)}):\n", fail]
        if key in ("minLength", "maxLength", "minItems", "maxItems") and _is_number(arg):
            kind = "str" if key.endswith("Length") else "list"
            op = ">=" if key.startswith("min") else "<="
            return [f"{pad}if isinstance({v}, {kind}) and not (len({v}) {op} {self.const(arg)}):\n", fail]
        if key == "pattern" and isinstance(arg, str):
            return [f"{pad}if isinstance({v}, str) and {self.const(re.compile(arg))}.search({v}) is None:\n", fail]
        if key == "format":
            if self.formats is not None and str(arg) not in self.formats:
                return []  # the checker does not know it: conforms admits every value
            return [f"{pad}if not _conforms({v}, {self.const(str(arg))}):\n", fail]
        if key == "contains" and _string_const(arg) and "minContains" not in schema and "maxContains" not in schema:
            # some element equals the string: only a string equals a string, so ``in`` says it
            return [f"{pad}if isinstance({v}, list) and {self.const(arg['const'])} not in {v}:\n", fail]
        # any other keyword (or form): its closure, which also refuses what is not compilable
        return [f"{pad}if not {self.const(_keyword(key, arg, schema, self.conforms))}({v}):\n", fail]


def _string_const(schema: Any) -> bool:
    """``schema`` is ``{"const": <string>}`` (annotations aside) and nothing else."""
    return (
        isinstance(schema, Mapping)
        and isinstance(schema.get("const"), str)
        and all(k == "const" or k in _IGNORED for k in schema)
    )


class _Missing:
    pass


_MISSING = _Missing()


def _closure(schema: Any, conforms: Callable[[Any, str], bool]) -> Check:
    """``schema`` as a tree of closures, one per keyword (the reference form of each keyword)."""
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
        props = {name: _closure(sub, conforms) for name, sub in arg.items()}

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
        extra = _closure(arg, conforms)
        return lambda v: not isinstance(v, dict) or all(extra(x) for k, x in v.items() if k not in known)
    if key == "propertyNames":
        names_ok = _closure(arg, conforms)
        return lambda v: not isinstance(v, dict) or all(names_ok(k) for k in v)
    if key == "prefixItems":
        firsts = [_closure(sub, conforms) for sub in arg]
        return lambda v: not isinstance(v, list) or all(p(x) for p, x in zip(firsts, v, strict=False))
    if key == "items":
        each = _closure(arg, conforms)
        skip = len(schema.get("prefixItems", []))
        return lambda v: not isinstance(v, list) or all(each(x) for x in v[skip:])
    if key == "contains":
        if "minContains" in schema or "maxContains" in schema:
            raise NotCompilable("minContains/maxContains")
        some = _closure(arg, conforms)
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


#: patterns whose meaning is the same in Python's ``re`` and in the Rust engine: literals, ASCII
#: ranges in classes, ``^``, groups, counted repetition, ``.`` and ``\.`` (no ``\d``/``\w``/``\s``,
#: whose Unicode reach may differ), and ``$`` only last (see :func:`_native_pattern`)
_PLAIN_PATTERN = re.compile(r"(?:[A-Za-z0-9^\[\]{}()+*?.,|:_/#@-]|\\[.+*?()|-])*\$?")


def _native_pattern(pattern: str) -> str:
    """``pattern`` for the Rust engine: Python's final ``$`` also matches before a final newline."""
    return pattern[:-1] + "\\n?$" if pattern.endswith("$") else pattern


def _native_schema(schema: Any, formats: Collection[str]) -> Any:
    """``schema`` for the native validator, or None where its answer could differ from the
    reference's: a keyword the compiler does not know, a format the reference's checker knows
    (the native validator runs without formats, so it judges them as the reference judges the
    formats its checker does not know: not at all), a pattern that is not plain."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        return None
    out: dict[str, Any] = {}
    for key, arg in schema.items():
        if key in _IGNORED or key in ("required", "enum", "const", "type") or key in _BOUNDS:
            out[key] = arg
        elif key == "format":
            if str(arg) in formats:
                return None
            out[key] = arg
        elif key == "pattern":
            if not isinstance(arg, str) or _PLAIN_PATTERN.fullmatch(arg) is None:
                return None
            out[key] = _native_pattern(arg)
        elif key == "properties" and isinstance(arg, Mapping):
            subs = {name: _native_schema(sub, formats) for name, sub in arg.items()}
            if any(sub is None for sub in subs.values()):
                return None
            out[key] = subs
        elif key == "prefixItems" and isinstance(arg, list):
            items = [_native_schema(sub, formats) for sub in arg]
            if any(sub is None for sub in items):
                return None
            out[key] = items
        elif key in ("items", "contains", "additionalProperties", "propertyNames", "not"):
            sub = _native_schema(arg, formats)
            if sub is None:
                return None
            out[key] = sub
        elif key == "$ref" and isinstance(arg, str) and arg.startswith("#/$defs/"):
            out[key] = arg  # as :func:`inline_refs` writes them: to a sub-schema checked below
        elif key == "$defs" and isinstance(arg, Mapping):
            subs = {name: _native_schema(sub, formats) for name, sub in arg.items()}
            if any(sub is None for sub in subs.values()):
                return None
            out[key] = subs
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(arg, list) and arg:
            branches = [_native_schema(sub, formats) for sub in arg]
            if any(sub is None for sub in branches):
                return None
            out[key] = branches
        else:
            return None
    return out


#: keywords whose meaning is the same in both validators (``uniqueItems`` included: both tell
#: ``true`` from ``1`` and take ``1`` and ``1.0`` as equal, as JSON Schema says)
_BOUNDS = frozenset(
    {
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "uniqueItems",
        "minContains",
        "maxContains",
    }
)


def native_check(schema: Any, compiled: Check, formats: Collection[str]) -> Check:
    """The valid / not-valid answer of ``jsonschema_rs`` (compiled once, in Rust) where it is
    the reference's answer (:func:`_native_schema`), else ``compiled``; a value the native
    validator cannot take is judged by ``compiled``."""
    native_schema = _native_schema(schema, formats) if isinstance(schema, Mapping) else None
    if native_schema is None:
        return compiled
    try:
        native = jsonschema_rs.validator_for(native_schema, validate_formats=False)
    except (ValueError, TypeError):  # a schema the native validator does not take
        return compiled

    def check(v: Any) -> bool:
        try:
            return bool(native.is_valid(v))
        except (ValueError, TypeError, OverflowError):
            return compiled(v)

    return check


#: where sub-schemas are found (what :func:`inline_refs` walks); any other keyword's value is data
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_ONE = frozenset(
    {"items", "additionalItems", "contains", "additionalProperties", "propertyNames", "not", "if", "then", "else"}
)
_NO_INLINE = frozenset({"$recursiveRef", "$recursiveAnchor", "$dynamicRef", "$dynamicAnchor", "$anchor"})


def inline_refs(schema: Any, base: str, document: Callable[[str], Any]) -> Any:
    """``schema`` (found at URI ``base``) made to stand alone: every schema a ``$ref`` names (in
    this document or another) is copied once into the result's ``$defs`` and the reference
    rewritten to it (``#/$defs/sN``), so a recursive schema stays finite. ``document(uri)``
    returns the schema document a URI (without fragment) names; a fragment is a JSON pointer
    into it. Nested ``$id``, ``$schema`` and ``definitions``/``$defs`` are dropped (every
    reference into them is rewritten already). Raises :class:`NotCompilable` for an anchor or a
    dynamic reference: the caller then keeps the reference validator."""
    names: dict[str, str] = {}
    defs: dict[str, Any] = {}

    def visit(node: Any, base: str, top: bool) -> Any:
        if isinstance(node, list):
            return [visit(sub, base, False) for sub in node]
        if not isinstance(node, Mapping):
            return node
        if _NO_INLINE & node.keys():
            raise NotCompilable(f"keyword {sorted(_NO_INLINE & node.keys())[0]!r}")
        if isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"])
        out: dict[str, Any] = {}
        for key, arg in node.items():
            if key in ("definitions", "$defs") or (not top and key in ("$id", "$schema")):
                continue
            if key == "$ref":
                if not isinstance(arg, str):
                    raise NotCompilable(f"$ref {arg!r}")
                uri = urljoin(base, arg)
                if uri not in names:
                    names[uri] = name = f"s{len(names)}"
                    doc_uri, fragment = urldefrag(uri)
                    defs[name] = visit(_pointer(document(doc_uri), fragment), doc_uri, False)
                out[key] = "#/$defs/" + names[uri]
            elif key in _SUBSCHEMA_MAPS and isinstance(arg, Mapping):
                out[key] = {name: visit(sub, base, False) for name, sub in arg.items()}
            elif key in _SUBSCHEMA_LISTS or key in _SUBSCHEMA_ONE:
                out[key] = visit(arg, base, False)
            else:
                out[key] = arg  # data (const, enum, required, ...) or an annotation
        return out

    root = visit(schema, base, True)
    if defs:
        if not isinstance(root, dict):
            raise NotCompilable("a boolean schema with references")
        root["$defs"] = defs
    return root


def _pointer(doc: Any, fragment: str) -> Any:
    """The part of ``doc`` the JSON pointer ``fragment`` names (RFC 6901)."""
    if not fragment:
        return doc
    if not fragment.startswith("/"):
        raise NotCompilable(f"anchor #{fragment}")
    node = doc
    for part in fragment[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise NotCompilable(f"unresolvable $ref #{fragment}") from exc
    return node
