"""The ledger's /v1 routes in an in-process app, on both stores."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_testkit import OWNER, ev, identity, ledger_api, out
from sqlalchemy import Engine

from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ledger import MIGRATIONS_DIR, LedgerService, encode_summary, verify_summary
from batpass.scenario import flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
SUPPLIER = "did:web:refiner.example"

#: the scenario's mines the synthetic CAHRA sample flags (the artisanal cobalt site)
HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


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
    with ledger_api(svc, KEY, name="cells", base_url="https://cells.example") as client:
        yield client, svc


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
        ("GET", "/v1/ledger/recycling-efficiency"),
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
    co = up["elements"]["Co"]
    assert sum(co["minedByCountry"].values()) + sum(co["recycledByCountry"].values()) + co[
        "unknownShare"
    ] == pytest.approx(1.0)
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
    summary = encode_summary(verify_summary(token.text, svc.resolve_key))
    assert summary["subject"]["id"] == bid and summary["issuer"] == OWNER

    v = client.get("/v1/ledger/verify", headers=ADMIN).json()
    assert v["ok"] is True and v["events"] == len(sc.events) and v["problems"] == []

    flows = client.get("/v1/ledger/outflows", headers=ADMIN).json()
    assert len(flows) == 1 and flows[0]["rule"] == "outflow.destination"
    assert flows[0]["evidence"]["requirement"]["rule"] == "eu.wsr.export-oecd"

    q = {"from": "2026-01-01", "to": "2027-01-01"}
    eff = client.get("/v1/ledger/recycling-efficiency", params=q, headers=ADMIN).json()
    assert eff["basis"] == "simplified estimate" and eff["recycler"] == OWNER and eff["recovery_events"] > 0
    bad = client.get("/v1/ledger/recycling-efficiency", params={"to": "tomorrow"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["field"] == "to" and bad.json()["rule"] == "RFC 3339"
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


def test_recycled_content_claims_and_double_claim(api: tuple[TestClient, LedgerService]) -> None:
    client, _ = api
    sc = generate(lots=150, owner=OWNER, seed=3)
    assert client.post("/v1/ledger/events", content=_jsonl(sc.events), headers=ADMIN).status_code == 200
    recovered = next(
        o for e in sc.events if e["kind"] == "recovery" for o in e["outputs"] if o["material"] == "cobalt_sulphate"
    )
    lot = client.get(f"/v1/ledger/lots/{recovered['lot']}", headers=ADMIN).json()
    credited = lot["mass_kg"] * lot["composition"]["Co"]
    assert credited > 0

    # Art. 8 recycled content of the group the last battery belongs to (model, year, plant)
    bid = sc.battery_ids[-1]
    groups = client.get("/v1/ledger/recycled-content", params={"battery": bid}, headers=ADMIN).json()
    assert [(g["model"], g["plant"]) for g in groups] == [("RA-EV-60", "PACK-DE-1")]
    assert groups[0]["batteries"] == len(sc.battery_ids)
    co = groups[0]["elements"]["Co"]
    assert groups[0]["basis"] == co["basis"] == "art8_model_batch_plant" and co["reference"] == "active_materials"
    assert 0 < co["post_consumer"] < 1 and 0 <= co["pre_consumer"] < 1 and co["unknown_mass_share"] == 0.0
    assert client.get("/v1/ledger/recycled-content", params={"model": "other"}, headers=ADMIN).json() == []
    assert client.get("/v1/ledger/recycled-content", params={"battery": bid, "year": 1999}, headers=ADMIN).json() == []
    r = client.get("/v1/ledger/recycled-content", params={"battery": recovered["lot"]}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "battery"
    assert client.get("/v1/ledger/recycled-content", params={"battery": "nope"}, headers=ADMIN).status_code == 404

    first = {
        "id": "claim-1",
        "lot": recovered["lot"],
        "element": "Co",
        "kg": credited,
        "claimant": OWNER,
        "subject": sc.battery_ids[-1],
    }
    r = client.post("/v1/ledger/claims", json=first, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "accepted" and r.json()["credited_kg"] == pytest.approx(credited)
    # replay: the stored claim, nothing debited twice
    assert client.post("/v1/ledger/claims", json=first, headers=ADMIN).status_code == 201
    assert client.get("/v1/ledger/double-claims", headers=ADMIN).json() == []

    # the same kilograms claimed for another battery: caught where the account is kept
    second = dict(first, id="claim-2", kg=1.0, subject=sc.battery_ids[-2])
    r = client.post("/v1/ledger/claims", json=second, headers=ADMIN)
    assert r.status_code == 409, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/double-claim") and "Art. 8" in body["rule"]
    assert body["claim"]["status"] == "double_claim"
    assert [c["id"] for c in body["claim"]["conflicting_claims"]] == ["claim-1"]
    dc = client.get("/v1/ledger/double-claims", headers=ADMIN).json()
    assert len(dc) == 1 and dc[0]["lot"] == recovered["lot"] and dc[0]["account"].endswith(f"|{recovered['lot']}|Co")
    assert [c["id"] for c in dc[0]["claims"]] == ["claim-1", "claim-2"]

    # the claims show against the battery group's recycled content
    claims = client.get("/v1/ledger/recycled-content", params={"battery": bid}, headers=ADMIN).json()[0]["claims"]
    assert {c["id"]: c["accepted_for_art8"] for c in claims} == {"claim-1": True, "claim-2": False}

    # bad claims: unknown element, non-positive mass, no account, missing field
    bad = [
        (dict(first, id="c3", element="Xx"), 400, "element"),
        (dict(first, id="c4", kg=0.0), 400, "kg"),
        (dict(first, id="c5", lot="no-such-lot"), 404, None),
        ({k: v for k, v in first.items() if k != "lot"}, 400, "lot"),
    ]
    for payload, status, field in bad:
        r = client.post("/v1/ledger/claims", json=payload, headers=ADMIN)
        assert r.status_code == status, (payload, r.text)
        if field is not None:
            assert field in r.json()["field"], r.text
    assert client.post("/v1/ledger/claims", json=first, headers={"X-Api-Key": "wrong"}).status_code == 401
    assert client.get("/v1/ledger/recycled-content", headers={"X-Api-Key": "wrong"}).status_code == 401
    assert len(client.get("/v1/ledger/double-claims", headers=ADMIN).json()) == 1


def test_decoded_bodies_replay_as_the_reference_writes_them(api: tuple[TestClient, LedgerService]) -> None:
    """Events recorded through the route (decoded from the body's bytes by msgspec, canonical
    bodies encoded by msgspec) replay without conflict when the same events are given again with
    bodies from the reference writer (``json`` over ``event_to_json``): the stored bytes are the
    same. Refusals in a JSON Lines body keep the strict parser's field and rule."""
    from batpass.ledger.model import Event, _parse_event_strict, canonical_json, event_to_json

    client, svc = api
    sc = generate(lots=120, owner=OWNER, seed=5)
    for a in sc.authorisations:
        assert client.post("/v1/ledger/authorisations", json=a, headers=ADMIN).status_code == 201
    lines = [dict(e, at=e["at"].replace("+00:00", "Z")) for e in sc.events]  # a zone written as Z
    bad = copy.deepcopy(lines[3])
    bad["outputs"][0]["colour"] = "red"
    r = client.post("/v1/ledger/events", content=_jsonl([*lines[:3], bad]), headers=ADMIN)
    assert r.status_code == 400 and (r.json()["field"], r.json()["rule"]) == (
        "events[3].outputs[0].colour",
        "ledger.event.schema",
    )
    r = client.post("/v1/ledger/events", content=_jsonl(lines), headers=ADMIN)
    assert r.status_code == 200 and r.json()["recorded"] == len(lines), r.text
    reference: list[Event] = []
    for raw in lines:
        ev = _parse_event_strict(copy.deepcopy(raw), "event", svc.catalogue)
        assert ev.body is None
        reference.append(dataclasses.replace(ev, body=canonical_json(event_to_json(ev))))
    res = svc.record(reference)
    assert (res.recorded, res.replayed) == (0, len(lines))
    assert svc.verify(OWNER).ok


def test_the_harness_checks_json_bodies_as_the_node_does(api: tuple[TestClient, LedgerService]) -> None:
    """``ledger_api`` stands for the node, so it installs the node's app-wide ``require_json``: a
    JSON route's body in another media type is a 415 naming the header, and a lone surrogate in a
    member the model does not declare a 400 naming the member and the rule (before: both were
    answered under pydantic's rules, the first as a 400 ``model_attributes_type``)."""
    client, _ = api
    headers = {"X-Api-Key": KEY}
    r = client.post("/v1/ledger/authorisations", content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["field"] == "content-type", r.text
    body = json.dumps({"holder": "did:web:x.example", "note": "\ud800"})
    r = client.post("/v1/ledger/authorisations", content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and (r.json()["field"], r.json()["rule"]) == ("note", SCALAR_TEXT_RULE), r.text
