"""Writes from another node: ``Authorization: Bearer <DCP self-issued token>`` on the write
routes, verified with trust's ``verify_self_issued_token`` through the node's ``CallerVerifier``
adapter (real tokens, real signatures, DID documents pinned in the resolver as the node would
have fetched them). The verified DID is the actor; the service's responsibility and mandate
rules (Art. 77(4)) decide. Refusals leave the stored passport and its history unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, OPERATOR, make_app, make_summary

from batpass.core.ids import BatteryId
from batpass.node._adapters import SelfIssuedCaller
from batpass.passport import CallerVerifier, PassportService
from batpass.store import metadata
from batpass.trust import (
    DidResolver,
    NodeIdentity,
    UsedTokens,
    did_document,
    generate_keypair,
    issue_self_issued_token,
)

BAT = BatteryId("04012345000009", "SN-0200")
ADMIN = {"X-Api-Key": ADMIN_KEY}
MANDATED = NodeIdentity("did:web:service-partner.example", [generate_keypair("Ed25519", "key-ed25519-1")])
STRANGER = NodeIdentity("did:web:stranger.example", [generate_keypair("Ed25519", "key-ed25519-1")])
#: same DID and key id as the mandated party, another private key: a forged signature
FORGER = NodeIdentity(MANDATED.did, [generate_keypair("Ed25519", "key-ed25519-1")])
#: a DID whose document this node cannot resolve (no allow-listed host)
UNKNOWN = NodeIdentity("did:web:unknown.example", [generate_keypair("Ed25519", "key-ed25519-1")])
SOH = {"values": {"state_of_health": {"value": 91.0, "unit": "%"}}}


def bearer(who: NodeIdentity, *, audience: str = OPERATOR, ttl_s: int = 300) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_self_issued_token(who, audience=audience, bpn=None, ttl_s=ttl_s)}"}


@pytest.fixture
def client(service: PassportService) -> Iterator[Any]:
    app = make_app(service)
    resolver = DidResolver()
    resolver.pin(did_document(MANDATED))
    resolver.pin(did_document(STRANGER))
    metadata.create_all(service.engine, tables=[metadata.tables["trust_used_tokens"]])
    used = UsedTokens(service.engine)
    app.state.ctx.services[CallerVerifier] = SelfIssuedCaller(resolver, audience=OPERATOR, used=used)
    with TestClient(app, base_url="https://id.nordcell.example") as c:
        r = c.post(
            "/v1/passports",
            json={
                "static": yaml.safe_load(EXAMPLE.read_text()),
                "battery": BAT.path,
                "item": ITEM,
                "summary": make_summary(BAT),
            },
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        c.pid = r.json()["passportId"]  # type: ignore[attr-defined]
        r = c.post(
            f"/v1/passports/{c.pid}/mandates",  # type: ignore[attr-defined]
            json={"mandatee": MANDATED.did, "scope": ["dynamic"], "document": "service contract SC-17, clause 4"},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        yield c


def _stored(client: Any, pid: str) -> tuple[Any, list[Any]]:
    """The full stored view and the version chain (digests), as the operator reads them."""
    doc = client.get(f"/v1/passports/{pid}", headers=ADMIN).json()
    versions = client.get(f"/v1/passports/{pid}/history", headers=ADMIN).json()["versions"]
    return doc, [(v["version"], v["digest"], v["actor"]) for v in versions]


def test_mandated_party_writes_dynamic_data_as_itself(client: Any) -> None:
    pid = client.pid
    r = client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=bearer(MANDATED))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    last = client.get(f"/v1/passports/{pid}/history", headers=ADMIN).json()["versions"][-1]
    assert (last["actor"], last["change"]) == (MANDATED.did, "dynamic")
    assert last["diff"]["state_of_health"]
    data = client.get(f"/v1/passports/{pid}", headers=ADMIN).json()["data"]
    assert data["state_of_health"] == {"value": 91.0, "unit": "%"}


def test_a_write_token_is_single_use(client: Any) -> None:
    """One self-issued token, two writes: the second is a replay and is refused (nothing changes)."""
    pid = client.pid
    headers = bearer(MANDATED)
    assert client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=headers).status_code == 200
    before = _stored(client, pid)
    again = client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=headers)
    assert again.status_code == 401 and "already used" in again.json()["detail"]
    assert _stored(client, pid) == before
    assert client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=bearer(MANDATED)).status_code == 200


def test_mandate_scope_limits_what_the_party_writes(client: Any) -> None:
    pid = client.pid
    before = _stored(client, pid)
    r = client.patch(
        f"/v1/passports/{pid}", json={"values": {"weight": {"value": 400, "unit": "kg"}}}, headers=bearer(MANDATED)
    )
    assert r.status_code == 403, r.text
    assert r.json()["field"] == "static" and "Art. 77(4)" in r.json()["rule"]
    assert _stored(client, pid) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/dynamic", SOH),
        ("/status", {"status": "waste", "wasteOperator": STRANGER.did}),
        ("/recycle", {}),
        ("/mandates", {"mandatee": STRANGER.did, "scope": ["dynamic"], "document": "self-granted"}),
    ],
)
def test_unmandated_party_is_refused_with_field_and_rule(client: Any, path: str, body: dict[str, Any]) -> None:
    pid = client.pid
    before = _stored(client, pid)
    r = client.post(f"/v1/passports/{pid}{path}", json=body, headers=bearer(STRANGER))
    assert r.status_code == 403, r.text
    problem = r.json()
    assert problem["field"] in ("dynamic", "lifecycle", "mandate") and "Art. 77(4)" in problem["rule"]
    assert STRANGER.did in problem["detail"] or path == "/mandates"
    assert _stored(client, pid) == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(bearer(FORGER), id="forged-signature"),
        pytest.param(bearer(MANDATED, ttl_s=-120), id="expired"),
        pytest.param(bearer(MANDATED, audience="did:web:other-node.example"), id="other-audience"),
        pytest.param(bearer(UNKNOWN), id="unresolvable-issuer"),
        pytest.param({"Authorization": "Bearer not.a.token"}, id="garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwdw=="}, id="not-bearer"),
        pytest.param({"X-Api-Key": "wrong-key"}, id="wrong-admin-key"),
        pytest.param({}, id="anonymous"),
    ],
)
def test_unverified_callers_get_401(client: Any, headers: dict[str, str]) -> None:
    pid = client.pid
    before = _stored(client, pid)
    r = client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["status"] == 401
    assert _stored(client, pid) == before


def test_new_responsible_operator_writes_after_repurposing(client: Any) -> None:
    """Responsibility moves with a second life (Art. 77(7)): the new operator, on its own node,
    writes the new passport; the old operator's node key no longer may, unless mandated."""
    pid = client.pid
    new = BatteryId("04012345000009", "SN-0200R")
    r = client.post(
        f"/v1/passports/{pid}/second-life",
        json={"status": "repurposed", "newBattery": new.path, "newOperator": STRANGER.did},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    new_pid = r.json()["passportId"]
    r = client.post(f"/v1/passports/{new_pid}/dynamic", json=SOH, headers=bearer(STRANGER))
    assert r.status_code == 200, r.text
    last = client.get(f"/v1/passports/{new_pid}/history", headers=ADMIN).json()["versions"][-1]
    assert last["actor"] == STRANGER.did
    # the old passport stays the original operator's
    assert client.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=bearer(STRANGER)).status_code == 403
    # the node's own admin key acts as the node's DID, no longer responsible for the new passport
    r = client.post(f"/v1/passports/{new_pid}/dynamic", json=SOH, headers=ADMIN)
    assert r.status_code == 403 and OPERATOR in r.json()["detail"]
    # the new operator mandates the old one in writing, which may then write again
    r = client.post(
        f"/v1/passports/{new_pid}/mandates",
        json={"mandatee": OPERATOR, "scope": ["dynamic"], "document": "service agreement RA-2027-3"},
        headers=bearer(STRANGER),
    )
    assert r.status_code == 201, r.text
    assert client.post(f"/v1/passports/{new_pid}/dynamic", json=SOH, headers=ADMIN).status_code == 200


def test_writes_without_a_caller_verifier_take_only_the_admin_key(service: PassportService) -> None:
    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        r = c.post(
            "/v1/passports",
            json={"static": yaml.safe_load(EXAMPLE.read_text()), "battery": BAT.path, "item": ITEM},
            headers=bearer(MANDATED),
        )
        assert r.status_code == 401  # building stays an admin route
        r = c.post(
            "/v1/passports",
            json={"static": yaml.safe_load(EXAMPLE.read_text()), "battery": BAT.path, "item": ITEM},
            headers=ADMIN,
        )
        pid = r.json()["passportId"]
        r = c.post(f"/v1/passports/{pid}/dynamic", json=SOH, headers=bearer(MANDATED))
        assert r.status_code == 401 and "self-issued" in r.json()["detail"]
