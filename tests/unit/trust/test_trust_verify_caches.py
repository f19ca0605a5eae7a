"""What the verifier keeps between verifications (decoded headers, imported keys, the key joserfc
accepted for a header, verification methods, compiled schemas, status lists) never outlives what
it was taken from: after a cached success, a rotated or retired key, a tampered token, a revoked
credential and an expired status list are still refused, each with its own reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from trust_world import CX_BASE, World

from batpass.core.clock import FixedClock
from batpass.trust import (
    CredentialRejected,
    NodeIdentity,
    StatusListCache,
    VerifiedTokens,
    Verifier,
    did_document,
    generate_keypair,
)
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential
from batpass.trust._vc import build_credential, issue_vc_jwt

DAY = dt.timedelta(days=1)
LIST_URL = f"{CX_BASE}/v1/credentials/status/L1"


def subject(holder: str, i: int = 1) -> dict[str, Any]:
    return {
        "id": holder,
        "product": f"urn:uuid:lot-{i}",
        "element": "Co",
        "recycledShare": 0.18,
        "preConsumerShare": 0.05,
        "postConsumerShare": 0.13,
        "threshold": 0.16,
        "meetsThreshold": True,
        "summaryDigest": "sha-256:" + "0" * 64,
    }


def token(w: World, issuer: NodeIdentity, *, i: int = 1, alg: str = "Ed25519", status: bool = False) -> str:
    vc = build_credential(
        issuer=issuer.did,
        ctype="RecycledContentAttestationCredential",
        subject=subject(w.holder.did, i),
        valid_from=w.now - DAY,
        valid_until=w.now + DAY,
        status=status_entry(LIST_URL, i) if status else None,
    )
    return issue_vc_jwt(issuer, vc, alg=alg)


def refused(verifier: Verifier, tok: str) -> str:
    with pytest.raises(CredentialRejected) as e:
        verifier.verify(tok)
    return str(e.value.reason)


def flip_signature(tok: str) -> str:
    head, payload, sig = tok.split(".")
    # change a character in the middle: the segment stays canonical base64url
    mid = len(sig) // 2
    return f"{head}.{payload}.{sig[:mid]}{'A' if sig[mid] != 'A' else 'B'}{sig[mid + 1 :]}"


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_tampered_tokens_are_refused_after_a_cached_success(world: World, alg: str) -> None:
    good = token(world, world.cx, alg=alg)
    world.verifier.verify(good)
    world.verifier.verify(token(world, world.cx, i=2, alg=alg))  # same header and key: the direct path
    assert refused(world.verifier, flip_signature(good)) == "signature"
    head, _payload, sig = good.split(".")
    other = token(world, world.cx, i=3, alg=alg).split(".")[1]
    assert refused(world.verifier, f"{head}.{other}.{sig}") == "signature"
    short = sig[:-5] + "A"  # 61 bytes, still canonical base64url
    assert refused(world.verifier, f"{head}.{other}.{short}") == "signature"
    assert refused(world.verifier, f"{head}.{other}.{sig[:-5]}B") == "malformed"  # unused bits set: as before


def test_a_key_replaced_under_the_same_kid_is_refused_after_a_cached_success(world: World) -> None:
    old = token(world, world.cx)
    world.verifier.verify(old)
    # the issuer rotates: the same key id now names another key (its document is pinned again)
    new_key = dataclasses.replace(generate_keypair("Ed25519", "key-ed25519-1"))
    rotated = NodeIdentity(world.cx.did, [new_key, *world.cx.keys[1:]])
    world.resolver.pin(did_document(rotated))
    assert refused(world.verifier, old) == "signature"
    assert world.verifier.verify(token(world, rotated, i=2)).issuer == world.cx.did


def test_a_key_removed_from_the_document_is_refused_after_a_cached_success(world: World) -> None:
    old = token(world, world.cx)
    world.verifier.verify(old)
    fresh = NodeIdentity(world.cx.did, [generate_keypair("Ed25519", "key-ed25519-2")])
    world.resolver.pin(did_document(fresh))
    assert refused(world.verifier, old) == "unknown-key"
    assert world.verifier.verify(token(world, fresh, i=2)).issuer == world.cx.did


def test_a_key_retired_before_the_signature_is_refused_after_a_cached_success(world: World) -> None:
    tok = token(world, world.cx)
    world.verifier.verify(tok)
    ed, *rest = world.cx.keys
    retired = dataclasses.replace(ed, retired=True, retired_at=world.now - dt.timedelta(hours=1))
    world.resolver.pin(did_document(NodeIdentity(world.cx.did, [retired, *rest])))
    assert refused(world.verifier, tok) == "key-retired"


def test_a_decoded_header_is_each_callers_own(world: World) -> None:
    tok = token(world, world.cx)
    header, _ = peek(tok)
    header["kid"] = "did:web:elsewhere.test#key"
    assert peek(tok)[0]["kid"].startswith(world.cx.did)
    world.verifier.verify(tok)


class Publisher:
    """The issuer's status list as a verifier fetches it, counting fetches."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.bits = bytearray(MIN_BITS // 8)
        self.fetches = 0
        self.issued_at = w.now
        self.during_fetch: Any = None

    def revoke(self, index: int) -> None:
        set_bit(self.bits, index)

    def __call__(self, url: str) -> str | None:
        if url != LIST_URL:
            return None
        self.fetches += 1
        signed = status_list_credential(self.w.cx, list_url=LIST_URL, bits=bytes(self.bits), now=self.issued_at)
        if self.during_fetch is not None:
            self.during_fetch()
        return signed


