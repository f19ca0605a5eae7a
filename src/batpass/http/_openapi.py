"""OpenAPI documents that say how each route really answers an error.

FastAPI documents a 422 ``HTTPValidationError`` on every route with parameters; no batpass route
gives it (the error edge, ``_errors.py``, answers request-validation errors as 400 in the route's
own error shape). :func:`install_openapi` replaces it, on every operation, with the error shape of
the API the path belongs to (by path prefix, the longest wins, as ``install_error_handlers``
chooses the shape of the answer): RFC 9457 problem details (``application/problem+json``) unless
the node names another of :data:`ERROR_SCHEMAS` (EDC's error array, PACT's ``Error``, the OAuth
pair, DSP, AAS, Ouranos). Every operation gets a ``default`` response in that shape (the last
resort answers a 500 in it too) and, on batpass's own API (``ErrorDoc.own``), the statuses it
gives: 400 with parameters or a body, 401 behind the admin key, 404 with path parameters, 409 and
422 on writes, 413 and 415 with a JSON body. Routes behind the admin key name the ``adminKey``
security scheme (``X-Api-Key``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

__all__ = ["ERROR_SCHEMAS", "PROBLEM", "PROBLEM_MEDIA_TYPE", "ErrorDoc", "document_errors", "install_openapi"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_JSON = "application/json"
_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}

#: component name -> JSON Schema of each error shape the node answers in
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details; batpass adds the rule and field a refusal names.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": _STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": _STRING,
            "instance": _STRING,
            "rule": _STRING,
            "field": _STRING,
            "table": _STRING,
            "key": _STRING,
        },
    },
    "EdcError": {
        "title": "EdcError",
        "description": "Eclipse EDC management API error: a list of messages.",
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": _STRING,
                "type": _STRING,
                "path": _NULLABLE_STRING,
                "invalidValue": {"type": ["string", "number", "integer", "boolean", "null"]},
            },
        },
    },
    "PactError": {
        "title": "PactError",
        "description": "PACT Technical Specifications v3 Error.",
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": _STRING, "message": _STRING},
    },
    "OAuthError": {
        "title": "OAuthError",
        "description": "RFC 6749 section 5.2 / RFC 6750 section 3.1 error response (DCP uses the same pair).",
        "type": "object",
        "required": ["error"],
        "properties": {"error": _STRING, "error_description": _STRING},
    },
    "DspError": {
        "title": "DspError",
        "description": "Dataspace Protocol 2025-1 CatalogError, ContractNegotiationError or TransferError.",
        "type": "object",
        "required": ["@context", "@type", "code"],
        "properties": {
            "@context": {},
            "@type": {"type": "string", "enum": ["CatalogError", "ContractNegotiationError", "TransferError"]},
            "code": _STRING,
            "reason": {"type": "array"},
            "providerPid": _STRING,
            "consumerPid": _STRING,
        },
    },
    "AasError": {
        "title": "AasError",
        "description": "AAS Part 2 (API) Result: a list of messages.",
        "type": "object",
        "required": ["messages"],
        "properties": {
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "messageType", "text"],
                    "properties": {"code": _STRING, "messageType": _STRING, "text": _STRING, "timestamp": _STRING},
                },
            }
        },
    },
    "DiscoveryError": {
        "title": "DiscoveryError",
        "description": "Tractus-X discovery finder / BPN discovery ErrorResponse.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["details"],
                "properties": {"message": _STRING, "path": _NULLABLE_STRING, "details": {"type": "object"}},
            }
        },
    },
    "OuranosError": {
        "title": "OuranosError",
        "description": "The Ouranos data transaction API's error body.",
        "type": "object",
        "required": ["code", "message", "detail"],
        "properties": {"code": _STRING, "message": _STRING, "detail": _STRING},
    },
}


class ErrorDoc:
    """How the routes under one path prefix answer errors: media type and schema component;
    ``own`` for batpass's own API (which also lists the statuses it gives, but those in
    ``never``: EDC's shape answers an invariant violation as 400, never 422)."""

    __slots__ = ("component", "media_type", "never", "own")

    def __init__(
        self, component: str, media_type: str = _JSON, *, own: bool = False, never: Iterable[str] = ()
    ) -> None:
        self.component, self.media_type, self.own = component, media_type, own
        self.never = frozenset(never)


PROBLEM = ErrorDoc("Problem", PROBLEM_MEDIA_TYPE, own=True)


