"""Decentralized Claims Protocol 1.0 pieces: self-issued ID tokens, presentation queries and
responses, the role-presentation check for passport tiers (docs/contracts.md) and the participant
check for the connector (docs/contracts.md).

Self-issued token (DCP 1.0 §4.3.1): a JWT signed with the caller's DID key, ``iss`` = ``sub`` =
the caller's DID, ``aud`` = the provider's DID, ``jti``, ``iat``, ``exp``; batpass adds ``bpn``
(the caller's BPNL, when it has one) and may embed an access ``token`` for the credential service.
Presentation query (DCP 1.0 §5.4): ``PresentationQueryMessage`` with ``scope`` entries such as
``org.eclipse.dspace.dcp.vc.type:MembershipCredential:read`` answered by a
``PresentationResponseMessage`` holding ``vp+jwt`` presentations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import httpx

from batpass.core.clock import utc_now
from batpass.core.ids import new_uuid7
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust._vc import LEEWAY, issue_vp_jwt, verify_vp_jwt
from batpass.trust._verify import Verifier, vct_type
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import (
    ROLES,
    CredentialType,
    RejectReason,
    SelfIssued,
    Verification,
    VerifiedParticipant,
    VerifiedRoles,
)

_log = logging.getLogger("batpass.trust")

__all__ = [
    "DCP_CONTEXT",
    "FRAMEWORK_TYPES",
    "DcpParticipantVerifier",
    "NonceStore",
    "issue_self_issued_token",
    "presentation_query",
    "presentation_response",
    "scope_types",
    "verify_role_presentation",
    "verify_self_issued_token",
]

DCP_CONTEXT = "https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"
#: framework-agreement credentials a provider asks every caller's credential service for besides
#: its membership, as Tractus-X EDC does by default (``TxDcpConstants.DEFAULT_SCOPES``): CX-0152
#: ``FrameworkAgreement`` constraints are evaluated from them. They are optional: a caller without
#: one (or with one that fails verification) is still a member, it just cannot agree to offers
#: that require the framework.
FRAMEWORK_TYPES: tuple[str, ...] = (CredentialType.DATA_EXCHANGE_GOVERNANCE.value,)
_SCOPE_PREFIXES = ("org.eclipse.dspace.dcp.vc.type:", "org.eclipse.tractusx.vc.type:")


def issue_self_issued_token(
    identity: NodeIdentity,
    *,
    audience: str,
    bpn: str | None,
    ttl_s: int = 300,
    token: str | None = None,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Contract §5: a DCP self-issued ID token signed with the identity's active Ed25519 key.

    ``actor`` names (RFC 8693 §4.1 ``act`` claim) the one party allowed to present the token on
    the signer's behalf: a delegation, e.g. a hub operator letting its bridge ask a supplier.
    ``now`` is its ``iat`` (default: the current time)."""
    now = now or utc_now()
    key = identity.active("Ed25519")
    claims: dict[str, Any] = {
        "iss": identity.did,
        "sub": identity.did,
        "aud": audience,
        "jti": f"urn:uuid:{new_uuid7()}",
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(seconds=ttl_s)).timestamp()),
    }
    if bpn:
        claims["bpn"] = bpn
    if token:
        claims["token"] = token
    if actor:
        claims["act"] = {"sub": actor}
    return sign_compact({"typ": "JWT", "kid": identity.key_id(key)}, json.dumps(claims).encode(), key)


