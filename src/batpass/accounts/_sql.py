"""The accounts tables: ``accounts_users`` (name, role, operator scope, argon2 hash),
``accounts_sessions`` (keyed by the SHA-256 of the session id, never the id), ``accounts_audit``
(append-only: rows are inserted, never updated or deleted) and ``accounts_alert_states`` (where
each ledger alert stands for the people handling it).

Knows the shared metadata; no HTTP.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from batpass.store import UTCDateTime, metadata

__all__ = ["alert_states", "audit", "sessions", "users"]

users = Table(
    "accounts_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("operator", String(255), nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "accounts_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

audit = Table(
    "accounts_audit",
    metadata,
    Column("id", String(36), primary_key=True),  # UUIDv7: ordered by time
    Column("at", UTCDateTime, nullable=False),
    Column("user_name", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_accounts_audit_action_target", "action", "target"),
)

alert_states = Table(
    "accounts_alert_states",
    metadata,
    Column("alert", String(255), primary_key=True),  # "outflow:<owner>:<id>" or "double-claim:<account>"
    Column("state", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
