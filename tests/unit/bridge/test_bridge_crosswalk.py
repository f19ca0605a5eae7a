"""The identity crosswalk (issue 9 item 1): signed entries, trust policy, conflicts and
supersession, lookups both ways, the HTTP routes — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
import rfc8785
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from sqlalchemy import Engine, func, select

from batpass import exchange
from batpass.bridge import (
    MIGRATIONS_DIR,
    CrosswalkConflict,
    CrosswalkEntry,
    CrosswalkService,
    EntryKind,
    EntryMalformed,
    OperatorLink,
    PartLink,
    SignatureRejected,
    SiteLink,
    TrustedAsserters,
    UntrustedAsserter,
    sign_entry,
    verify_entry,
)
from batpass.bridge.routes import router
from batpass.core.errors import BatpassError, NotFound
from batpass.core.ids import Bpnl, Bpns, CorporateNumber, Did, OuranosPlantId
from batpass.http import NodeContext, install_error_handlers, require_json
from batpass.trust import NodeIdentity, generate_keypair

HUB = Did("did:web:hub.example")
CX = Did("did:web:cx-operator.example")
STRANGER = Did("did:web:stranger.example")
CN = CorporateNumber("5835678256246")  # valid check digit
CN2 = CorporateNumber("2021001052596")
BPNL = Bpnl("BPNL00000003CELL")
BPNL2 = Bpnl("BPNL00000003CEL2")
OP_DID = Did("did:web:hub.example:operators:cellmaker")
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}

IDENTITIES = {d: NodeIdentity(d, [generate_keypair("Ed25519", "key-1")]) for d in (HUB, CX, STRANGER)}


def resolver(kid: str) -> Mapping[str, Any] | None:
    """``kid`` → public JWK, as a DID document would give it."""
    did, _, frag = kid.partition("#")
    ident = IDENTITIES.get(Did(did))
    if ident is None:
        return None
    for kp in ident.keys:
        if kp.kid == frag:
            return kp.public_jwk()
    return None


POLICY = TrustedAsserters({HUB: frozenset(EntryKind), CX: frozenset({EntryKind.OPERATOR})})


def operator(
    cn: str = CN, bpnl: str | None = BPNL, *, by: Did = HUB, at: dt.datetime = T0, **kw: Any
) -> CrosswalkEntry:
    link = OperatorLink(CorporateNumber(cn), None if bpnl is None else Bpnl(bpnl), kw.pop("did", OP_DID))
    return CrosswalkEntry(link, by, at, **kw)


def signed_doc(entry: CrosswalkEntry, by: Did | None = None) -> bytes:
    return sign_entry(entry, IDENTITIES[by or entry.asserted_by]).document()


def sign_raw(entry: dict[str, Any], signer: Did, *, kid_did: Did | None = None) -> bytes:
    """Sign an arbitrary entry object (to craft entries the model would refuse to build)."""
    kp = IDENTITIES[signer].active("Ed25519")
    header = {"alg": "Ed25519", "typ": "crosswalk-entry+jws", "kid": f"{kid_did or signer}#{kp.kid}"}
    head, _, sig = jws.serialize_compact(header, rfc8785.dumps(entry), kp.jwk, algorithms=["Ed25519"]).split(".")
    return rfc8785.dumps({"entry": entry, "signature": f"{head}..{sig}"})


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    # the bridge's versions include the represented trades, which follow the exchange's first revision
    return make_store([exchange.MIGRATIONS_DIR, MIGRATIONS_DIR])


@pytest.fixture
def svc(engine: Engine) -> CrosswalkService:
    return CrosswalkService(engine, public_jwk_resolver=resolver, policy=POLICY, identity=IDENTITIES[HUB])


def stored_rows(engine: Engine) -> int:
    from batpass.bridge._sql import entries_table

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(entries_table)).scalar_one())


# -- accepted entries and lookups -----------------------------------------------------------------


def test_operator_entry_is_stored_and_looked_up_both_ways(svc: CrosswalkService) -> None:
    stored = svc.submit(signed_doc(operator()))
    assert stored.entry_id.startswith("sha256:") and stored.superseded_by is None
    assert svc.bpnl_for(CN) == BPNL
    assert svc.corporate_number_for(BPNL) == CN
    assert svc.did_for(CN) == OP_DID
    assert svc.lookup("did", OP_DID).entry_id == stored.entry_id
    assert [e.entry_id for e in svc.list(EntryKind.OPERATOR)] == [stored.entry_id]
    assert svc.list(EntryKind.SITE) == []


def test_site_and_part_entries_are_looked_up_both_ways(svc: CrosswalkService) -> None:
    plant, bpns = OuranosPlantId("5835678256246000001"), Bpns("BPNS0000000CELL1")
    trace, twin = uuid.uuid4(), uuid.uuid4()
    svc.assert_link(CrosswalkEntry(SiteLink(plant, bpns), HUB, T0))
    svc.assert_link(CrosswalkEntry(PartLink(trace, twin), HUB, T0))
    assert svc.bpns_for(plant) == bpns and svc.plant_for(bpns) == plant
    assert svc.twin_for(trace) == f"urn:uuid:{twin}" and svc.trace_for(f"urn:uuid:{twin}") == trace
    with pytest.raises(NotFound, match="no active crosswalk entry maps bpns"):
        svc.plant_for(Bpns("BPNS000000000000"))


def test_resubmitting_the_same_entry_is_idempotent(svc: CrosswalkService, engine: Engine) -> None:
    doc = signed_doc(operator())
    first, again = svc.submit(doc), svc.submit(doc)
    assert first.entry_id == again.entry_id and stored_rows(engine) == 1


def test_catena_x_operator_is_trusted_for_operator_entries(svc: CrosswalkService) -> None:
    svc.submit(signed_doc(operator(CN2, BPNL2, by=CX, did=Did("did:web:refiner.example"))))
    assert svc.bpnl_for(CN2) == BPNL2


# -- bad input: refused with the reason, nothing stored --------------------------------------------


def test_corporate_number_failing_its_check_digit_is_refused(svc: CrosswalkService, engine: Engine) -> None:
    entry = operator().to_json() | {"corporateNumber": "1835678256246"}  # check digit off by one
    with pytest.raises(EntryMalformed, match="check digit") as info:
        svc.submit(sign_raw(entry, HUB))
    assert info.value.field == "entry.corporateNumber"
    assert stored_rows(engine) == 0


def test_untrusted_signer_is_refused(svc: CrosswalkService, engine: Engine) -> None:
    with pytest.raises(UntrustedAsserter, match=r"stranger\.example is not trusted to assert operator"):
        svc.submit(signed_doc(operator(by=STRANGER)))
    site = CrosswalkEntry(SiteLink(OuranosPlantId("x000001"), Bpns("BPNS0000000CELL1")), CX, T0)
    with pytest.raises(UntrustedAsserter, match=r"cx-operator\.example is not trusted to assert site"):
        svc.submit(signed_doc(site))
    assert stored_rows(engine) == 0


def test_entry_signed_by_another_party_than_its_asserter_is_refused(svc: CrosswalkService, engine: Engine) -> None:
    entry = operator().to_json()  # asserted by the hub
    with pytest.raises(SignatureRejected, match=r"asserted by did:web:hub\.example but signed with key"):
        svc.submit(sign_raw(entry, CX))  # CX signs with its own kid
    with pytest.raises(SignatureRejected, match="does not verify"):
        svc.submit(sign_raw(entry, STRANGER, kid_did=HUB))  # stranger's key, claiming the hub's kid
    assert stored_rows(engine) == 0


def test_tampered_entry_is_refused(svc: CrosswalkService, engine: Engine) -> None:
    doc = json.loads(signed_doc(operator()))
    doc["entry"]["bpnl"] = str(BPNL2)
    with pytest.raises(SignatureRejected, match="does not verify over the entry's canonical JSON"):
        svc.submit(json.dumps(doc))
    assert stored_rows(engine) == 0


def test_unknown_key_and_foreign_algorithms_are_refused(svc: CrosswalkService) -> None:
    entry = operator().to_json()
    hub_key = IDENTITIES[HUB].active("Ed25519")
    for header, reason in (
        ({"alg": "Ed25519", "typ": "crosswalk-entry+jws", "kid": f"{HUB}#key-9"}, "no public key"),
        ({"alg": "HS256", "typ": "crosswalk-entry+jws", "kid": f"{HUB}#key-1"}, "alg 'HS256' is refused"),
        ({"alg": "Ed25519", "typ": "JWT", "kid": f"{HUB}#key-1"}, "typ"),
    ):
        head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        good = sign_entry(operator(), IDENTITIES[HUB], key=hub_key).signature.split("..")[1]
        with pytest.raises(SignatureRejected, match=reason):
            svc.submit(rfc8785.dumps({"entry": entry, "signature": f"{head}..{good}"}))


def test_malformed_documents_are_refused_with_the_field(svc: CrosswalkService) -> None:
    good = json.loads(signed_doc(operator()))
    cases: list[tuple[Any, str]] = [
        (b"{not json", "document"),
        (b'{"entry":{},"entry":{},"signature":"a..b"}', "entry"),
        ({"entry": good["entry"], "signature": good["signature"], "extra": 1}, "document"),
        ({"entry": good["entry"] | {"lei": "x"}, "signature": good["signature"]}, "entry.lei"),
        ({"entry": good["entry"] | {"bpnl": "BPNLshort"}, "signature": good["signature"]}, "entry.bpnl"),
        (
            {"entry": good["entry"] | {"assertedAt": "2026-11-01 09:00"}, "signature": good["signature"]},
            "entry.assertedAt",
        ),
        (
            {
                "entry": {k: v for k, v in good["entry"].items() if k not in ("bpnl", "did")},
                "signature": good["signature"],
            },
            "bpnl",
        ),
    ]
    for doc, fld in cases:
        with pytest.raises(EntryMalformed) as info:
            svc.submit(doc)
        assert info.value.field == fld, (doc, info.value.message)


# -- conflicts and supersession -------------------------------------------------------------------


def test_conflicting_entry_is_refused_both_ways(svc: CrosswalkService, engine: Engine) -> None:
    first = svc.submit(signed_doc(operator()))
    with pytest.raises(CrosswalkConflict, match=f"corporateNumber {CN} is already mapped to bpnl {BPNL}"):
        svc.submit(signed_doc(operator(bpnl=BPNL2, at=T0 + dt.timedelta(days=1))))
    with pytest.raises(CrosswalkConflict, match=f"bpnl {BPNL} is already mapped to corporateNumber {CN}"):
        svc.submit(signed_doc(operator(CN2, BPNL, did=Did("did:web:other.example"), at=T0 + dt.timedelta(days=1))))
    assert stored_rows(engine) == 1 and svc.bpnl_for(CN) == BPNL
    assert svc.get(first.entry_id).superseded_by is None


def test_newer_assertion_by_the_same_party_supersedes(svc: CrosswalkService) -> None:
    first = svc.submit(signed_doc(operator()))
    newer = operator(bpnl=BPNL2, at=T0 + dt.timedelta(days=1), supersedes=(first.entry_id,))
    second = svc.submit(signed_doc(newer))
    assert svc.bpnl_for(CN) == BPNL2
    assert svc.get(first.entry_id).superseded_by == second.entry_id
    with pytest.raises(NotFound):
        svc.corporate_number_for(BPNL)
    assert [e.entry_id for e in svc.list()] == [second.entry_id]


def test_supersession_needs_the_same_party_a_newer_time_and_an_active_entry(svc: CrosswalkService) -> None:
    first = svc.submit(signed_doc(operator()))
    later = T0 + dt.timedelta(days=1)
    by_cx = operator(bpnl=BPNL2, by=CX, at=later, supersedes=(first.entry_id,))
    with pytest.raises(CrosswalkConflict, match="only that party can supersede it"):
        svc.submit(signed_doc(by_cx))
    older = operator(bpnl=BPNL2, at=T0 - dt.timedelta(days=1), supersedes=(first.entry_id,))
    with pytest.raises(CrosswalkConflict, match="is not newer than"):
        svc.submit(signed_doc(older))
    ghost = operator(bpnl=BPNL2, at=later, supersedes=("sha256:" + "0" * 64,))
    with pytest.raises(NotFound, match="not in the crosswalk"):
        svc.submit(signed_doc(ghost))
    svc.submit(signed_doc(operator(bpnl=BPNL2, at=later, supersedes=(first.entry_id,))))
    again = operator(bpnl=Bpnl("BPNL00000003CEL3"), at=later + dt.timedelta(days=1), supersedes=(first.entry_id,))
    with pytest.raises(CrosswalkConflict, match="already superseded"):
        svc.submit(signed_doc(again))
    assert svc.bpnl_for(CN) == BPNL2


# -- any single-byte change of a signed entry is rejected -----------------------------------------


_DOC = signed_doc(operator())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=len(_DOC) - 1), byte=st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_is_rejected(svc: CrosswalkService, engine: Engine, pos: int, byte: int) -> None:
    if _DOC[pos] == byte:
        byte = (byte + 1) % 256
    changed = _DOC[:pos] + bytes([byte]) + _DOC[pos + 1 :]
    with pytest.raises(BatpassError):
        svc.submit(changed)
    assert stored_rows(engine) == 0


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(min_value=0, max_value=len(_DOC) - 1), byte=st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_fails_verification(pos: int, byte: int) -> None:
    if _DOC[pos] == byte:
        byte = (byte + 1) % 256
    with pytest.raises(BatpassError):
        verify_entry(_DOC[:pos] + bytes([byte]) + _DOC[pos + 1 :], resolver, POLICY)


def test_the_unchanged_document_verifies() -> None:
    assert verify_entry(_DOC, resolver, POLICY).entry == operator()


# -- the shipped schema -----------------------------------------------------------------------------


def test_shipped_schema_accepts_every_kind_and_is_used() -> None:
    schema = json.loads((MIGRATIONS_DIR.parent / "_data" / "crosswalk-entry.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for entry in (
        operator(),
        operator(bpnl=None),
        CrosswalkEntry(SiteLink(OuranosPlantId("5835678256246000001"), Bpns("BPNS0000000CELL1")), HUB, T0),
        CrosswalkEntry(PartLink(uuid.uuid4(), uuid.uuid4()), HUB, T0, ("sha256:" + "a" * 64,)),
    ):
        validator.validate(json.loads(signed_doc(entry)))
    bad = json.loads(_DOC) | {"signature": "not-a-jws"}
    assert not validator.is_valid(bad)
    with pytest.raises(EntryMalformed, match="signature"):
        verify_entry(bad, resolver, POLICY)


# -- HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def client(svc: CrosswalkService, engine: Engine) -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    install_error_handlers(app, {})
    sync_client, async_client = httpx.Client(), httpx.AsyncClient()
    app.state.ctx = NodeContext(
        name="bridge",
        did=str(HUB),
        base_url="https://bridge.example",
        resolver_base="https://bridge.example",
        profiles=("bridge",),
        engine=engine,
        admin_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
        production=False,
        client=async_client,
        sync_client=sync_client,
        identity=IDENTITIES[HUB],
        settings=None,
        services={CrosswalkService: svc},
    )
    with TestClient(app) as c:
        yield c
    sync_client.close()


def test_routes_write_read_and_refuse(client: TestClient, engine: Engine) -> None:
    doc = signed_doc(operator())
    assert client.post("/v1/bridge/crosswalk", content=doc).status_code == 401
    r = client.post("/v1/bridge/crosswalk", content=doc, headers=ADMIN)
    assert r.status_code == 201, r.text
    entry_id = r.json()["entryId"]
    assert client.get("/v1/bridge/crosswalk/lookup", params={"bpnl": BPNL}).status_code == 401
    hit = client.get("/v1/bridge/crosswalk/lookup", params={"bpnl": BPNL}, headers=ADMIN).json()
    assert hit["entry"]["corporateNumber"] == CN and hit["active"] is True
    back = client.get("/v1/bridge/crosswalk/lookup", params={"corporateNumber": CN}, headers=ADMIN).json()
    assert back["entry"]["bpnl"] == BPNL
    assert client.get(f"/v1/bridge/crosswalk/entries/{entry_id}", headers=ADMIN).json()["signature"]
    assert [e["entryId"] for e in client.get("/v1/bridge/crosswalk?type=operator", headers=ADMIN).json()] == [entry_id]

    bad_cn = sign_raw(operator().to_json() | {"corporateNumber": "1835678256246"}, HUB)
    r = client.post("/v1/bridge/crosswalk", content=bad_cn, headers=ADMIN)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "entry.corporateNumber" and "check digit" in r.json()["detail"]
    r = client.post("/v1/bridge/crosswalk", content=signed_doc(operator(by=STRANGER)), headers=ADMIN)
    assert r.status_code == 403 and "not trusted" in r.json()["detail"]
    r = client.post(
        "/v1/bridge/crosswalk", content=signed_doc(operator(bpnl=BPNL2, at=T0 + dt.timedelta(1))), headers=ADMIN
    )
    assert r.status_code == 409 and "already mapped" in r.json()["detail"]
    r = client.get("/v1/bridge/crosswalk/lookup", params={"bpnl": BPNL2}, headers=ADMIN)
    assert r.status_code == 404
    r = client.get("/v1/bridge/crosswalk/lookup", params={"lei": "x"}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "lei"
    assert client.get("/v1/bridge/crosswalk?type=lot", headers=ADMIN).status_code == 400
    assert stored_rows(engine) == 1


def test_migration_matches_the_tables(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from batpass.store import metadata

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, metadata) if "bridge_" in repr(d)]
    assert diff == []
