"""Two in-process batpass nodes speaking DSP over httpx (ASGI transports routed by host).

The ``ParticipantVerifier`` and ``TokenIssuer`` ports get table-driven fakes here (trust's DCP
implementation is wired by the node); everything else is the real package on a real store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine, select, update

from batpass.core.errors import BatpassError, InvalidInput, Unauthorized
from batpass.dataspace import (
    MIGRATIONS_DIR,
    Asset,
    DataspaceSettings,
    DspConsumer,
    DspProvider,
    OfferDefinition,
    Participant,
    TwinRegistry,
    routes,
)
from batpass.http import NodeContext, problem_response, require_json
from batpass.store import outbox_table

ADMIN_KEY = "admin-key-for-tests-0123456789"
PROVIDER_DID = "did:web:provider.test"
CONSUMER_DID = "did:web:consumer.test"
OTHER_DID = "did:web:other.test"
PROVIDER_BPN = "BPNL000000000PRV"
CONSUMER_BPN = "BPNL000000000CNS"
OTHER_BPN = "BPNL000000000OTH"
MEMBER = frozenset({"MembershipCredential", "DataExchangeGovernanceCredential"})


class Directory:
    """Tokens ``tok:<did>:<audience>`` → participants (a stand-in for DCP verification)."""

    def __init__(self) -> None:
        self.participants: dict[str, Participant] = {}

    def add(self, p: Participant) -> Participant:
        self.participants[p.did] = p
        return p


@dataclass
class TableVerifier:
    directory: Directory
    audience: str

    async def verify(self, authorization: str | None) -> Participant:
        token = (authorization or "").removeprefix("Bearer ").strip()
        parts = token.split("|")
        if len(parts) != 3 or parts[0] != "tok" or parts[2] != self.audience:
            raise Unauthorized("bad self-issued token", rule="test directory")
        p = self.directory.participants.get(parts[1])
        if p is None:
            raise Unauthorized("unknown participant", rule="test directory")
        return p


@dataclass
class TableIssuer:
    did: str

    def issue(self, *, audience: str) -> str:
        return f"tok|{self.did}|{audience}"


@dataclass
class JsonSource:
    """An asset source serving fixed JSON documents by key."""

    docs: dict[str, Any] = field(default_factory=dict)

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        return {"key": key, "for": participant_bpnl, **self.docs.get(key, {})}


def error_handler(request: Request, err: BatpassError) -> Any:
    path = request.url.path
    for prefix in sorted(routes.ERROR_SHAPES, key=len, reverse=True):
        if path.startswith(prefix):
            return routes.ERROR_SHAPES[prefix](err)
    return problem_response(err)


@dataclass
class Node:
    name: str
    did: str
    bpnl: str
    engine: Engine
    app: FastAPI
    provider: DspProvider
    consumer: DspConsumer
    registry: TwinRegistry
    source: JsonSource

    @property
    def base_url(self) -> str:
        return f"https://{self.name}.test"


class Network:
    """Routes requests by host to in-process apps; pumps each node's outbox like the dispatcher."""

    def __init__(self) -> None:
        self.apps: dict[str, FastAPI] = {}
        self.nodes: list[Node] = []
        self.down: set[str] = set()

    def transport(self) -> httpx.AsyncBaseTransport:
        net = self

        class Router(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                host = request.url.host
                if host in net.down or host not in net.apps:
                    raise httpx.ConnectError(f"{host} unreachable", request=request)
                return await httpx.ASGITransport(app=net.apps[host]).handle_async_request(request)

        return Router()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    async def pump(self, rounds: int = 10) -> int:
        """Deliver pending outbox messages of every node until none is left; returns how many."""
        sent = 0
        async with self.client() as client:
            for _ in range(rounds):
                progressed = False
                for node in self.nodes:
                    with node.engine.connect() as conn:
                        rows = conn.execute(
                            select(outbox_table)
                            .where(outbox_table.c.status == "pending")
                            .order_by(outbox_table.c.created_at, outbox_table.c.id)
                        ).all()
                    for row in rows:
                        resp = await client.request(row.method, row.destination, json=row.body, headers=row.headers)
                        with node.engine.begin() as conn:
                            conn.execute(
                                update(outbox_table)
                                .where(outbox_table.c.id == row.id)
                                .values(
                                    status="sent" if resp.status_code < 300 else "dead",
                                    attempts=row.attempts + 1,
                                    response_status=resp.status_code,
                                    sent_at=dt.datetime.now(dt.UTC),
                                )
                            )
                        sent += 1
                        progressed = True
                if not progressed:
                    break
        return sent


def build_node(
    net: Network, directory: Directory, engine: Engine, name: str, did: str, bpnl: str, *, production: bool = False
) -> Node:
    base = f"https://{name}.test"
    settings = DataspaceSettings(did=did, base_url=base, bpnl=bpnl)
    verifier = TableVerifier(directory, did)
    issuer = TableIssuer(did)
    source = JsonSource()
    client = net.client()
    provider = DspProvider(engine, settings=settings, verifier=verifier, token_issuer=issuer, sources={"json": source})
    consumer = DspConsumer(engine, settings=settings, verifier=verifier, token_issuer=issuer, client=client)
    registry = TwinRegistry(engine, verifier=verifier)
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(routes.router)
    ctx = NodeContext(
        name=name,
        did=did,
        base_url=base,
        resolver_base=base,
        profiles=("catena-x",),
        engine=engine,
        admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        production=production,
        client=client,
        sync_client=httpx.Client(),
        identity=None,
        settings=settings,
    )
    ctx.services[DspProvider] = provider
    ctx.services[DspConsumer] = consumer
    ctx.services[TwinRegistry] = registry
    app.state.ctx = ctx
    app.add_exception_handler(BatpassError, error_handler)  # type: ignore[arg-type]

    async def validation(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return error_handler(request, InvalidInput(str(first.get("msg", "invalid")), field=loc, rule="request schema"))

    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    node = Node(name, did, bpnl, engine, app, provider, consumer, registry, source)
    net.apps[f"{name}.test"] = app
    net.nodes.append(node)
    directory.add(Participant(did=did, bpnl=bpnl, memberships=MEMBER))
    return node


CX_USAGE = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "and": [
                        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
                        {
                            "leftOperand": "FrameworkAgreement",
                            "operator": "eq",
                            "rightOperand": "DataExchangeGovernance:1.0",
                        },
                        {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": ["cx.circular.dpp:1"]},
                    ]
                }
            ],
        }
    ],
}