def verify_self_issued_token(
    token: str, *, audience: str, resolver: DidResolver, max_ttl_s: int = 3600, now: dt.datetime | None = None
) -> SelfIssued:
    """Contract §5: verify a self-issued token (signature by the ``iss`` DID's key, ``iss`` =
    ``sub``, audience, ``exp``/``iat``, as of ``now``, default the current time). DIDs not yet
    cached are fetched (allow-listed)."""
    header, unverified = peek(token)
    iss = unverified.get("iss")
    if not isinstance(iss, str) or unverified.get("sub") != iss:
        raise CredentialRejected(
            "self-issued token needs iss = sub = the caller's DID",
            reason=RejectReason.MALFORMED,
            rule="DCP 1.0 §4.3.1",
        )
    vm = resolver.method(str(header.get("kid", "")), controller=iss)
    _, claims = verify_compact(token, vm.jwk, typ=None)
    if header.get("typ") not in (None, "JWT"):
        raise CredentialRejected("self-issued token typ must be JWT", reason=RejectReason.TYPE_HEADER)
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise CredentialRejected(
            f"self-issued token audience {aud!r} is not {audience}",
            reason=RejectReason.AUDIENCE,
            rule="DCP 1.0 §4.3.1",
        )
    at = int((now or utc_now()).timestamp())
    exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti")
    if not isinstance(exp, int) or not isinstance(iat, int) or not isinstance(jti, str):
        raise CredentialRejected("self-issued token needs exp, iat and jti", reason=RejectReason.MALFORMED)
    if exp < at - 60:
        raise CredentialRejected("self-issued token expired", reason=RejectReason.EXPIRED, rule="exp")
    if iat > at + 60 or exp - iat > max_ttl_s:
        raise CredentialRejected(
            "self-issued token iat/exp out of range", reason=RejectReason.NOT_YET_VALID, rule="iat"
        )
    check_key_time(vm, dt.datetime.fromtimestamp(iat, dt.UTC))
    bpn = claims.get("bpn")
    inner = claims.get("token")
    act = claims.get("act")
    actor = act.get("sub") if isinstance(act, dict) else None
    return SelfIssued(
        did=iss,
        bpn=bpn if isinstance(bpn, str) else None,
        jti=jti,
        exp=dt.datetime.fromtimestamp(exp, dt.UTC),
        token=inner if isinstance(inner, str) else None,
        actor=actor if isinstance(actor, str) else None,
    )


def presentation_query(types: Iterable[str]) -> dict[str, Any]:
    """A DCP ``PresentationQueryMessage`` asking for credentials of ``types``."""
    return {
        "@context": [DCP_CONTEXT],
        "type": "PresentationQueryMessage",
        "scope": [f"org.eclipse.dspace.dcp.vc.type:{t}:read" for t in types],
    }


def scope_types(query: dict[str, Any]) -> list[str]:
    """The credential types a presentation query's ``scope`` asks for."""
    if query.get("type") != "PresentationQueryMessage":
        raise CredentialRejected("not a PresentationQueryMessage", reason=RejectReason.MALFORMED, rule="DCP 1.0 §5.4.1")
    if "presentationDefinition" in query and "scope" not in query:
        raise CredentialRejected(
            "presentationDefinition queries are not supported; use scope",
            reason=RejectReason.MALFORMED,
            rule="DCP 1.0 §5.4.1 (presentationDefinition is optional)",
        )
    out = []
    for s in query.get("scope", []):
        if not isinstance(s, str):
            raise CredentialRejected("scope entries are strings", reason=RejectReason.MALFORMED)
        for p in _SCOPE_PREFIXES:
            if s.startswith(p):
                out.append(s[len(p) :].split(":", 1)[0])
                break
        else:
            raise CredentialRejected(f"scope {s!r} is not a credential-type scope", reason=RejectReason.MALFORMED)
    return out


