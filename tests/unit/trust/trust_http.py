"""HTTP helpers of the trust tests (imported by name): a FastAPI app serving the trust router
for one TrustService, the admin key it takes, and the two ecosystems' lists loaded into it."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from trust_world import CX_BASE, POLICY, World

from batpass.http import NodeContext, install_error_handlers, require_json
from batpass.trust import NodeIdentity, TrustedIssuer, TrustList, TrustService, sign_trust_list
from batpass.trust.routes import ERROR_SHAPES, router

ADMIN = "test-admin-key"
ROLE_TYPES = frozenset(
    {
        "AccessRoleCredential",
        "MembershipCredential",
        "RecycledContentAttestationCredential",
        "OriginAttestationCredential",
        "CertifiedCarbonFootprintCredential",
    }
)


def make_app(svc: TrustService) -> FastAPI:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    app.state.ctx = NodeContext(
        name="cx",
        did=svc.identity.did,
        base_url=CX_BASE,
        resolver_base=CX_BASE,
        profiles=("catena-x",),
        engine=svc.engine,
        admin_key_sha256=hashlib.sha256(ADMIN.encode()).hexdigest(),
        production=False,
        client=httpx.AsyncClient(),
        sync_client=httpx.Client(),
        identity=svc.identity,
        settings=None,
        services={TrustService: svc},
    )
    install_error_handlers(app, ERROR_SHAPES)

    return app


def load_list(
    svc: TrustService, ecosystem: str, operator: NodeIdentity, name: str, types: Iterable[str], now: dt.datetime
) -> None:
    """An ``ecosystem`` trust list signed by ``operator``, naming itself as issuer ``name`` of
    ``types``, loaded into ``svc``."""
    listed = TrustList(ecosystem, operator.did, now, None, (TrustedIssuer(operator.did, name, frozenset(types)),))
    asyncio.run(svc.add_trust_list(sign_trust_list(listed, operator), ecosystem=ecosystem))


def load_lists(svc: TrustService, w: World) -> None:
    load_list(svc, "catena-x", w.cx, "CX certifier", ROLE_TYPES, w.now)
    load_list(svc, "ouranos", w.jp, "JP certifier", {"CertifiedCarbonFootprintCredential"}, w.now)
    svc.set_policy(POLICY)


def role_subject(w: World, role: str = "market_surveillance_authority") -> dict[str, Any]:
    return {"id": w.holder.did, "role": role, "organisation": "Bundesamt X"}


class CountingTransport(httpx.ASGITransport):
    """The caller's node in process, counting the presentation queries that reach it."""

    def __init__(self, app: Any) -> None:
        super().__init__(app=app)
        self.queries: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/presentations/query"):
            self.queries.append(str(request.url))
        return await super().handle_async_request(request)


def provider_of(
    service: TrustService,
    world: World,
    trust_store: Any,
    client: httpx.AsyncClient,
    *,
    clock: Any = None,
    **options: Any,
) -> TrustService:
    """The JP operator's node as the provider ``service``'s node calls (over ``client``), with
    ``service``'s DID document pinned and its trust lists; ``options`` go to its TrustService."""
    provider = TrustService(
        trust_store,
        world.jp,
        base_url="https://jp-cert.test:9443",
        ecosystem="catena-x",
        operators={"catena-x": world.cx.did},
        allowed_hosts=["cx-cert.test:8443"],
        client=client,
        **({} if clock is None else {"clock": clock}),
        **options,
    )
    provider.resolver.pin(service.did_document())
    provider.registry.lists = service.registry.lists
    return provider
