"""SD-JWT VC revocation through the IETF Token Status List (draft-ietf-oauth-status-list-20):
the issuing node serves its list as ``application/statuslist+jwt``; an SD-JWT VC it issues carries
``status.status_list {idx, uri}``; revoking flips that entry, and a verifier that fetches the list
over HTTP — not the issuer's own shortcut — refuses the credential once its cached copy is older
than the token's ``ttl``. Lists that are not the issuer's, not for this URI, expired or damaged
are refused with ``status-unavailable``, never read as valid."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from trust_http import ADMIN, load_lists, make_app, role_subject
from trust_world import CX_BASE, World

from batpass.core.clock import FixedClock
from batpass.trust import CredentialRejected, StatusListCache, TrustService, Verifier
from batpass.trust._jose import peek, sign_compact
from batpass.trust._sdjwt import issue_sd_jwt
from batpass.trust._status import MIN_BITS, status_list_credential
from batpass.trust._tokenstatus import (
    TYP,
    compress,
    decompress,
    get_status,
    set_status,
    status_list_token,
    token_status_entry,
)
from batpass.trust.model import vct_for

H = {"X-Api-Key": ADMIN}
LIST_URI = f"{CX_BASE}/v1/credentials/token-status/L9"


def served(client: TestClient, counter: list[str]) -> Callable[[str], str | None]:
    """The verifier's way to the list: an HTTP GET on the issuing node's app."""

    def fetch(url: str) -> str | None:
        if not url.startswith(CX_BASE):
            return None
        counter.append(url)
        r = client.get(url[len(CX_BASE) :])
        assert r.status_code == 200, r.text
        return r.text

    return fetch


def test_an_sd_jwt_vc_revocation_is_seen_by_a_verifier_fetching_the_token_status_list(
    service: TrustService, world: World
) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    r = client.post(
        "/v1/credentials/issue",
        headers=H,
        json={"type": "AccessRoleCredential", "subject": role_subject(world), "format": "dc+sd-jwt"},
    )
    assert r.status_code == 201
    cid, sd = r.json()["id"], r.json()["credential"]
    _, payload = peek(sd.split("~", 1)[0])
    ref = payload["status"]["status_list"]
    assert set(payload["status"]) == {"status_list"} and isinstance(ref["idx"], int)
    assert ref["uri"].startswith(f"{CX_BASE}/v1/credentials/token-status/")

    listed = client.get(ref["uri"][len(CX_BASE) :])
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/statuslist+jwt"
    assert listed.headers["access-control-allow-origin"] == "*"
    header, tsl = peek(listed.text)
    assert header["typ"] == TYP and header["kid"].startswith(world.cx.did + "#")
    assert tsl["sub"] == ref["uri"] and tsl["iss"] == world.cx.did and tsl["status_list"]["bits"] == 1
    assert tsl["exp"] > tsl["iat"] and tsl["ttl"] == 300
    assert get_status(decompress(tsl["status_list"]["lst"]), ref["idx"], bits=1) == 0

    fetched: list[str] = []
    t = [0.0]
    cache = StatusListCache(
        world.resolver,
        local=served(client, fetched),
        max_age_s=3600,
        clock=lambda: t[0],
        wall_clock=FixedClock(world.now),
    )
    verifier = Verifier(world.resolver, world.registry, cache, clock=FixedClock(world.now))
    ok = verifier.verify(sd)
    assert [c.detail for c in ok.checks if c.name == "status"] == [
        f"status VALID at index {ref['idx']} of Token Status List {ref['uri']}"
    ]

    assert client.post(f"/v1/credentials/{cid}/revoke", headers=H).status_code == 204
    _, after = peek(client.get(ref["uri"][len(CX_BASE) :]).text)
    assert get_status(decompress(after["status_list"]["lst"]), ref["idx"], bits=1) == 1  # INVALID

    t[0] = 299.0  # within the token's ttl the verifier keeps its copy (max_age_s is longer)
    verifier.verify(sd)
    assert len(fetched) == 1
    t[0] = 300.0  # ttl reached: fetched again, the revocation is seen
    with pytest.raises(CredentialRejected) as e:
        verifier.verify(sd)
    assert e.value.reason == "revoked" and "INVALID" in e.value.message and len(fetched) == 2
    # the issuing node itself sees it at once
    v = client.post("/v1/credentials/verify", json={"credential": sd}).json()
    assert v["verified"] is False and v["reason"] == "revoked"


def test_the_vc_jwt_and_the_sd_jwt_vc_share_one_list_slot_per_credential(service: TrustService, world: World) -> None:
    a = service.issue("AccessRoleCredential", role_subject(world))
    b = service.issue("AccessRoleCredential", role_subject(world), format="dc+sd-jwt")
    assert a.status_list == b.status_list and b.status_index == a.status_index + 1
    _, vc = peek(a.token)
    assert vc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    service.revoke(a.id)
    raw = decompress(peek(service.token_status_token(a.status_list))[1]["status_list"]["lst"])
    assert [get_status(raw, i, bits=1) for i in (a.status_index, b.status_index)] == [1, 0]


def sd_jwt_with(world: World, idx: int, uri: str = LIST_URI) -> str:
    now = world.now - dt.timedelta(minutes=1)
    return issue_sd_jwt(
        world.cx,
        role_subject(world),
        vct=vct_for("AccessRoleCredential"),
        disclosable=(),
        holder_jwk=None,
        status=token_status_entry(uri, idx),
        now=now,
    )


def verifier_serving(world: World, token: Callable[[], str], ttl_clock: list[float] | None = None) -> Verifier:
    clock = ttl_clock if ttl_clock is not None else [0.0]
    cache = StatusListCache(
        world.resolver,
        local=lambda u: token() if u == LIST_URI else None,
        max_age_s=300,
        clock=lambda: clock[0],
        wall_clock=FixedClock(world.now),
    )
    return Verifier(world.resolver, world.registry, cache, clock=FixedClock(world.now))


def refusal(verifier: Verifier, sd: str) -> tuple[str, str]:
    with pytest.raises(CredentialRejected) as e:
        verifier.verify(sd)
    return str(e.value.reason), e.value.message


def test_a_shorter_ttl_than_the_verifiers_maximum_age_wins(world: World) -> None:
    raw = bytearray(16)
    fetches: list[int] = []

    def token() -> str:
        fetches.append(1)
        return status_list_token(world.cx, uri=LIST_URI, raw=bytes(raw), ttl_s=60, now=world.now)

    t = [0.0]
    verifier = verifier_serving(world, token, t)
    sd = sd_jwt_with(world, 5)
    verifier.verify(sd)
    set_status(raw, 5, 1, bits=1)
    t[0] = 59.0
    verifier.verify(sd)
    t[0] = 60.0
    assert refusal(verifier, sd)[0] == "revoked" and len(fetches) == 2


def test_a_list_is_not_kept_past_its_exp_even_within_its_ttl(world: World) -> None:
    fetches: list[int] = []

    def token() -> str:
        fetches.append(1)
        return status_list_token(
            world.cx, uri=LIST_URI, raw=bytes(16), ttl_s=300, valid_for=dt.timedelta(seconds=100), now=world.now
        )

    t = [0.0]
    verifier = verifier_serving(world, token, t)
    sd = sd_jwt_with(world, 5)
    verifier.verify(sd)
    t[0] = 99.0
    verifier.verify(sd)
    assert len(fetches) == 1
    t[0] = 100.0
    verifier.verify(sd)
    assert len(fetches) == 2


def test_a_suspended_entry_of_a_two_bit_list_is_refused_as_suspended(world: World) -> None:
    raw = bytearray(8)
    set_status(raw, 3, 2, bits=2)
    verifier = verifier_serving(world, lambda: status_list_token(world.cx, uri=LIST_URI, raw=bytes(raw), bits=2))
    verifier.verify(sd_jwt_with(world, 2))
    reason, message = refusal(verifier, sd_jwt_with(world, 3))
    assert reason == "revoked" and "suspended" in message and "SUSPENDED" in message


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("another-signer", "not by the credential's issuer"),
        ("other-sub", "is not the URI it came from"),
        ("expired", "has expired"),
        ("out-of-bounds", "outside the status list"),
        ("bitstring-at-the-uri", "is not a Token Status List"),
        ("three-bits", "bits (1, 2, 4 or 8)"),
    ],
)
def test_a_list_that_is_not_the_issuers_current_list_for_this_uri_is_refused(world: World, case: str, why: str) -> None:
    raw = bytes(16)
    signer, uri, now, idx = world.cx, LIST_URI, world.now, 3
    if case == "another-signer":
        signer = world.jp
    elif case == "other-sub":
        uri = f"{CX_BASE}/v1/credentials/token-status/OTHER"
    elif case == "expired":
        now = world.now - dt.timedelta(days=2)
    elif case == "out-of-bounds":
        idx = 16 * 8
    if case == "bitstring-at-the-uri":
        token = status_list_credential(world.cx, list_url=LIST_URI, bits=bytes(MIN_BITS // 8))
    elif case == "three-bits":
        key = world.cx.active()
        body = {
            "iss": world.cx.did,
            "sub": uri,
            "iat": int(now.timestamp()),
            "status_list": {"bits": 3, "lst": compress(raw)},
        }
        token = sign_compact({"typ": TYP, "kid": world.cx.key_id(key)}, json.dumps(body).encode(), key)
    else:
        token = status_list_token(signer, uri=uri, raw=raw, now=now)
    reason, message = refusal(verifier_serving(world, lambda: token), sd_jwt_with(world, idx))
    assert reason == "status-unavailable" and why in message, message


def test_a_malformed_status_list_reference_is_refused(world: World) -> None:
    verifier = verifier_serving(world, lambda: pytest.fail("no list is fetched for a malformed reference"))
    for bad in ({"idx": -1, "uri": LIST_URI}, {"idx": "3", "uri": LIST_URI}, {"idx": 3}):
        sd = issue_sd_jwt(
            world.cx,
            role_subject(world),
            vct=vct_for("AccessRoleCredential"),
            disclosable=(),
            holder_jwk=None,
            status={"status_list": bad},
            now=world.now - dt.timedelta(minutes=1),
        )
        assert refusal(verifier, sd)[0] == "malformed"


def test_a_list_unchanged_for_days_is_served_freshly_signed_not_expired(trust_store: Any, world: World) -> None:
    """Both lists are cached per version; a node whose list does not change for two days must not
    go on serving the copy it signed then (its ``exp``/``validUntil`` has passed)."""
    clock = FixedClock(world.now)
    svc = TrustService(trust_store, world.cx, base_url=CX_BASE, clock=clock)
    issued = svc.issue("AccessRoleCredential", role_subject(world), format="dc+sd-jwt")
    first_tsl, first_bsl = svc.token_status_token(issued.status_list), svc.status_list_token(issued.status_list)
    assert svc.token_status_token(issued.status_list) == first_tsl  # cached while fresh
    clock.advance(dt.timedelta(days=2))
    now = int(clock.now().timestamp())
    _, tsl = peek(svc.token_status_token(issued.status_list))
    _, bsl = peek(svc.status_list_token(issued.status_list))
    assert tsl["exp"] > now and tsl["iat"] >= now - 60
    assert bsl["exp"] > now
    assert (tsl, bsl) != (peek(first_tsl)[1], peek(first_bsl)[1])


def test_an_sd_jwt_vc_issued_with_the_bitstring_entry_is_still_checked(world: World) -> None:
    """SD-JWT VCs issued before the Token Status List carry the W3C entry in ``status``."""
    from batpass.trust._status import set_bit, status_entry

    url = f"{CX_BASE}/v1/credentials/status/OLD"
    bits = bytearray(MIN_BITS // 8)
    cache = StatusListCache(
        world.resolver,
        local=lambda u: status_list_credential(world.cx, list_url=url, bits=bytes(bits)) if u == url else None,
        max_age_s=0,
        wall_clock=FixedClock(world.now),
    )
    verifier = Verifier(world.resolver, world.registry, cache, clock=FixedClock(world.now))
    sd = issue_sd_jwt(
        world.cx,
        role_subject(world),
        vct=vct_for("AccessRoleCredential"),
        disclosable=(),
        holder_jwk=None,
        status=status_entry(url, 4),
        now=world.now - dt.timedelta(minutes=1),
    )
    verifier.verify(sd)
    set_bit(bits, 4)
    assert refusal(verifier, sd)[0] == "revoked"
