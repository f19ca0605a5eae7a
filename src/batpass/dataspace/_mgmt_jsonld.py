"""The EDC management API's JSON-LD as clients send it, and its ``QuerySpec``: the shared
vocabulary of the management facade's resource modules (``_mgmt_*``).

A compacted EDC object is read whatever prefix the client used (``edc:id``, ``id`` under EDC's
``@vocab``, the full IRI); ODRL policies are compacted the way DSP 2025-1 writes them; a
``QuerySpec`` (``filterExpression``, ``sortField``/``sortOrder``, ``offset``, ``limit``) is applied
to management objects. Pure: no storage, no HTTP. Sources: Eclipse EDC management API v3
(``QuerySpec``, ``Criterion``, ``IdResponse``), the contexts tractusx-sdk sends, ODRL 2.2.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from batpass.core.errors import InvalidInput

__all__ = [
    "EDC_NAMESPACE",
    "MANAGEMENT_CONTEXT",
    "PROTOCOL",
    "TX_AUTH",
    "asset_selected",
    "catalog_offer_id",
    "compact_policy",
    "edc_body",
    "epoch_ms",
    "expand",
    "id_response",
    "parse_criteria",
    "query",
    "string_of",
    "value_of",
]

EDC_NAMESPACE = "https://w3id.org/edc/v0.0.1/ns/"
PROTOCOL = "dataspace-protocol-http:2025-1"
TX_AUTH = "https://w3id.org/tractusx/auth/"

#: the context EDC's management API compacts its answers with
MANAGEMENT_CONTEXT: dict[str, str] = {
    "@vocab": EDC_NAMESPACE,
    "edc": EDC_NAMESPACE,
    "tx": "https://w3id.org/tractusx/v0.0.1/ns/",
    "tx-auth": TX_AUTH,
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dspace": "https://w3id.org/dspace/2025/1/",
}

#: prefixes understood in keys, types and query operands (the contexts tractusx-sdk sends)
_PREFIXES: dict[str, str] = {
    "edc": EDC_NAMESPACE,
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dspace": "https://w3id.org/dspace/2025/1/",
    "cx-common": "https://w3id.org/catenax/ontology/common#",
    "cx-taxo": "https://w3id.org/catenax/taxonomy#",
    "cx-policy": "https://w3id.org/catenax/2025/9/policy/",
    "tx": "https://w3id.org/tractusx/v0.0.1/ns/",
    "tx-auth": TX_AUTH,
    "aas-semantics": "https://admin-shell.io/aas/3/0/HasSemantics/",
}
_ODRL_KEYS = frozenset(
    {
        "permission",
        "prohibition",
        "obligation",
        "action",
        "constraint",
        "leftOperand",
        "operator",
        "rightOperand",
        "and",
        "or",
        "xone",
        "andSequence",
        "duty",
        "target",
        "assigner",
        "assignee",
    }
)
_DEFAULT_LIMIT = 50
_MAX_LIMIT = 1000
# -- JSON-LD (compacted) helpers ----------------------------------------------------------------


def expand(term: str) -> str:
    """A key, type or operand as an IRI: ``edc:id``, ``id`` (EDC ``@vocab``) and the full IRI are
    one term; ``https://purl.org/dc/terms/`` is read as the ``http`` form (both occur)."""
    if term.startswith("https://purl.org/dc/terms/"):
        return "http://purl.org/dc/terms/" + term[len("https://purl.org/dc/terms/") :]
    if "://" in term:
        return term
    prefix, sep, local = term.partition(":")
    if sep and prefix in _PREFIXES:
        return _PREFIXES[prefix] + local
    return EDC_NAMESPACE + term


def value_of(body: Mapping[str, Any], name: str) -> Any:
    """A field of a compacted EDC object, whatever prefix the client used."""
    if name in body:
        return body[name]
    wanted = expand(name)
    for key, value in body.items():
        if not key.startswith("@") and expand(key) == wanted:
            return value
    return None


def string_of(body: Mapping[str, Any], name: str, *, required: bool = False, where: str = "") -> str | None:
    value = value_of(body, name)
    if isinstance(value, Mapping):
        value = value.get("@id", value.get("@value"))
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name} is required", field=f"{where}{name}", rule="EDC management API v3")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=f"{where}{name}", rule="EDC management API v3")
    return value


