"""The trust tables read back through their signatures (docs/trust-lists.md "Stored signed").

Every reader here returns what verified and a :class:`~batpass.core.findings.Finding` for each
row that did not, never raising for a tampered row: a trust list is built only from its
operator's JWS verified against the keys pinned for that operator (offline), and only when the
node's own signed acceptance names that very JWS; pinned keys, the recognition policy and
wallet entries are read from the records the node signed (``_records.py``). Plain columns are a
cache: a difference from the signed form is a finding, and the signed form is what is used.

Knows the tables (``_sql.py``) and a connection; knows no engine, unit of work or HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from batpass.core.findings import Finding
from batpass.trust import _sql
from batpass.trust._jose import peek, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._records import digest, open_record, sign_record
from batpass.trust._trustlist import PinnedKey, load_pinned_trust_list, public_jwk
from batpass.trust._verify import vct_type
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RecognitionPolicy, RejectReason, TrustList, iso, parse_time

__all__ = [
    "CACHE",
    "HELD",
    "LIST_ACCEPTED",
    "LIST_OPERATOR",
    "LIST_SIGNED",
    "PIN",
    "POLICY",
    "HeldCredential",
    "Stored",
    "describe_credential",
    "held_attestation",
    "holder_of",
    "list_attestation",
    "pin_values",
    "policy_attestation",
    "read_all",
    "read_lists",
    "read_pins",
    "read_policy",
    "read_wallet",
]

#: rule ids a finding names (docs/trust-lists.md "Stored signed")
LIST_SIGNED = "trust-list-signed"  # the JWS verifies against the operator's pinned key
LIST_ACCEPTED = "trust-list-accepted"  # the node's signed acceptance names this JWS
LIST_OPERATOR = "trust-list-operator-configured"  # the list is by the configured operator
PIN = "pinned-key-attested"  # the node's signed record of a pinned key verifies
POLICY = "policy-attested"  # the node's signed record of its recognition policy verifies
HELD = "held-credential-attested"  # a held token is the one the node verified and signed for
CACHE = "cache-matches-signed"  # a plain column equals the signed form

KIND_LIST = "trust-list-acceptance"
KIND_PIN = "pinned-key"
KIND_POLICY = "recognition-policy"
KIND_HELD = "held-credential"


@dataclass(frozen=True, slots=True)
class HeldCredential:
    """A wallet entry whose token verified: everything here is read from the token."""

    id: str
    format: str
    ctype: str
    issuer: str
    subject: str | None
    token: str
    stored_at: dt.datetime


@dataclass
class Stored:
    """Everything the trust tables hold that verified, and the findings for what did not."""

    pins: dict[str, PinnedKey] = field(default_factory=dict)  # by kid
    lists: list[TrustList] = field(default_factory=list)
    policy: RecognitionPolicy | None = None
    held: list[HeldCredential] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


#: what reading a stored row may raise: a finding, never a crash
_UNREADABLE = (CredentialRejected, KeyError, TypeError, ValueError)


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, CredentialRejected) else f"{type(exc).__name__}: {exc}"


# --- pinned keys -------------------------------------------------------------------------------


def _pin_payload(pin: PinnedKey) -> dict[str, Any]:
    return {
        "operator": pin.operator,
        "kid": pin.kid,
        "jwk": public_jwk(pin.jwk),
        "pinnedAt": iso(pin.pinned_at),
        "retiredAt": iso(pin.retired_at) if pin.retired_at else None,
    }


def pin_values(identity: NodeIdentity, pin: PinnedKey, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The row of a pinned key, with the node's signed record of it (signed at ``now``)."""
    return {
        "operator": pin.operator,
        "kid": pin.kid,
        "jwk": public_jwk(pin.jwk),
        "pinned_at": pin.pinned_at,
        "retired_at": pin.retired_at,
        "attestation": sign_record(identity, KIND_PIN, _pin_payload(pin), now=now),
    }


def read_pins(
    conn: Connection, identity: NodeIdentity, *, operator: str | None = None
) -> tuple[list[PinnedKey], list[Finding]]:
    """The pinned keys (of ``operator`` if given) whose records verify."""
    t = _sql.pinned_keys
    q = sa.select(t).order_by(t.c.operator, t.c.kid)
    if operator is not None:
        q = q.where(t.c.operator == operator)
    pins: list[PinnedKey] = []
    findings: list[Finding] = []
    for row in conn.execute(q):
        try:
            p = open_record(identity, row.attestation, KIND_PIN)
            if p.get("operator") != row.operator or p.get("kid") != row.kid:
                raise CredentialRejected(
                    f"the signed record is for {p.get('kid')}, the row for {row.kid}", reason=RejectReason.SIGNATURE
                )
            pin = PinnedKey(
                operator=str(p["operator"]),
                kid=str(p["kid"]),
                jwk=dict(p["jwk"]),
                pinned_at=parse_time(str(p["pinnedAt"])),
                retired_at=parse_time(str(p["retiredAt"])) if p.get("retiredAt") else None,
            )
        except _UNREADABLE as exc:
            findings.append(Finding(_sql.pinned_keys.name, row.kid, PIN, f"pinned key left out: {_why(exc)}"))
            continue
        if public_jwk(row.jwk or {}) != public_jwk(pin.jwk) or row.retired_at != pin.retired_at:
            findings.append(
                Finding(
                    _sql.pinned_keys.name,
                    row.kid,
                    CACHE,
                    "the jwk or retired_at column differs from the signed record; the record is used",
                )
            )
        pins.append(pin)
    return pins, findings


