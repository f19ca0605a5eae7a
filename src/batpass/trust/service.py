"""Trust use cases of one node: issue, revoke and publish status; verify credentials through
the trust lists and recognition policy; hand out and consume nonces; hold credentials and
answer DCP presentation queries; certify claims from signed upstream summaries.

Constructed by the composition root as::

    TrustService(engine, identity, base_url=..., ecosystem="catena-x",
                 operators={"catena-x": "did:web:...", "ouranos": "did:web:..."},
                 allowed_hosts=[...], client=ctx.client, sync_client=ctx.sync_client)
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from batpass.core.errors import (
    BatpassError,
    Conflict,
    Forbidden,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    UpstreamUnavailable,
)
from batpass.core.findings import Finding
from batpass.core.ids import Did, new_uuid7
from batpass.store import UnitOfWork
from batpass.trust import _sql, _stored
from batpass.trust._certify import certify_claim, verify_upstream_summary
from batpass.trust._dcp import (
    DcpParticipantVerifier,
    issue_self_issued_token,
    presentation_response,
    scope_types,
    verify_role_presentation,
    verify_self_issued_token,
)
from batpass.trust._did import subject_did_document
from batpass.trust._jose import peek, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, GuardedFetcher
from batpass.trust._sdjwt import issue_sd_jwt, present_sd_jwt
from batpass.trust._status import MIN_BITS, StatusListCache, set_bit, status_entry, status_list_credential
from batpass.trust._trustlist import TrustRegistry, admit_signing_key, load_trust_list, sign_trust_list, validate_json
from batpass.trust._vc import build_credential, issue_vc_jwt, issue_vp_jwt, validate_credential
from batpass.trust._verify import Verifier
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import (
    RecognitionPolicy,
    RejectReason,
    TrustList,
    Verification,
    VerifiedRoles,
    vct_for,
)

__all__ = ["IssuedCredential", "TrustService"]

log = logging.getLogger("batpass.trust")

FORMATS = ("vc+jwt", "dc+sd-jwt")
#: how a certifier's refusal maps back onto our error tree when a holder relays it
_REFUSALS: dict[int, type[BatpassError]] = {400: InvalidInput, 403: Forbidden, 404: NotFound, 409: Conflict}


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    id: str
    ctype: str
    format: str
    token: str
    status_list: str
    status_index: int


class TrustService:
    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        base_url: str,
        ecosystem: str = "catena-x",
        operators: Mapping[str, str] | None = None,
        allowed_hosts: Iterable[str] = (),
        client: httpx.AsyncClient | None = None,
        sync_client: httpx.Client | None = None,
        profiles: Sequence[str] = (),
        status_max_age_s: float = 300.0,
        did_ttl_s: float = 300.0,
        bpn: str | None = None,
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.ecosystem = ecosystem
        self.operators = dict(operators or {})
        self.profiles = tuple(profiles)
        self.bpn = bpn
        self.client = client
        self._participants: DcpParticipantVerifier | None = None
        self.fetcher = GuardedFetcher(allowed_hosts=allowed_hosts, client=client, sync_client=sync_client)
        self.resolver = DidResolver(self.fetcher, ttl_s=did_ttl_s)
        self.resolver.pin(self.did_document())
        self.status = StatusListCache(self.resolver, max_age_s=status_max_age_s, local=self._local_status)
        self.registry = TrustRegistry(ecosystem)
        self.verifier = Verifier(self.resolver, self.registry, self.status)
        self._status_tokens: dict[str, tuple[int, str]] = {}
        self._findings: list[Finding] = []
        self._load()

    # --- DIDs -------------------------------------------------------------------------------

    def did_document(self) -> dict[str, Any]:
        return subject_did_document(self.identity, base_url=self.base_url, profiles=self.profiles)

    def _load(self) -> None:
        """Build the registry from the signed forms only (docs/trust-lists.md "Stored signed"):
        no network, and a row that does not verify is a finding and is left out, never a reason
        not to start."""
        stored = self._read()
        for tl in stored.lists:
            self.registry.add(tl)
        if stored.policy is not None:
            self.registry.policy = stored.policy

    def _read(self) -> _stored.Stored:
        with UnitOfWork(self.engine, write=False) as uow:
            stored = _stored.read_all(uow.conn, self.identity, operators=self.operators, ecosystem=self.ecosystem)
        self._findings = list(stored.findings)
        for f in stored.findings:
            log.warning("trust: %s %s breaks %s: %s", f.table, f.key, f.rule, f.detail)
        return stored

    # --- self-audit -------------------------------------------------------------------------

    def self_audit(self) -> list[Finding]:
        """Check every stored trust list, pinned key, policy and held credential against its
        signed form now; each row that does not verify (or whose plain columns differ from it) is
        a finding naming table, key and rule. The registry in memory is left as loaded."""
        return list(self._read().findings)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings of the last load or :meth:`audit` (and of wallet reads since)."""
        return tuple(self._findings)

    @property
    def healthy(self) -> bool:
        """False while a finding stands: something stored was tampered with or is stale."""
        return not self._findings

    def _settle(self, table: str, key: str, found: Iterable[Finding] = ()) -> None:
        """Replace the standing findings about one row (after it was written, or read again)."""
        before = set(self._findings)
        self._findings = [f for f in self._findings if (f.table, f.key) != (table, key)]
        for f in found:
            if f not in self._findings:
                if f not in before:
                    log.warning("trust: %s %s breaks %s: %s", f.table, f.key, f.rule, f.detail)
                self._findings.append(f)

    # --- status lists (issuer side) ---------------------------------------------------------

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/v1/credentials/status/{list_id}"

    def _allocate(self, uow: UnitOfWork) -> tuple[str, int]:
        t = _sql.status_lists
        q = sa.select(t.c.id, t.c.next_index).where(t.c.next_index < t.c.size_bits, t.c.purpose == "revocation")
        if uow.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = uow.conn.execute(q.order_by(t.c.id).limit(1)).first()
        now = dt.datetime.now(dt.UTC)
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

    def status_list_token(self, list_id: str) -> str:
        """The signed status-list credential served at :meth:`status_list_url` (cached per version)."""
        t = _sql.status_lists
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(sa.select(t.c.bits, t.c.version, t.c.purpose).where(t.c.id == list_id)).first()
        if row is None:
            raise NotFound(f"status list {list_id} does not exist", rule="W3C Bitstring Status List")
        cached = self._status_tokens.get(list_id)
        if cached and cached[0] == row.version:
            return cached[1]
        token = status_list_credential(
            self.identity, list_url=self.status_list_url(list_id), bits=bytes(row.bits), purpose=row.purpose
        )
        self._status_tokens[list_id] = (int(row.version), token)
        return token

    def _local_status(self, url: str) -> str | None:
        prefix = f"{self.base_url}/v1/credentials/status/"
        if not url.startswith(prefix):
            return None
        return self.status_list_token(url[len(prefix) :])

    # --- issuing ----------------------------------------------------------------------------

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
        """Issue a credential of a batpass type with a revocation status entry."""
        if format not in FORMATS:
            raise InvalidInput(f"format {format!r} unknown", field="format", rule=" | ".join(FORMATS))
        now = dt.datetime.now(dt.UTC)
        cid = f"urn:uuid:{new_uuid7()}"
        with UnitOfWork(self.engine) as uow:
            list_id, index = self._allocate(uow)
            entry = status_entry(self.status_list_url(list_id), index)
            vc = build_credential(
                issuer=self.identity.did,
                ctype=ctype,
                subject=subject,
                valid_from=now,
                valid_until=now + valid_for,
                status=entry,
                credential_id=cid,
            )
            validate_credential(vc)  # the schema and context hold for both formats
            if format == "vc+jwt":
                token = issue_vc_jwt(self.identity, vc, alg=alg, validate=False)
            else:
                claims = {k: v for k, v in subject.items() if k != "id"}
                if "id" in subject:
                    claims = {"sub": subject["id"], **claims}
                claims["jti"] = cid
                token = issue_sd_jwt(
                    self.identity,
                    claims,
                    vct=vct_for(ctype),
                    disclosable=disclosable,
                    holder_jwk=holder_jwk,
                    valid_for=valid_for,
                    alg=alg,
                    status=entry,
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
        with UnitOfWork(self.engine) as uow:
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
            now = dt.datetime.now(dt.UTC)
            uow.conn.execute(
                t.update()
                .where(t.c.id == row.status_list)
                .values(bits=bytes(bits), version=sl.version + 1, updated_at=now)
            )
            uow.conn.execute(_sql.issued.update().where(_sql.issued.c.id == credential_id).values(revoked_at=now))
            uow.commit()
        self.status.invalidate(self.status_list_url(row.status_list))

    def issued(self) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
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

    # --- certification (docs/architecture.md "Flows", flow 5) ------------------------------

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
        _h, unverified = peek(summary_jws)
        if isinstance(unverified.get("issuer"), str):
            await self.resolver.resolve(unverified["issuer"])
        summary = verify_upstream_summary(summary_jws, self.resolver)
        ctype, subject, disclosable = certify_claim(
            summary,
            summary_jws,
            holder=holder,
            claim=claim,
            element=element,
            threshold=threshold,
            framework=framework,
            evidence=evidence,
        )
        return self.issue(
            ctype,
            subject,
            format=format,
            holder_jwk=holder_jwk,
            disclosable=disclosable,
            summary_digest=str(subject["summaryDigest"]),
        )

    # --- nonces (GET /v1/auth/nonce) ------------------------------------------------------

    def issue_nonce(self, *, audience: str | None = None, ttl_s: int = 300) -> str:
        nonce = secrets.token_urlsafe(24)
        now = dt.datetime.now(dt.UTC)
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                _sql.nonces.insert().values(
                    nonce=nonce,
                    audience=audience or self.identity.did,
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=ttl_s),
                    used_at=None,
                )
            )
            uow.conn.execute(_sql.nonces.delete().where(_sql.nonces.c.expires_at < now - dt.timedelta(days=1)))
            uow.commit()
        return nonce

    def consume(self, nonce: str, *, audience: str) -> None:
        """Single use: the first consumer wins (conditional UPDATE); reuse is a replay."""
        now = dt.datetime.now(dt.UTC)
        t = _sql.nonces
        with UnitOfWork(self.engine) as uow:
            res = uow.conn.execute(
                t.update()
                .where(t.c.nonce == nonce, t.c.used_at.is_(None), t.c.audience == audience, t.c.expires_at >= now)
                .values(used_at=now)
            )
            if res.rowcount == 1:
                uow.commit()
                return
            row = uow.conn.execute(sa.select(t).where(t.c.nonce == nonce)).first()
        if row is None:
            raise CredentialRejected(
                "nonce was not issued by this node",
                reason=RejectReason.NONCE_UNKNOWN,
                rule="GET /v1/auth/nonce",
            )
        if row.used_at is not None:
            raise CredentialRejected(
                "nonce already used: replayed presentation",
                reason=RejectReason.NONCE_REPLAYED,
                rule="nonces are single use",
            )
        if row.audience != audience:
            raise CredentialRejected("nonce was issued for another audience", reason=RejectReason.AUDIENCE)
        raise CredentialRejected("nonce expired", reason=RejectReason.EXPIRED, rule="nonces live 300 s")

    # --- trust lists and policy ---------------------------------------------------------------

    async def add_trust_list(self, jws: str, *, ecosystem: str) -> TrustList:
        """Verify a trust list signed by the configured operator of ``ecosystem`` and keep it.

        The signing key is checked against the operator's pinned keys (docs/trust-lists.md
        "Pinned keys and rotation"): the operator's first list pins it; a key not pinned is
        accepted only when the operator's DID document lists it and lists every pinned key as
        retired, not revoked, and is then pinned in turn."""
        operator = self.operators.get(ecosystem)
        if operator is None:
            raise CredentialRejected(
                f"no operator DID configured for ecosystem {ecosystem!r}",
                reason=RejectReason.TRUST_LIST,
                rule="trust lists are accepted only from configured ecosystem operators",
            )
        document = await self.resolver.resolve(operator)
        jws = jws.strip()
        tl = load_trust_list(jws, self.resolver, operator=operator, ecosystem=ecosystem)
        held = self.registry.lists.get(ecosystem)
        if held is not None and tl.sequence < held.sequence:
            raise CredentialRejected(
                f"trust list sequence {tl.sequence} is older than the held {held.sequence}",
                reason=RejectReason.TRUST_LIST,
                rule="trust lists never roll back",
            )
        kid = str(peek(jws)[0]["kid"])
        now = dt.datetime.now(dt.UTC)
        with UnitOfWork(self.engine) as uow:
            pins, broken = _stored.read_pins(uow.conn, self.identity, operator=operator)
            if broken:
                for f in broken:
                    self._settle(f.table, f.key, [f])
                raise CredentialRejected(
                    f"the keys pinned for {operator} do not verify ({broken[0].detail}); "
                    "remove its rows from trust_pinned_keys to pin afresh from its DID document",
                    reason=RejectReason.TRUST_LIST,
                    rule=_stored.PIN,
                )
            admission = admit_signing_key(kid, document, pins, now=now)
            pk = _sql.pinned_keys
            if admission.pin is not None:
                uow.conn.execute(pk.insert().values(**_stored.pin_values(self.identity, admission.pin)))
            for old in admission.retire:
                uow.conn.execute(
                    pk.update()
                    .where(pk.c.operator == old.operator, pk.c.kid == old.kid)
                    .values(**_stored.pin_values(self.identity, old))
                )
            t = _sql.trust_lists
            uow.conn.execute(t.delete().where(t.c.ecosystem == ecosystem))
            uow.conn.execute(
                t.insert().values(
                    ecosystem=ecosystem,
                    operator=operator,
                    sequence=tl.sequence,
                    jws=jws,
                    body=tl.to_json(),
                    loaded_at=now,
                    attestation=_stored.list_attestation(self.identity, tl, jws),
                )
            )
            uow.commit()
        self.registry.add(tl)
        self._settle(_sql.trust_lists.name, ecosystem)
        if admission.how == "rotated":
            log.warning("trust: %s rotated its trust-list key to %s (old key retired)", operator, kid)
        return tl

    def sign_trust_list(self, data: Mapping[str, Any]) -> str:
        """This node as an ecosystem operator: sign a trust list (schema-checked; its
        ``operator`` must be this node's DID) with the node's active Ed25519 key."""
        return sign_trust_list(dict(data), self.identity)

    def trust_lists(self) -> list[TrustList]:
        return [self.registry.lists[k] for k in sorted(self.registry.lists)]

    def set_policy(self, data: Mapping[str, Any]) -> RecognitionPolicy:
        validate_json(dict(data), "recognition-policy.schema.json")
        policy = RecognitionPolicy.from_json(data)
        if policy.ecosystem != self.ecosystem:
            raise InvalidInput(
                f"policy is for {policy.ecosystem}, this node is in {self.ecosystem}",
                field="ecosystem",
                rule="a node applies its own ecosystem's recognition policy",
            )
        with UnitOfWork(self.engine) as uow:
            t = _sql.policies
            uow.conn.execute(t.delete().where(t.c.ecosystem == policy.ecosystem))
            uow.conn.execute(
                t.insert().values(
                    ecosystem=policy.ecosystem,
                    body=policy.to_json(),
                    updated_at=dt.datetime.now(dt.UTC),
                    # the node is the author of its own policy: it signs it, and loads only that
                    attestation=_stored.policy_attestation(self.identity, policy),
                )
            )
            uow.commit()
        self.registry.policy = policy
        self._settle(_sql.policies.name, policy.ecosystem)
        return policy

    # --- verifying --------------------------------------------------------------------------

    async def verify(self, token: str, **kw: Any) -> Verification:
        return await self.verifier.averify(token.strip(), **kw)

    async def verify_presented(
        self,
        token: str,
        *,
        require_type: str | None = None,
        audience: str | None = None,
        nonce: str | None = None,
        status_max_age_s: float | None = None,
    ) -> Verification:
        """``POST /v1/credentials/verify``: a credential, or an SD-JWT presentation with key
        binding when ``audience`` is given. A presentation addressed to this node must carry a
        nonce this node handed out (``GET /v1/auth/nonce``); it is consumed, so a replay fails."""
        token = token.strip()
        key_bound = audience is not None and "~" in token
        v = await self.verifier.averify(
            token,
            require_type=require_type,
            audience=audience,
            nonce=nonce,
            require_key_binding=key_bound,
            status_max_age_s=status_max_age_s,
        )
        if key_bound and audience == self.identity.did:
            kb_nonce = peek(token.rsplit("~", 1)[1])[1].get("nonce")
            self.consume(str(kb_nonce), audience=audience)
        return v

    async def verify_role_presentation(self, token: str) -> VerifiedRoles:
        return await verify_role_presentation(
            token, audience_did=self.identity.did, nonce_store=self, verifier=self.verifier
        )

    async def roles_for(self, bearer_token: str | None) -> frozenset[str]:
        """The passport package's ``RoleVerifier`` port: no token → no role; a bad one raises."""
        if not bearer_token:
            return frozenset()
        return (await self.verify_role_presentation(bearer_token)).roles

    def participant_verifier(self) -> DcpParticipantVerifier:
        """The node's one DCP participant verifier (it keeps verified presentations briefly)."""
        if self.client is None:
            raise InvalidInput("the participant verifier needs an HTTPS client", field="client", rule="DCP 1.0")
        if self._participants is None:
            self._participants = DcpParticipantVerifier(self.identity, self.verifier, self.client, bpn=self.bpn)
        return self._participants

    # --- wallet and presentations -----------------------------------------------------------

    def hold(self, token: str) -> str:
        """Keep a credential this node received (for presentations and DCP queries). Its
        signature is verified with its issuer's DID key (resolved, if not cached, over the
        node's guarded HTTPS client); the node signs a record of the token and that key, so the
        token is verified again, offline, whenever it is used."""
        token = token.strip()
        try:
            fmt, ctype, issuer, header, _payload = _stored.describe_credential(token)
        except CredentialRejected as exc:
            raise InvalidInput("not a credential batpass can hold", field="token", rule="vc+jwt or dc+sd-jwt") from exc
        kid = header.get("kid")
        try:
            vm = self.resolver.method(str(kid), controller=issuer)
            verify_compact(token.split("~", 1)[0], vm.jwk, typ=None)
        except CredentialRejected as exc:
            raise InvalidInput(
                f"the credential does not verify with its issuer's key: {exc.message}",
                field="credential",
                rule="a held credential is signed by a verification method of its issuer's DID",
            ) from exc
        wid = str(new_uuid7())
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                _sql.wallet.insert().values(
                    id=wid,
                    format=fmt,
                    ctype=ctype,
                    issuer=issuer,
                    token=token,
                    stored_at=dt.datetime.now(dt.UTC),
                    attestation=_stored.held_attestation(self.identity, wid, token, kid=vm.id, jwk=vm.jwk),
                )
            )
            uow.commit()
        return wid

    def _held(self, ids: Iterable[str] | None = None) -> list[_stored.HeldCredential]:
        """The wallet entries whose token verifies (against the record the node signed when it
        kept it); the others are findings and are never presented."""
        with UnitOfWork(self.engine, write=False) as uow:
            held, findings = _stored.read_wallet(uow.conn, self.identity, ids=ids)
        ok = {h.id for h in held}
        for wid in ok:
            self._settle(_sql.wallet.name, wid, [f for f in findings if f.key == wid])
        for f in findings:
            if f.key not in ok:
                self._settle(f.table, f.key, [f])
        return held

    def wallet(self) -> list[dict[str, Any]]:
        """What this node holds: id, type, format, issuer, subject and when it was stored, read
        from the verified tokens."""
        return [
            {
                "id": h.id,
                "type": h.ctype,
                "format": h.format,
                "issuer": h.issuer,
                "subject": h.subject,
                "storedAt": h.stored_at.isoformat(),
            }
            for h in self._held()
        ]

    def held_token(self, wallet_id: str) -> str:
        t = _sql.wallet
        with UnitOfWork(self.engine, write=False) as uow:
            exists = uow.conn.execute(sa.select(t.c.id).where(t.c.id == wallet_id)).first()
        if exists is None:
            raise NotFound(f"the wallet holds no credential {wallet_id}", rule="POST /v1/credentials/wallet")
        held = self._held([wallet_id])
        if not held:
            refused = next((f for f in self._findings if f.key == wallet_id), None)
            raise CredentialRejected(
                f"held credential {wallet_id} does not verify: {refused.detail if refused else 'refused'}",
                reason=RejectReason.SIGNATURE,
                rule="held credentials are verified at every use",
            )
        return held[0].token

    def held(self, types: Iterable[str] | None = None, *, subject: str | None = None) -> list[str]:
        """Held credentials (tokens) that verify, of ``types`` if given, issued to ``subject`` if
        given (a subject whose keys this node keeps, e.g. a hub's operator); type and subject are
        read from the verified tokens, never from the table's columns."""
        wanted = None if types is None else set(types)
        return [
            h.token
            for h in self._held()
            if (wanted is None or h.ctype in wanted) and (subject is None or h.subject == subject)
        ]

    def present(self, token: str, *, audience: str, nonce: str, disclose: Sequence[str] = ()) -> str:
        """A presentation of a held credential: SD-JWT with chosen disclosures + key binding by
        this node's key, or a ``vp+jwt`` around a ``vc+jwt``."""
        if "~" in token:
            _h, payload = peek(token.split("~", 1)[0])
            jwk = payload.get("cnf", {}).get("jwk")
            key = next((k for k in self.identity.keys if k.public_jwk() == jwk), None)
            if key is None:
                raise InvalidInput(
                    "the credential is bound to a key this node does not hold",
                    field="cnf",
                    rule="RFC 9901 §4.3",
                )
            return present_sd_jwt(token, disclose=disclose, holder_key=key, audience=audience, nonce=nonce)
        return issue_vp_jwt(self.identity, [token], audience=audience, nonce=nonce)

    async def request_certification(
        self,
        certifier: str,
        summary_jws: str,
        *,
        claim: str,
        element: str | None = None,
        threshold: float | None = None,
        framework: str | None = None,
        evidence: Sequence[Mapping[str, Any]] = (),
        hold: bool = True,
        holder: NodeIdentity | None = None,
    ) -> dict[str, Any]:
        """Holder side of flow 5 (docs/architecture.md "Flows"): ask the certifier node ``certifier``
        (its node ``did:web``) to certify ``claim`` from this node's signed upstream summary. The request is
        authenticated by a DCP self-issued token (audience = the certifier's DID), the SD-JWT VC
        is bound to this node's active Ed25519 key, and is kept in the wallet when ``hold``.
        ``holder`` asks for a subject whose keys this node keeps (a hub's hosted operator): its
        summary, its token, its key binding; the credential is kept in this node's wallet."""
        me = holder or self.identity
        if self.client is None:
            raise InvalidInput(
                "certification requests need an HTTPS client",
                field="client",
                rule='nodes talk only over HTTPS (docs/architecture.md "The node")',
            )
        try:
            did = Did(certifier)
            doc_url = did.web_document_url()
        except InvalidIdentifier as exc:
            raise InvalidInput(
                f"certifier {certifier!r} is not a did:web", field="certifier", rule="a certifier node's did:web"
            ) from exc
        if not doc_url.endswith("/.well-known/did.json"):
            raise InvalidInput(
                f"certifier {certifier} is not a node DID (it has a path)",
                field="certifier",
                rule="certification is asked of a certifier node (did:web without a path)",
            )
        url = doc_url[: -len("/.well-known/did.json")] + "/v1/credentials/certify"
        self.fetcher.check_url(url)
        await self.resolver.resolve(certifier)
        token = issue_self_issued_token(me, audience=certifier, bpn=self.bpn if holder is None else None)
        body: dict[str, Any] = {
            "summary": summary_jws.strip(),
            "claim": claim,
            "evidence": [dict(e) for e in evidence],
            "format": "dc+sd-jwt",
            "holderJwk": me.active("Ed25519").public_jwk(),
        }
        for name, value in (("element", element), ("threshold", threshold), ("framework", framework)):
            if value is not None:
                body[name] = value
        try:
            resp = await self.client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"certifier {url} unreachable: {exc}", rule="HTTPS to the certifier") from exc
        if resp.status_code != 201:
            try:
                problem = resp.json()
                detail = str(problem.get("detail") or problem)
            except ValueError:
                problem, detail = {}, resp.text[:300]
            rule = f"certifier {certifier} refused ({resp.status_code})"
            if resp.status_code == 401:
                raise CredentialRejected(f"certifier refused: {detail}", reason=RejectReason.HOLDER, rule=rule)
            cls = _REFUSALS.get(resp.status_code)
            if cls is InvalidInput:
                raise InvalidInput(f"certifier refused: {detail}", field=problem.get("field"), rule=rule)
            raise (cls or UpstreamUnavailable)(f"certifier refused: {detail}", rule=rule)
        issued = resp.json()
        credential = str(issued["credential"])
        out = {k: issued[k] for k in ("id", "type", "format")} | {"credential": credential}
        if hold:
            out["walletId"] = self.hold(credential)
        return out

    async def answer_query(self, authorization: str | None, query: Mapping[str, Any]) -> dict[str, Any]:
        """DCP presentation query: the caller proves itself with a self-issued token whose
        audience is this node; the answer is a ``vp+jwt`` for that caller over the held
        credentials of the requested types issued to this node (SD-JWTs presented with no
        optional disclosure)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise CredentialRejected(
                "Authorization: Bearer <self-issued token> required",
                reason=RejectReason.MALFORMED,
                rule="DCP 1.0 §5.4",
            )
        token = authorization[len("Bearer ") :].strip()
        _h, unverified = peek(token)
        if isinstance(unverified.get("iss"), str):
            await self.resolver.resolve(unverified["iss"])
        caller = verify_self_issued_token(token, audience=self.identity.did, resolver=self.resolver)
        types = scope_types(dict(query))
        # only credentials issued to this node: a hub also keeps its hosted operators' ones
        creds = self.held(types, subject=self.identity.did)
        creds = [present_sd_jwt(c, disclose=()) if "~" in c else c for c in creds]
        return presentation_response(self.identity, creds, audience=caller.did, nonce=caller.jti)