def presentation_response(
    holder: NodeIdentity, credentials: Sequence[str], *, audience: str, nonce: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A DCP ``PresentationResponseMessage`` with one ``vp+jwt`` over ``credentials`` (issued at ``now``)."""
    return {
        "@context": [DCP_CONTEXT],
        "type": "PresentationResponseMessage",
        "presentation": [issue_vp_jwt(holder, credentials, audience=audience, nonce=nonce, now=now)]
        if credentials
        else [],
    }


class NonceStore(Protocol):
    """Single-use nonces (``GET /v1/auth/nonce``); ``consume`` raises on unknown or reused ones."""

    def consume(self, nonce: str, *, audience: str) -> None: ...


async def verify_role_presentation(
    token: str, *, audience_did: str, nonce_store: NonceStore, verifier: Verifier
) -> VerifiedRoles:
    """Contract §4: verify ``Authorization: Bearer <presentation>`` for the passport tiers.

    A ``vp+jwt`` holding AccessRoleCredentials (issued to its holder), or an SD-JWT VC of that
    type with key binding; ``aud`` must be ``audience_did`` (the serving node) and the nonce one
    this node handed out and nobody used before.
    """
    role_type = CredentialType.ACCESS_ROLE.value
    results: list[Verification] = []
    if verifier.is_sd_jwt(token):
        v = await verifier.averify(token, audience=audience_did, require_key_binding=True, require_type=role_type)
        nonce = _kb_nonce(token)
        holder = v.holder
        if holder is None:
            raise CredentialRejected("role credential names no holder (sub)", reason=RejectReason.HOLDER)
        results.append(v)
    else:
        header, unverified = peek(token)
        holder_claim = unverified.get("holder", unverified.get("iss"))
        if isinstance(holder_claim, str):  # a key the cached document lacks: fetched again
            await verifier.resolver.resolve(holder_claim, kid=header.get("kid"))
        holder, nonce, creds = verify_vp_jwt(token, verifier.resolver, audience=audience_did, now=verifier.clock.now())
        if not creds:
            raise CredentialRejected("presentation holds no credential", reason=RejectReason.ROLE)
        for c in creds:
            v = await verifier.averify(c, require_type=role_type)
            if v.holder != holder:
                raise CredentialRejected(
                    f"role credential is issued to {v.holder}, not to the presenter {holder}",
                    reason=RejectReason.HOLDER,
                    rule="a presentation carries the holder's own credentials",
                )
            results.append(v)
    nonce_store.consume(nonce, audience=audience_did)
    roles = frozenset(str(v.subject.get("role")) for v in results) & ROLES
    if not roles:
        raise CredentialRejected("no passport role proven", reason=RejectReason.ROLE)
    return VerifiedRoles(roles=roles, holder=holder, credentials=tuple(results))


def _kb_nonce(token: str) -> str:
    _h, kb = peek(token.rsplit("~", 1)[1])
    nonce = kb.get("nonce")
    if not isinstance(nonce, str):
        raise CredentialRejected("key binding has no nonce", reason=RejectReason.NONCE_UNKNOWN)
    return nonce


def _claimed_types(token: str) -> frozenset[str]:
    """The types a credential claims, read before it is verified (to know which type to require)."""
    try:
        _h, payload = peek(token.split("~", 1)[0])
    except CredentialRejected:
        return frozenset()
    if "~" in token:
        return frozenset({vct_type(str(payload.get("vct", "")))})
    types = payload.get("type")
    return frozenset(t for t in types if isinstance(t, str)) if isinstance(types, list) else frozenset()


def _all_valid(participant: VerifiedParticipant, now: dt.datetime) -> bool:
    """Every credential the participant was admitted with would still verify as to its expiry
    (``validUntil`` plus the verifier's leeway), so a kept presentation admits only what asking
    again would."""
    return all(v.valid_until is None or now - LEEWAY <= v.valid_until for v in participant.credentials)


class DcpParticipantVerifier:
    """Contract §5: who is calling? Verifies the caller's self-issued token, asks its credential
    service (from its DID document) for its membership and framework-agreement credentials
    (``framework_types``), and verifies them through the trust lists. Wired by the node into the
    dataspace package's ``ParticipantVerifier``.

    The membership must verify (else the caller is refused). A framework credential that does not
    verify (expired, revoked, its issuer not trusted for the type, naming another BPNL) is left
    out and its reason kept in ``VerifiedParticipant.refused``, so the policy that needed it can
    say why it does not hold.

    The caller's token is verified on every message; its verified presentation is reused for
    ``presentation_ttl_s`` (default 60 s, 0 turns reuse off) and never past the ``validUntil`` of
    a credential in it (the caller is asked again), so the several messages of one negotiation
    and transfer cost one presentation query. Revocation is seen within that time plus the
    status-list cache's (the list itself is cached for up to 300 s)."""

    def __init__(
        self,
        identity: NodeIdentity,
        verifier: Verifier,
        client: httpx.AsyncClient,
        *,
        bpn: str | None = None,
        framework_types: Sequence[str] = FRAMEWORK_TYPES,
        presentation_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.presentation_ttl_s = presentation_ttl_s
        self._clock = clock
        self._verified: dict[str, tuple[float, VerifiedParticipant]] = {}
        self._prefetching: dict[str, asyncio.Task[None]] = {}
        self.verifier = verifier
        self.client = client
        self.bpn = bpn
        self.framework_types = frozenset(framework_types) - {CredentialType.MEMBERSHIP.value}

    async def verify(
        self, authorization: str | None, *, identified: Callable[[str], None] | None = None
    ) -> VerifiedParticipant:
        """The caller, verified: its self-issued token on every message, its presentation asked
        for (or the one kept). ``identified`` is called with the caller's DID once the token is
        verified, before the presentation is asked for or awaited (the provider's first-contact
        hooks, which only start work of their own); it must return at once and never raise."""
        if not authorization or not authorization.startswith("Bearer "):
            raise CredentialRejected(
                "Authorization: Bearer <self-issued token> required", reason=RejectReason.MALFORMED
            )
        token = authorization[len("Bearer ") :].strip()
        header, unverified = peek(token)
        if isinstance(unverified.get("iss"), str):  # a key the cached document lacks: fetched again
            await self.verifier.resolver.resolve(unverified["iss"], kid=header.get("kid"))
        si = verify_self_issued_token(
            token, audience=self.identity.did, resolver=self.verifier.resolver, now=self.verifier.clock.now()
        )
        if identified is not None:
            identified(si.did)
        kept = self._kept(si.did)
        pending = self._prefetching.get(si.did)
        if kept is None and pending is not None:  # asked already (prefetch): its answer, once in
            await asyncio.wait({pending})
            kept = self._kept(si.did)
        if kept is not None:
            return kept
        participant = await self._query(si.did, si.bpn)
        self._keep(si.did, participant)
        return participant

    def _kept(self, did: str) -> VerifiedParticipant | None:
        hit = self._verified.get(did)
        if hit is not None and hit[0] > self._clock() and _all_valid(hit[1], self.verifier.clock.now()):
            return hit[1]
        return None

    def _keep(self, did: str, participant: VerifiedParticipant) -> None:
        if self.presentation_ttl_s > 0:
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[did] = (self._clock() + self.presentation_ttl_s, participant)

    def prefetch(self, did: str) -> None:
        """Start asking ``did``'s credential service now (in the background), because ``did``
        will call this node soon: a consumer opening a channel to provider ``did`` hears from it
        (agreement, events, transfer start) within the negotiation. The answer is verified as
        any is and kept as :meth:`verify` keeps one, only when the credentials themselves name
        the BPNL (so no claim of a later token could change it); a failure is dropped, the
        caller's own message is then verified by asking again, which says why."""
        if self.presentation_ttl_s <= 0 or did in self._prefetching or self._kept(did) is not None:
            return
        task = asyncio.get_running_loop().create_task(self._prefetch(did))
        self._prefetching[did] = task
        task.add_done_callback(lambda _done: self._prefetching.pop(did, None))

    async def _prefetch(self, did: str) -> None:
        try:
            participant = await self._query(did, None)
        except Exception as exc:  # a guess ahead of time: the real message asks again
            _log.debug("presentation prefetch from %s dropped: %s", did, exc)
            return
        if participant.bpnl is not None:
            self._keep(did, participant)

    async def _query(self, did: str, token_bpn: str | None) -> VerifiedParticipant:
        """Ask the caller's credential service for its presentation and verify it (``token_bpn``:
        the BPN its token claims, used only where no credential names one)."""
        doc = await self.verifier.resolver.resolve(did)
        endpoint = next(
            (s.get("serviceEndpoint") for s in doc.get("service", []) if s.get("type") == "CredentialService"),
            None,
        )
        if not isinstance(endpoint, str):
            raise CredentialRejected(f"{did} publishes no CredentialService", reason=RejectReason.DID_RESOLUTION)
        url = endpoint.rstrip("/") + "/presentations/query"
        self.verifier.resolver.fetcher.check_url(url)
        ask = issue_self_issued_token(self.identity, audience=did, bpn=self.bpn, now=self.verifier.clock.now())
        try:
            resp = await self.client.post(
                url,
                json=presentation_query([CredentialType.MEMBERSHIP.value, *sorted(self.framework_types)]),
                headers={"Authorization": f"Bearer {ask}"},
            )
        except httpx.HTTPError as exc:
            raise CredentialRejected(
                f"credential service {url} unreachable: {exc}", reason=RejectReason.DID_RESOLUTION
            ) from exc
        if resp.status_code != 200:
            raise CredentialRejected(
                f"credential service answered {resp.status_code}", reason=RejectReason.DID_RESOLUTION
            )
        body = resp.json()
        memberships: set[str] = set()
        verified: list[Verification] = []
        frameworks: list[Verification] = []
        refused: dict[str, str] = {}
        for vp in body.get("presentation", []):
            holder, nonce, creds = verify_vp_jwt(
                vp, self.verifier.resolver, audience=self.identity.did, now=self.verifier.clock.now()
            )
            if holder != did or nonce != peek(ask)[1]["jti"]:
                raise CredentialRejected(
                    "presentation is not the caller's answer to this query", reason=RejectReason.HOLDER
                )
            for c in creds:
                claimed = _claimed_types(c)
                optional = sorted(claimed & self.framework_types)
                if CredentialType.MEMBERSHIP.value in claimed or not optional:
                    # the membership (or a credential nobody asked for) must verify as a membership
                    v = await self.verifier.averify(c, require_type=CredentialType.MEMBERSHIP.value)
                    if v.holder != did:
                        raise CredentialRejected(
                            "membership credential belongs to another holder", reason=RejectReason.HOLDER
                        )
                    memberships.add(str(v.subject.get("memberOf")))
                    verified.append(v)
                    continue
                try:
                    v = await self.verifier.averify(c, require_type=optional[0])
                except CredentialRejected as exc:
                    refused[optional[0]] = f"{exc.reason}: {exc}"
                    continue
                if v.holder != did:
                    raise CredentialRejected(f"{optional[0]} belongs to another holder", reason=RejectReason.HOLDER)
                frameworks.append(v)
        if not memberships:
            raise CredentialRejected(f"{did} presented no trusted membership", reason=RejectReason.ROLE)
        bpnl = token_bpn
        for v in verified:
            hid = v.subject.get("holderIdentifier")
            if isinstance(hid, str) and hid.startswith("BPNL"):
                bpnl = hid
        for v in frameworks:
            hid = v.subject.get("holderIdentifier")
            ctype = next(iter(sorted(v.types & self.framework_types)))
            if bpnl is not None and hid != bpnl:
                refused[ctype] = f"{RejectReason.HOLDER}: it names {hid!r}, the membership {bpnl}"
                continue
            verified.append(v)
        held = {t for v in verified for t in v.types}
        return VerifiedParticipant(
            did=did,
            bpnl=bpnl,
            memberships=frozenset(memberships),
            credentials=tuple(verified),
            refused={k: why for k, why in refused.items() if k not in held},
        )
