"""Trust lists signed by an ecosystem operator's DID key, and the registry a verifier consults:
this ecosystem's list, the other ecosystems' lists, and the mutual-recognition policy.

A trust list is the JSON of ``trust-list.schema.json`` signed as a compact JWS
(``typ`` ``application/vnd.batpass.trust-list+jws``, ``kid`` = the operator's DID URL). Loading
checks the signature with the key of the operator the node was configured to trust for that
ecosystem (never the key the list names for itself), the schema, and that the list is not older
than the one already held (``sequence``).

A stored list is verified again, offline, against the operator keys the node pinned
(:func:`load_pinned_trust_list`); a key not yet pinned is admitted only by the rotation rule of
:func:`admit_signing_key` (docs/trust-lists.md "Pinned keys and rotation").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import Check, RecognitionPolicy, RejectReason, TrustedIssuer, TrustList, parse_time

__all__ = [
    "PINNED_RULE",
    "TRUST_LIST_TYP",
    "KeyAdmission",
    "PinnedKey",
    "TrustRegistry",
    "admit_signing_key",
    "load_pinned_trust_list",
    "load_trust_list",
    "public_jwk",
    "sign_trust_list",
    "validate_json",
]

TRUST_LIST_TYP = "application/vnd.batpass.trust-list+jws"
_SCHEMAS = Path(__file__).resolve().parent / "_data" / "schemas"


@functools.cache
def _schema_validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((_SCHEMAS / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    v: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return v


def validate_json(data: Any, schema_file: str) -> None:
    """Validate against a bundled schema; the first error names its field and keyword."""
    err = jsonschema.exceptions.best_match(_schema_validator(schema_file).iter_errors(data))
    if err is not None:
        path = ".".join(str(p) for p in err.absolute_path) or "(root)"
        raise InvalidInput(f"{path}: {err.message}", field=path, rule=f"{schema_file} ({err.validator})")


def sign_trust_list(trust_list: TrustList | Mapping[str, Any], operator: NodeIdentity) -> str:
    """Sign a trust list with the operator's active Ed25519 key."""
    data = trust_list.to_json() if isinstance(trust_list, TrustList) else dict(trust_list)
    validate_json(data, "trust-list.schema.json")
    if data["operator"] != operator.did:
        raise InvalidInput(
            "operator must be the signing DID",
            field="operator",
            rule="trust lists are signed by their operator",
        )
    key = operator.active("Ed25519")
    return sign_compact(
        {"typ": TRUST_LIST_TYP, "kid": operator.key_id(key)},
        json.dumps(data, separators=(",", ":"), sort_keys=True).encode(),
        key,
    )


def _signing_kid(jws: str, operator: str) -> str:
    """The ``kid`` of a trust list's JWS, which must be a DID URL of ``operator``."""
    try:
        header, _unverified = peek(jws)
    except CredentialRejected as exc:
        raise CredentialRejected(
            f"trust list is not a signed JWS: {exc}",
            reason=RejectReason.TRUST_LIST,
            rule="trust lists are JWS-signed",
        ) from exc
    kid = str(header.get("kid", ""))
    if not kid.startswith(operator + "#"):
        raise CredentialRejected(
            f"trust list is signed by {kid or 'no key'}, not by the ecosystem operator {operator}",
            reason=RejectReason.TRUST_LIST,
            rule="a trust list is signed by its ecosystem operator's DID key",
        )
    return kid


def _issued_at(data: Mapping[str, Any]) -> dt.datetime | None:
    try:
        return (
            dt.datetime.fromisoformat(str(data.get("issuedAt", "")).replace("Z", "+00:00"))
            if data.get("issuedAt")
            else None
        )
    except ValueError as exc:
        raise CredentialRejected("trust list issuedAt unreadable", reason=RejectReason.TRUST_LIST) from exc


def _parse_verified(data: Mapping[str, Any], *, operator: str, ecosystem: str | None) -> TrustList:
    """A verified payload → the list, schema-checked, for ``ecosystem`` by ``operator``."""
    try:
        validate_json(data, "trust-list.schema.json")
    except InvalidInput as exc:
        raise CredentialRejected(f"trust list invalid: {exc}", reason=RejectReason.TRUST_LIST, rule=exc.rule) from exc
    tl = TrustList.from_json(data)
    if tl.operator != operator or (ecosystem is not None and tl.ecosystem != ecosystem):
        raise CredentialRejected(
            f"trust list is for {tl.ecosystem} by {tl.operator}, expected {ecosystem} by {operator}",
            reason=RejectReason.TRUST_LIST,
        )
    return tl


