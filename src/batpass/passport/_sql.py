"""The passport's tables on the shared metadata (SQLAlchemy Core; same SQL on SQLite and
PostgreSQL). Knows nothing of HTTP. Matches ``_migrations/0001_passport.py`` exactly.

- ``passport_passports``: the current state of each passport (one row, the latest record), the
  battery identifier it resolves from, status and ``ended`` (recycled: archived, still resolving);
- ``passport_versions``: every signed version (compact JWS), hash-chained (``prev_digest``);
  never updated or deleted;
- ``passport_links``: predecessor -> successor passports (repurposing, re-use, remanufacturing);
- ``passport_mandates``: written mandates from the responsible operator (Art. 77(4));
- ``passport_audit``: reads of restricted tiers;
- ``passport_backups``: signed copies held for other nodes (this node as their backup);
- ``passport_backup_heads``: the newest copy held per passport, signed by this node.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Index, Integer, String, Table, Text, UniqueConstraint

from batpass.store import UTCDateTime, metadata

__all__ = ["audit", "backup_heads", "backups", "links", "mandates", "passports", "versions"]

passports = Table(
    "passport_passports",
    metadata,
    Column("passport_id", String(36), primary_key=True),
    Column("gtin", String(14), nullable=False),
    Column("serial", String(20), nullable=False),
    Column("category", String(16), nullable=False),
    Column("model_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ended", Boolean, nullable=False),
    Column("operator", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("record", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("gtin", "serial", name="uq_passport_passports_battery"),
)

versions = Table(
    "passport_versions",
    metadata,
    Column("passport_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("jws", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_digest", String(64), nullable=True),
    Column("actor", Text, nullable=False),
    Column("change", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

links = Table(
    "passport_links",
    metadata,
    Column("predecessor", String(36), primary_key=True),
    Column("successor", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mandates = Table(
    "passport_mandates",
    metadata,
    Column("mandate_id", String(36), primary_key=True),
    Column("passport_id", String(36), nullable=False),
    Column("mandator", Text, nullable=False),
    Column("mandatee", Text, nullable=False),
    Column("scope", JSON, nullable=False),
    Column("document", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_passport_mandates_passport", mandates.c.passport_id)

audit = Table(
    "passport_audit",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("passport_id", String(36), nullable=False),
    Column("tiers", JSON, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
)
Index("ix_passport_audit_passport", audit.c.passport_id)

backups = Table(
    "passport_backups",
    metadata,
    Column("passport_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("issuer", Text, nullable=False),
    Column("jws", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # the battery (the backup node answers its Digital Link from the copy; null: a malformed old copy)
    Column("gtin", String(14)),
    Column("serial", String(20)),
    # the operator's public key the signature was checked with on arrival (null: held before 0003)
    Column("signer_jwk", JSON),
    Index("ix_passport_backups_battery", "gtin", "serial"),
)

#: the newest copy held per passport, signed by this node: ``{passportId, version, digest}``
backup_heads = Table(
    "passport_backup_heads",
    metadata,
    Column("passport_id", String(36), primary_key=True),
    Column("jws", Text, nullable=False),
)
