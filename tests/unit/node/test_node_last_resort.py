"""The last resort, route by route (issue 17 item 3): a real route of each API served by each node
kind is made to crash (a service method it calls raises ``RuntimeError``), and the node answers
500 in the error shape of that API — RFC 9457 on ``/v1``, DSP's error messages, EDC's error
array on ``/management``, PACT's ``Error`` on ``/pact``, the OAuth pair on the token endpoints and
DCP, AAS's ``Result`` on the registry, the Ouranos body on the hub's published API — never plain
text, and never with the exception's own text (it stays in the log). ``test_node_edge.py`` does
the same by path prefix with routes added for the purpose; this one goes through the routes
themselves, their dependencies and worker threads included."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect

from batpass.bridge import CrosswalkService
from batpass.core.settings import Settings
from batpass.dataspace import DspProvider, EdcManagement, TwinRegistry
from batpass.footprint import PactService
from batpass.http import UNEXPECTED_LOGGER
from batpass.node import create_app, init_node
from batpass.node._adapters import DcpParticipantAdapter
from batpass.ouranos import OuranosHub
from batpass.ouranos._accounts import Accounts
from batpass.participants import ParticipantService
from batpass.trust import TrustService

SECRET = "a bug on purpose 7f3a"


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


async def _aboom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


@dataclass(frozen=True)
class Crash:
    """One route made to crash: the method patched, the request, and the shape expected."""

    name: str
    kind: str  # node kind (profiles below)
    target: tuple[type[Any], str, bool]  # class, method, async
    method: str
    path: str
    request: dict[str, Any]  # extra TestClient arguments ("admin" in headers: the admin key)
    shape: Callable[[dict[str, Any] | list[Any]], bool]
    media_type: str = "application/json"


def _problem(b: Any) -> bool:
    return b["status"] == 500 and b["type"].endswith("/error") and b["title"]


def _dsp(kind: str) -> Callable[[Any], bool]:
    return lambda b: b["@type"] == kind and isinstance(b["reason"], list) and "@context" in b


def _oauth(b: Any) -> bool:
    return b["error"] == "server_error" and isinstance(b["error_description"], str)


def _ouranos(service: str) -> Callable[[Any], bool]:
    return lambda b: b["code"] == f"[{service}] InternalServerError" and b["message"] == "Unexpected error occurred"


ADMIN = {"X-Api-Key": "admin"}
DSP_JSON = {"headers": {"Authorization": "token"}, "json": {"@type": "CatalogRequestMessage", "filter": []}}

CRASHES = [
    Crash("v1", "catena-x", (ParticipantService, "me", False), "GET", "/v1/participants/self", {}, _problem,
          "application/problem+json"),
    Crash("v1-admin", "catena-x", (ParticipantService, "list", False), "GET", "/v1/participants",
          {"headers": ADMIN}, _problem, "application/problem+json"),
    Crash("dsp-catalog", "catena-x", (DcpParticipantAdapter, "verify_identified", True), "POST",
          "/api/dsp/2025-1/catalog/request", DSP_JSON, _dsp("CatalogError")),
    Crash("dsp-negotiation", "catena-x", (DcpParticipantAdapter, "verify_identified", True), "POST",
          "/api/dsp/2025-1/negotiations/request", DSP_JSON, _dsp("ContractNegotiationError")),
    Crash("dsp-transfer", "catena-x", (DcpParticipantAdapter, "verify", True), "POST",
          "/api/dsp/2025-1/transfers/request", DSP_JSON, _dsp("TransferError")),
    Crash("dataplane-token", "catena-x", (DspProvider, "refresh", False), "POST", "/api/public/token",
          {"data": {"grant_type": "refresh_token", "refresh_token": "r"}}, _oauth),
    Crash("aas", "catena-x", (TwinRegistry, "list_shells", False), "GET", "/api/v3/shell-descriptors",
          {"headers": ADMIN}, lambda b: b["messages"][0]["code"] == "500"),
    Crash("dcp", "catena-x", (TrustService, "holder.query_caller", True), "POST", "/dcp/presentations/query",
          {"json": {}, "headers": {"Authorization": "Bearer x"}},
          lambda b: isinstance(b["error"], str) and isinstance(b["error_description"], str)),
    Crash("management", "catena-x", (EdcManagement, "query_assets", False), "POST",
          "/management/v3/assets/request", {"headers": ADMIN, "json": {}},
          lambda b: isinstance(b, list) and b[0]["message"] and b[0]["type"]),
    Crash("pact", "catena-x", (PactService, "authenticate", False), "GET", "/pact/3/footprints",
          {"headers": {"Authorization": "Bearer x"}}, lambda b: b["code"] == "InternalError" and b["message"]),
    Crash("pact-v2", "catena-x", (PactService, "authenticate", False), "GET", "/pact/2/footprints",
          {"headers": {"Authorization": "Bearer x"}}, lambda b: b["code"] == "InternalError" and b["message"]),
    Crash("pact-token", "catena-x", (PactService, "issue_token", False), "POST", "/pact/auth/token",
          {"data": {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}}, _oauth),
    Crash("hub-login", "ouranos", (Accounts, "login", False), "POST", "/auth/login",
          {"json": {"operatorAccountId": "a@example.com", "accountPassword": "p"}, "headers": {"apiKey": "k"}},
          _ouranos("auth")),
    Crash("hub-datatransport", "ouranos", (Accounts, "authenticate", False), "GET", "/api/v1/datatransport",
          {"params": {"dataTarget": "parts"}, "headers": {"apiKey": "k", "Authorization": "Bearer t"}},
          _ouranos("dataspace")),
    Crash("hub-admin", "ouranos", (OuranosHub, "operators", False), "GET", "/v1/ouranos/admin/operators",
          {"headers": ADMIN}, _problem, "application/problem+json"),
    Crash("bridge", "bridge", (CrosswalkService, "list", False), "GET", "/v1/bridge/crosswalk",
          {"headers": ADMIN}, _problem, "application/problem+json"),
]  # fmt: skip

PROFILES = {"catena-x": ["catena-x"], "ouranos": ["ouranos"], "bridge": ["catena-x", "bridge"]}


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[TestClient, str]]]:
    out: dict[str, tuple[TestClient, str]] = {}
    opened: list[TestClient] = []
    try:
        for kind, profiles in PROFILES.items():
            settings = Settings(home=tmp_path_factory.mktemp(kind) / "home", startup_audit=False)
            node, key = init_node("n1", profiles=profiles, settings=settings, bpnl="BPNL00000003AYRE")
            node.close()
            client = TestClient(
                create_app(settings, node_name="n1"), base_url=node.base_url, raise_server_exceptions=False
            )
            client.__enter__()
            opened.append(client)
            out[kind] = (client, key)
        yield out
    finally:
        for client in opened:
            client.__exit__(None, None, None)


def _patched(
    crash: Crash,
    clients: dict[str, tuple[TestClient, str]],
    monkeypatch: pytest.MonkeyPatch,
    sync: Callable[..., Any],
    asynchronous: Callable[..., Any],
) -> tuple[TestClient, dict[str, Any]]:
    """The crash's node client with the crash's method replaced, and its request's arguments."""
    client, key = clients[crash.kind]
    cls, name, is_async = crash.target
    # the node's own service object where it is one (some bind their methods at start), else the class
    target = client.app.state.ctx.services.get(cls, cls)  # type: ignore[attr-defined]
    *parts, name = name.split(".")  # "holder.query_caller": a component of the service
    for part in parts:
        target = getattr(target, part)
    monkeypatch.setattr(target, name, asynchronous if is_async else sync)
    request = dict(crash.request)
    if "headers" in request:
        request["headers"] = {k: (key if v == "admin" else v) for k, v in request["headers"].items()}
    return client, request


