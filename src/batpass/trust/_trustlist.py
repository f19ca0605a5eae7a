"""Trust lists signed by an ecosystem operator's DID key, and the registry a verifier consults:
this ecosystem's list, the other ecosystems' lists, and the mutual-recognition policy.

A trust list is the JSON of ``trust-list.schema.json`` signed as a compact JWS
(``typ`` ``application/vnd.batpass.trust-list+jws``, ``kid`` = the operator's DID URL). Loading
checks the signature with the key of the operator the node was configured to trust for that
ecosystem (never the key the list names for itself), the schema, and that the list is not older
than the one already held (``sequence``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import Check, RecognitionPolicy, RejectReason, TrustList

__all__ = ["TRUST_LIST_TYP", "TrustRegistry", "load_trust_list", "sign_trust_list", "validate_json"]

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


def load_trust_list(
    jws: str,
    resolver: DidResolver,
    *,
    operator: str,
    ecosystem: str | None = None,
    now: dt.datetime | None = None,
) -> TrustList:
    """Verify a signed trust list against the configured ``operator`` DID and parse it."""
    now = now or dt.datetime.now(dt.UTC)
    jws = jws.strip()
    try:
        header, unverified = peek(jws)
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
    try:
        vm = resolver.method(kid, controller=operator)
        _, data = verify_compact(jws, vm.jwk, typ=TRUST_LIST_TYP)
        check_key_time(
            vm,
            dt.datetime.fromisoformat(str(data.get("issuedAt", "")).replace("Z", "+00:00"))
            if data.get("issuedAt")
            else None,
        )
    except CredentialRejected as exc:
        raise CredentialRejected(
            f"trust list signature rejected: {exc}",
            reason=RejectReason.TRUST_LIST,
            rule="signed by the operator's DID key",
        ) from exc
    except ValueError as exc:
        raise CredentialRejected("trust list issuedAt unreadable", reason=RejectReason.TRUST_LIST) from exc
    del unverified
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
    if tl.next_update is not None and tl.next_update < now - dt.timedelta(days=30):
        raise CredentialRejected(
            f"trust list expired (nextUpdate {tl.next_update.isoformat()} is more than 30 days past)",
            reason=RejectReason.TRUST_LIST,
        )
    return tl


class TrustRegistry:
    """What a verifier in ``ecosystem`` trusts: lists per ecosystem and the recognition policy."""

    def __init__(self, ecosystem: str, policy: RecognitionPolicy | None = None) -> None:
        self.ecosystem = ecosystem
        self.policy = policy or RecognitionPolicy(ecosystem)
        self.lists: dict[str, TrustList] = {}

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
        """Which local types the credential counts as, with the checks; raises if none."""
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
