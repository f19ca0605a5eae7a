"""The error edge every batpass app installs: our errors, request-validation errors and unknown
routes become RFC 9457 problem details, or a standard API's own error shape on the path prefixes
it claims (longest prefix wins)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.http._problems import problem_response

__all__ = ["ErrorShape", "install_error_handlers", "validation_to_invalid_input"]

log = logging.getLogger("batpass.http")

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


def install_error_handlers(app: FastAPI, shapes: Mapping[str, ErrorShape]) -> None:
    ordered = sorted(shapes.items(), key=lambda p: -len(p[0]))

    def shaped(request: Request, err: BatpassError) -> Response:
        path = request.url.path
        for prefix, fn in ordered:
            if path.startswith(prefix):
                return fn(err)
        return problem_response(err, instance=path)

    @app.exception_handler(BatpassError)
    async def _batpass_error(request: Request, exc: BatpassError) -> Response:
        if exc.status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return shaped(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return shaped(request, validation_to_invalid_input(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return shaped(
                request,
                NotFound(f"no route {request.method} {request.url.path}", rule='docs/architecture.md "URL layout"'),
            )
        err = BatpassError(str(exc.detail))
        err.status = exc.status_code
        err.title = "HTTP error"
        return shaped(request, err)
