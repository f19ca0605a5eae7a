"""The ledger's /v1 routes in an in-process app, on both stores."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine

from batpass.http import NodeContext, install_error_handlers
from batpass.ledger import MIGRATIONS_DIR, LedgerService, verify_summary
from batpass.ledger.routes import router
from batpass.scenario import HIGH_RISK_SITES, generate

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
SUPPLIER = "did:web:refiner.example"


@pytest.fixture
def api(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[tuple[TestClient, LedgerService]]:
    engine = make_store([MIGRATIONS_DIR])
    sup = identity(SUPPLIER)
    svc = LedgerService(
        engine,
        identity(OWNER),
        identities=lambda did: sup if did == SUPPLIER else None,
        high_risk_sites=HIGH_RISK_SITES,
        batch_size=50,
    )
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app, {})

    sync_client = httpx.Client()
    async_client = httpx.AsyncClient()
    app.state.ctx = NodeContext(
        name="cells",
        did=OWNER,
        base_url="https://cells.example",
        resolver_base="https://cells.example",
        profiles=("catena-x",),
        engine=engine,
        admin_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
        production=False,
        client=async_client,
        sync_client=sync_client,
        identity=svc.identity,
        settings=None,
        services={LedgerService: svc},
    )
    with TestClient(app) as client:
        yield client, svc
    sync_client.close()


def _jsonl(events: Sequence[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(e) for e in events) + "\n"


def test_admin_key_is_required(api: tuple[TestClient, LedgerService]) -> None:
    client, _ = api
    for method, path in [
        ("POST", "/v1/ledger/events"),
        ("GET", "/v1/ledger/lots/x"),
        ("GET", "/v1/ledger/trace/x"),
        ("GET", "/v1/ledger/summaries/x"),
        ("POST", "/v1/ledger/summaries"),
        ("GET", "/v1/ledger/verify"),
        ("GET", "/v1/ledger/outflows"),
        ("POST", "/v1/ledger/authorisations"),
        ("GET", "/v1/ledger/double-claims"),
    ]:
        r = client.request(method, path, headers={"X-Api-Key": "wrong"})
        assert r.status_code == 401, (method, path)


def test_record_jsonl_then_trace_summary_verify_outflows(api: tuple[TestClient, LedgerService]) -> None:
    client, svc = api
    sc = generate(lots=150, owner=OWNER, seed=3)
    for a in sc.authorisations:
        r = client.post("/v1/ledger/authorisations", json=a, headers=ADMIN)
        assert r.status_code == 201, r.text
    r = client.post("/v1/ledger/events", content=_jsonl(sc.events), headers=ADMIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recorded"] == len(sc.events) and body["replayed"] == 0 and body["batches"] >= 1
    # replay as a JSON array: idempotent
    r = client.post("/v1/ledger/events", json=sc.events[:5], headers=ADMIN)
    assert r.json()["recorded"] == 0 and r.json()["replayed"] == 5

    bid = sc.battery_ids[0]
    up = client.get(f"/v1/ledger/trace/{bid}", headers=ADMIN).json()
    assert up["direction"] == "up" and up["mines_reached"] > 0
    assert sum(up["elements"]["Co"]["originByCountry"].values()) == pytest.approx(1.0)
    mine_lot = sc.events[0]["outputs"][0]["lot"]
    down = client.get(f"/v1/ledger/trace/{mine_lot}", params={"direction": "down"}, headers=ADMIN).json()
    assert down["direction"] == "down" and down["graph_lots"] > 1
    assert client.get(f"/v1/ledger/trace/{bid}", params={"direction": "sideways"}, headers=ADMIN).status_code in (
        400,
        422,
    )

    lot = client.get(f"/v1/ledger/lots/{mine_lot}", headers=ADMIN).json()
    assert lot["id"] == mine_lot and lot["owner"] == OWNER and lot["mass_kg"] > 0
    missing = client.get("/v1/ledger/lots/no-such-lot", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["rule"] == "ledger.lot.known"

    token = client.get(f"/v1/ledger/summaries/{bid}", headers=ADMIN)
    assert token.status_code == 200 and token.headers["content-type"].startswith("application/jose")
    summary = verify_summary(token.text, svc.resolve_key)
    assert summary["subject"]["id"] == bid and summary["issuer"] == OWNER

    v = client.get("/v1/ledger/verify", headers=ADMIN).json()
    assert v["ok"] is True and v["events"] == len(sc.events) and v["problems"] == []

    flows = client.get("/v1/ledger/outflows", headers=ADMIN).json()
    assert len(flows) == 1 and flows[0]["rule"] == "outflow.destination"
    assert client.get("/v1/ledger/double-claims", headers=ADMIN).json() == []


def test_bad_events_are_rejected_whole(api: tuple[TestClient, LedgerService]) -> None:
    client, svc = api
    ok = ev("extraction", site="MINE-CL-1", country="CL", outputs=[out("brine-1", "lithium_brine_concentrate", 100.0)])
    over = ev("transformation", inputs=[("brine-1", 130.0)], outputs=[out("lc-1", "lithium_carbonate", 10.0)])
    r = client.post("/v1/ledger/events", json=[ok, over], headers=ADMIN)
    assert r.status_code == 422, r.text
    assert "130" in r.json()["detail"] and r.json()["rule"]
    assert svc.count_events() == 0
    # malformed: unknown kind names the field
    r = client.post("/v1/ledger/events", json=[dict(ok, kind="teleport")], headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "events[0].kind"
    # broken JSON Lines name the line
    r = client.post("/v1/ledger/events", content=json.dumps(ok) + "\n{oops\n", headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "line 2"
    r = client.post("/v1/ledger/events", content=b"", headers=ADMIN)
    assert r.status_code == 400
    assert svc.count_events() == 0


def test_receive_supplier_summary(api: tuple[TestClient, LedgerService]) -> None:
    client, svc = api
    svc.record(
        [
            ev(
                "extraction",
                owner=SUPPLIER,
                site="MINE-AU-1",
                country="AU",
                outputs=[out("sp-1", "spodumene_concentrate", 500.0)],
            )
        ]
    )
    token = svc.signed_summary(SUPPLIER, "sp-1")
    r = client.post("/v1/ledger/summaries", content=token, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["issuer"] == SUPPLIER and r.json()["subject"]["id"] == "sp-1"
    r = client.post("/v1/ledger/summaries", json={"jws": token[:-4] + "AAAA"}, headers=ADMIN)
    assert r.status_code == 401
    r = client.post("/v1/ledger/summaries", content="not a jws", headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "summary"
