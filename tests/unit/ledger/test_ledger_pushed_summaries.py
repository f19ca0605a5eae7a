"""A supplier pushes its signed upstream summary to ``POST /v1/ledger/summaries`` with its DCP
self-issued token (issue 18, "Partners by identity"): the token names the pusher (the node's
``SummaryPushers`` port: token, membership, single use), the summary's signer must be that DID,
and the signer's key is resolved through its DID document by the ledger's ``SignerKeyResolver``
port (a fake here; the node wires trust's did:web resolver). Resolved keys are cached for
``signer_key_ttl_s``; a summary that does not verify with a cached key is tried once more with a
fresh resolution (a rotated key), and the key that verified it is sealed as before."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from ledger_testkit import OWNER, identity, ledger_api, lithium_receipt, lithium_supplier
from sqlalchemy import Engine, select

from batpass.core.errors import Unauthorized
from batpass.ledger import MIGRATIONS_DIR, LedgerService, SummaryPushers, encode_summary
from batpass.ledger._summary import SUMMARY_TYP
from batpass.trust import NodeIdentity, SecretBox, generate_keypair, sign_compact

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
SUPPLIER = "did:web:refiner.example"
OTHER = "did:web:trader.example"


class FakeKeys:
    """The ledger's ``SignerKeyResolver``: what each DID document publishes, with a call log."""

    def __init__(self) -> None:
        self.published: dict[str, Mapping[str, Any]] = {}
        self.calls: list[tuple[str, bool]] = []

    def publish(self, who: NodeIdentity) -> None:
        self.published = {k: v for k, v in self.published.items() if not k.startswith(who.did + "#")}
        for kp in who.keys:
            self.published[who.key_id(kp)] = kp.public_jwk()

    def __call__(self, kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
        self.calls.append((kid, fresh))
        return self.published.get(kid)


class FakePushers:
    """The node's ``SummaryPushers`` port: ``Bearer si:<did>`` is a verified member's token."""

    async def pusher_did(self, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith("si:"):
            raise Unauthorized("self-issued token does not verify", rule="DCP 1.0 §4.3")
        return token.removeprefix("si:")


def bearer(did: str) -> dict[str, str]:
    return {"Authorization": f"Bearer si:{did}"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Setup:
    def __init__(self, client: TestClient, receiver: LedgerService, supplier: LedgerService, keys: FakeKeys) -> None:
        self.client, self.receiver, self.supplier, self.keys = client, receiver, supplier, keys


def _supplier(engine: Engine, did: str = SUPPLIER) -> LedgerService:
    return lithium_supplier(engine, did)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def setup(make_store: Callable[[Sequence[Path]], Engine], clock: Clock) -> Iterator[Setup]:
    keys = FakeKeys()
    supplier = _supplier(make_store([MIGRATIONS_DIR]))
    keys.publish(supplier.identity)
    # as the node builds it: its own keys only, partners' keys through the port
    receiver = LedgerService(
        make_store([MIGRATIONS_DIR]),
        identity(OWNER),
        signer_keys=keys,
        signer_key_ttl_s=60.0,
        monotonic=clock,
        secrets=SecretBox.generate(),
    )
    receiver.record([lithium_receipt(SUPPLIER)])
    services = {SummaryPushers: FakePushers()}
    with ledger_api(receiver, KEY, name="cells", base_url="https://cells.example", services=services) as client:
        yield Setup(client, receiver, supplier, keys)


def _push(s: Setup, headers: dict[str, str], token: str | None = None) -> httpx.Response:
    token = token or s.supplier.signed_summary(SUPPLIER, "ore-shipped")
    return s.client.post("/v1/ledger/summaries", content=token, headers=headers)


def test_a_supplier_pushes_its_summary_with_its_own_token(setup: Setup) -> None:
    r = _push(setup, bearer(SUPPLIER))
    assert r.status_code == 200, r.text
    assert r.json()["issuer"] == SUPPLIER
    got = setup.receiver.received_summaries(OWNER, ["ore-shipped"])
    assert got["ore-shipped"].summary.issuer == SUPPLIER
    # the key that verified it is sealed: later uses need no resolution
    from batpass.ledger import _sql as t

    with setup.receiver.engine.connect() as conn:
        kids = conn.execute(select(t.verified_keys.c.kid)).scalars().all()
    assert kids == [setup.supplier.identity.key_id(setup.supplier.identity.active("Ed25519"))]
    assert setup.receiver.self_audit() == []


def test_the_operator_may_still_push_with_the_admin_key(setup: Setup) -> None:
    r = _push(setup, ADMIN)
    assert r.status_code == 200, r.text


def test_a_summary_signed_by_another_did_than_the_token_is_forbidden(setup: Setup) -> None:
    r = _push(setup, bearer(OTHER))
    assert r.status_code == 403, r.text
    body = r.json()
    assert SUPPLIER in body["detail"] and OTHER in body["detail"]
    assert body["rule"].startswith("ledger.summary.pusher")
    assert setup.keys.calls == []  # refused before any resolution
    assert setup.receiver.received_summaries(OWNER, ["ore-shipped"]) == {}


def test_an_unknown_did_is_refused_naming_it(setup: Setup, make_store: Callable[[Sequence[Path]], Engine]) -> None:
    stranger = _supplier(make_store([MIGRATIONS_DIR]), "did:web:unknown.example")
    token = stranger.signed_summary("did:web:unknown.example", "ore-shipped")
    r = _push(setup, bearer("did:web:unknown.example"), token)
    assert r.status_code == 401, r.text
    assert "did:web:unknown.example" in r.json()["detail"]


def test_without_credentials_or_with_a_bad_token_it_is_401(setup: Setup) -> None:
    assert _push(setup, {}).status_code == 401
    assert _push(setup, {"Authorization": "Bearer nope"}).status_code == 401


def test_a_cached_key_is_used_the_second_time(setup: Setup, clock: Clock) -> None:
    assert _push(setup, bearer(SUPPLIER)).status_code == 200
    assert _push(setup, bearer(SUPPLIER)).status_code == 200
    kid = setup.supplier.identity.key_id(setup.supplier.identity.active("Ed25519"))
    assert setup.keys.calls == [(kid, False)]
    clock.t += 61.0  # the entry expired: resolved again
    assert _push(setup, bearer(SUPPLIER)).status_code == 200
    assert setup.keys.calls == [(kid, False), (kid, False)]


def test_a_rotated_key_is_picked_up_on_a_verification_failure(setup: Setup) -> None:
    assert _push(setup, bearer(SUPPLIER)).status_code == 200
    # the supplier rotates: same DID and key id, a new private key; its DID document changes
    rotated = NodeIdentity(SUPPLIER, [generate_keypair("Ed25519", "key-ed25519-1")])
    setup.supplier.identity = rotated
    setup.keys.publish(rotated)
    kid = rotated.key_id(rotated.active("Ed25519"))
    r = _push(setup, bearer(SUPPLIER))
    assert r.status_code == 200, r.text
    # the cached (old) key failed; one fresh resolution found the new one
    assert setup.keys.calls == [(kid, False), (kid, True)]
    # a forged signature costs one fresh resolution and is refused
    forger = _supplier_token_by(NodeIdentity(SUPPLIER, [generate_keypair("Ed25519", "key-ed25519-1")]), setup)
    r = _push(setup, bearer(SUPPLIER), forger)
    assert r.status_code == 401
    assert setup.keys.calls[-1] == (kid, True)


def _supplier_token_by(who: NodeIdentity, s: Setup) -> str:
    from batpass.ledger import sign_summary

    return sign_summary(s.supplier.summary(SUPPLIER, "ore-shipped"), who)


# -- summary versions (issue 18, "upstream summary 2.0") ------------------------------------------


def _signed_wire(s: Setup, wire: Mapping[str, Any]) -> str:
    """``wire`` signed by the supplier as its node signs a summary (any version: the codec
    would refuse to write one it does not know)."""
    ident = s.supplier.identity
    kp = ident.active("Ed25519")
    payload = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_compact({"kid": ident.key_id(kp), "typ": SUMMARY_TYP}, payload, kp)


def _as_1_0(wire: Mapping[str, Any], *, recycled_post: float = 0.0) -> dict[str, Any]:
    """What a node not yet upgraded sends: summary 1.0, its origin series normalised over the
    known mass (recyclers counted as origins)."""
    out = {k: v for k, v in wire.items() if k != "basis"}
    out["summaryVersion"] = "1.0"
    out["elements"] = {
        el: {
            "originByCountry": {**(e["minedByCountry"] or {}), **(e["recycledByCountry"] or {})},
            "highRiskShare": e["highRiskShare"] or 0.0,
            "recycled": {"preConsumer": 0.0, "postConsumer": recycled_post},
            "custodyModels": e["custodyModels"],
        }
        for el, e in wire["elements"].items()
    }
    return out


def _li(s: Setup) -> dict[str, Any]:
    li: dict[str, Any] = encode_summary(s.receiver.summary(OWNER, "ore-in"))["elements"]["Li"]
    return li


@pytest.mark.parametrize("version", ["3.0", "1.1", None])
def test_a_summary_of_an_unknown_version_is_refused_naming_the_version(setup: Setup, version: str | None) -> None:
    wire = encode_summary(setup.supplier.summary(SUPPLIER, "ore-shipped"))
    r = _push(setup, bearer(SUPPLIER), _signed_wire(setup, {**wire, "summaryVersion": version}))
    assert r.status_code == 400, r.text  # the house's InvalidInput problem
    body = r.json()
    assert body["field"] == "summaryVersion" and '"1.0", "2.0"' in body["rule"]
    assert repr(version) in body["detail"] and "'2.0'" in body["detail"]
    assert setup.receiver.received_summaries(OWNER, ["ore-shipped"]) == {}  # nothing stored
    assert _li(setup)["unknownShare"] == 1.0 and _li(setup)["minedByCountry"] is None


def test_a_2_0_summary_is_folded_as_mined_origin_with_no_unknown(setup: Setup) -> None:
    before = _li(setup)  # received, no summary yet: nothing known, null rather than 0
    assert before["minedByCountry"] is None and before["recycledByCountry"] is None
    assert before["unknownShare"] == 1.0 and before["recycled"] == {"preConsumer": None, "postConsumer": None}
    assert _push(setup, bearer(SUPPLIER)).status_code == 200
    after = _li(setup)
    assert after["minedByCountry"] == {"CL": 1.0} and after["recycledByCountry"] == {}
    assert after["unknownShare"] == 0.0 and after["recycled"] == {"preConsumer": 0.0, "postConsumer": 0.0}


def test_a_1_0_summary_from_an_older_node_is_still_read(setup: Setup) -> None:
    wire = _as_1_0(encode_summary(setup.supplier.summary(SUPPLIER, "ore-shipped")))
    r = _push(setup, bearer(SUPPLIER), _signed_wire(setup, wire))
    assert r.status_code == 200, r.text
    got = setup.receiver.received_summaries(OWNER, ["ore-shipped"])["ore-shipped"].summary
    assert got.version == "1.0" and encode_summary(got) == wire  # kept as signed
    # no recycled share: 1.0's origin is all mined
    assert _li(setup)["minedByCountry"] == {"CL": 1.0} and _li(setup)["unknownShare"] == 0.0
    assert setup.receiver.self_audit() == []


def test_a_1_0_summary_that_mixes_recyclers_into_origin_gives_unknown_origin(setup: Setup) -> None:
    """1.0 counted a recycler's country as an origin: with a recycled share, its series cannot be
    split into mined and recycled, so the origin is unknown — the recycled share still counts."""
    wire = _as_1_0(encode_summary(setup.supplier.summary(SUPPLIER, "ore-shipped")), recycled_post=0.25)
    assert _push(setup, bearer(SUPPLIER), _signed_wire(setup, wire)).status_code == 200
    li = _li(setup)
    assert li["minedByCountry"] is None and li["recycledByCountry"] is None and li["unknownShare"] == 1.0
    assert li["recycled"] == {"preConsumer": 0.0, "postConsumer": 0.25}
