"""The node as a relying party: it verifies credentials and presentations through its trust
lists and recognition policy, the passport tiers' role presentations (consuming the nonce it
handed out), and DCP participants for its connector.

Holds the node's one DCP participant verifier. Knows no table but through the nonces.
"""

from __future__ import annotations

from typing import Any

from batpass.core.errors import InvalidInput
from batpass.trust._context import TrustContext
from batpass.trust._dcp import DcpParticipantVerifier, verify_role_presentation
from batpass.trust._jose import peek
from batpass.trust._nonces import Nonces
from batpass.trust.model import Verification, VerifiedRoles

__all__ = ["RelyingParty"]


class RelyingParty:
    def __init__(self, context: TrustContext, nonces: Nonces) -> None:
        self.context = context
        self.nonces = nonces
        self._participants: DcpParticipantVerifier | None = None

    async def verify(self, token: str, **kw: Any) -> Verification:
        return await self.context.verifier.averify(token.strip(), **kw)

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
        v = await self.context.verifier.averify(
            token,
            require_type=require_type,
            audience=audience,
            nonce=nonce,
            require_key_binding=key_bound,
            status_max_age_s=status_max_age_s,
        )
        if key_bound and audience == self.context.identity.did:
            kb_nonce = peek(token.rsplit("~", 1)[1])[1].get("nonce")
            self.nonces.consume(str(kb_nonce), audience=audience)
        return v

    async def verify_role_presentation(self, token: str) -> VerifiedRoles:
        return await verify_role_presentation(
            token, audience_did=self.context.identity.did, nonce_store=self.nonces, verifier=self.context.verifier
        )

    async def roles_for(self, bearer_token: str | None) -> frozenset[str]:
        """The passport package's ``RoleVerifier`` port: no token → no role; a bad one raises."""
        if not bearer_token:
            return frozenset()
        return (await self.verify_role_presentation(bearer_token)).roles

    def participant_verifier(self) -> DcpParticipantVerifier:
        """The node's one DCP participant verifier (it keeps verified presentations briefly)."""
        ctx = self.context
        if ctx.client is None:
            raise InvalidInput("the participant verifier needs an HTTPS client", field="client", rule="DCP 1.0")
        if self._participants is None:
            self._participants = DcpParticipantVerifier(ctx.identity, ctx.verifier, ctx.client, bpn=ctx.bpn)
        return self._participants
