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
from batpass.compliance import load_ruleset
from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.settings import Settings
from batpass.dataspace import DataspaceSettings, DspConsumer, DspProvider, TwinRegistry
from batpass.dataspace import routes as dataspace_routes
from batpass.footprint import PactService
from batpass.footprint import routes as footprint_routes
from batpass.http import Ctx, NodeContext, problem_response
from batpass.ledger import LedgerService
from batpass.ledger import routes as ledger_routes
from batpass.node._adapters import DcpParticipantAdapter, DidKeyResolver, LedgerSummarySource, SelfIssuedTokenIssuer
from batpass.node._config import NodeConfig, NodePaths
from batpass.node._outbox import OutboxDispatcher
from batpass.node._tls import client_ssl_context
from batpass.node.local import LocalNode, open_node
from batpass.ouranos import OuranosHub
from batpass.ouranos import routes as ouranos_routes
from batpass.participants import ParticipantService
from batpass.participants import routes as participants_routes
from batpass.passport import PassportRules, PassportService, RoleVerifier
from batpass.passport import routes as passport_routes
from batpass.scenario import HIGH_RISK_SITES
from batpass.trust import NodeIdentity, TrustService
from batpass.trust import routes as trust_routes

__all__ = ["create_app"]

log = logging.getLogger("batpass.node")

ErrorShape = Callable[[BatpassError], Response]


def _routers(profiles: tuple[str, ...]) -> list[tuple[Any, dict[str, ErrorShape]]]:
    """The capability routers a node with these profiles serves, with the error shapes of the
    standard API each one speaks."""
    mods: list[Any] = [participants_routes, trust_routes, ledger_routes, passport_routes]
    if "ouranos" in profiles:
        mods.append(ouranos_routes)
    if "catena-x" in profiles:
        mods.extend([dataspace_routes, footprint_routes])
    return [(m.router, dict(getattr(m, "ERROR_SHAPES", {}))) for m in mods]


def _ecosystem(profiles: tuple[str, ...]) -> str:
    return "ouranos" if "ouranos" in profiles and "catena-x" not in profiles else "catena-x"


def _register_services(ctx: NodeContext, node: LocalNode) -> None:
    cfg = node.config
    ctx.services[ParticipantService] = ParticipantService(ctx.engine)
    hosts = {f"{cfg.host}:{cfg.port}", *cfg.extra.get("federation_hosts", [])}
    trust = TrustService(
        ctx.engine,
        node.identity,
        base_url=node.base_url,
        ecosystem=cfg.extra.get("ecosystem", _ecosystem(cfg.profiles)),
        operators=cfg.extra.get("trust_operators", {}),
        allowed_hosts=sorted(hosts),
        client=ctx.client,
        sync_client=ctx.sync_client,
        profiles=cfg.profiles,
        bpn=cfg.bpnl,
    )
    ctx.services[TrustService] = trust
    if "catena-x" in cfg.profiles:
        ctx.services[PactService] = PactService(ctx.engine, base_url=node.base_url)
        ds = DataspaceSettings(did=node.did, base_url=node.base_url, bpnl=cfg.bpnl)
        verifier = DcpParticipantAdapter(trust)
        issuer = SelfIssuedTokenIssuer(node.identity, bpn=cfg.bpnl)
        ctx.services[DspProvider] = DspProvider(ctx.engine, settings=ds, verifier=verifier, token_issuer=issuer)
        ctx.services[DspConsumer] = DspConsumer(
            ctx.engine, settings=ds, verifier=verifier, token_issuer=issuer, client=ctx.client
        )
        ctx.services[TwinRegistry] = TwinRegistry(ctx.engine, verifier=verifier)
    hub: OuranosHub | None = None
    if "ouranos" in cfg.profiles:
        hub = OuranosHub(ctx.engine, node.identity, hub_home=node.home / "ouranos", base_url=node.base_url)
        ctx.services[OuranosHub] = hub
    ledger = LedgerService(
        ctx.engine,
        node.identity,
        identities=_operator_identities(hub, node.identity.did),
        high_risk_sites=cfg.extra.get("high_risk_sites", HIGH_RISK_SITES),
    )
    ctx.services[LedgerService] = ledger
    ctx.services[PassportService] = PassportService(
        ctx.engine,
        node.identity,
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base=node.resolver_base,
        # the node that keeps a signed copy of every version; a node without a configured
        # partner keeps its own copies until one is named (config extra "passport_backup_url")
        backup_url=cfg.extra.get("passport_backup_url", node.base_url if node.base_url.startswith("https") else "https://localhost"),
        key_resolver=DidKeyResolver(trust),
        summaries=LedgerSummarySource(ledger, node.did, node.resolver_base),
    )
    ctx.services[RoleVerifier] = trust


def _operator_identities(hub: OuranosHub | None, own_did: str) -> Callable[[str], NodeIdentity | None]:
    """The keys a node holds for ledger owners: its own, and on a hub each operator's."""
    prefix = own_did + ":operators:"

    def lookup(owner_did: str) -> NodeIdentity | None:
        if hub is not None and owner_did.startswith(prefix):
            return hub.operator_identity(owner_did[len(prefix) :])
        return None

    return lookup


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
    profiles = NodeConfig.load(NodePaths(settings.home / name).config).profiles
    routers = _routers(profiles)
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
        return JSONResponse(ctx.service(TrustService).did_document(), media_type="application/did+json")

    for router, _ in routers:
        app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (``batpass serve``): the node named by ``BATPASS_NODE``."""
    from batpass.core.settings import load_settings

    return create_app(load_settings())