def status_world(w: World) -> tuple[Publisher, StatusListCache, Verifier, list[float]]:
    pub = Publisher(w)
    t = [0.0]
    cache = StatusListCache(w.resolver, local=pub, max_age_s=300, clock=lambda: t[0], wall_clock=FixedClock(w.now))
    return pub, cache, Verifier(w.resolver, w.registry, cache, clock=FixedClock(w.now)), t


def test_a_status_list_is_cached_within_its_max_age_only(world: World) -> None:
    pub, _cache, verifier, t = status_world(world)
    tok = token(world, world.cx, i=7, status=True)
    verifier.verify(tok)
    verifier.verify(token(world, world.cx, i=8, status=True))
    assert pub.fetches == 1
    pub.revoke(7)  # at the issuer; this verifier holds the list it fetched
    t[0] = 299.0
    verifier.verify(tok)
    assert pub.fetches == 1
    t[0] = 300.0
    assert refused(verifier, tok) == "revoked"
    assert pub.fetches == 2


def test_the_nodes_own_revocation_is_seen_at_once_after_a_cached_success(world: World) -> None:
    pub, cache, verifier, _t = status_world(world)
    tok = token(world, world.cx, i=7, status=True)
    verifier.verify(tok)
    pub.revoke(7)
    cache.invalidate(LIST_URL)  # what the issuing node does on revoke
    assert refused(verifier, tok) == "revoked"


def test_a_list_fetched_across_a_revocation_is_not_cached(world: World) -> None:
    pub, cache, verifier, _t = status_world(world)
    tok = token(world, world.cx, i=7, status=True)

    def revoke_meanwhile() -> None:
        pub.during_fetch = None
        pub.revoke(7)
        cache.invalidate(LIST_URL)

    pub.during_fetch = revoke_meanwhile
    verifier.verify(tok)  # began before the revocation: answered from the copy it fetched
    assert refused(verifier, tok) == "revoked"  # that copy was not kept
    assert pub.fetches == 2


def test_an_expired_status_list_is_refused_after_a_cached_success(world: World) -> None:
    pub, _cache, verifier, t = status_world(world)
    tok = token(world, world.cx, i=7, status=True)
    verifier.verify(tok)
    pub.issued_at = world.now - 3 * DAY  # the only copy now served expired two days ago
    t[0] = 301.0
    assert refused(verifier, tok) == "status-unavailable"


def test_segments_peek_did_not_check_get_joserfcs_answer_after_a_cached_success(world: World) -> None:
    """A caller passing ``parsed`` vouches for the header and payload only: a signature or payload
    segment joserfc would not decode is still answered as joserfc answers it."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    good = token(world, world.cx)
    jwk = world.cx.keys[0].public_jwk()
    verify_compact(good, jwk, typ="vc+jwt")
    head, payload, sig = good.split(".")
    # the same bytes with an unused bit set: not canonical, so joserfc does not verify it
    loose_sig = sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]
    with pytest.raises(CredentialRejected) as e:
        verify_compact(f"{head}.{payload}.{loose_sig}", jwk, typ="vc+jwt", parsed=peek(good))
    assert e.value.reason == "signature"
    if len(payload) % 4:
        loose_payload = payload[:-1] + alphabet[alphabet.index(payload[-1]) | 1]
        with pytest.raises(CredentialRejected) as e:
            verify_compact(f"{head}.{loose_payload}.{sig}", jwk, typ="vc+jwt", parsed=peek(good))
        assert e.value.reason == "malformed"


def test_a_kept_verification_is_keyed_by_the_key_not_by_its_spelling_and_is_bounded() -> None:
    """:class:`VerifiedTokens` keeps a success by (token digest, canonical JWK): the same key
    spelt with its members in another order hits; another key, or a token it no longer holds
    (least recently used out past the limit), is verified again."""
    ident = NodeIdentity("did:web:a.example", [generate_keypair("Ed25519", "key-1")])
    kp = ident.active()
    tokens = [sign_compact({"kid": ident.key_id(kp), "typ": "t"}, f'{{"n":{n}}}'.encode(), kp) for n in range(3)]
    jwk = dict(kp.public_jwk())
    calls: list[str] = []

    def verify(tok: str, resolve: Any) -> dict[str, Any]:
        calls.append(tok)
        return verify_compact(tok, resolve(peek(tok)[0]["kid"]), typ="t")[1]

    memo = VerifiedTokens(limit=2)
    memo.keep(tokens[0], jwk, {"n": 0})
    reordered = dict(reversed(list(jwk.items())))
    assert memo.verify(tokens[0], lambda _kid: reordered, verify) == {"n": 0} and calls == []
    other = dict(generate_keypair("Ed25519", "key-1").public_jwk())
    with pytest.raises(CredentialRejected):
        memo.verify(tokens[0], lambda _kid: other, verify)
    assert calls == [tokens[0]] and len(memo) == 1  # the failure is not kept
    memo.verify(tokens[1], lambda _kid: jwk, verify)
    memo.verify(tokens[2], lambda _kid: jwk, verify)  # tokens[0] is out (limit 2)
    assert len(memo) == 2
    memo.verify(tokens[0], lambda _kid: jwk, verify)
    assert calls == [tokens[0], tokens[1], tokens[2], tokens[0]]