def _shape_of(path: str, ordered: list[tuple[str, ErrorDoc]]) -> ErrorDoc:
    return next((doc for prefix, doc in ordered if path.startswith(prefix)), PROBLEM)


_DESCRIPTIONS = {
    "400": "Invalid input: a parameter or the body breaks a rule (named in the answer)",
    "401": "The admin key (X-Api-Key) or the caller's token is missing or wrong",
    "404": "Nothing with this identifier",
    "409": "Conflicts with the stored state",
    "413": "The request body is over this route's limit",
    "415": "The body is not sent as JSON",
    "422": "The request would break an invariant of the stored data",
    "default": "An error, in this API's error shape (5xx included: upstream unavailable, integrity, internal error)",
}


def _needs_admin(dependant: Dependant, admin: frozenset[Callable[..., Any]]) -> bool:
    stack = [dependant]
    while stack:
        dep = stack.pop()
        if dep.call in admin:
            return True
        stack.extend(dep.dependencies)
    return False


def _admin_operations(routes: Sequence[BaseRoute], admin: frozenset[Callable[..., Any]]) -> set[tuple[str, str]]:
    """(path, method) of each route behind one of the ``admin`` dependencies, included routers'
    routes too (FastAPI includes them lazily: ``iter_route_contexts`` walks them as its
    OpenAPI generator does)."""
    out: set[tuple[str, str]] = set()
    for route in iter_route_contexts(routes):
        dependant = getattr(route, "dependant", None) if isinstance(route.original_route, APIRoute) else None
        if isinstance(dependant, Dependant) and route.path_format and _needs_admin(dependant, admin):
            out.update((route.path_format, m.lower()) for m in route.methods or ())
    return out


def _is_validation_error(response: Any) -> bool:
    content = response.get("content", {}) if isinstance(response, dict) else {}
    refs = {str(media.get("schema", {}).get("$ref", "")) for media in content.values()}
    return "#/components/schemas/HTTPValidationError" in refs


def _statuses(path: str, method: str, op: dict[str, Any], admin: bool) -> list[str]:
    params = op.get("parameters", [])
    body = op.get("requestBody")
    codes = []
    if params or body:
        codes.append("400")
    if admin:
        codes.append("401")
    if any(p.get("in") == "path" for p in params) or "{" in path:
        codes.append("404")
    if method in _WRITES:
        codes += ["409", "422"]
    if body and any(m == _JSON or m.endswith("+json") for m in body.get("content", {})):
        codes += ["413", "415"]
    return codes


def document_errors(
    doc: dict[str, Any], docs: Mapping[str, ErrorDoc], *, admin_operations: Set[tuple[str, str]] = frozenset()
) -> dict[str, Any]:
    """``doc`` with each operation's error responses in its API's shape (in place; returned):
    ``docs`` maps path prefixes to shapes (the longest prefix wins; the rest is RFC 9457)."""
    ordered = sorted(docs.items(), key=lambda p: -len(p[0]))
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for path, item in doc.get("paths", {}).items():
        shape = _shape_of(path, ordered)
        ref = {"$ref": f"#/components/schemas/{shape.component}"}
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            if _is_validation_error(responses.get("422")):
                del responses["422"]
            admin = (path, method) in admin_operations
            codes = [c for c in _statuses(path, method, op, admin) if c not in shape.never] if shape.own else []
            for code in [*codes, "default"]:
                responses.setdefault(
                    code, {"description": _DESCRIPTIONS[code], "content": {shape.media_type: {"schema": ref}}}
                )
            op["responses"] = dict(sorted(responses.items(), key=lambda r: (r[0] == "default", r[0])))
            if admin:
                op.setdefault("security", [{"adminKey": []}])
            schemas.setdefault(shape.component, ERROR_SCHEMAS[shape.component])
    if admin_operations:
        components.setdefault("securitySchemes", {})["adminKey"] = {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "The node's admin key (batpass init prints it once)",
        }
    text = json.dumps(doc.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in text:
            schemas.pop(unused, None)
    return doc


def install_openapi(app: FastAPI, docs: Mapping[str, ErrorDoc], admin: Iterable[Callable[..., Any]]) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) document the errors by path prefix
    (``docs``); ``admin`` are the dependencies that check the admin key."""
    generate, checks = app.openapi, frozenset(admin)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                generate(), docs, admin_operations=_admin_operations(app.routes, checks)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