@pytest.mark.allow_unexpected
@pytest.mark.parametrize("crash", CRASHES, ids=[c.name for c in CRASHES])
def test_a_crashing_route_answers_500_in_its_apis_shape(
    crash: Crash,
    clients: dict[str, tuple[TestClient, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, request = _patched(crash, clients, monkeypatch, _boom, _aboom)
    with caplog.at_level(logging.ERROR, logger=UNEXPECTED_LOGGER):
        r = client.request(crash.method, crash.path, **request)
    assert r.status_code == 500, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0] == crash.media_type, r.headers
    assert SECRET not in r.text  # the exception's text stays in the log
    assert crash.shape(r.json()), r.text
    logged = [rec for rec in caplog.records if rec.name == UNEXPECTED_LOGGER]
    assert logged and logged[0].exc_info is not None and SECRET in str(logged[0].exc_info[1])


def _gone(*args: Any, **kwargs: Any) -> Any:
    raise ClientDisconnect


async def _agone(*args: Any, **kwargs: Any) -> Any:
    raise ClientDisconnect


@pytest.mark.parametrize("crash", CRASHES[:3], ids=[c.name for c in CRASHES[:3]])
def test_a_client_gone_while_its_request_is_read_is_no_unexpected_error(
    crash: Crash,
    clients: dict[str, tuple[TestClient, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a partner past its own deadline closes the connection while the node reads its request:
    # nobody is left to answer, and it is no fault of the node's (no unexpected error is logged)
    client, request = _patched(crash, clients, monkeypatch, _gone, _agone)
    with caplog.at_level(logging.INFO):
        r = client.request(crash.method, crash.path, **request)
    assert r.status_code == 499, (r.status_code, r.text)
    assert not [rec for rec in caplog.records if rec.name == UNEXPECTED_LOGGER]


def test_every_api_is_crashed_once() -> None:
    """The list above covers each error shape the node kinds answer in: a new API (a new prefix in
    a routes module's ``ERROR_SHAPES``) needs a crash of its own."""
    from batpass.node.app import _routers

    prefixes = {
        prefix for profiles in PROFILES.values() for _, shapes in _routers(tuple(profiles)) for prefix in shapes
    }
    missing = {p for p in prefixes - _SHARED if not any(c.path.startswith(p) for c in CRASHES)}
    assert not missing, missing


#: prefixes whose shape function is one already crashed under another prefix of the same module
#: (the DSP callback paths answer TransferError / ContractNegotiationError as the ones above;
#: the version document answers CatalogError; the hub's authInfo the auth shape of /auth/)
_SHARED = {
    "/api/dsp/2025-1/callback/transfers/",
    "/api/dsp/2025-1/callback/negotiations/",
    "/.well-known/dspace-version",
    "/api/v1/authInfo",
}