def edc_body(body: Any, expected_type: str | None) -> dict[str, Any]:
    """A request body: a JSON object whose ``@type`` (when present) is the expected EDC type."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON-LD object", field="(body)", rule="EDC management API v3")
    kind = body.get("@type")
    if expected_type and kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(k, str) and expand(k) == expand(expected_type) for k in kinds):
            raise InvalidInput(
                f"@type must be {expected_type}, not {kind}", field="@type", rule="EDC management API v3"
            )
    return body


def compact_policy(value: Any) -> Any:
    """An ODRL policy with ``odrl:``-prefixed keys and ``{"@id": "odrl:use"}`` terms as DSP 2025-1
    writes them (``permission``, ``action: "use"``); empty rule lists dropped."""
    if isinstance(value, list):
        return [compact_policy(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        local = key.split(":", 1)[1] if key.startswith("odrl:") else key
        if local.startswith("http://www.w3.org/ns/odrl/2/"):
            local = local[len("http://www.w3.org/ns/odrl/2/") :]
        if local in ("action", "operator", "leftOperand") and isinstance(item, Mapping) and "@id" in item:
            item = item["@id"]
        if local in ("action", "operator") and isinstance(item, str) and item.startswith("odrl:"):
            item = item[len("odrl:") :]
        if local in ("permission", "prohibition", "obligation") and item in ([], None):
            continue
        if local in ("permission", "prohibition", "obligation", "constraint", "duty") and isinstance(item, Mapping):
            item = [item]  # DSP 2025-1 writes rules and constraints as arrays
        out[local if local in _ODRL_KEYS else key] = compact_policy(item)
    return out


def epoch_ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


# -- QuerySpec (EDC management API v3) ----------------------------------------------------------


def _path(operand: str) -> list[str]:
    """``'http://purl.org/dc/terms/type'.'@id'`` → two segments; an unquoted IRI is one key."""
    if operand.startswith("'"):
        return re.findall(r"'([^']*)'", operand)
    if "://" in operand:
        return [operand]
    return operand.split(".")


def _lookup(item: Mapping[str, Any], segments: list[str]) -> list[Any]:
    """The values at a path; the first segment is also looked up in ``properties`` (assets);
    EDC's ``id`` is the object's ``@id``."""
    if len(segments) == 1 and expand(segments[0]) == EDC_NAMESPACE + "id" and "@id" in item:
        return [item["@id"]]
    current: list[Any] = [item]
    if segments and isinstance(item.get("properties"), Mapping) and value_of(item, segments[0]) is None:
        current = [item["properties"]]
    for seg in segments:
        nxt: list[Any] = []
        for node in current:
            for n in node if isinstance(node, list) else [node]:
                if not isinstance(n, Mapping):
                    continue
                value = n.get(seg) if seg.startswith("@") else value_of(n, seg)
                if value is not None:
                    nxt.append(value)
        current = nxt
    flat: list[Any] = []
    for v in current:
        for x in v if isinstance(v, list) else [v]:
            flat.append(x.get("@id", x.get("@value")) if isinstance(x, Mapping) else x)
    return flat


def _matches(values: list[Any], operator: str, right: Any) -> bool:
    texts = [str(v) for v in values if v is not None]
    op = operator.strip().lower()
    if op == "=":
        return str(right) in texts
    if op == "!=":
        return str(right) not in texts
    if op == "in":
        wanted = {str(r) for r in (right if isinstance(right, list) else [right])}
        return bool(wanted & set(texts))
    if op in ("like", "ilike"):
        pattern = str(right).replace("%", "*").replace("_", "?")
        if op == "ilike":
            return any(fnmatch.fnmatchcase(x.lower(), pattern.lower()) for x in texts)
        return any(fnmatch.fnmatchcase(x, pattern) for x in texts)
    if op == "contains":
        return str(right) in texts
    raise InvalidInput(
        f"query operator '{operator}' is not supported (=, !=, in, like, ilike, contains)",
        field="filterExpression.operator",
        rule="EDC management API v3 Criterion",
    )


def parse_criteria(raw: Any, field_name: str) -> list[tuple[list[str], str, Any]]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, c in enumerate(items):
        if not isinstance(c, Mapping):
            raise InvalidInput("a criterion is an object", field=f"{field_name}[{i}]", rule="EDC Criterion")
        left = string_of(c, "operandLeft", required=True, where=f"{field_name}[{i}].")
        op = string_of(c, "operator", required=True, where=f"{field_name}[{i}].")
        assert left is not None and op is not None
        right = value_of(c, "operandRight")
        out.append((_path(left), op, right))
    return out


def query(items: Iterable[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    """Apply an EDC ``QuerySpec`` (``filterExpression``, ``sortField``/``sortOrder``, ``offset``,
    ``limit``) to management objects."""
    spec = edc_body(spec or {}, "QuerySpec")
    criteria = parse_criteria(value_of(spec, "filterExpression"), "filterExpression")
    try:
        offset = int(value_of(spec, "offset") or 0)
        limit = int(value_of(spec, "limit") or _DEFAULT_LIMIT)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("offset and limit are integers", field="querySpec", rule="EDC QuerySpec") from exc
    if offset < 0 or not 1 <= limit <= _MAX_LIMIT:
        raise InvalidInput(
            f"offset ≥ 0 and 1 ≤ limit ≤ {_MAX_LIMIT}", field="querySpec.limit", rule="EDC QuerySpec paging"
        )
    selected = [i for i in items if all(_matches(_lookup(i, p), op, r) for p, op, r in criteria)]
    sort_field = string_of(spec, "sortField")
    if sort_field:
        desc = str(value_of(spec, "sortOrder") or "ASC").upper() == "DESC"
        selected.sort(key=lambda i: [str(v) for v in _lookup(i, _path(sort_field))], reverse=desc)
    return selected[offset : offset + limit]


def asset_selected(asset: Mapping[str, Any], selector: list[tuple[list[str], str, Any]]) -> bool:
    return all(_matches(_lookup(asset, p), op, r) for p, op, r in selector)


def id_response(oid: str, at: dt.datetime) -> dict[str, Any]:
    return {"@context": MANAGEMENT_CONTEXT, "@type": "IdResponse", "@id": oid, "createdAt": epoch_ms(at)}


def catalog_offer_id(definition_id: str, asset_id: str) -> str:
    oid = f"{definition_id}:{asset_id}"
    return oid if len(oid) <= 200 else "urn:sha256:" + hashlib.sha256(oid.encode()).hexdigest()
