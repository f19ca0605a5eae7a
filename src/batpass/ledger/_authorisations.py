"""Export authorisations as a shipper holds them: its own (self-declared) records, and the
``ExportAuthorisationCredential``s an authority issued to it (docs/outflows.md, "Authorisations
as credentials").

A received credential is verified like any other — signature, issuer trust, status, validity —
by the trust capability's verifier, and counts as an authority's authorisation only when its
issuer is trusted *for* ``ExportAuthorisationCredential`` by a trust list this node holds (or by
a recognition rule of its policy): that trust-list entry, signed by the ecosystem's operator,
is what makes an issuer an authority. A credential from any other issuer authorises nothing and
is refused naming the rule (:data:`AUTHORITY_RULE`); so is one issued to another shipper.

Both kinds are stored in one table and checked by the outflow watch the same way; the stored
record, the alerts and the API say which kind each is (``kind``, ``self_declared``).

A held credential is verified again whenever a recording call checks a shipment against the
shipper's authorisations (:func:`held_authorisations`, with the node's verifier: status lists
cached within their lifetime, never longer). One found revoked, expired or no longer from an
issuer trusted as an authority is *withdrawn* from that call's time on, stored with the reason
(so the self-audit's replay judges each shipment as it was judged) and authorises nothing from
then on: its shipments raise ``outflow.authorisation-withdrawn`` (refused in ``block`` mode). A
check that cannot be made now (its status list or its issuer's DID document unreachable)
withdraws nothing and records nothing: the call is refused, to be retried. Knows no HTTP
framework.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import Engine, select

from batpass.core.clock import Clock
from batpass.core.countries import ISO3166_ALPHA2
from batpass.core.errors import Conflict, InvalidInput, UpstreamUnavailable
from batpass.ledger import _sql as t
from batpass.ledger._materials import CATALOGUE, MATERIALS
from batpass.ledger._outflow import CREDENTIAL, REGIONS, SELF_DECLARED, Authorisation, parse_authorisation
from batpass.ledger._shipment_rules import RULES
from batpass.store import UnitOfWork
from batpass.trust import CredentialRejected, CredentialType, RejectReason, Verification

__all__ = [
    "AUTHORITY_RULE",
    "CREDENTIAL_TYPE",
    "AuthorisationCheck",
    "Verify",
    "authorisation_records",
    "held_authorisations",
    "hold_authorisation_credential",
    "recheck_with",
    "scope_of",
    "store_authorisation",
]

#: the rule an untrusted issuer's authorisation breaks (docs/outflows.md)
AUTHORITY_RULE = "ledger.authorisation.authority"
CREDENTIAL_TYPE = CredentialType.EXPORT_AUTHORISATION.value
#: the verifier's refusals that mean "not an authority": unknown, or not trusted for the type
_NOT_AN_AUTHORITY = frozenset(
    {RejectReason.UNKNOWN_ISSUER.value, RejectReason.NOT_TRUSTED_FOR_TYPE.value, RejectReason.NOT_RECOGNISED.value}
)
_SUBJECT = "credential.credentialSubject"

Verify = Callable[..., Awaitable[Verification]]
#: verifies a held credential again, now (synchronously, from the verifier's caches within their
#: lifetime); raises :class:`CredentialRejected` when it fails
AuthorisationCheck = Callable[[str], object]
#: failures that say nothing of the credential: it cannot be checked now (retry)
_CANNOT_CHECK = frozenset(
    {
        RejectReason.STATUS_UNAVAILABLE.value,
        RejectReason.DID_RESOLUTION.value,
        RejectReason.HOST_NOT_ALLOWED.value,
    }
)


def store_authorisation(
    engine: Engine,
    clock: Clock,
    owner: str,
    a: Mapping[str, Any],
    *,
    kind: str = SELF_DECLARED,
    materials: list[str] | None = None,
    waste_classes: list[str] | None = None,
    issuer: str | None = None,
    credential_id: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """Store one validated authorisation (``id`` unique per owner) and answer its record."""
    with UnitOfWork(engine) as uow:
        exists = uow.conn.execute(
            select(t.authorisations.c.id).where(t.authorisations.c.owner == owner, t.authorisations.c.id == a["id"])
        ).first()
        if exists:
            raise Conflict(
                f"authorisation {a['id']} already exists", field="authorisation.id", rule="ledger.authorisation.unique"
            )
        uow.conn.execute(
            t.authorisations.insert().values(
                owner=owner,
                id=a["id"],
                holder=a["holder"],
                material=a["material"],
                destinations=json.dumps(a["destinations"]),
                cap_kg=a["cap_kg"],
                used_kg=0.0,
                valid_from=a["valid_from"],
                valid_to=a["valid_to"],
                created_at=clock.now(),
                kind=kind,
                materials=json.dumps(materials) if materials is not None else None,
                waste_classes=json.dumps(waste_classes) if waste_classes else None,
                issuer=issuer,
                credential_id=credential_id,
                credential=credential,
            )
        )
        uow.commit()
    out = {**a, "valid_from": a["valid_from"].isoformat(), "valid_to": a["valid_to"].isoformat()}
    out.update(kind=kind, self_declared=kind == SELF_DECLARED)
    if materials is not None:
        out["materials"] = materials
    if waste_classes:
        out["waste_classes"] = waste_classes
    if issuer is not None:
        out.update(issuer=issuer, credential_id=credential_id)
    return out


def authorisation_records(engine: Engine, owner: str) -> list[dict[str, Any]]:
    """``owner``'s export authorisations, oldest first, with what each has used so far and how
    it was given (the held credential's token is not repeated)."""
    with UnitOfWork(engine, write=False) as uow:
        rows = uow.conn.execute(
            select(t.authorisations)
            .where(t.authorisations.c.owner == owner)
            .order_by(t.authorisations.c.created_at, t.authorisations.c.id)
        ).all()
    return [
        {
            "id": r.id,
            "holder": r.holder,
            "materials": json.loads(r.materials) if r.materials else [r.material],
            "waste_classes": json.loads(r.waste_classes) if r.waste_classes else [],
            "destinations": json.loads(r.destinations),
            "cap_kg": r.cap_kg,
            "used_kg": r.used_kg,
            "valid_from": r.valid_from.isoformat(),
            "valid_to": r.valid_to.isoformat(),
            "kind": r.kind,
            "self_declared": r.kind == SELF_DECLARED,
            "issuer": r.issuer,
            "credential_id": r.credential_id,
            "withdrawn": None if r.withdrawn is None else {"at": r.withdrawn_at.isoformat(), **json.loads(r.withdrawn)},
        }
        for r in rows
    ]


def recheck_with(verify: Callable[..., Verification]) -> AuthorisationCheck:
    """The :data:`AuthorisationCheck` of a synchronous verifier (trust's ``Verifier.verify``):
    the credential verified now, as an ``ExportAuthorisationCredential``."""
    return lambda token: verify(token, require_type=CREDENTIAL_TYPE)


def held_authorisations(
    conn: Any, owner: str, now: _dt.datetime, check: AuthorisationCheck | None
) -> list[Authorisation]:
    """``owner``'s authorisations as a recording call at ``now`` checks its shipments against
    them (inside the call's transaction ``conn``). A credential withdrawn at or before ``now``
    stays withdrawn; any other is verified again with ``check`` (none: a ledger without the
    node's verifier — a replay, a tool — keeps what was stored). A failed check withdraws it from
    ``now`` on, written in the call's transaction; a check that cannot be made raises
    :class:`UpstreamUnavailable` naming the authorisation (nothing is written)."""
    rows = conn.execute(select(t.authorisations).where(t.authorisations.c.owner == owner)).all()
    out: list[Authorisation] = []
    for r in rows:
        a = parse_authorisation(r)
        if r.withdrawn_at is not None and r.withdrawn_at > now:
            a.withdrawn = None  # withdrawn by a later call: not yet, as this (replayed) call sees it
        elif a.withdrawn is None and r.kind == CREDENTIAL and r.credential and check is not None:
            reason = _recheck(check, r.credential, r.id)
            if reason is not None:
                a.withdrawn = {"at": now.isoformat(), **reason}
                conn.execute(
                    t.authorisations.update()
                    .where(t.authorisations.c.owner == owner, t.authorisations.c.id == r.id)
                    .values(withdrawn_at=now, withdrawn=json.dumps(reason, sort_keys=True))
                )
        elif a.withdrawn is not None:
            a.withdrawn = {"at": r.withdrawn_at.isoformat(), **a.withdrawn}
        out.append(a)
    return out


def _recheck(check: AuthorisationCheck, token: str, auth_id: str) -> dict[str, str] | None:
    """Why the held credential ``token`` authorises nothing now (``reason``, ``rule``,
    ``detail``), or ``None`` when it verifies."""
    try:
        check(token)
    except CredentialRejected as exc:
        if exc.reason in _CANNOT_CHECK:
            raise UpstreamUnavailable(
                f"authorisation {auth_id} cannot be re-checked now ({exc.message}); nothing was recorded: retry",
                field="authorisation",
                rule=f"{AUTHORITY_RULE}.recheck (credential.{exc.reason})",
            ) from exc
        rule = AUTHORITY_RULE if exc.reason in _NOT_AN_AUTHORITY else f"credential.{exc.reason}"
        if exc.rule:
            rule = f"{rule} ({exc.rule})"
        return {"reason": str(exc.reason), "rule": rule, "detail": exc.message}
    return None


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise InvalidInput(f"{field} must be a list of strings", field=field, rule=f"{CREDENTIAL_TYPE} schema")
    return sorted(set(value))


def _time(value: Any, field: str) -> _dt.datetime:
    try:
        v = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        v = None
    if v is None or v.tzinfo is None:
        raise InvalidInput(f"{field} must be an RFC 3339 timestamp", field=field, rule="RFC 3339")
    return v


def scope_of(v: Verification, owner: str) -> dict[str, Any]:
    """The authorisation a verified credential grants ``owner``: its subject must be the owner
    (a shipper holds only what was issued to it) and its scope must name known materials, waste
    classes and destinations, a cap and a period. Pure."""
    s = v.subject
    if s.get("id") != owner:
        raise InvalidInput(
            f"the authorisation was issued to {s.get('id')!r}, not to this shipper {owner}: it authorises nothing here",
            field=f"{_SUBJECT}.id",
            rule="ledger.authorisation.subject",
        )
    materials = _strings(s.get("materials"), f"{_SUBJECT}.materials")
    unknown = [m for m in materials if m not in MATERIALS]
    if unknown or not materials:
        raise InvalidInput(
            f"{_SUBJECT}.materials: {unknown or materials!r} not known materials in catalogue {CATALOGUE.label}",
            field=f"{_SUBJECT}.materials",
            rule="ledger.material.known",
        )
    classes = _strings(s.get("wasteClasses", []), f"{_SUBJECT}.wasteClasses")
    known = {c.id for c in RULES.classes}
    if any(c not in known for c in classes):
        raise InvalidInput(
            f"{_SUBJECT}.wasteClasses: {sorted(set(classes) - known)} are not waste classes of {RULES.label} "
            f"({', '.join(sorted(known))})",
            field=f"{_SUBJECT}.wasteClasses",
            rule="ledger.authorisation.waste-class",
        )
    dests = _strings(s.get("destinations"), f"{_SUBJECT}.destinations")
    if not dests or any(d not in ISO3166_ALPHA2 and d not in REGIONS for d in dests):
        raise InvalidInput(
            f"{_SUBJECT}.destinations: each must be an ISO 3166-1 alpha-2 code or a region ({', '.join(REGIONS)})",
            field=f"{_SUBJECT}.destinations",
            rule="ISO 3166-1 alpha-2",
        )
    start, end = (
        _time(s.get("periodStart"), f"{_SUBJECT}.periodStart"),
        _time(s.get("periodEnd"), f"{_SUBJECT}.periodEnd"),
    )
    if end <= start:
        raise InvalidInput(
            f"{_SUBJECT}.periodEnd must be after periodStart",
            field=f"{_SUBJECT}.periodEnd",
            rule="ledger.authorisation.validity",
        )
    return {
        "id": str(s.get("authorisationId") or v.credential_id),
        "holder": owner,
        "material": materials[0],
        "materials": materials,
        "waste_classes": classes,
        "destinations": dests,
        "cap_kg": float(s["capKg"]),
        "valid_from": start,
        "valid_to": end,
    }


async def hold_authorisation_credential(
    engine: Engine, clock: Clock, verify: Verify, owner: str, token: str
) -> dict[str, Any]:
    """Verify ``token`` (an ``ExportAuthorisationCredential``) through the node's trust lists and
    keep it as ``owner``'s authorisation, marked ``credential`` with its issuer. Refused with
    :class:`InvalidInput` naming ``credential`` and the rule: :data:`AUTHORITY_RULE` when the
    issuer is not trusted as an authority, ``credential.<reason>`` when a check fails."""
    try:
        v = await verify(token, require_type=CREDENTIAL_TYPE)
    except CredentialRejected as exc:
        if exc.reason in _NOT_AN_AUTHORITY:
            raise InvalidInput(
                f"the authorisation's issuer is not trusted as an authority ({exc.message}): no trust list this node "
                f"holds names it for {CREDENTIAL_TYPE}, so it authorises nothing",
                field="credential",
                rule=f"{AUTHORITY_RULE} (issuer trusted for {CREDENTIAL_TYPE} on a trust list)",
                reason=exc.reason,
            ) from exc
        raise InvalidInput(
            f"the authorisation credential does not verify: {exc.message}",
            field="credential",
            rule=f"credential.{exc.reason}",
            reason=exc.reason,
        ) from exc
    a = scope_of(v, owner)
    materials, classes = a.pop("materials"), a.pop("waste_classes")
    out = store_authorisation(
        engine,
        clock,
        owner,
        a,
        kind=CREDENTIAL,
        materials=materials,
        waste_classes=classes,
        issuer=v.issuer,
        credential_id=v.credential_id,
        credential=token.strip(),
    )
    out["checks"] = [c.as_dict() for c in v.checks]
    return out
