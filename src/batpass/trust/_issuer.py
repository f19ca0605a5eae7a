"""The node as an issuer: it issues credentials of batpass types with a revocation status entry,
revokes them, publishes its W3C Bitstring Status Lists, and certifies claims computed from a
holder's signed upstream summary (docs/architecture.md "Flows", flow 5).

Knows the issued-credential and status-list tables; knows nothing of trust lists, nonces or the
wallet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.store import UnitOfWork
from batpass.trust import _sql
from batpass.trust._certify import certify_claim, verify_upstream_summary
from batpass.trust._context import TrustContext
from batpass.trust._jose import peek
from batpass.trust._keys import NodeIdentity
from batpass.trust._sdjwt import issue_sd_jwt
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential
from batpass.trust._tokenstatus import from_bitstring, status_list_token, token_status_entry
from batpass.trust._vc import build_credential, issue_vc_jwt, validate_credential
from batpass.trust.model import vct_for

__all__ = ["FORMATS", "IssuedCredential", "Issuer", "StatusLists"]

FORMATS = ("vc+jwt", "dc+sd-jwt")
#: a signed status list (valid for a day) is signed again once this old, changed or not
RESIGN_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    id: str
    ctype: str
    format: str
    token: str
    status_list: str
    status_index: int


class StatusLists:
    """The status lists this node publishes, signed and served at :meth:`status_list_url`.

    Built before the node's status-list cache, which reads this node's own lists through
    :meth:`local_token` instead of the network."""

    def __init__(self, engine: Engine, identity: NodeIdentity, *, base_url: str, clock: Clock = SystemClock()) -> None:
        self.engine = engine
        self.identity = identity
        self.base_url = base_url
        self.clock = clock
        # list id → (version, signed at, signed list): one cache per representation
        self._tokens: dict[str, tuple[int, dt.datetime, str]] = {}
        self._tsl: dict[str, tuple[int, dt.datetime, str]] = {}

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/v1/credentials/status/{list_id}"

    def token_status_url(self, list_id: str) -> str:
        """Where the same list is served as an IETF Token Status List (SD-JWT VCs point here)."""
        return f"{self.base_url}/v1/credentials/token-status/{list_id}"

    def _cached(self, cache: dict[str, tuple[int, dt.datetime, str]], list_id: str, version: int) -> str | None:
        """A signed copy of this version, unless it was signed longer than :data:`RESIGN_AFTER`
        ago (both representations are valid for a day: an unchanged list is signed again)."""
        hit = cache.get(list_id)
        if hit and hit[0] == version and self.clock.now() - hit[1] < RESIGN_AFTER:
            return hit[2]
        return None

    def _row(self, list_id: str) -> Any:
        t = _sql.status_lists
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(sa.select(t.c.bits, t.c.version, t.c.purpose).where(t.c.id == list_id)).first()
        if row is None:
            raise NotFound(f"status list {list_id} does not exist", rule="W3C Bitstring Status List")
        return row

    def token_status_token(self, list_id: str) -> str:
        """The signed Status List Token (``statuslist+jwt``, ``bits`` 1) of list ``list_id``:
        the revocation bits of the bitstring list, re-packed (cached per version)."""
        row = self._row(list_id)
        cached = self._cached(self._tsl, list_id, int(row.version))
        if cached is not None:
            return cached
        now = self.clock.now()
        token = status_list_token(
            self.identity, uri=self.token_status_url(list_id), raw=from_bitstring(bytes(row.bits)), now=now
        )
        self._tsl[list_id] = (int(row.version), now, token)
        return token

    def status_list_token(self, list_id: str) -> str:
        """The signed status-list credential served at :meth:`status_list_url` (cached per version)."""
        row = self._row(list_id)
        cached = self._cached(self._tokens, list_id, int(row.version))
        if cached is not None:
            return cached
        now = self.clock.now()
        token = status_list_credential(
            self.identity,
            list_url=self.status_list_url(list_id),
            bits=bytes(row.bits),
            purpose=row.purpose,
            now=now,
        )
        self._tokens[list_id] = (int(row.version), now, token)
        return token

    def local_token(self, url: str) -> str | None:
        """The signed list at ``url`` if this node publishes it (the status cache's ``local``)."""
        prefix = f"{self.base_url}/v1/credentials/status/"
        if url.startswith(prefix):
            return self.status_list_token(url[len(prefix) :])
        prefix = f"{self.base_url}/v1/credentials/token-status/"
        if url.startswith(prefix):
            return self.token_status_token(url[len(prefix) :])
        return None


class Issuer:
    """Issues, revokes and certifies as this node; each use case is one unit of work."""

    def __init__(self, context: TrustContext, status_lists: StatusLists) -> None:
        self.context = context
        self.status_lists = status_lists

    def _allocate(self, uow: UnitOfWork) -> tuple[str, int]:
        t = _sql.status_lists
        q = sa.select(t.c.id, t.c.next_index).where(t.c.next_index < t.c.size_bits, t.c.purpose == "revocation")
        if uow.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = uow.conn.execute(q.order_by(t.c.id).limit(1)).first()
        now = self.context.clock.now()
        if row is None:
            list_id = str(new_uuid7())
            uow.conn.execute(
                t.insert().values(
                    id=list_id,
                    purpose="revocation",
                    size_bits=MIN_BITS,
                    next_index=1,
                    bits=bytes(MIN_BITS // 8),
                    version=1,
                    updated_at=now,
                )
            )
            return list_id, 0
        uow.conn.execute(t.update().where(t.c.id == row.id).values(next_index=row.next_index + 1))
        return str(row.id), int(row.next_index)

    def issue(
        self,
        ctype: str,
        subject: Mapping[str, Any],
        *,
        format: str = "vc+jwt",
        holder_jwk: Mapping[str, Any] | None = None,
        disclosable: Sequence[str] = (),
        valid_for: dt.timedelta = dt.timedelta(days=365),
        alg: str = "Ed25519",
        summary_digest: str | None = None,
    ) -> IssuedCredential:
        """Issue a credential of a batpass type with a revocation status entry: a W3C
        ``BitstringStatusListEntry`` in a ``vc+jwt``, a Token Status List reference
        (``status.status_list {idx, uri}``) in an SD-JWT VC — the same slot of the same list."""
        if format not in FORMATS:
            raise InvalidInput(f"format {format!r} unknown", field="format", rule=" | ".join(FORMATS))
        identity = self.context.identity
        now = self.context.clock.now()
        cid = f"urn:uuid:{new_uuid7()}"
        with UnitOfWork(self.context.engine) as uow:
            list_id, index = self._allocate(uow)
            entry = status_entry(self.status_lists.status_list_url(list_id), index)
            vc = build_credential(
                issuer=identity.did,
                ctype=ctype,
                subject=subject,
                valid_from=now,
                valid_until=now + valid_for,
                status=entry,
                credential_id=cid,
            )
            validate_credential(vc)  # the schema and context hold for both formats
            if format == "vc+jwt":
                token = issue_vc_jwt(identity, vc, alg=alg, validate=False, now=now)
            else:
                claims = {k: v for k, v in subject.items() if k != "id"}
                if "id" in subject:
                    claims = {"sub": subject["id"], **claims}
                claims["jti"] = cid
                token = issue_sd_jwt(
                    identity,
                    claims,
                    vct=vct_for(ctype),
                    disclosable=disclosable,
                    holder_jwk=holder_jwk,
                    valid_for=valid_for,
                    alg=alg,
                    status=token_status_entry(self.status_lists.token_status_url(list_id), index),
                    now=now,
                )
            uow.conn.execute(
                _sql.issued.insert().values(
                    id=cid,
                    ctype=ctype,
                    format=format,
                    holder=subject.get("id"),
                    status_list=list_id,
                    status_index=index,
                    issued_at=now,
                    valid_until=now + valid_for,
                    revoked_at=None,
                    summary_digest=summary_digest,
                )
            )
            uow.commit()
        return IssuedCredential(cid, ctype, format, token, list_id, index)

    def revoke(self, credential_id: str) -> None:
        """Set the credential's revocation bit; verifiers see it once their cache ages out."""
        with UnitOfWork(self.context.engine) as uow:
            row = uow.conn.execute(sa.select(_sql.issued).where(_sql.issued.c.id == credential_id)).first()
            if row is None:
                raise NotFound(
                    f"credential {credential_id} was not issued by this node", rule="revocation by the issuer"
                )
            if row.revoked_at is not None:
                raise Conflict(f"credential {credential_id} is already revoked", rule="revocation is final")
            t = _sql.status_lists
            q = sa.select(t.c.bits, t.c.version).where(t.c.id == row.status_list)
            if uow.conn.dialect.name == "postgresql":
                q = q.with_for_update()
            sl = uow.conn.execute(q).one()
            bits = bytearray(sl.bits)
            set_bit(bits, row.status_index)
            now = self.context.clock.now()
            uow.conn.execute(
                t.update()
                .where(t.c.id == row.status_list)
                .values(bits=bytes(bits), version=sl.version + 1, updated_at=now)
            )
            uow.conn.execute(_sql.issued.update().where(_sql.issued.c.id == credential_id).values(revoked_at=now))
            uow.commit()
        self.context.status.invalidate(self.status_lists.status_list_url(row.status_list))
        self.context.status.invalidate(self.status_lists.token_status_url(row.status_list))

    def issued(self) -> list[dict[str, Any]]:
        with UnitOfWork(self.context.engine, write=False) as uow:
            rows = uow.conn.execute(sa.select(_sql.issued).order_by(_sql.issued.c.issued_at)).all()
        return [
            {
                "id": r.id,
                "type": r.ctype,
                "format": r.format,
                "holder": r.holder,
                "issuedAt": r.issued_at.isoformat(),
                "revoked": r.revoked_at is not None,
            }
            for r in rows
        ]

    async def certify(
        self,
        summary_jws: str,
        *,
        holder: str,
        claim: str,
        element: str | None = None,
        threshold: float | None = None,
        framework: str | None = None,
        evidence: Sequence[Mapping[str, Any]] = (),
        format: str = "dc+sd-jwt",
        holder_jwk: Mapping[str, Any] | None = None,
    ) -> IssuedCredential:
        """Verify the holder's signed upstream summary and issue the claim computed from it."""
        resolver = self.context.resolver
        header, unverified = peek(summary_jws)
        if isinstance(unverified.get("issuer"), str):  # a key the cached document lacks: fetched again
            await resolver.resolve(unverified["issuer"], kid=header.get("kid"))
        summary = verify_upstream_summary(summary_jws, resolver)
        ctype, subject, disclosable = certify_claim(
            summary,
            summary_jws,
            holder=holder,
            claim=claim,
            element=element,
            threshold=threshold,
            framework=framework,
            evidence=evidence,
            now=self.context.clock.now(),
        )
        return self.issue(
            ctype,
            subject,
            format=format,
            holder_jwk=holder_jwk,
            disclosable=disclosable,
            summary_digest=str(subject["summaryDigest"]),
        )