def load_trust_list(
    jws: str,
    resolver: DidResolver,
    *,
    operator: str,
    ecosystem: str | None = None,
    now: dt.datetime | None = None,
) -> TrustList:
    """Verify a signed trust list against the configured ``operator`` DID and parse it."""
    now = now or utc_now()
    jws = jws.strip()
    kid = _signing_kid(jws, operator)
    try:
        vm = resolver.method(kid, controller=operator)
        _, data = verify_compact(jws, vm.jwk, typ=TRUST_LIST_TYP)
        check_key_time(vm, _issued_at(data))
    except CredentialRejected as exc:
        raise CredentialRejected(
            f"trust list signature rejected: {exc}",
            reason=RejectReason.TRUST_LIST,
            rule="signed by the operator's DID key",
        ) from exc
    tl = _parse_verified(data, operator=operator, ecosystem=ecosystem)
    if tl.next_update is not None and tl.next_update < now - dt.timedelta(days=30):
        raise CredentialRejected(
            f"trust list expired (nextUpdate {tl.next_update.isoformat()} is more than 30 days past)",
            reason=RejectReason.TRUST_LIST,
        )
    return tl


# --- pinned operator keys (docs/trust-lists.md "Pinned keys and rotation") -------------------

PINNED_RULE = "a stored trust list verifies against its operator's pinned keys"


@dataclass(frozen=True, slots=True)
class PinnedKey:
    """A public key of an ecosystem operator, pinned when the node accepted a list it signed;
    ``retired_at`` is set when a rotation accepted through the operator's DID document retired it
    (it then verifies only lists issued before that instant)."""

    operator: str
    kid: str
    jwk: Mapping[str, Any]
    pinned_at: dt.datetime
    retired_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyAdmission:
    """What accepting a list signed by ``kid`` does to the operator's pins: ``how`` is
    ``pinned`` (already pinned: nothing), ``first`` (the operator's first list: pin it) or
    ``rotated`` (pin it and retire the pins in ``retire``)."""

    how: str
    pin: PinnedKey | None = None
    retire: tuple[PinnedKey, ...] = ()


