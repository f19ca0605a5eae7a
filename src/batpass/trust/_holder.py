"""The node as a holder: its wallet of received credentials (each kept with the node's signed
record of the token and the issuer key it verified with, and verified again at every use), the
presentations it makes of them, the certification it asks of a certifier node (flow 5,
docs/architecture.md "Flows") and its answers to DCP presentation queries.

Knows the wallet table; knows nothing of issuing, trust lists or nonces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
import sqlalchemy as sa

from batpass.core.errors import (
    BatpassError,
    Conflict,
    Forbidden,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    UpstreamUnavailable,
)
from batpass.core.ids import Did, new_uuid7
from batpass.store import UnitOfWork
from batpass.trust import _sql, _stored
from batpass.trust._context import TrustContext
from batpass.trust._dcp import (
    issue_self_issued_token,
    presentation_response,
    scope_types,
    verify_self_issued_token,
)
from batpass.trust._jose import peek, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust._sdjwt import present_sd_jwt
from batpass.trust._vc import issue_vp_jwt
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason, SelfIssued

__all__ = ["Holder"]

#: how a certifier's refusal maps back onto our error tree when a holder relays it
_REFUSALS: dict[int, type[BatpassError]] = {400: InvalidInput, 403: Forbidden, 404: NotFound, 409: Conflict}


class Holder:
    def __init__(self, context: TrustContext) -> None:
        self.context = context

    def hold(self, token: str) -> str:
        """Keep a credential this node received (for presentations and DCP queries). Its
        signature is verified with its issuer's DID key (resolved, if not cached, over the
        node's guarded HTTPS client); the node signs a record of the token and that key, so the
        token is verified again, offline, whenever it is used."""
        ctx = self.context
        token = token.strip()
        try:
            fmt, ctype, issuer, header, _payload = _stored.describe_credential(token)
        except CredentialRejected as exc:
            raise InvalidInput("not a credential batpass can hold", field="token", rule="vc+jwt or dc+sd-jwt") from exc
        kid = header.get("kid")
        try:
            vm = ctx.resolver.method(str(kid), controller=issuer)
            verify_compact(token.split("~", 1)[0], vm.jwk, typ=None)
        except CredentialRejected as exc:
            raise InvalidInput(
                f"the credential does not verify with its issuer's key: {exc.message}",
                field="credential",
                rule="a held credential is signed by a verification method of its issuer's DID",
            ) from exc
        wid = str(new_uuid7())
        now = ctx.clock.now()
        with UnitOfWork(ctx.engine) as uow:
            uow.conn.execute(
                _sql.wallet.insert().values(
                    id=wid,
                    format=fmt,
                    ctype=ctype,
                    issuer=issuer,
                    token=token,
                    stored_at=now,
                    attestation=_stored.held_attestation(ctx.identity, wid, token, kid=vm.id, jwk=vm.jwk, now=now),
                )
            )
            uow.commit()
        return wid

    def _held(self, ids: Iterable[str] | None = None) -> list[_stored.HeldCredential]:
        """The wallet entries whose token verifies (against the record the node signed when it
        kept it); the others are findings and are never presented."""
        findings = self.context.findings
        with UnitOfWork(self.context.engine, write=False) as uow:
            held, found = _stored.read_wallet(uow.conn, self.context.identity, ids=ids)
        ok = {h.id for h in held}
        for wid in ok:
            findings.settle(_sql.wallet.name, wid, [f for f in found if f.key == wid])
        for f in found:
            if f.key not in ok:
                findings.settle(f.table, f.key, [f])
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
        with UnitOfWork(self.context.engine, write=False) as uow:
            exists = uow.conn.execute(sa.select(t.c.id).where(t.c.id == wallet_id)).first()
        if exists is None:
            raise NotFound(f"the wallet holds no credential {wallet_id}", rule="POST /v1/credentials/wallet")
        held = self._held([wallet_id])
        if not held:
            refused = self.context.findings.about(wallet_id)
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
        identity = self.context.identity
        if "~" in token:
            _h, payload = peek(token.split("~", 1)[0])
            jwk = payload.get("cnf", {}).get("jwk")
            key = next((k for k in identity.keys if k.public_jwk() == jwk), None)
            if key is None:
                raise InvalidInput(
                    "the credential is bound to a key this node does not hold",
                    field="cnf",
                    rule="RFC 9901 §4.3",
                )
            return present_sd_jwt(
                token, disclose=disclose, holder_key=key, audience=audience, nonce=nonce, iat=self.context.clock.now()
            )
        return issue_vp_jwt(identity, [token], audience=audience, nonce=nonce, now=self.context.clock.now())

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
        ctx = self.context
        me = holder or ctx.identity
        if ctx.client is None:
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
        ctx.fetcher.check_url(url)
        await ctx.resolver.resolve(certifier)
        token = issue_self_issued_token(
            me, audience=certifier, bpn=ctx.bpn if holder is None else None, now=ctx.clock.now()
        )
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
            resp = await ctx.client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
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
        return self.answer_query_of(await self.query_caller(authorization), query)

    async def query_caller(self, authorization: str | None) -> SelfIssued:
        """The verified caller of a presentation query (its self-issued token, audience this node)."""
        ctx = self.context
        if not authorization or not authorization.startswith("Bearer "):
            raise CredentialRejected(
                "Authorization: Bearer <self-issued token> required",
                reason=RejectReason.MALFORMED,
                rule="DCP 1.0 §5.4",
            )
        token = authorization[len("Bearer ") :].strip()
        header, unverified = peek(token)
        if isinstance(unverified.get("iss"), str):  # a key the cached document lacks: fetched again
            await ctx.resolver.resolve(unverified["iss"], kid=header.get("kid"))
        return verify_self_issued_token(token, audience=ctx.identity.did, resolver=ctx.resolver, now=ctx.clock.now())

    def answer_query_of(self, caller: SelfIssued, query: Mapping[str, Any]) -> dict[str, Any]:
        """The presentation for a verified caller (see :meth:`answer_query`)."""
        ctx = self.context
        types = scope_types(dict(query))
        # only credentials issued to this node: a hub also keeps its hosted operators' ones
        creds = self.held(types, subject=ctx.identity.did)
        creds = [present_sd_jwt(c, disclose=()) if "~" in c else c for c in creds]
        return presentation_response(ctx.identity, creds, audience=caller.did, nonce=caller.jti, now=ctx.clock.now())
