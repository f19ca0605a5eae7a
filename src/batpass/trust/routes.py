"""HTTP routes of the trust capability (docs/architecture.md "URL layout"): credentials, nonces, status lists, trust
lists and policy under ``/v1``; the DCP credential service under ``/dcp``.

Thin: every route calls :class:`TrustService`. Errors on ``/v1`` become problem details (the
node's handler); ``/dcp/`` answers in the shape of :data:`ERROR_SHAPES`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.responses import Response as StarletteResponse

from batpass.core.errors import BatpassError, InvalidIdentifier, InvalidInput
from batpass.core.ids import Did
from batpass.core.limits import MAX_JWS
from batpass.http import AdminKey, Ctx, Document, Items, Jws, OpenRequestModel, RequestModel, Token, guard
from batpass.trust._dcp import issue_self_issued_token, verify_self_issued_token
from batpass.trust._jose import peek
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import SelfIssued
from batpass.trust.service import TrustService

__all__ = ["ERROR_SHAPES", "router"]

router = APIRouter(tags=["trust"])

#: lifetime of the self-issued tokens ``POST /v1/auth/self-issued`` gives out (seconds)
SELF_ISSUED_TTL_S = 300


class IssueRequest(RequestModel):
    type: Token
    subject: Document = Field(description="the credential subject's claims")
    format: str = Field(default="vc+jwt", max_length=32)
    holder_jwk: Document | None = Field(default=None, alias="holderJwk", description="the holder's public JWK")
    disclosable: Items[Token] = Field(default=[])
    valid_for_days: int = Field(default=365, alias="validForDays", ge=1, le=3650)


class VerifyRequest(RequestModel):
    credential: Jws
    require_type: str | None = Field(default=None, alias="requireType")
    audience: str | None = None
    nonce: str | None = None
    status_max_age_s: float | None = Field(
        default=None,
        alias="statusMaxAgeS",
        ge=0,
        description="refuse status lists cached longer ago than this; they are fetched again",
    )


class PresentRequest(RequestModel):
    """A held credential (``walletId``) or one given as ``credential``, presented to
    ``audience`` with the verifier's ``nonce``, disclosing only the claim paths in ``disclose``."""

    wallet_id: str | None = Field(default=None, alias="walletId")
    credential: Jws | None = None
    audience: str = Field(min_length=1)
    nonce: str = Field(min_length=1)
    disclose: Items[Token] = Field(default=[])


class CertificationRequest(RequestModel):
    """Holder side: ask the certifier node ``certifier`` (its did:web) to certify a claim."""

    certifier: str = Field(min_length=1)
    summary: Jws
    claim: str
    element: str | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    framework: str | None = None
    evidence: Items[Document] = Field(default=[])
    hold: bool = True


class CertifyRequest(RequestModel):
    summary: Jws
    claim: str
    element: str | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    framework: str | None = None
    evidence: Items[Document] = Field(default=[])
    format: str = Field(default="dc+sd-jwt", max_length=32)
    holder_jwk: Document | None = Field(default=None, alias="holderJwk")


class SelfIssuedRequest(RequestModel):
    """``audience``: the DID of the node the token will be presented to."""

    audience: str = Field(min_length=1)


class TrustListRequest(RequestModel):
    ecosystem: Token
    jws: Jws


class TrustListIn(OpenRequestModel):
    """A trust list to sign (docs/trust-lists.md; checked against ``trust-list.schema.json``,
    which refuses members not named here)."""

    trust_list_version: str | None = Field(default=None, alias="trustListVersion", max_length=8, description="1.0")
    ecosystem: Token | None = Field(default=None, description="the ecosystem the list is for (e.g. catena-x)")
    operator: Token | None = Field(default=None, description="the ecosystem operator's DID: this node")
    sequence: int | None = Field(default=None, ge=1, description="increases with every list the operator signs")
    issued_at: Token | None = Field(default=None, alias="issuedAt", description="RFC 3339 date-time")
    next_update: Token | None = Field(default=None, alias="nextUpdate", description="RFC 3339 date-time")
    issuers: Items[Document] | None = Field(
        default=None, description="trusted issuers: {did, name, credentialTypes, validFrom?, validUntil?}"
    )


class PolicyIn(OpenRequestModel):
    """A mutual-recognition policy (checked against ``recognition-policy.schema.json``)."""

    ecosystem: Token | None = Field(default=None, description="this node's ecosystem")
    rules: Items[Document] | None = Field(
        default=None, description="rules: {id, fromEcosystem, credentialType, acceptedAs, where?, label?}"
    )


class PresentationQueryIn(OpenRequestModel):
    """A DCP 1.0 PresentationQueryMessage (§5.4.1); batpass answers ``scope`` queries."""

    context: Items[Token] | None = Field(default=None, alias="@context", description="JSON-LD contexts")
    type: Token | None = Field(default=None, description="PresentationQueryMessage")
    scope: Items[Token] | None = Field(default=None, description="the credential types asked for (scope strings)")
    presentation_definition: Document | None = Field(
        default=None, alias="presentationDefinition", description="not supported: use scope"
    )


