"""Export authorisations issued as credentials by an authority (docs/outflows.md, "Authorisations
as credentials"), on both stores: a shipper keeps one only after it verifies and only when its
issuer is trusted *as an authority* — a trust list names it for ``ExportAuthorisationCredential``;
the outflow watch then uses it like a self-declared one, and its alerts, the stored record and
the API say which kind each authorisation is. Real keys, a real signed trust list, the node's
verifier: nothing is mocked."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from authority_testkit import (
    AUTHORITY,
    CTYPE,
    OPERATOR,
    REC,
    authorisation_subject,
    authority,
    black_mass,
    operator_identity,
    ship,
    trust_registry,
)
from ledger_testkit import identity, ledger_api
from sqlalchemy import Engine

from batpass.core.errors import InvalidInput
from batpass.ledger import MIGRATIONS_DIR, LedgerService, OutflowPolicy, ShipmentBlocked
from batpass.trust import MIGRATIONS_DIR as TRUST_MIGRATIONS
from batpass.trust import (
    DidResolver,
    NodeIdentity,
    StatusListCache,
    TrustedIssuer,
    TrustList,
    TrustService,
    Verifier,
    build_credential,
    did_document,
    issue_vc_jwt,
    sign_trust_list,
)

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
CERTIFIER = operator_identity("certifier")  # on the list, but for other types only
STRANGER = operator_identity("stranger")  # on no list


def _verifier() -> Verifier:
    resolver = DidResolver()
    for i in (OPERATOR, AUTHORITY, CERTIFIER, STRANGER):
        resolver.pin(did_document(i))
    now = dt.datetime.now(dt.UTC)
    certifier = TrustedIssuer(CERTIFIER.did, "Certifier", frozenset({"MembershipCredential", "AccessRoleCredential"}))
    return Verifier(resolver, trust_registry(resolver, now, None, (authority(), certifier)), StatusListCache(resolver))


def _credential(issuer: NodeIdentity = AUTHORITY, *, valid_until: dt.datetime | None = None, **subject: Any) -> str:
    now = dt.datetime.now(dt.UTC)
    body = authorisation_subject(
        **{"instrument": "Regulation (EU) 2024/1157, prior written notification and consent", **subject}
    )
    vc = build_credential(
        issuer=issuer.did,
        ctype=CTYPE,
        subject=body,
        valid_from=now - dt.timedelta(days=2),
        valid_until=valid_until or now + dt.timedelta(days=365),
    )
    return issue_vc_jwt(issuer, vc, now=now - dt.timedelta(days=1))


def _ledger(engine: Engine, policy: OutflowPolicy = OutflowPolicy()) -> LedgerService:
    return LedgerService(engine, identity(REC), batch_size=4, outflow_policy=policy)


def _hold(svc: LedgerService, token: str, owner: str = REC) -> dict[str, Any]:
    return asyncio.run(svc.hold_authorisation(owner, token, _verifier().averify))


@pytest.fixture
def svc(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    return _ledger(make_store([MIGRATIONS_DIR]))


def test_an_authority_credential_is_held_and_authorises_what_it_names(svc: LedgerService) -> None:
    held = _hold(svc, _credential())
    assert held["id"] == "EU-CONSENT-1" and held["kind"] == "credential" and held["self_declared"] is False
    assert held["issuer"] == AUTHORITY.did and held["materials"] == ["black_mass"]
    assert [c["check"] for c in held["checks"]] == ["signature", "issuer-trust", "status", "expiry"]
    res = svc.record([black_mass("bm"), ship("bm", 10.0, "DE")])
    assert res.alerts == ()  # consent given: the intra-EU shipment of hazardous waste is authorised
    [record] = svc.authorisations(REC)
    assert (record["kind"], record["self_declared"], record["issuer"], record["used_kg"]) == (
        "credential",
        False,
        AUTHORITY.did,
        10.0,
    )
    # a destination it does not name: the alert says which kind of authorisation was held
    res = svc.record([ship("bm", 5.0, "FR")])
    [alert] = res.alerts
    assert alert["rule"] == "outflow.destination"
    assert alert["evidence"]["authorisations"] == [
        {"id": "EU-CONSENT-1", "kind": "credential", "self_declared": False, "issuer": AUTHORITY.did,
         "destinations": ["BE", "DE"]}
    ]  # fmt: skip


def test_an_issuer_not_trusted_as_an_authority_authorises_nothing(svc: LedgerService) -> None:
    for issuer, reason in ((CERTIFIER, "issuer-not-trusted-for-type"), (STRANGER, "unknown-issuer")):
        with pytest.raises(InvalidInput) as info:
            _hold(svc, _credential(issuer))
        assert info.value.field == "credential"
        assert info.value.rule is not None and info.value.rule.startswith("ledger.authorisation.authority")
        assert info.value.details["reason"] == reason and "authorises nothing" in info.value.message
    assert svc.authorisations(REC) == []
    res = svc.record([black_mass("bm"), ship("bm", 10.0, "DE")])
    assert [a["rule"] for a in res.alerts] == ["outflow.no-authorisation"]


def test_a_credential_for_another_shipper_or_out_of_date_is_refused(svc: LedgerService) -> None:
    with pytest.raises(InvalidInput) as info:
        _hold(svc, _credential(id="did:web:someone-else.example"))
    assert (info.value.field, info.value.rule) == ("credential.credentialSubject.id", "ledger.authorisation.subject")
    expired = _credential(valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with pytest.raises(InvalidInput) as info:
        _hold(svc, expired)
    assert (info.value.field, info.value.rule) == ("credential", "credential.expired")
    with pytest.raises(InvalidInput) as info:
        _hold(svc, _credential(materials=["unobtainium"]))
    assert info.value.rule == "ledger.material.known"
    assert svc.authorisations(REC) == []


def test_the_period_cap_and_waste_classes_bound_what_it_covers(svc: LedgerService) -> None:
    _hold(svc, _credential())
    res = svc.record(
        [
            black_mass("bm"),
            ship("bm", 10.0, "DE", n=1),
            ship("bm", 10.0, "BE", n=2),
            ship("bm", 10.0, "DE", n=3),  # 30 kg > the 25 kg cap
            ship("bm", 1.0, "DE", "2027-11-02T00:00:00Z", n=4),  # after the period
        ]
    )
    assert [a["rule"] for a in res.alerts] == ["outflow.cap", "outflow.no-authorisation"]
    cap = res.alerts[0]["evidence"]["authorisation"]
    assert (cap["kind"], cap["cap_kg"], cap["used_kg"]) == ("credential", 25.0, 20.0)
    # a consent naming only Japan's black-mass class does not cover EU hazardous waste
    _hold(svc, _credential(authorisationId="JP-ONLY", wasteClasses=["jp.basel.black-mass"], destinations=["FR"]))
    [alert] = svc.record([ship("bm", 1.0, "FR", n=5)]).alerts
    assert alert["rule"] == "outflow.destination"  # only EU-CONSENT-1 counts, and it does not name France
    assert [a["id"] for a in alert["evidence"]["authorisations"]] == ["EU-CONSENT-1"]


def test_block_mode_honours_a_credential_authorisation(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    svc = _ledger(make_store([MIGRATIONS_DIR]), OutflowPolicy(mode="block"))
    _hold(svc, _credential())
    assert svc.record([black_mass("bm"), ship("bm", 10.0, "DE")]).alerts == ()
    with pytest.raises(ShipmentBlocked) as info:
        svc.record([ship("bm", 10.0, "FR")])
    assert info.value.rule == "outflow.destination (eu.wsr.intra-eu)"
    assert svc.authorisations(REC)[0]["used_kg"] == 10.0
    # the self-audit's replay (in warn mode) derives the same used mass from the held credential
    assert svc.self_audit(REC) == []


def test_self_declared_authorisations_stay_and_say_so(svc: LedgerService) -> None:
    own = svc.authorise_export(
        REC,
        {
            "id": "OWN-1",
            "holder": REC,
            "material": "black_mass",
            "destinations": ["NO"],
            "cap_kg": 100.0,
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2027-12-31T23:59:59Z",
        },
    )
    assert (own["kind"], own["self_declared"]) == ("self_declared", True)
    _hold(svc, _credential())
    res = svc.record([black_mass("bm"), ship("bm", 10.0, "NO"), ship("bm", 10.0, "DE"), ship("bm", 1.0, "FR")])
    [alert] = res.alerts
    assert sorted((a["id"], a["kind"], a["self_declared"]) for a in alert["evidence"]["authorisations"]) == [
        ("EU-CONSENT-1", "credential", False),
        ("OWN-1", "self_declared", True),
    ]
    used = {a["id"]: (a["kind"], a["used_kg"]) for a in svc.authorisations(REC)}
    assert used == {"OWN-1": ("self_declared", 10.0), "EU-CONSENT-1": ("credential", 10.0)}


def test_over_http_an_untrusted_authorisation_is_a_problem_naming_field_and_rule(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """``POST /v1/ledger/authorisations/credentials`` on a node whose trust service holds the
    operator's signed list: the authority's credential is kept (201, ``kind: credential``), the
    certifier's is a 400 problem naming ``credential`` and the rule, and nothing more is listed."""
    engine = make_store([MIGRATIONS_DIR, TRUST_MIGRATIONS])
    svc = _ledger(engine)
    trust = TrustService(
        engine, svc.identity, base_url="https://recycler.example", operators={"catena-x": OPERATOR.did}
    )
    for i in (OPERATOR, AUTHORITY, CERTIFIER):
        trust.resolver.pin(did_document(i))
    now = dt.datetime.now(dt.UTC)
    listed = TrustList(
        "catena-x",
        OPERATOR.did,
        now - dt.timedelta(minutes=1),
        now + dt.timedelta(days=30),
        (
            TrustedIssuer(AUTHORITY.did, "EU market surveillance (test)", frozenset({CTYPE})),
            TrustedIssuer(CERTIFIER.did, "Certifier", frozenset({"MembershipCredential"})),
        ),
    )
    asyncio.run(trust.add_trust_list(sign_trust_list(listed, OPERATOR), ecosystem="catena-x"))
    path = "/v1/ledger/authorisations/credentials"
    services = {TrustService: trust}
    with ledger_api(svc, KEY, name="recycler", base_url="https://recycler.example", services=services) as client:
        r = client.post(path, json={"credential": _credential(CERTIFIER)}, headers=ADMIN)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["field"] == "credential" and problem["rule"].startswith("ledger.authorisation.authority")
        assert "authorises nothing" in problem["detail"]
        r = client.post(path, json={"credential": _credential()}, headers=ADMIN)
        assert r.status_code == 201, r.text
        assert (r.json()["kind"], r.json()["issuer"]) == ("credential", AUTHORITY.did)
        listed_now = client.get("/v1/ledger/authorisations", headers=ADMIN).json()
        assert [(a["id"], a["kind"], a["self_declared"]) for a in listed_now] == [("EU-CONSENT-1", "credential", False)]
        assert client.post(path, json={"credential": _credential()}).status_code == 401  # the admin key is required
