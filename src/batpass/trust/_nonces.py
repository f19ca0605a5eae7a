"""Single-use nonces this node hands out (``GET /v1/auth/nonce``) and consumes when a
presentation addressed to it arrives, so a replayed presentation fails.

The node's ``NonceStore`` (``_dcp.py``). Knows the nonce table only.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from batpass.store import UnitOfWork
from batpass.trust import _sql
from batpass.trust._context import TrustContext
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason

__all__ = ["Nonces"]


class Nonces:
    def __init__(self, context: TrustContext) -> None:
        self.context = context

    def issue_nonce(self, *, audience: str | None = None, ttl_s: int = 300) -> str:
        nonce = secrets.token_urlsafe(24)
        now = self.context.clock.now()
        with UnitOfWork(self.context.engine) as uow:
            uow.conn.execute(
                _sql.nonces.insert().values(
                    nonce=nonce,
                    audience=audience or self.context.identity.did,
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
        now = self.context.clock.now()
        t = _sql.nonces
        with UnitOfWork(self.context.engine) as uow:
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
