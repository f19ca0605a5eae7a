"""ledger: every key that verified a received summary is kept, by kid and key digest — a
``key_sha256`` column (SHA-256 of the canonical JWK) in ``ledger_verified_keys``'s primary key, so
a supplier that renews its key and keeps its kid leaves its earlier summaries verifiable

The rows kept so far are copied with ``key_sha256`` '' (a migration has no secrets key to open
them): each is still used to verify, and gets its digest when its kid next arrives.

Revision ID: ledger_0009
Revises: ledger_0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0009"
down_revision = "ledger_0008"
branch_labels = None
depends_on = None


def _keys_table(*, by_digest: bool) -> None:
    """``ledger_verified_keys`` as this revision (by kid and digest) or the one before has it."""
    digest = [sa.Column("key_sha256", sa.String(64), nullable=False)] if by_digest else []
    op.create_table(
        "ledger_verified_keys",
        sa.Column("kid", sa.String(512), nullable=False),
        *digest,
        sa.Column("sealed_jwk", sa.Text, nullable=False),
        sa.Column("verified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("kid", *(["key_sha256"] if by_digest else []), name="pk_ledger_verified_keys"),
    )


def _set_aside() -> None:
    """The current table renamed ``ledger_verified_keys_old``, without the names the new one takes."""
    op.rename_table("ledger_verified_keys", "ledger_verified_keys_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and its index) names are per schema
        op.drop_constraint("pk_ledger_verified_keys", "ledger_verified_keys_old", type_="primary")


def _rebuild(*, by_digest: bool, copy: str) -> None:
    """The table rebuilt in the shape ``by_digest`` names, its rows brought over by ``copy`` (an
    ``INSERT ... SELECT`` from ``ledger_verified_keys_old``)."""
    _set_aside()
    _keys_table(by_digest=by_digest)
    op.execute(copy)
    op.drop_table("ledger_verified_keys_old")


def upgrade() -> None:
    _rebuild(
        by_digest=True,
        copy="INSERT INTO ledger_verified_keys (kid, key_sha256, sealed_jwk, verified_at) "
        "SELECT kid, '', sealed_jwk, verified_at FROM ledger_verified_keys_old",
    )


def downgrade() -> None:
    """Back to one key per kid: the one that verified last."""
    _rebuild(
        by_digest=False,
        copy="INSERT INTO ledger_verified_keys (kid, sealed_jwk, verified_at) "
        "SELECT o.kid, o.sealed_jwk, o.verified_at FROM ledger_verified_keys_old o "
        "WHERE NOT EXISTS (SELECT 1 FROM ledger_verified_keys_old n WHERE n.kid = o.kid AND "
        "(n.verified_at > o.verified_at OR (n.verified_at = o.verified_at AND n.key_sha256 > o.key_sha256)))",
    )
