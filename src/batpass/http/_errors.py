"""The error edge every batpass app installs: our errors, request-validation errors and unknown
routes become RFC 9457 problem details, or a standard API's own error shape on the path prefixes
it claims (longest prefix wins). Whatever else escapes a route is answered in the same shape as a
500 (last resort: logged with its traceback under ``batpass.http.unexpected``, never plain text);
a wrong method is a 405 with ``Allow``.

:func:`require_json` is the app-wide dependency that refuses a JSON route's body sent without a
JSON media type (415), nested deeper than :data:`MAX_JSON_DEPTH` or holding a lone surrogate
escape (400) before any route sees it.
Such refusals, and a body FastAPI cannot parse, come after the route's authentication
(:func:`~batpass.http.authenticate_first`): a caller without credentials gets 401 first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.unicode import NUL_TEXT_RULE, check_scalar_text
from batpass.http._context import authenticate_first
from batpass.http._problems import problem_response

__all__ = [
    "MAX_JSON_DEPTH",
    "UNEXPECTED_LOGGER",
    "BodyLimit",
    "ErrorShape",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "install_error_handlers",
    "require_json",
    "require_storable_params",
    "validation_to_invalid_input",
]

log = logging.getLogger("batpass.http")
#: the logger of exceptions no handler knew (a test fails on any record of it)
UNEXPECTED_LOGGER = "batpass.http.unexpected"
_unexpected = logging.getLogger(UNEXPECTED_LOGGER)
#: how deep a JSON request body may nest (objects and arrays)
MAX_JSON_DEPTH = 32


class UnsupportedMediaType(InvalidInput):
    """A JSON route's body sent without a JSON media type (RFC 9110 §15.5.16)."""

    kind = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


ErrorShape = Callable[[BatpassError], Response]


def validation_to_invalid_input(exc: RequestValidationError) -> InvalidInput:
    """FastAPI's first validation error as ``InvalidInput`` naming the field."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = first.get("msg", "invalid request")
    rule = str(first.get("type", "validation"))
    return InvalidInput(f"{field}: {msg}" if field else str(msg), field=field, rule=rule)


def install_error_handlers(app: FastAPI, shapes: Mapping[str, ErrorShape]) -> Callable[[str, BatpassError], Response]:
    """Install the handlers; returns the shaper (path, error) -> response, for middleware that
    answers before a route runs."""
    ordered = sorted(shapes.items(), key=lambda p: -len(p[0]))

    def shape(path: str, err: BatpassError) -> Response:
        for prefix, fn in ordered:
            if path.startswith(prefix):
                return fn(err)
        return problem_response(err, instance=path)

    def shaped(request: Request, err: BatpassError) -> Response:
        return shape(request.url.path, err)

    @app.exception_handler(BatpassError)
    async def _batpass_error(request: Request, exc: BatpassError) -> Response:
        if exc.status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return shaped(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":  # refused before any dependency ran
            try:
                await authenticate_first(request)
            except BatpassError as err:
                return shaped(request, err)
        return shaped(request, validation_to_invalid_input(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return shaped(
                request,
                NotFound(f"no route {request.method} {request.url.path}", rule='docs/architecture.md "URL layout"'),
            )
        if exc.status_code == 400:  # a body FastAPI could not parse, before any dependency ran
            try:
                await authenticate_first(request)
            except BatpassError as auth:
                return shaped(request, auth)
            return shaped(
                request,
                InvalidInput(
                    f"{exc.detail} (not JSON, or nested too deep to read)",
                    field="(body)",
                    rule=f"RFC 8259 JSON, nesting at most {MAX_JSON_DEPTH} levels",
                ),
            )
        err = BatpassError(str(exc.detail))
        err.status = exc.status_code
        err.title = "HTTP error"
        response = shaped(request, err)
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405 (RFC 9110 §15.5.6)
            response.headers[name] = value
        return response

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: Exception) -> Response:
        """The client closed its connection while its request was read (a partner past its own
        deadline): nobody is left to answer and the node did nothing wrong, so nothing is logged
        as an error; 499 (the client closed the request, as proxies record it) goes nowhere."""
        log.info("the client closed the connection during %s %s", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, exc: Exception) -> Response:
        """The last resort: a bug answered in the route's own error shape, never plain text."""
        if isinstance(exc, ClientDisconnect):  # raised outside the routes (a middleware reading the body)
            return await _client_gone(request, exc)
        _unexpected.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        err = BatpassError(
            f"the node could not answer {request.method} {request.url.path} ({type(exc).__name__}); it is logged",
            rule="internal error",
        )
        return shaped(request, err)

    return shape


