"""accounts: console users, sessions, the audit log and alert states

Revision ID: accounts_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "accounts_0001"
down_revision = None
branch_labels = ("accounts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts_users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_accounts_users"),
    )
    op.create_table(
        "accounts_sessions",
        sa.Column("id_sha256", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id_sha256", name="pk_accounts_sessions"),
    )
    op.create_index("ix_accounts_sessions_user_name", "accounts_sessions", ["user_name"])
    op.create_table(
        "accounts_audit",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("user_name", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts_audit"),
    )
    op.create_index("ix_accounts_audit_action_target", "accounts_audit", ["action", "target"])
    op.create_table(
        "accounts_alert_states",
        sa.Column("alert", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("alert", name="pk_accounts_alert_states"),
    )


def downgrade() -> None:
    op.drop_table("accounts_alert_states")
    op.drop_index("ix_accounts_audit_action_target", table_name="accounts_audit")
    op.drop_table("accounts_audit")
    op.drop_index("ix_accounts_sessions_user_name", table_name="accounts_sessions")
    op.drop_table("accounts_sessions")
    op.drop_table("accounts_users")
