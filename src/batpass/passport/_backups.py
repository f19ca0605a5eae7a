"""Signed copies this node holds as another operator's backup node (Art. 77(5)): each copy
checked on arrival (the issuer's DID key, the chain to the previous copy) and kept with a head this
node signs (the first and the newest copy held), so a changed, removed or truncated copy is found
at every read and by the self-audit.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from batpass.core.errors import BatpassError, Conflict, IntegrityViolation, InvalidInput, Unauthorized
from batpass.core.findings import Finding
from batpass.core.ids import BatteryId
from batpass.passport import _sql
from batpass.passport._chain import VersionChain, verify_version_jws
from batpass.passport._chain import digest as token_digest
from batpass.passport.model import Passport
from batpass.passport.ports import Clock, PublicKeyResolver
from batpass.store import UnitOfWork, outbox_table, remember_delivery, serialise
from batpass.trust import CredentialRejected, NodeIdentity, peek, sign_compact, verify_compact

__all__ = ["BACKUP_KIND", "BackupCopies", "BackupCopyRefused", "HeldCopy"]

#: the outbox kind of a version's copy to the backup node
BACKUP_KIND = "passport.backup"


class BackupCopyRefused(IntegrityViolation):
    """A held backup copy that does not stand (signature, chain, head): it is never served (503)."""


@dataclass(frozen=True, slots=True)
class HeldCopy:
    """The newest backup copy held of a battery's passport, checked (:meth:`BackupCopies.held_for`)."""

    passport: Passport
    version: int
    issuer: str
    kid: str
    digest: str
    received_at: dt.datetime


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _payload(token: str) -> dict[str, Any]:
    return peek(token)[1]


