"""Tables of the trust capability on the shared metadata (SQLAlchemy Core; same SQL on SQLite
and PostgreSQL). The migrations ``_migrations/0001_trust.py`` and ``0002_signed_store.py`` create
exactly these.

What the node relies on is kept in its signed form (docs/trust-lists.md "Stored signed"): a
trust list's ``jws`` (by its operator), and ``attestation`` (a record signed by this node's own
key, ``_records.py``) on the rows the node authors — its acceptance of a list, its pinned
operator keys, its recognition policy, its wallet entries. ``body`` and the other plain columns
are a cache for reading the database by hand; the service never trusts them over the
signatures."""

from __future__ import annotations

import sqlalchemy as sa

from batpass.store import UTCDateTime, metadata

__all__ = ["issued", "nonces", "pinned_keys", "policies", "status_lists", "trust_lists", "used_tokens", "wallet"]

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

#: verified trust lists, one per ecosystem: the operator's JWS is what counts (verified against
#: the pinned keys on every load); ``body`` is a cache; ``attestation`` is this node's signed
#: acceptance (ecosystem, operator, sequence, digest of the JWS), so no older list can be put back
trust_lists = sa.Table(
    "trust_lists",
    metadata,
    sa.Column("ecosystem", sa.String(32), primary_key=True),
    sa.Column("operator", sa.Text, nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("jws", sa.Text, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
    sa.Column("attestation", sa.Text, nullable=True),
)

#: ecosystem operators' public keys, pinned when a list they signed was first accepted (or a
#: rotation was accepted through their DID document); stored lists verify against these offline
pinned_keys = sa.Table(
    "trust_pinned_keys",
    metadata,
    sa.Column("operator", sa.Text, primary_key=True),
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("jwk", sa.JSON, nullable=False),
    sa.Column("pinned_at", UTCDateTime, nullable=False),
    sa.Column("retired_at", UTCDateTime, nullable=True),
    sa.Column("attestation", sa.Text, nullable=False),
)

#: the mutual-recognition policy of this node's ecosystem
policies = sa.Table(
    "trust_policies",
    metadata,
    sa.Column("ecosystem", sa.String(32), primary_key=True),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("attestation", sa.Text, nullable=True),
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
    sa.Column("attestation", sa.Text, nullable=True),
)
sa.Index("ix_trust_wallet_ctype", wallet.c.ctype)

#: self-issued tokens already used for a write, until they expire (trust_0003)
used_tokens = sa.Table(
    "trust_used_tokens",
    metadata,
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("jti", sa.String(256), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("issuer", "jti", name="pk_trust_used_tokens"),
)
sa.Index("ix_trust_used_tokens_expires", used_tokens.c.expires_at)
