"""The signed version chain of a passport: every version row checked against its token (digest,
signature, payload, link to the previous version) before anything built on it is served or signed
over. A token verifies once per process (it is immutable); keys are this node's — retired ones
too, so old versions stay verifiable after a rotation — or an issuer's DID document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select

from batpass.core.errors import BatpassError, IntegrityViolation, InvalidInput, Unauthorized
from batpass.passport import _sql
from batpass.passport.model import Passport
from batpass.passport.ports import PublicKeyResolver
from batpass.trust import CredentialRejected, NodeIdentity, peek, verify_compact

__all__ = [
    "JWS_TYP",
    "StoredVersion",
    "VersionChain",
    "broken",
    "digest",
    "passport_row",
    "stored_versions",
    "verify_version_jws",
]

#: the JWS type of a passport version
JWS_TYP = "application/vnd.batpass.passport+jws"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def broken(passport_id: Any, table: str, what: str, version: int | None = None) -> IntegrityViolation:
    return IntegrityViolation(
        f"passport urn:uuid:{passport_id}: {what}; it is refused until the store is repaired",
        table=table,
        key=f"{passport_id}" + (f"/v{version}" if version is not None else ""),
        rule="passport.signed (what is served is what was signed)",
    )


def passport_row(conn: Connection, query: Select[Any]) -> Any:
    """The first ``passport_passports`` row ``query`` selects. SQLite keeps any value in any
    column: one that does not read as its column's type (the store raises an
    :class:`IntegrityViolation` naming no row) is that passport's break, named like the others."""
    try:
        return conn.execute(query).first()
    except IntegrityViolation as exc:
        if exc.table is not None:
            raise
        pid = conn.execute(query.with_only_columns(_sql.passports.c.passport_id)).scalar()
        raise broken(pid, "passport_passports", exc.message) from exc


@dataclass(frozen=True, slots=True)
class StoredVersion:
    passport_id: uuid.UUID
    version: int
    jws: str
    digest: str
    prev_digest: str | None
    actor: str
    change: str
    created_at: dt.datetime


def stored_versions(rows: Sequence[Any]) -> list[StoredVersion]:
    """The version rows :meth:`VersionChain.rows` checked, as values."""
    return [
        StoredVersion(
            passport_id=uuid.UUID(r.passport_id),
            version=r.version,
            jws=r.jws,
            digest=r.digest,
            prev_digest=r.prev_digest,
            actor=r.actor,
            change=r.change,
            created_at=r.created_at,
        )
        for r in rows
    ]


class VersionChain:
    """Checks passport version chains for one node (``identity``'s keys, else ``key_resolver``)."""

    def __init__(self, identity: NodeIdentity, key_resolver: PublicKeyResolver | None) -> None:
        self.identity = identity
        self.key_resolver = key_resolver
        #: payloads of version tokens this process verified, by digest (a token is immutable)
        self._verified: dict[str, dict[str, Any]] = {}
        #: the passport each verified payload records, by the token's digest
        self._passports: dict[str, Passport] = {}

    def payload(self, version_digest: str) -> dict[str, Any]:
        """The verified payload of a version :meth:`rows` checked."""
        return self._verified[version_digest]

    def passport(self, version_digest: str) -> Passport:
        """The passport a version :meth:`rows` checked records (its verified payload's record;
        a frozen value, made once per token, as the token is immutable)."""
        passport = self._passports.get(version_digest)
        if passport is None:
            if len(self._passports) > 50_000:
                self._passports.clear()
            passport = self._passports[version_digest] = Passport.from_record(
                self._verified[version_digest]["passport"]
            )
        return passport

    def rows(self, conn: Connection, passport_id: str) -> list[Any]:
        """Every version row of a passport, each checked: its digest is its token's, its token
        verifies (once per process: a token is immutable), its payload names this passport, this
        version and the previous digest, and its columns are the payload's."""
        try:
            rows = conn.execute(
                select(_sql.versions)
                .where(_sql.versions.c.passport_id == passport_id)
                .order_by(_sql.versions.c.version)
            ).all()
        except IntegrityViolation as exc:  # a stored value that is not of its column's type
            raise broken(passport_id, "passport_versions", exc.message) from exc
        prev: str | None = None
        for n, v in enumerate(rows, start=1):
            where = f"version {v.version}"
            if v.version != n:
                raise broken(passport_id, "passport_versions", f"{where}: the chain skips version {n}", v.version)
            if digest(v.jws) != v.digest:
                raise broken(passport_id, "passport_versions", f"{where}: digest is not its token's", v.version)
            payload = self._verified.get(v.digest) or self._verify(passport_id, v)
            if (
                payload.get("version") != v.version
                or payload.get("prev") != prev
                or v.prev_digest != prev
                or (payload.get("passport") or {}).get("passportId") != passport_id
            ):
                what = f"{where}: the hash chain is broken"
                raise broken(passport_id, "passport_versions", what, v.version)
            if (payload.get("actor"), payload.get("change"), payload.get("issuedAt")) != (
                v.actor,
                v.change,
                v.created_at.isoformat(),
            ):
                raise broken(passport_id, "passport_versions", f"{where}: a column differs from its token", v.version)
            prev = v.digest
        return list(rows)

    def _verify(self, passport_id: str, v: Any) -> dict[str, Any]:
        try:
            kid = str(peek(v.jws)[0].get("kid", ""))
            payload = verify_version_jws(v.jws, self.key(kid))
        except BatpassError as exc:
            raise broken(
                passport_id,
                "passport_versions",
                f"version {v.version}: the signature does not verify ({exc})",
                v.version,
            ) from exc
        if len(self._verified) > 50_000:
            self._verified.clear()
        self._verified[v.digest] = payload
        return payload

    def key(self, kid: str) -> Mapping[str, Any]:
        """The key a version names: one of this node's (also a retired one: old versions stay
        verifiable after a rotation), else the issuer's DID document (a predecessor operator)."""
        own = self.identity.find(kid)
        if own is not None and own.alg == "Ed25519":
            return own.public_jwk()
        if self.key_resolver is not None:
            return self.key_resolver.jwk_for(kid)
        raise Unauthorized(f"no key known for {kid}", rule="passport version JWS (kid)")


def verify_version_jws(token: str, jwk: Mapping[str, Any]) -> dict[str, Any]:
    """Verify a passport version JWS (Ed25519 only) with the public ``jwk``; return its payload."""
    try:
        header, data = verify_compact(token, jwk, typ=None, algs=("Ed25519",))
    except CredentialRejected as exc:
        raise Unauthorized(f"jws: signature does not verify ({exc})", rule="RFC 7515; Ed25519 (RFC 8037)") from exc
    if header.get("typ") != JWS_TYP:
        raise InvalidInput(f"jws: typ must be {JWS_TYP}", field="jws.typ", rule="passport version JWS")
    return data