class BackupCopies:
    """The copies held for other operators' passports (``passport_backups``) and their heads."""

    def __init__(
        self,
        engine: Engine,
        *,
        identity: NodeIdentity,
        clock: Clock,
        chain: VersionChain,
        key_resolver: PublicKeyResolver | None,
    ) -> None:
        self.engine = engine
        self._identity = identity
        self.clock = clock
        self.chain = chain
        self.key_resolver = key_resolver

    def accept(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Store a signed copy sent by a passport's operator node; checks signature and chain."""
        token = body.get("jws")
        if not isinstance(token, str) or token.count(".") != 2:
            raise InvalidInput("jws: a compact JWS is required", field="jws", rule="passport backup copy")
        if self.key_resolver is None:
            raise Unauthorized("no key resolver configured to check backup copies", rule="passport backup copy")
        try:
            header, _ = peek(token)
        except CredentialRejected as exc:
            raise InvalidInput(f"jws: {exc}", field="jws", rule="RFC 7515 compact serialisation") from exc
        kid = str(header.get("kid", ""))
        signer_jwk = dict(self.key_resolver.jwk_for(kid))
        payload = verify_version_jws(token, signer_jwk)
        issuer = str(payload.get("issuer", ""))
        if not kid.startswith(issuer + "#"):
            raise Unauthorized("jws: signing key does not belong to the issuer", rule="kid is a DID URL of the issuer")
        rec = payload["passport"]
        pid, version, digest = str(rec["passportId"]), int(payload["version"]), token_digest(token)
        with UnitOfWork(self.engine) as uow:
            # copies of one passport arrive side by side (the sender's dispatcher sends in
            # parallel, to any of this node's workers): each is checked against the one before
            # and re-signs the head, so they are stored one after the other
            serialise(uow, f"passport-backup:{pid}")
            if idempotency_key:
                first, _ = remember_delivery(uow, idempotency_key, sender=issuer, result={"version": version})
                if not first:
                    uow.commit()
                    return {"passportId": pid, "version": version, "duplicate": True}
            held = uow.conn.execute(
                select(_sql.backups).where(_sql.backups.c.passport_id == pid, _sql.backups.c.version == version)
            ).first()
            if held is not None:
                if held.digest != digest:
                    raise Conflict(
                        f"version: backup of {pid} v{version} already held with another digest",
                        rule="signed version chain (nothing silently overwritten)",
                    )
                return {"passportId": pid, "version": version, "duplicate": True}
            prev = uow.conn.execute(
                select(_sql.backups.c.digest).where(
                    _sql.backups.c.passport_id == pid, _sql.backups.c.version == version - 1
                )
            ).first()
            if prev is not None and payload.get("prev") != prev.digest:
                raise Conflict(
                    f"prev: backup of {pid} v{version} does not chain to v{version - 1}",
                    rule="signed version chain",
                )
            uow.conn.execute(
                insert(_sql.backups).values(
                    passport_id=pid,
                    version=version,
                    issuer=issuer,
                    jws=token,
                    digest=digest,
                    received_at=self.clock.now(),
                    gtin=str(rec["battery"]["gtin"]),
                    serial=str(rec["battery"]["serial"]),
                    signer_jwk=signer_jwk,
                )
            )
            self._sign_head(uow.conn, pid)
            uow.commit()
        return {"passportId": pid, "version": version, "duplicate": False}

    def copies(self, passport_id: uuid.UUID) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_sql.backups)
                .where(_sql.backups.c.passport_id == str(passport_id))
                .order_by(_sql.backups.c.version)
            ).all()
            head = uow.conn.execute(
                select(_sql.backup_heads.c.jws).where(_sql.backup_heads.c.passport_id == str(passport_id))
            ).scalar()
        for table, key, problem in self.problems(str(passport_id), rows, head):
            raise IntegrityViolation(
                f"backup copy of urn:uuid:{passport_id}: {problem}",
                table=table,
                key=key,
                rule="passport.backup.signed",
            )
        return [{"version": r.version, "issuer": r.issuer, "digest": r.digest, "jws": r.jws} for r in rows]

    def held_for(self, gtin: str, serial: str) -> HeldCopy | None:
        """The newest copy held of the battery's passport, checked before it is served: the held
        copies against their tokens, their chain and this node's signed head (:meth:`copies`), and
        the newest copy's signature against the operator's key recorded when it arrived (checked
        then against the operator's DID document; the DID document itself is not fetched here, as
        the operator's node — its host — may be the one that is down). None: no copy held. A copy
        that does not stand raises :class:`BackupCopyRefused` (it is never served)."""
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(_sql.backups)
                .where(_sql.backups.c.gtin == gtin, _sql.backups.c.serial == serial)
                .order_by(_sql.backups.c.received_at.desc(), _sql.backups.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        pid = uuid.UUID(row.passport_id)
        try:
            newest = self.copies(pid)[-1]
            kid = str(peek(newest["jws"])[0].get("kid", ""))
            uow_row = self._row(pid, int(newest["version"]))
            jwk = uow_row.signer_jwk
            if jwk is None:  # held before keys were recorded: the operator's DID document
                if self.key_resolver is None:
                    raise Unauthorized(f"no key recorded for {kid}", rule="passport backup copy")
                jwk = self.key_resolver.jwk_for(kid)
            payload = verify_version_jws(newest["jws"], jwk)
            if not kid.startswith(str(payload.get("issuer", "")) + "#"):
                raise Unauthorized("the signing key is not the issuer's", rule="kid is a DID URL of the issuer")
            passport = Passport.from_record(payload["passport"])
        except (BatpassError, KeyError, ValueError, TypeError) as exc:
            raise BackupCopyRefused(
                f"the backup copy of urn:uuid:{pid} held here does not stand and is not served ({exc})",
                rule="passport.backup.signed",
            ) from exc
        if passport.battery_id != BatteryId(gtin, serial):
            raise BackupCopyRefused(
                f"the backup copy of urn:uuid:{pid} names another battery than its row", rule="passport.backup.signed"
            )
        return HeldCopy(
            passport=passport,
            version=uow_row.version,
            issuer=uow_row.issuer,
            kid=kid,
            digest=uow_row.digest,
            received_at=uow_row.received_at,
        )

    def _row(self, passport_id: uuid.UUID, version: int) -> Any:
        with UnitOfWork(self.engine, write=False) as uow:
            return uow.conn.execute(
                select(_sql.backups).where(
                    _sql.backups.c.passport_id == str(passport_id), _sql.backups.c.version == version
                )
            ).one()

    def _sign_head(self, conn: Connection, passport_id: str) -> None:
        """Sign which copies are held for ``passport_id`` — the first and the newest (after a copy
        was stored): the chain between them shows a gap, the head shows a truncated end."""
        held = conn.execute(
            select(_sql.backups.c.version, _sql.backups.c.digest)
            .where(_sql.backups.c.passport_id == passport_id)
            .order_by(_sql.backups.c.version)
        ).all()
        payload = {
            "passportId": passport_id,
            "first": held[0].digest,
            "version": held[-1].version,
            "digest": held[-1].digest,
        }
        key = self._identity.active("Ed25519")  # the key active now (a rotation applies at once)
        token = sign_compact({"typ": _HEAD_TYP, "kid": self._identity.key_id(key)}, _canonical(payload), key)
        conn.execute(_sql.backup_heads.delete().where(_sql.backup_heads.c.passport_id == passport_id))
        conn.execute(insert(_sql.backup_heads).values(passport_id=passport_id, jws=token))

    def problems(self, passport_id: str, rows: Sequence[Any], head: str | None) -> list[tuple[str, str, str]]:
        """(table, key, problem) for the copies held of one passport: each copy against its
        token and the previous copy, and the newest against this node's signed head."""
        out: list[tuple[str, str, str]] = []
        prev: str | None = None
        for r in rows:
            problem = _backup_problem(r, prev)
            if problem is not None:
                out.append(("passport_backups", f"{passport_id}/v{r.version}", problem))
            prev = r.digest
        if not rows and head is None:
            return out
        if head is None:
            return [*out, ("passport_backup_heads", passport_id, "no signed head for the copies held")]
        try:
            kid = str(peek(head)[0].get("kid", ""))
            _, signed = verify_compact(head, self.chain.key(kid), typ=_HEAD_TYP, algs=("Ed25519",))
        except BatpassError as exc:
            return [*out, ("passport_backup_heads", passport_id, f"the signed head does not verify ({exc})")]
        held = (
            (passport_id, rows[0].digest, rows[-1].version, rows[-1].digest)
            if rows
            else (passport_id, None, None, None)
        )
        if (signed.get("passportId"), signed.get("first"), signed.get("version"), signed.get("digest")) != held:
            what = "the copies held are not the ones signed as held (first or newest)"
            out.append(("passport_backup_heads", passport_id, what))
        return out

    def status(self, passport_id: uuid.UUID) -> list[dict[str, Any]]:
        """Where each version's copy to the backup node stands: ``sent``, ``pending`` (being
        retried) or ``dead`` (given up: the operator must act), with attempts and the last cause."""
        prefix = f"passport-backup:{passport_id}:"
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(outbox_table).where(
                    outbox_table.c.kind == BACKUP_KIND, outbox_table.c.idempotency_key.startswith(prefix)
                )
            ).all()
        out = [
            {
                "version": int(r.idempotency_key.rsplit(":", 1)[1]),
                "backupNode": r.destination.removesuffix("/v1/passports/backup"),
                "status": r.status,
                "attempts": r.attempts,
                "lastError": r.last_error,
                "nextAttemptAt": r.next_attempt_at.isoformat() if r.status == "pending" else None,
                "sentAt": r.sent_at.isoformat() if r.sent_at else None,
            }
            for r in rows
        ]
        return sorted(out, key=lambda d: d["version"])

    def findings(self, conn: Connection) -> list[Finding]:
        by_passport: dict[str, list[Any]] = {}
        for r in conn.execute(select(_sql.backups).order_by(_sql.backups.c.passport_id, _sql.backups.c.version)):
            by_passport.setdefault(r.passport_id, []).append(r)
        heads = {r.passport_id: r.jws for r in conn.execute(select(_sql.backup_heads))}
        return [
            Finding(table, key, "passport.backup.signed", problem)
            for pid in sorted(by_passport.keys() | heads.keys())
            for table, key, problem in self.problems(pid, by_passport.get(pid, []), heads.get(pid))
        ]


#: the JWS type of the signed newest-copy head of a held backup
_HEAD_TYP = "batpass-passport-backup-head+jws"


def _backup_problem(row: Any, prev: str | None) -> str | None:
    """Why a held backup copy does not stand (None: it does): its digest, issuer, version and link
    to the previous copy against its token (the signature was checked with the issuer's DID key
    on arrival; a relying party checks it again against that DID document)."""
    if token_digest(row.jws) != row.digest:
        return "digest is not its token's"
    try:
        payload = _payload(row.jws)
    except (ValueError, IndexError) as exc:
        return f"the token is not a compact JWS ({exc})"
    rec = payload.get("passport") or {}
    if (payload.get("version"), payload.get("issuer"), rec.get("passportId")) != (
        row.version,
        row.issuer,
        row.passport_id,
    ):
        return "version, issuer or passport differ from its token"
    if prev is not None and payload.get("prev") != prev:
        return "it does not chain to the previous copy"
    return None