def _svc(ctx: Ctx) -> TrustService:
    return ctx.service(TrustService)


@router.get("/v1/auth/nonce")
def get_nonce(ctx: Ctx) -> dict[str, Any]:
    """A single-use nonce for a role presentation whose audience is this node's DID."""
    svc = _svc(ctx)
    return {"nonce": svc.issue_nonce(), "audience": svc.identity.did, "expiresIn": 300}


@router.post("/v1/auth/self-issued", status_code=201)
def self_issued(ctx: Ctx, _admin: AdminKey, req: SelfIssuedRequest) -> dict[str, Any]:
    """A DCP self-issued ID token of this node for ``audience`` (DCP 1.0 §4.3: ``iss`` = ``sub`` =
    this node's DID, ``aud``, ``jti``, ``iat``, ``exp`` 300 s later; signed with its active Ed25519
    key), so this node's operator can act on another node's ``/v1`` write routes."""
    svc = _svc(ctx)
    try:
        audience = Did(req.audience.strip())
    except InvalidIdentifier as exc:
        raise InvalidInput(
            f"audience: '{req.audience}' is not a DID", field="audience", rule="DCP 1.0 §4.3.1 (aud = a DID)"
        ) from exc
    token = issue_self_issued_token(svc.identity, audience=str(audience), bpn=svc.bpn, ttl_s=SELF_ISSUED_TTL_S)
    return {"token": token, "issuer": svc.identity.did, "audience": str(audience), "expiresIn": SELF_ISSUED_TTL_S}


@router.post("/v1/credentials/issue", status_code=201)
def issue(ctx: Ctx, _admin: AdminKey, req: IssueRequest) -> dict[str, Any]:
    c = _svc(ctx).issue(
        req.type,
        req.subject,
        format=req.format,
        holder_jwk=req.holder_jwk,
        disclosable=req.disclosable,
        valid_for=dt.timedelta(days=req.valid_for_days),
    )
    return {"id": c.id, "type": c.ctype, "format": c.format, "credential": c.token}


@router.post("/v1/credentials/verify")
async def verify(ctx: Ctx, req: VerifyRequest) -> dict[str, Any]:
    """For partners: the verdict with its chain of reasons (200 either way)."""
    try:
        v = await _svc(ctx).verify_presented(
            req.credential,
            require_type=req.require_type,
            audience=req.audience,
            nonce=req.nonce,
            status_max_age_s=req.status_max_age_s,
        )
    except CredentialRejected as exc:
        return {
            "verified": False,
            "reason": exc.reason,
            "detail": exc.message,
            "rule": exc.rule,
            **({"field": exc.details["field"]} if "field" in exc.details else {}),
            "checks": [c.as_dict() for c in exc.checks],
        }
    return v.as_dict()


@guard
async def _holder(request: Request, ctx: Ctx) -> str:
    """The DID of a holder asking for certification: its self-issued token (audience = this
    node), verified before the body is read."""
    svc = _svc(ctx)
    authorization = request.headers.get("authorization")
    if not authorization or not authorization.startswith("Bearer "):
        raise CredentialRejected(
            "Authorization: Bearer <self-issued token> required", reason="malformed", rule="DCP 1.0 §4.3"
        )
    token = authorization[len("Bearer ") :].strip()
    header, payload = peek(token)
    iss = payload.get("iss")
    if isinstance(iss, str):  # a key the cached document lacks: fetched again
        await svc.resolver.resolve(iss, kid=header.get("kid"))
    return verify_self_issued_token(token, audience=svc.identity.did, resolver=svc.resolver).did


@guard
async def _query_caller(request: Request, ctx: Ctx) -> SelfIssued:
    """The verified caller of a DCP presentation query, before its body is read."""
    return await _svc(ctx).holder.query_caller(request.headers.get("authorization"))


@router.post("/v1/credentials/certify", status_code=201)
async def certify(ctx: Ctx, holder: Annotated[str, Depends(_holder)], req: CertifyRequest) -> dict[str, Any]:
    """A holder asks this certifier to certify a claim computed from its signed upstream
    summary; the holder proves who it is with a self-issued token (audience = this node)."""
    svc = _svc(ctx)
    c = await svc.certify(
        req.summary,
        holder=holder,
        claim=req.claim,
        element=req.element,
        threshold=req.threshold,
        framework=req.framework,
        evidence=req.evidence,
        format=req.format,
        holder_jwk=req.holder_jwk,
    )
    return {"id": c.id, "type": c.ctype, "format": c.format, "credential": c.token}


@router.post("/v1/credentials/certification-requests", status_code=201)
async def request_certification(ctx: Ctx, _admin: AdminKey, req: CertificationRequest) -> dict[str, Any]:
    """Holder side of certification: this node asks ``certifier`` over HTTPS (self-issued token,
    holder key binding) and keeps the SD-JWT VC it gets in its wallet."""
    return await _svc(ctx).request_certification(
        req.certifier,
        req.summary,
        claim=req.claim,
        element=req.element,
        threshold=req.threshold,
        framework=req.framework,
        evidence=req.evidence,
        hold=req.hold,
    )