def public_jwk(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The members that make a public key (RFC 7517/8037: ``kty``, ``crv``, ``x``, ``y``)."""
    return {k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk}


def load_pinned_trust_list(
    jws: str, pins: Mapping[str, PinnedKey], *, operator: str, ecosystem: str | None
) -> TrustList:
    """Verify a stored trust list offline, against the keys pinned for ``operator`` (by DID URL);
    no DID document is fetched. A retired pin verifies only lists issued before its retirement."""
    jws = jws.strip()
    kid = _signing_kid(jws, operator)
    pin = pins.get(kid)
    if pin is None or pin.operator != operator:
        raise CredentialRejected(
            f"trust list is signed by {kid}, which is not a key pinned for {operator}",
            reason=RejectReason.TRUST_LIST,
            rule=PINNED_RULE,
        )
    try:
        _, data = verify_compact(jws, public_jwk(pin.jwk), typ=TRUST_LIST_TYP)
    except CredentialRejected as exc:
        raise CredentialRejected(
            f"trust list signature rejected by the pinned key {kid}: {exc}",
            reason=RejectReason.TRUST_LIST,
            rule=PINNED_RULE,
        ) from exc
    issued_at = _issued_at(data)
    if pin.retired_at is not None and (issued_at is None or issued_at > pin.retired_at):
        raise CredentialRejected(
            f"trust list issued after its signing key {kid} was retired ({pin.retired_at.isoformat()})",
            reason=RejectReason.TRUST_LIST,
            rule="key rotation: retired keys verify only earlier signatures",
        )
    return _parse_verified(data, operator=operator, ecosystem=ecosystem)


def _method(document: Mapping[str, Any], kid: str) -> Mapping[str, Any] | None:
    did = str(document.get("id", ""))
    for vm in document.get("verificationMethod", []):
        if not isinstance(vm, Mapping):
            continue
        vm_id = str(vm.get("id", ""))
        if (did + vm_id if vm_id.startswith("#") else vm_id) == kid:
            return vm
    return None


def _asserts(document: Mapping[str, Any], kid: str) -> bool:
    did = str(document.get("id", ""))
    for ref in document.get("assertionMethod", []):
        ref_id = ref.get("id") if isinstance(ref, Mapping) else ref
        if isinstance(ref_id, str) and (did + ref_id if ref_id.startswith("#") else ref_id) == kid:
            return True
    return False


def _refuse(message: str) -> CredentialRejected:
    return CredentialRejected(
        message,
        reason=RejectReason.TRUST_LIST,
        rule="a new operator key is accepted only through its DID document, with the pinned key retired (not revoked)",
    )


def admit_signing_key(
    kid: str,
    document: Mapping[str, Any],
    pins: Sequence[PinnedKey],
    *,
    now: dt.datetime,
) -> KeyAdmission:
    """The rotation rule (docs/trust-lists.md "Pinned keys and rotation"), for a new list signed
    by ``kid`` that already verified against the operator's resolved DID ``document``:

    - ``kid`` pinned: the document must still give it the pinned key, not revoked;
    - no pin yet for the operator: its first list, the key is pinned (trust on first use of the
      configured operator's DID);
    - otherwise a rotation: the document lists ``kid`` as an assertion method, and lists every
      active pinned key, unchanged, as retired (``expires`` set) and not ``revoked``; a pinned
      key that was removed from the document or revoked refuses the new key.
    """
    operator = kid.split("#", 1)[0]
    vm = _method(document, kid)
    if vm is None or not isinstance(vm.get("publicKeyJwk"), Mapping):
        raise _refuse(f"the DID document of {operator} does not list {kid}")
    if "revoked" in vm:
        raise _refuse(f"the DID document of {operator} lists {kid} as revoked")
    jwk = public_jwk(vm["publicKeyJwk"])
    pinned = next((p for p in pins if p.kid == kid), None)
    if pinned is not None:
        if public_jwk(pinned.jwk) != jwk:
            raise _refuse(f"the DID document of {operator} gives {kid} another key than the one pinned")
        return KeyAdmission("pinned")
    new = PinnedKey(operator, kid, jwk, now)
    if not pins:
        return KeyAdmission("first", pin=new)
    if not _asserts(document, kid):
        raise _refuse(f"{kid} is not an assertion method of {operator}")
    retire: list[PinnedKey] = []
    for p in pins:
        if p.retired_at is not None:
            continue
        old = _method(document, p.kid)
        if old is None:
            raise _refuse(
                f"the pinned key {p.kid} is absent from the DID document of {operator} (removed, not retired)"
            )
        if "revoked" in old:
            raise _refuse(f"the pinned key {p.kid} is revoked in the DID document of {operator}")
        if not isinstance(old.get("publicKeyJwk"), Mapping) or public_jwk(old["publicKeyJwk"]) != public_jwk(p.jwk):
            raise _refuse(f"the DID document of {operator} gives the pinned {p.kid} another key")
        expires = old.get("expires")
        if not isinstance(expires, str):
            raise _refuse(f"the pinned key {p.kid} is not retired in the DID document of {operator}")
        try:
            retired_at = parse_time(expires)
        except ValueError as exc:
            raise _refuse(f"the retirement of {p.kid} ({expires!r}) is unreadable") from exc
        retire.append(PinnedKey(p.operator, p.kid, p.jwk, p.pinned_at, retired_at))
    return KeyAdmission("rotated", pin=new, retire=tuple(retire))


class TrustRegistry:
    """What a verifier in ``ecosystem`` trusts: lists per ecosystem and the recognition policy."""

    def __init__(self, ecosystem: str, policy: RecognitionPolicy | None = None) -> None:
        self.ecosystem = ecosystem
        self.policy = policy or RecognitionPolicy(ecosystem)
        self.lists: dict[str, TrustList] = {}
        #: (issuer, types) -> what evaluate answered from this ecosystem's list alone: the list,
        #: its entries for the issuer, whether each was in its period, the answer
        self._memo: dict[
            tuple[str, frozenset[str]],
            tuple[TrustList, tuple[TrustedIssuer, ...], tuple[bool, ...], frozenset[str], tuple[Check, ...]],
        ] = {}

    def add(self, trust_list: TrustList) -> None:
        held = self.lists.get(trust_list.ecosystem)
        if held is not None and trust_list.sequence < held.sequence:
            raise CredentialRejected(
                f"trust list sequence {trust_list.sequence} is older than the held {held.sequence}",
                reason=RejectReason.TRUST_LIST,
                rule="trust lists never roll back",
            )
        self.lists[trust_list.ecosystem] = trust_list

    def evaluate(
        self, issuer: str, types: frozenset[str], subject: Mapping[str, Any], at: dt.datetime
    ) -> tuple[frozenset[str], list[Check]]:
        """Which local types the credential counts as, with the checks; raises if none.

        While this ecosystem's list is the only one held, an answer is remembered per (issuer,
        types) and given again only for that very list object (a new or replaced list is
        another) and while each of the issuer's entries is in or out of its period as before."""
        own = self.lists.get(self.ecosystem)
        if own is None or len(self.lists) != 1:
            return self._evaluate(issuer, types, subject, at)
        hit = self._memo.get((issuer, types))
        if hit is not None and hit[0] is own and tuple(e.in_period(at) for e in hit[1]) == hit[2]:
            return hit[3], list(hit[4])
        accepted, checks = self._evaluate(issuer, types, subject, at)
        entries = own.entries_for(issuer)
        if len(self._memo) > 4096:
            self._memo.clear()
        self._memo[(issuer, types)] = (own, entries, tuple(e.in_period(at) for e in entries), accepted, tuple(checks))
        return accepted, checks

    def _evaluate(
        self, issuer: str, types: frozenset[str], subject: Mapping[str, Any], at: dt.datetime
    ) -> tuple[frozenset[str], list[Check]]:
        checks: list[Check] = []
        accepted: set[str] = set()
        known_anywhere = False
        own = self.lists.get(self.ecosystem)
        if own is not None:
            for e in own.entries_for(issuer):
                known_anywhere = True
                if e.in_period(at) and e.credential_types & types:
                    hit = e.credential_types & types
                    accepted |= hit
                    checks.append(
                        Check(
                            "issuer-trust",
                            True,
                            f"{e.name} ({issuer}) is trusted by the {self.ecosystem} list for {', '.join(sorted(hit))}",
                        )
                    )
        for eco, tl in sorted(self.lists.items()):
            if eco == self.ecosystem:
                continue
            for e in tl.entries_for(issuer):
                known_anywhere = True
                hit = e.credential_types & types
                if not (e.in_period(at) and hit):
                    continue
                checks.append(
                    Check(
                        "issuer-trust",
                        True,
                        f"{e.name} ({issuer}) is trusted by the {eco} list for {', '.join(sorted(hit))}",
                    )
                )
                rules = [r for r in self.policy.rules if r.matches(eco, frozenset(hit), subject)]
                if not rules:
                    checks.append(
                        Check(
                            "recognition",
                            False,
                            f"no rule of the {self.ecosystem} policy recognises {eco} {', '.join(sorted(hit))}",
                        )
                    )
                    continue
                for r in rules:
                    accepted.add(r.accepted_as)
                    checks.append(
                        Check(
                            "recognition",
                            True,
                            f"rule {r.id}: {eco} {r.credential_type} counts as {r.accepted_as}"
                            + (f" ({r.label})" if r.label else ""),
                        )
                    )
        if accepted:
            return frozenset(accepted), checks
        if not known_anywhere:
            raise CredentialRejected(
                f"issuer {issuer} is on no trust list this node holds",
                reason=RejectReason.UNKNOWN_ISSUER,
                rule="issuers are trusted through signed trust lists",
                checks=tuple(checks),
            )
        if any(c.name == "recognition" and not c.ok for c in checks):
            raise CredentialRejected(
                f"issuer {issuer} is trusted in another ecosystem, but no recognition rule "
                f"accepts {', '.join(sorted(types))} here",
                reason=RejectReason.NOT_RECOGNISED,
                rule="mutual-recognition policy",
                checks=tuple(checks),
            )
        raise CredentialRejected(
            f"issuer {issuer} is trusted, but not for "
            f"{', '.join(sorted(types - {'VerifiableCredential'}))} at {at.date().isoformat()}",
            reason=RejectReason.NOT_TRUSTED_FOR_TYPE,
            rule="trust-list entries name the credential types an issuer is trusted for",
            checks=tuple(checks),
        )
