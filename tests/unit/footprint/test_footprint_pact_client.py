"""The requesting side of PACT: partners' credentials, tokens fetched at send time and cached,
the outbox dispatcher's header hook, and a RequestCreated → RequestFulfilled round trip between
two in-process PACT hosts (each one's HTTP client is the other's ASGI app)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from footprint_testkit import FOOTPRINT as FP
from sqlalchemy import Engine, delete, func, select

from batpass.core.errors import InvalidInput, NotFound, UpstreamUnavailable
from batpass.footprint import MIGRATIONS_DIR, PactService, TokenCache
from batpass.footprint._harness import ADMIN_KEY, build_app
from batpass.footprint._sql import pact_peers, pact_tokens
from batpass.store import OutboxDispatcher, outbox_table

A_URL = "https://a.example:8443"
B_URL = "https://b.example:9443"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pair:
    a: PactService
    b: PactService
    a_http: TestClient  # admin calls to A
    clock: Clock


@pytest.fixture
def pair(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[Pair]:
    """A (requester) and B (data owner), each with a client of the other and credentials for it."""
    clock = Clock()
    a = PactService(make_store([MIGRATIONS_DIR]), base_url=A_URL, tokens=TokenCache(clock=clock))
    b = PactService(make_store([MIGRATIONS_DIR]), base_url=B_URL, tokens=TokenCache(clock=clock))
    app_a, app_b = build_app(a, base_url=A_URL), build_app(b, base_url=B_URL)
    with TestClient(app_b, base_url=B_URL) as to_b, TestClient(app_a, base_url=A_URL) as to_a:
        # a TestClient is an httpx client whose transport is the partner's ASGI app
        a.client, b.client = cast(httpx.Client, to_b), cast(httpx.Client, to_a)
        b.store_document(FP)
        for owner, requester, url in ((b, a, B_URL), (a, b, A_URL)):
            creds = owner.create_client("partner")
            requester.register_peer(url + "/pact", client_id=creds.client_id, client_secret=creds.client_secret)
        yield Pair(a, b, to_a, clock)


def _outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox_table).order_by(outbox_table.c.id)).all())


def test_base_urls_are_normalised_and_https_only(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    svc = PactService(make_store([MIGRATIONS_DIR]), base_url=A_URL)
    peer = svc.register_peer("HTTPS://Partner.Example:443/pact/", client_id="c", client_secret="s")
    assert peer.base_url == "https://partner.example/pact"
    assert peer.token_url == "https://partner.example/pact/auth/token"
    for bad in ("http://partner.example/pact", "https://partner.example/pact?x=1", "partner.example"):
        with pytest.raises(InvalidInput) as exc:
            svc.register_peer(bad, client_id="c", client_secret="s")
        assert exc.value.field == "base_url"
    with pytest.raises(InvalidInput) as exc:
        svc.register_peer("https://p.example", client_id="c", client_secret="")
    assert exc.value.field == "client_secret"
    assert [p.base_url for p in svc.peers()] == ["https://partner.example/pact"]


def test_routes_never_return_the_secret(pair: Pair) -> None:
    admin = {"X-Api-Key": ADMIN_KEY}
    secret = "s3cr3t-value-never-shown"
    r = pair.a_http.post(
        "/v1/footprints/pact/peers",
        headers=admin,
        json={"base_url": "https://c.example/pact", "client_id": "cid", "client_secret": secret, "name": "C"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["base_url"] == "https://c.example/pact" and secret not in r.text
    listed = pair.a_http.get("/v1/footprints/pact/peers", headers=admin)
    assert listed.status_code == 200 and secret not in listed.text
    assert {p["base_url"] for p in listed.json()} == {B_URL + "/pact", "https://c.example/pact"}
    # admin only, and bad input names its field
    assert pair.a_http.post("/v1/footprints/pact/peers", json={"base_url": "https://c.example"}).status_code == 401
    bad = pair.a_http.post(
        "/v1/footprints/pact/peers",
        headers=admin,
        json={"base_url": "http://c.example/pact", "client_id": "c", "client_secret": "s"},
    )
    assert bad.status_code == 400 and "base_url" in bad.text


def test_outbox_header_hook_fetches_caches_and_renews(pair: Pair) -> None:
    row = {"kind": "pact.event", "destination": A_URL + "/pact/3/events"}
    first = pair.b.outbox_headers(row)
    assert first["Authorization"].startswith("Bearer ")
    assert pair.a.authenticate(first["Authorization"])  # a token A issued and honours
    assert pair.b.outbox_headers(row) == first and pair.b.tokens.fetched == 1  # cached
    pair.clock.now += 3600 - 31  # 31 s before A's 3600 s token expires: still used
    assert pair.b.outbox_headers(row) == first and pair.b.tokens.fetched == 1
    pair.clock.now += 2  # within the 30 s renewal margin: a new token
    renewed = pair.b.outbox_headers(row)
    assert renewed != first and pair.b.tokens.fetched == 2
    assert pair.b.outbox_headers({"kind": "dsp.message", "destination": row["destination"]}) == {}
    assert pair.b.outbox_headers({"kind": "pact.event", "destination": "https://other.example/3/events"}) == {}


def test_refused_credentials_raise_and_leave_no_token(pair: Pair) -> None:
    pair.b.register_peer(A_URL + "/pact", client_id="not-a-client", client_secret="wrong")
    with pytest.raises(UpstreamUnavailable) as exc:
        pair.b.outbox_headers({"kind": "pact.event", "destination": A_URL + "/pact/3/events"})
    assert "invalid_client" in exc.value.message
    assert pair.b.tokens.fetched == 0


def test_request_is_fulfilled_through_the_outbox_dispatcher(pair: Pair) -> None:
    r = pair.a_http.post(
        "/v1/footprints/pact/requests",
        headers={"X-Api-Key": ADMIN_KEY},
        json={"peer": B_URL + "/pact", "data": {"productId": ["URN:GTIN:1234567890123"]}},
    )
    assert r.status_code == 202, r.text
    request = r.json()
    assert request["status"] == "sent" and request["peer"] == B_URL + "/pact"
    (row,) = _outbox(pair.b.engine)  # B's answer waits in its outbox, with no token in it
    assert row.kind == "pact.event" and row.destination == A_URL + "/pact/3/events"
    assert "authorization" not in {k.lower() for k in (row.headers or {})}

    async def dispatch() -> None:
        transport = httpx.ASGITransport(app=pair.a_http.app)
        async with httpx.AsyncClient(transport=transport) as client:
            await OutboxDispatcher(pair.b.engine, client, sign_headers=pair.b.outbox_headers).dispatch_due()

    asyncio.run(dispatch())
    (sent,) = _outbox(pair.b.engine)
    assert sent.status == "sent", (sent.last_error, sent.response_body)
    (answer,) = pair.a.events_received()
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert answer["data"]["requestEventId"] == request["event_id"] and answer["data"]["pfs"] == [FP]
    (closed,) = pair.a.requests()
    assert closed["status"] == "fulfilled" and closed["answer_event_id"] == answer["id"]


def test_request_without_a_match_is_rejected(pair: Pair) -> None:
    request = pair.a.request_footprints(B_URL + "/pact", {"productId": ["urn:gtin:0000000000000"]})
    (row,) = _outbox(pair.b.engine)
    headers = {**row.headers, **pair.b.outbox_headers(row._asdict())}
    assert pair.a_http.post("/pact/3/events", json=row.body, headers=headers).status_code == 200
    closed = pair.a.request(request["event_id"])
    assert closed["status"] == "rejected" and closed["detail"].startswith("NotFound")


def test_a_revoked_token_is_replaced_once(pair: Pair) -> None:
    pair.a.request_footprints(B_URL + "/pact", {"productId": ["urn:gtin:1234567890123"]})
    with pair.b.engine.begin() as conn:
        conn.execute(delete(pact_tokens))  # B no longer honours A's cached token
    again = pair.a.request_footprints(B_URL + "/pact", {"productId": ["urn:gtin:1234567890123"]})
    assert again["status"] == "sent" and pair.a.tokens.fetched == 2


def test_bad_requests_store_nothing(pair: Pair) -> None:
    with pytest.raises(NotFound):
        pair.a.request_footprints("https://unknown.example/pact", {})
    with pytest.raises(InvalidInput) as exc:
        pair.a.request_footprints(B_URL + "/pact", {"productID": ["x"]})
    assert exc.value.field == "data.productID"
    with pytest.raises(InvalidInput) as exc:
        pair.a.request_footprints(B_URL + "/pact", {"status": ["Gone"]})
    assert exc.value.field == "data.status"
    assert pair.a.requests() == []


def test_partner_refusal_marks_the_request_failed(pair: Pair) -> None:
    with pair.a.engine.begin() as conn:
        conn.execute(delete(pact_peers))
    pair.a.register_peer(B_URL + "/pact", client_id="nobody", client_secret="x")
    with pytest.raises(UpstreamUnavailable):
        pair.a.request_footprints(B_URL + "/pact", {})
    (failed,) = pair.a.requests()
    assert failed["status"] == "failed" and "invalid_client" in failed["detail"]
    with pair.b.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar_one() == 0