def access_for(*bpns: str) -> dict[str, Any]:
    constraints: list[dict[str, Any]] = [{"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}]
    if bpns:
        constraints.append({"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": list(bpns)})
    return {"permission": [{"action": "access", "constraint": [{"and": constraints}]}]}


@pytest.fixture
def network(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[tuple[Network, Node, Node, Directory]]:
    net = Network()
    directory = Directory()
    provider = build_node(net, directory, make_store([MIGRATIONS_DIR]), "provider", PROVIDER_DID, PROVIDER_BPN)
    consumer = build_node(net, directory, make_store([MIGRATIONS_DIR]), "consumer", CONSUMER_DID, CONSUMER_BPN)
    directory.add(Participant(did=OTHER_DID, bpnl=OTHER_BPN, memberships=MEMBER))
    provider.provider.register_asset(
        Asset(
            id="asset-1",
            source="json",
            source_key="doc-1",
            title="Battery data",
            properties={"description": "opaque JSON"},
        )
    )
    provider.source.docs["doc-1"] = {"value": 42}
    provider.provider.register_offer(
        OfferDefinition(id="offer-1", asset_id="asset-1", access_policy=access_for(CONSUMER_BPN), usage_policy=CX_USAGE)
    )
    yield net, provider, consumer, directory


def token(sender: str, audience: str) -> dict[str, str]:
    return {"Authorization": f"tok|{sender}|{audience}"}
