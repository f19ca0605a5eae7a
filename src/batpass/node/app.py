"""The composition root: ``create_app(settings)`` builds one node's FastAPI application.

The lifespan opens the node (configuration, migrated engine, keys), builds the outbound HTTPS
clients that trust the federation CA (once, warmed at start), registers each capability's
services for the node's profiles, mounts the routers under DESIGN section 2's URL layout and
starts the outbox dispatcher. Errors are translated at this edge: RFC 9457 problem details on
``/v1`` and elsewhere, and each standard API's own shape on its prefix (``ERROR_SHAPES``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from batpass import __version__
from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.settings import Settings
from batpass.http import Ctx, NodeContext, problem_response
from batpass.node._outbox import OutboxDispatcher
from batpass.node._tls import client_ssl_context
from batpass.node.local import LocalNode, open_node
from batpass.participants import ParticipantService
from batpass.participants import routes as participants_routes
from batpass.trust import did_document

__all__ = ["create_app"]

log = logging.getLogger("batpass.node")

ErrorShape = Callable[[BatpassError], Response]


def _routers() -> list[tuple[Any, dict[str, ErrorShape]]]:
    """Every capability router with the error shapes of the standard API it serves."""
    mods: list[Any] = [participants_routes]
    return [(m.router, dict(getattr(m, "ERROR_SHAPES", {}))) for m in mods]


def _register_services(ctx: NodeContext, node: LocalNode) -> None:
    ctx.services[ParticipantService] = ParticipantService(ctx.engine)


def _validation_to_invalid_input(exc: RequestValidationError) -> InvalidInput:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = first.get("msg", "invalid request")
    return InvalidInput(
        f"{field}: {msg}" if field else str(msg), field=field, rule=str(first.get("type", "validation"))
    )


def create_app(settings: Settings, *, node_name: str | None = None) -> FastAPI:
    name = node_name or settings.node
    if not name:
        raise InvalidInput("no node selected", field="node", rule="pass --node NAME or set BATPASS_NODE")
    routers = _routers()
    shapes: list[tuple[str, ErrorShape]] = sorted(
        ((prefix, fn) for _, s in routers for prefix, fn in s.items()), key=lambda p: -len(p[0])
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        node = open_node(name, settings=settings)
        engine = node.engine
        identity = node.identity
        verify: Any = client_ssl_context(node.paths.ca_cert)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        client = httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(10.0), limits=limits, http2=False)
        sync_client = httpx.Client(verify=verify, timeout=httpx.Timeout(10.0))
        ctx = NodeContext(
            name=node.name,
            did=node.did,
            base_url=node.base_url,
            resolver_base=node.resolver_base,
            profiles=node.config.profiles,
            engine=engine,
            admin_key_sha256=node.config.admin_key_sha256,
            production=settings.production,
            client=client,
            sync_client=sync_client,
            identity=identity,
            settings=settings,
        )
        ctx.services[LocalNode] = node
        _register_services(ctx, node)
        app.state.ctx = ctx
        dispatcher = OutboxDispatcher(engine, client)
        ctx.services[OutboxDispatcher] = dispatcher
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            await client.aclose()
            sync_client.close()
            node.close()

    app = FastAPI(
        title="batpass node",
        version=__version__,
        description="EU battery passports and critical-material traceability (Catena-X and Ouranos).",
        lifespan=lifespan,
    )

    def shaped(request: Request, err: BatpassError) -> Response:
        path = request.url.path
        for prefix, fn in shapes:
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
        return shaped(request, _validation_to_invalid_input(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return shaped(
                request, NotFound(f"no route {request.method} {request.url.path}", rule="URL layout (DESIGN section 2)")
            )
        err = BatpassError(str(exc.detail))
        err.status = exc.status_code
        err.title = "HTTP error"
        return shaped(request, err)

    @app.get("/health", tags=["node"])
    def health(ctx: Ctx) -> dict[str, Any]:
        return {
            "status": "ok",
            "name": ctx.name,
            "did": ctx.did,
            "profiles": list(ctx.profiles),
            "version": __version__,
        }

    @app.get("/.well-known/did.json", tags=["node"])
    def node_did(ctx: Ctx) -> JSONResponse:
        return JSONResponse(did_document(ctx.identity, services=_services(ctx)), media_type="application/did+json")

    for router, _ in routers:
        app.include_router(router)
    return app


def _services(ctx: NodeContext) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {"batpass": ("BatpassNode", ctx.base_url + "/v1")}
    if "catena-x" in ctx.profiles:
        out["dsp"] = ("DataService", ctx.base_url + "/api/dsp")
        out["credential-service"] = ("CredentialService", ctx.base_url + "/dcp")
    if "ouranos" in ctx.profiles:
        out["ouranos"] = ("OuranosDataTransaction", ctx.base_url)
    return out


def app_from_env() -> FastAPI:
    """uvicorn factory (``batpass serve``): the node named by ``BATPASS_NODE``."""
    from batpass.core.settings import load_settings

    return create_app(load_settings())
