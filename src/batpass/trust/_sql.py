"""Tables of the trust capability on the shared metadata (SQLAlchemy Core; same SQL on SQLite
and PostgreSQL). The migration ``_migrations/0001_trust.py`` creates exactly these."""

from __future__ import annotations

import sqlalchemy as sa

from batpass.store import UTCDateTime, metadata

__all__ = ["issued", "nonces", "policies", "status_lists", "trust_lists", "wallet"]

#: credentials this node issued (no token kept: the holder keeps it), with their status slot
issued = sa.Table(
    "trust_issued",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("ctype", sa.String(80), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("holder", sa.Text, nullable=True),
    sa.Column("status_list", sa.String(36), nullable=False),
    sa.Column("status_index", sa.Integer, nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("valid_until", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("summary_digest", sa.String(80), nullable=True),
)

#: Bitstring Status Lists this node publishes (W3C Bitstring Status List v1.0)
status_lists = sa.Table(
    "trust_status_lists",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("size_bits", sa.Integer, nullable=False),
    sa.Column("next_index", sa.Integer, nullable=False),
    sa.Column("bits", sa.LargeBinary, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: single-use nonces handed out by GET /v1/auth/nonce
nonces = sa.Table(
    "trust_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("audience", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

#: verified trust lists, one per ecosystem (the signed JWS kept as evidence)
trust_lists = sa.Table(
    "trust_lists",
    metadata,
    sa.Column("ecosystem", sa.String(32), primary_key=True),
    sa.Column("operator", sa.Text, nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("jws", sa.Text, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)

#: the mutual-recognition policy of this node's ecosystem
policies = sa.Table(
    "trust_policies",
    metadata,
    sa.Column("ecosystem", sa.String(32), primary_key=True),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: credentials this node holds (its wallet), answered through /dcp/presentations/query
wallet = sa.Table(
    "trust_wallet",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("ctype", sa.String(80), nullable=False),
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)
sa.Index("ix_trust_wallet_ctype", wallet.c.ctype)