class PayloadTooLarge(InvalidInput):
    """A request body over the route's limit (RFC 9110 §15.5.14)."""

    kind = "payload-too-large"
    status = 413
    title = "Payload too large"


class BodyLimit:
    """ASGI middleware: a request body over its limit is refused with 413 in the route's error
    shape — at once when ``Content-Length`` says so, or as soon as a streamed body passes the
    limit — before anything parses it. ``limits`` gives larger limits by path prefix (an event
    batch, an import); the rest get ``default``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        limits: Mapping[str, int],
        shape: Callable[[str, BatpassError], Response],
    ) -> None:
        self.app = app
        self.default = default
        self.limits = sorted(limits.items(), key=lambda p: -len(p[0]))
        self.shape = shape

    def limit(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit(path)
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.shape(path, _too_large(limit))(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is over this route's limit of {limit} bytes",
        field="(body)",
        rule=f"request bodies at most {limit} bytes",
    )


def _depth(value: Any) -> int:
    """How deep a parsed JSON value nests (iterative: a hostile body cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node)
    return deepest


async def require_storable_params(request: Request) -> None:
    """App-wide dependency: a path or query parameter holding NUL (``%00``), which PostgreSQL
    text cannot hold, is refused (400, naming the parameter and
    :data:`~batpass.core.unicode.NUL_TEXT_RULE`) before the route looks it up; passed on, the
    driver refused it with a 500. (A URL cannot carry a lone surrogate: it is decoded as UTF-8,
    an invalid sequence as U+FFFD.) The common case is two searches of the URL's text."""
    in_path = "\x00" in request.scope.get("path", "")
    if not in_path and b"%00" not in request.scope.get("query_string", b""):
        return
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in f"{name}{value}":
            await authenticate_first(request)
            shown = name.replace("\x00", "\\u0000")
            raise InvalidInput(f"{shown}: the text holds NUL (U+0000)", field=shown, rule=NUL_TEXT_RULE)


async def require_json(request: Request) -> None:
    """App-wide dependency: a route that takes a JSON body refuses one sent with another media
    type (415), nested deeper than :data:`MAX_JSON_DEPTH` (400) or holding a lone surrogate
    escape (400, naming the member: :func:`~batpass.core.unicode.check_scalar_text`), naming the
    rule. The body model never sees such text, whatever it declares (a plain field, a standard
    document inside the body, a member it ignores)."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    if (
        body_field is None
        or request.method in ("GET", "HEAD", "OPTIONS")
        or isinstance(body_field.field_info, params.Form)
    ):
        return
    body = await request.body()
    if not body:
        return
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        await authenticate_first(request)  # credentials before the body's form
        raise UnsupportedMediaType(
            f"the body is sent as {media or 'no media type'}; this route takes application/json",
            field="content-type",
            rule="RFC 9110 §8.3: Content-Type application/json",
        )
    try:
        parsed = await request.json()
    except ValueError:
        return  # FastAPI reports the malformed JSON with its position
    if _depth(parsed) > MAX_JSON_DEPTH:
        await authenticate_first(request)
        raise InvalidInput(
            f"the body nests deeper than {MAX_JSON_DEPTH} levels",
            field="(body)",
            rule=f"JSON nesting at most {MAX_JSON_DEPTH} levels",
        )
    try:
        check_scalar_text(parsed)
    except InvalidInput:
        await authenticate_first(request)
        raise