# --- trust lists -------------------------------------------------------------------------------


def list_attestation(identity: NodeIdentity, tl: TrustList, jws: str, *, now: dt.datetime | None = None) -> str:
    """The node's signed acceptance of ``jws``: a stored list is used only with it, so neither
    another list nor an older one of the same operator can be put in its place."""
    payload = {"ecosystem": tl.ecosystem, "operator": tl.operator, "sequence": tl.sequence, "jws": digest(jws)}
    return sign_record(identity, KIND_LIST, payload, now=now)


def read_lists(
    conn: Connection,
    identity: NodeIdentity,
    *,
    operators: Mapping[str, str],
    pins: Mapping[str, PinnedKey],
) -> tuple[list[TrustList], list[Finding]]:
    """The stored trust lists that verify: each by the operator configured for its ecosystem,
    against that operator's pinned keys, with the node's acceptance naming that JWS."""
    t = _sql.trust_lists
    lists: list[TrustList] = []
    findings: list[Finding] = []
    for row in conn.execute(sa.select(t).order_by(t.c.ecosystem)):
        key = row.ecosystem
        operator = operators.get(row.ecosystem)
        if operator is None:
            findings.append(
                Finding(t.name, key, LIST_OPERATOR, f"no operator is configured for {row.ecosystem}; list left out")
            )
            continue
        try:
            tl = load_pinned_trust_list(row.jws, pins, operator=operator, ecosystem=row.ecosystem)
        except _UNREADABLE as exc:
            findings.append(Finding(t.name, key, LIST_SIGNED, f"list left out: {_why(exc)}"))
            continue
        try:
            accepted = open_record(identity, row.attestation, KIND_LIST)
            if accepted.get("jws") != digest(row.jws.strip()) or (
                accepted.get("ecosystem"),
                accepted.get("operator"),
                accepted.get("sequence"),
            ) != (tl.ecosystem, tl.operator, tl.sequence):
                raise CredentialRejected(
                    "the stored JWS is not the one this node accepted", reason=RejectReason.SIGNATURE
                )
        except _UNREADABLE as exc:
            findings.append(Finding(t.name, key, LIST_ACCEPTED, f"list left out: {_why(exc)}"))
            continue
        if row.body != tl.to_json() or row.operator != tl.operator or row.sequence != tl.sequence:
            findings.append(
                Finding(
                    t.name,
                    key,
                    CACHE,
                    "the stored body, operator or sequence differs from the signed list; the signed list is used",
                )
            )
        lists.append(tl)
    return lists, findings


# --- recognition policy ------------------------------------------------------------------------


def policy_attestation(identity: NodeIdentity, policy: RecognitionPolicy, *, now: dt.datetime | None = None) -> str:
    """The node's signed record of its own recognition policy (the node is its author)."""
    return sign_record(identity, KIND_POLICY, {"ecosystem": policy.ecosystem, "policy": policy.to_json()}, now=now)


def read_policy(
    conn: Connection, identity: NodeIdentity, ecosystem: str
) -> tuple[RecognitionPolicy | None, list[Finding]]:
    """The policy of ``ecosystem`` from the node's signed record, or ``None`` (nothing stored, or
    the record does not verify: then no rule is applied)."""
    t = _sql.policies
    row = conn.execute(sa.select(t).where(t.c.ecosystem == ecosystem)).first()
    if row is None:
        return None, []
    try:
        p = open_record(identity, row.attestation, KIND_POLICY)
        if p.get("ecosystem") != ecosystem or not isinstance(p.get("policy"), dict):
            raise CredentialRejected(f"the signed record is for {p.get('ecosystem')!r}", reason=RejectReason.SIGNATURE)
        policy = RecognitionPolicy.from_json(p["policy"])
    except _UNREADABLE as exc:
        return None, [Finding(t.name, ecosystem, POLICY, f"no recognition rule applied: {_why(exc)}")]
    findings = []
    if row.body != policy.to_json():
        findings.append(
            Finding(
                t.name, ecosystem, CACHE, "the stored body differs from the signed policy; the signed policy is used"
            )
        )
    return policy, findings


# --- wallet ------------------------------------------------------------------------------------


