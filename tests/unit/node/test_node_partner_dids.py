"""Partners by identity (issue 18): the node resolves another operator's DID under the federation's
trust — any host over HTTPS with the federation CA unless config ``federation_hosts`` narrows it —
for passport writers (``SelfIssuedCaller``) and for pushed summaries' signer keys
(``DidSignerKeys``, whose ``fresh`` drops the cached DID document so a rotated key is fetched).
DID documents are served by an ``httpx.MockTransport`` standing for the partner's HTTPS host."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from batpass.node._adapters import DidSignerKeys, FederationCaHosts, SelfIssuedCaller, federation_fetches
from batpass.trust import (
    MIGRATIONS_DIR,
    CredentialRejected,
    NodeIdentity,
    TrustService,
    UsedTokens,
    did_document,
    generate_keypair,
    issue_self_issued_token,
)

NODE = NodeIdentity("did:web:cells.example", [generate_keypair("Ed25519", "key-ed25519-1")])
PARTNER_DID = "did:web:second-operator.example%3A8443"
KID = PARTNER_DID + "#key-ed25519-1"


class Partner:
    """The partner's host: serves its current DID document and counts the fetches."""

    def __init__(self) -> None:
        self.identity = NodeIdentity(PARTNER_DID, [generate_keypair("Ed25519", "key-ed25519-1")])
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "second-operator.example" and request.url.path == "/.well-known/did.json":
            self.fetches += 1
            return httpx.Response(200, json=did_document(self.identity))
        return httpx.Response(404)


@pytest.fixture
def partner() -> Partner:
    return Partner()


@pytest.fixture
def trust(make_store: Callable[[Sequence[Path]], Engine], partner: Partner) -> TrustService:
    sync = httpx.Client(transport=httpx.MockTransport(partner.handler))
    return TrustService(make_store([MIGRATIONS_DIR]), NODE, base_url="https://cells.example", sync_client=sync)


def _jwk(who: NodeIdentity) -> Any:
    return who.active("Ed25519").public_jwk()


def test_without_federation_hosts_any_host_of_the_federation_ca_resolves(trust: TrustService, partner: Partner) -> None:
    federation_fetches(trust, None, own="cells.example:443")
    assert isinstance(trust.fetcher.allowed_hosts, FederationCaHosts)
    assert DidSignerKeys(trust)(KID) == _jwk(partner.identity)
    # still HTTPS only
    with pytest.raises(CredentialRejected):
        trust.fetcher.check_url("http://second-operator.example:8443/.well-known/did.json")


def test_federation_hosts_stays_an_extra_restriction(trust: TrustService, partner: Partner) -> None:
    federation_fetches(trust, ["tier1.example:8443"], own="cells.example:443")
    assert DidSignerKeys(trust)(KID) is None  # not listed: not fetched
    assert partner.fetches == 0
    federation_fetches(trust, ["second-operator.example:8443"], own="cells.example:443")
    assert DidSignerKeys(trust)(KID) == _jwk(partner.identity)


def test_a_rotated_key_is_fetched_when_asked_fresh(trust: TrustService, partner: Partner) -> None:
    federation_fetches(trust, None, own="cells.example:443")
    keys = DidSignerKeys(trust)
    old = _jwk(partner.identity)
    assert keys(KID) == old
    partner.identity = NodeIdentity(PARTNER_DID, [generate_keypair("Ed25519", "key-ed25519-1")])
    assert keys(KID) == old and partner.fetches == 1  # the resolver's cached document
    assert keys(KID, fresh=True) == _jwk(partner.identity) and partner.fetches == 2
    assert keys(PARTNER_DID + "#key-unknown") is None


def test_a_new_key_id_is_fetched_without_being_asked_fresh(trust: TrustService, partner: Partner) -> None:
    # the partner rotates as batpass does: a new key id, the old key kept (retired) in its document
    federation_fetches(trust, None, own="cells.example:443")
    trust.resolver.refetch_after_s = 0.0  # the once-per-second limit is not what this test is about
    keys = DidSignerKeys(trust)
    assert keys(KID) == _jwk(partner.identity) and partner.fetches == 1
    new = generate_keypair("Ed25519", "key-ed25519-2")
    partner.identity = NodeIdentity(PARTNER_DID, [*partner.identity.keys, new])
    # a key id the cached document lacks: the document is fetched again, no `fresh` needed
    assert keys(PARTNER_DID + "#key-ed25519-2") == new.public_jwk() and partner.fetches == 2
    assert keys(KID) is not None and partner.fetches == 2  # a known key: the cached copy serves


def test_a_second_operator_writes_without_being_listed(trust: TrustService, partner: Partner) -> None:
    """The passport writers' check: the token of an operator on an unlisted host verifies."""
    federation_fetches(trust, None, own="cells.example:443")
    caller = SelfIssuedCaller(trust.resolver, audience=NODE.did, used=UsedTokens(trust.engine))
    token = issue_self_issued_token(partner.identity, audience=NODE.did, bpn=None)
    assert asyncio.run(caller.caller_did(f"Bearer {token}")) == PARTNER_DID
    with pytest.raises(CredentialRejected):  # single use
        asyncio.run(caller.caller_did(f"Bearer {token}"))
    # with a restriction that does not list it, the same operator is refused
    federation_fetches(trust, ["tier1.example:8443"], own="cells.example:443")
    trust.resolver.forget(PARTNER_DID)
    fresh = issue_self_issued_token(partner.identity, audience=NODE.did, bpn=None)
    with pytest.raises(CredentialRejected):
        asyncio.run(caller.caller_did(f"Bearer {fresh}"))


class _Participants:
    """trust's DCP participant verifier as the pusher check calls it: members by DID."""

    def __init__(self, members: set[str]) -> None:
        self.members = members
        self.asked: list[str] = []

    async def verify(self, authorization: str | None) -> Any:
        from types import SimpleNamespace

        from batpass.trust import RejectReason, peek

        did = peek(str(authorization).split(" ", 1)[1])[1]["iss"]
        self.asked.append(did)
        if did not in self.members:
            raise CredentialRejected(f"{did} presented no trusted membership", reason=RejectReason.ROLE)
        return SimpleNamespace(did=did)


def test_a_pusher_is_a_member_with_a_fresh_token(trust: TrustService, partner: Partner) -> None:
    """ledger's ``SummaryPushers`` as the node wires it: the writers' token check (signature,
    audience, single use), then the membership (DCP presentation query, stubbed here)."""
    from types import SimpleNamespace

    from batpass.node._adapters import MemberPushers

    federation_fetches(trust, None, own="cells.example:443")
    participants = _Participants({PARTNER_DID})
    stub = SimpleNamespace(participant_verifier=lambda: participants)
    caller = SelfIssuedCaller(trust.resolver, audience=NODE.did, used=UsedTokens(trust.engine))
    pushers = MemberPushers(caller, stub)  # type: ignore[arg-type]
    token = f"Bearer {issue_self_issued_token(partner.identity, audience=NODE.did, bpn=None)}"
    assert asyncio.run(pushers.pusher_did(token)) == PARTNER_DID
    with pytest.raises(CredentialRejected):  # a replay, refused before any membership query
        asyncio.run(pushers.pusher_did(token))
    assert participants.asked == [PARTNER_DID]
    participants.members.clear()
    with pytest.raises(CredentialRejected, match="no trusted membership"):
        asyncio.run(
            pushers.pusher_did(f"Bearer {issue_self_issued_token(partner.identity, audience=NODE.did, bpn=None)}")
        )
