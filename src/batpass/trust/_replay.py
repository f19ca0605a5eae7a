"""Self-issued tokens used for a write are single-use within their lifetime: each one's ``jti`` is
kept (with its issuer) in the database until the token expires, so a replay is refused — also when
it reaches another worker of the node. Expired entries are dropped as new ones arrive.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict
from batpass.store import UnitOfWork
from batpass.trust import _sql
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason, SelfIssued

__all__ = ["UsedTokens"]


class UsedTokens:
    """The single-use register of self-issued tokens for writes."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()

    def consume(self, token: SelfIssued) -> None:
        """Mark ``token`` used; a token used before is refused (401, ``nonce-replayed``)."""
        now = self.clock.now()
        try:
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(delete(_sql.used_tokens).where(_sql.used_tokens.c.expires_at < now))
                uow.conn.execute(insert(_sql.used_tokens).values(issuer=token.did, jti=token.jti, expires_at=token.exp))
                uow.commit()
        except Conflict as exc:  # the (issuer, jti) key is taken: this token was used already
            raise CredentialRejected(
                f"self-issued token {token.jti} of {token.did} was already used for a write",
                reason=RejectReason.NONCE_REPLAYED,
                rule="single-use self-issued tokens for writes (jti; RFC 7519 §4.1.7)",
            ) from exc