def describe_credential(token: str) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    """``(format, type, issuer, header, payload)`` of a credential token, unverified (the caller
    verifies the signature); raises ``CredentialRejected`` when it is not a credential."""
    header, payload = peek(token.split("~", 1)[0])
    if "~" in token:
        fmt, ctype = "dc+sd-jwt", vct_type(str(payload.get("vct", "")))
        issuer = payload.get("iss")
    else:
        fmt = "vc+jwt"
        types = payload.get("type", [])
        ctype = next((t for t in types if t != "VerifiableCredential"), "") if isinstance(types, list) else ""
        issuer = payload.get("issuer")
    if not ctype or not isinstance(ctype, str) or not isinstance(issuer, str):
        raise CredentialRejected("not a credential batpass can hold", reason=RejectReason.MALFORMED)
    return fmt, ctype, issuer, header, payload


def holder_of(fmt: str, payload: Mapping[str, Any]) -> str | None:
    """The subject a credential was issued to (``sub`` of an SD-JWT VC, ``credentialSubject.id``)."""
    if fmt == "dc+sd-jwt":
        sub = payload.get("sub")
    else:
        cs = payload.get("credentialSubject")
        sub = cs.get("id") if isinstance(cs, dict) else None
    return sub if isinstance(sub, str) else None


def held_attestation(
    identity: NodeIdentity,
    wallet_id: str,
    token: str,
    *,
    kid: str,
    jwk: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> str:
    """The node's signed record of a credential it verified and keeps: the token's digest and
    the issuer key it verified with, so the token is checked again at every use, offline."""
    fmt, ctype, issuer, _h, _p = describe_credential(token)
    payload = {
        "id": wallet_id,
        "token": digest(token),
        "format": fmt,
        "type": ctype,
        "issuer": issuer,
        "kid": kid,
        "jwk": public_jwk(jwk),
    }
    return sign_record(identity, KIND_HELD, payload, now=now)


def _verify_held(identity: NodeIdentity, row: Any) -> tuple[HeldCredential, list[Finding]]:
    p = open_record(identity, row.attestation, KIND_HELD)
    if p.get("id") != row.id or p.get("token") != digest(row.token):
        raise CredentialRejected(
            "the stored token is not the one this node verified and kept", reason=RejectReason.SIGNATURE
        )
    fmt, ctype, issuer, header, payload = describe_credential(row.token)
    if header.get("kid") != p.get("kid") or not isinstance(p.get("jwk"), dict):
        raise CredentialRejected(
            "the token names another key than the one it was kept with", reason=RejectReason.UNKNOWN_KEY
        )
    verify_compact(row.token.split("~", 1)[0], p["jwk"], typ=None)
    if (fmt, ctype, issuer) != (p.get("format"), p.get("type"), p.get("issuer")):
        raise CredentialRejected(
            "the token's type or issuer differs from the signed record", reason=RejectReason.SIGNATURE
        )
    held = HeldCredential(row.id, fmt, ctype, issuer, holder_of(fmt, payload), row.token, row.stored_at)
    findings = []
    if (row.format, row.ctype, row.issuer) != (fmt, ctype, issuer):
        findings.append(
            Finding(
                _sql.wallet.name,
                row.id,
                CACHE,
                "the format, ctype or issuer column differs from the token; the token is used",
            )
        )
    return held, findings


def read_wallet(
    conn: Connection, identity: NodeIdentity, *, ids: Iterable[str] | None = None
) -> tuple[list[HeldCredential], list[Finding]]:
    """The held credentials (``ids`` only, if given) whose token verifies, in storage order."""
    t = _sql.wallet
    q = sa.select(t).order_by(t.c.stored_at, t.c.id)
    if ids is not None:
        q = q.where(t.c.id.in_(list(ids)))
    held: list[HeldCredential] = []
    findings: list[Finding] = []
    for row in conn.execute(q):
        try:
            h, f = _verify_held(identity, row)
        except _UNREADABLE as exc:
            findings.append(Finding(t.name, row.id, HELD, f"held credential refused: {_why(exc)}"))
            continue
        held.append(h)
        findings.extend(f)
    return held, findings


# --- everything --------------------------------------------------------------------------------


def read_all(conn: Connection, identity: NodeIdentity, *, operators: Mapping[str, str], ecosystem: str) -> Stored:
    """Every trust table, verified: what the service loads at start and what ``audit`` checks."""
    out = Stored()
    pins, findings = read_pins(conn, identity)
    out.pins = {p.kid: p for p in pins}
    out.findings.extend(findings)
    out.lists, findings = read_lists(conn, identity, operators=operators, pins=out.pins)
    out.findings.extend(findings)
    out.policy, findings = read_policy(conn, identity, ecosystem)
    out.findings.extend(findings)
    out.held, findings = read_wallet(conn, identity)
    out.findings.extend(findings)
    return out