@router.post("/v1/credentials/present")
def present(ctx: Ctx, _admin: AdminKey, req: PresentRequest) -> dict[str, Any]:
    """Holder side: a presentation of a held credential — an SD-JWT with only the chosen
    disclosures and key binding by this node's key, or a ``vp+jwt`` around a ``vc+jwt``."""
    svc = _svc(ctx)
    if (req.wallet_id is None) == (req.credential is None):
        raise InvalidInput("give exactly one of walletId and credential", field="walletId", rule="one credential")
    token = svc.held_token(req.wallet_id) if req.wallet_id is not None else str(req.credential).strip()
    p = svc.present(token, audience=req.audience, nonce=req.nonce, disclose=req.disclose)
    return {"format": "dc+sd-jwt" if "~" in p else "vp+jwt", "presentation": p}


@router.post("/v1/credentials/{credential_id}/revoke", status_code=204)
def revoke(ctx: Ctx, _admin: AdminKey, credential_id: str) -> Response:
    _svc(ctx).revoke(credential_id)
    return Response(status_code=204)


@router.get("/v1/credentials/issued")
def issued(ctx: Ctx, _admin: AdminKey) -> list[dict[str, Any]]:
    return _svc(ctx).issued()


@router.get("/v1/credentials/status/{list_id}")
def status_list(ctx: Ctx, list_id: str) -> Response:
    """The signed Bitstring Status List credential (``application/vc+jwt``)."""
    return Response(
        _svc(ctx).status_list_token(list_id),
        media_type="application/vc+jwt",
        headers={"Cache-Control": "max-age=300"},
    )


@router.get("/v1/credentials/token-status/{list_id}")
def token_status_list(ctx: Ctx, list_id: str) -> Response:
    """The same list as an IETF Token Status List (``application/statuslist+jwt``,
    draft-ietf-oauth-status-list-20 §8.2), the status of the SD-JWT VCs this node issues. Readable
    cross-origin (§8.1 CORS); cacheable for the token's ``ttl``."""
    return Response(
        _svc(ctx).token_status_token(list_id),
        media_type="application/statuslist+jwt",
        headers={"Cache-Control": "max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.post("/v1/credentials/wallet", status_code=201)
def hold(
    ctx: Ctx, _admin: AdminKey, credential: Annotated[str, Body(embed=True, max_length=MAX_JWS)]
) -> dict[str, str]:
    return {"id": _svc(ctx).hold(credential)}


@router.get("/v1/credentials/wallet")
def wallet(ctx: Ctx, _admin: AdminKey) -> list[dict[str, Any]]:
    """What this node holds (ids for ``/v1/credentials/present``), without the tokens."""
    return _svc(ctx).wallet()


@router.get("/v1/trust/lists")
def trust_lists(ctx: Ctx) -> list[dict[str, Any]]:
    return [tl.to_json() for tl in _svc(ctx).trust_lists()]


@router.post("/v1/trust/lists", status_code=201)
async def add_trust_list(ctx: Ctx, _admin: AdminKey, req: TrustListRequest) -> dict[str, Any]:
    return (await _svc(ctx).add_trust_list(req.jws, ecosystem=req.ecosystem)).to_json()


@router.post("/v1/trust/lists/sign", status_code=201)
def sign_list(ctx: Ctx, _admin: AdminKey, body: TrustListIn) -> dict[str, Any]:
    """This node as its ecosystem's operator signs a trust list (``docs/trust-lists.md``); the
    JWS is then loaded by every node through ``POST /v1/trust/lists``."""
    jws = _svc(ctx).sign_trust_list(body.wire())
    return {"ecosystem": body.ecosystem, "sequence": body.sequence, "jws": jws}


@router.get("/v1/trust/policy")
def get_policy(ctx: Ctx) -> dict[str, Any]:
    return _svc(ctx).registry.policy.to_json()


@router.put("/v1/trust/policy")
def put_policy(ctx: Ctx, _admin: AdminKey, body: PolicyIn) -> dict[str, Any]:
    return _svc(ctx).set_policy(body.wire()).to_json()


@router.post("/dcp/presentations/query")
async def presentations_query(
    ctx: Ctx, caller: Annotated[SelfIssued, Depends(_query_caller)], body: PresentationQueryIn
) -> dict[str, Any]:
    """DCP 1.0 §5.4: a provider asks this node (as holder) for a presentation (the caller's
    self-issued token is checked before the body)."""
    return _svc(ctx).holder.answer_query_of(caller, body.wire())


def _dcp_error(err: BatpassError) -> StarletteResponse:
    """DCP 1.0 defines status codes, not an error body; batpass adds the OAuth-style pair."""
    body = {"error": getattr(err, "reason", err.kind), "error_description": err.message}
    return JSONResponse(body, status_code=err.status)


ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {"/dcp/": _dcp_error}
