"""A credential's status list is fetched beside its issuer's DID document when that document is
not kept yet (``Verifier.prefetch``), and the list's own signature check waits for the issuer's
document on the event loop (one shared fetch) instead of resolving it synchronously. Nothing is
checked less: a revoked credential is refused as revoked, a list signed by another key is refused,
and a credential with a clear bit verifies — all with no synchronous client to fall back on, so a
synchronous fetch would show as ``status-unavailable``. Concurrent checks of one list share one
fetch of it, unless they need a copy fetched later than it started or an invalidation came since."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from trust_world import CX_BASE, World

from batpass.core.clock import FixedClock
from batpass.trust import (
    CredentialRejected,
    DidResolver,
    GuardedFetcher,
    NodeIdentity,
    StatusListCache,
    Verifier,
    did_document,
    generate_keypair,
)
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential
from batpass.trust._vc import build_credential, issue_vc_jwt

DAY = dt.timedelta(days=1)
LIST_URL = f"{CX_BASE}/v1/credentials/status/L9"


class Partner:
    """The issuer's node as a verifier reaches it: its DID document (held back until ``gate`` is
    set) and its status list, recording the order requests arrived and were answered in."""

    def __init__(self, w: World, signer: NodeIdentity) -> None:
        self.w = w
        self.signer = signer
        self.bits = bytearray(MIN_BITS // 8)
        self.gate = asyncio.Event()
        self.events: list[str] = []
        self.did_url = DidResolver()._url(w.cx.did)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == self.did_url:
            self.events.append("did asked")
            await self.gate.wait()
            self.events.append("did answered")
            return httpx.Response(200, json=did_document(self.w.cx))
        if url == LIST_URL:
            self.events.append("list asked")
            body = status_list_credential(self.signer, list_url=LIST_URL, bits=bytes(self.bits), now=self.w.now)
            return httpx.Response(200, content=body.encode())
        return httpx.Response(404)


def verifier_of(w: World, partner: Partner) -> tuple[Verifier, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(partner))
    resolver = DidResolver(GuardedFetcher(allowed_hosts=["cx-cert.test:8443"], client=client), ttl_s=60)
    for trust_anchor in (w.jp, w.other):
        resolver.pin(did_document(trust_anchor))
    status = StatusListCache(resolver, wall_clock=FixedClock(w.now))
    return Verifier(resolver, w.registry, status, clock=FixedClock(w.now)), client


def credential(w: World, index: int) -> str:
    vc = build_credential(
        issuer=w.cx.did,
        ctype="MembershipCredential",
        subject={"id": w.holder.did, "memberOf": "catena-x", "holderIdentifier": "BPNL000000000001"},
        valid_from=w.now - DAY,
        valid_until=w.now + DAY,
        status=status_entry(LIST_URL, index),
    )
    return issue_vc_jwt(w.cx, vc)


async def averify(w: World, partner: Partner, index: int) -> Any:
    verifier, client = verifier_of(w, partner)
    try:
        task = asyncio.create_task(verifier.averify(credential(w, index)))
        for _ in range(500):  # the list asked for while the document is held back (at most ~0.5 s)
            if "list asked" in partner.events or task.done():
                break
            await asyncio.sleep(0.001)
        partner.gate.set()
        return await task
    finally:
        await client.aclose()


def beside(partner: Partner) -> bool:
    """Both asked before the document was answered, the document once."""
    return sorted(partner.events[:2]) == ["did asked", "list asked"] and partner.events[2:] == ["did answered"]


def test_the_status_list_is_fetched_while_the_issuers_document_is_awaited(world: World) -> None:
    partner = Partner(world, world.cx)
    v = asyncio.run(averify(world, partner, 5))
    assert v.issuer == world.cx.did
    assert any(c.name == "status" and c.ok for c in v.checks)
    assert beside(partner)


def test_a_revoked_credential_is_refused_when_its_list_is_fetched_beside_the_did(world: World) -> None:
    partner = Partner(world, world.cx)
    set_bit(partner.bits, 5)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(averify(world, partner, 5))
    assert e.value.reason == "revoked"
    assert beside(partner)


def test_a_list_signed_by_a_key_the_issuer_does_not_publish_is_refused(world: World) -> None:
    forger = NodeIdentity(world.cx.did, [generate_keypair("Ed25519", "key-ed25519-9")])
    partner = Partner(world, forger)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(averify(world, partner, 5))
    assert e.value.reason == "status-unavailable"


def test_concurrent_checks_share_one_fetch_of_a_list_and_a_later_bound_fetches_again(world: World) -> None:
    partner = Partner(world, world.cx)
    partner.gate.set()
    set_bit(partner.bits, 6)

    async def run() -> None:
        verifier, client = verifier_of(world, partner)
        try:
            clear, revoked = credential(world, 5), credential(world, 6)
            outcomes = await asyncio.gather(
                verifier.averify(clear), verifier.averify(clear), verifier.averify(revoked), return_exceptions=True
            )
            assert [getattr(o, "reason", "verified") for o in outcomes] == ["verified", "verified", "revoked"]
            assert partner.events.count("list asked") == 1 and partner.events.count("did asked") == 1
            # a check that must know the status as of now does not take the copy fetched earlier
            await asyncio.sleep(0.01)
            assert (await verifier.averify(clear, status_max_age_s=0.001)).issuer == world.cx.did
            assert partner.events.count("list asked") == 2
        finally:
            await client.aclose()

    asyncio.run(run())


def test_a_fetch_under_way_across_an_invalidation_is_not_joined(world: World) -> None:
    partner = Partner(world, world.cx)
    partner.gate.set()

    async def run() -> None:
        verifier, client = verifier_of(world, partner)
        try:
            first = asyncio.create_task(verifier.status.prefetch(LIST_URL))
            await asyncio.sleep(0)  # under way
            set_bit(partner.bits, 5)  # revoked at the issuer meanwhile; this node hears of it
            verifier.status.invalidate(LIST_URL)
            with pytest.raises(CredentialRejected) as e:
                await verifier.averify(credential(world, 5))
            assert e.value.reason == "revoked"
            await first
            assert partner.events.count("list asked") == 2
        finally:
            await client.aclose()

    asyncio.run(run())
