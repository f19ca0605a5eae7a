"""passport: each held backup copy names its battery (so the backup node answers the battery's
GS1 Digital Link from it) and records the operator's public key its signature was checked with on
arrival (so it is checked again when served, also while the operator's node — the host of its DID
document — is down)

Revision ID: passport_0003
Revises: passport_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import base64
import json

import sqlalchemy as sa
from alembic import op

revision = "passport_0003"
down_revision = "passport_0002"
branch_labels = None
depends_on = None


def _battery(jws: str) -> tuple[str | None, str | None]:
    try:
        part = jws.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        battery = payload["passport"]["battery"]
        return str(battery["gtin"]), str(battery["serial"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None, None


def upgrade() -> None:
    with op.batch_alter_table("passport_backups") as batch:
        batch.add_column(sa.Column("gtin", sa.String(14), nullable=True))
        batch.add_column(sa.Column("serial", sa.String(20), nullable=True))
        batch.add_column(sa.Column("signer_jwk", sa.JSON, nullable=True))
    op.create_index("ix_passport_backups_battery", "passport_backups", ["gtin", "serial"])
    table = sa.table(
        "passport_backups",
        sa.column("passport_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("jws", sa.Text),
        sa.column("gtin", sa.String),
        sa.column("serial", sa.String),
    )
    conn = op.get_bind()
    for row in conn.execute(sa.select(table.c.passport_id, table.c.version, table.c.jws)).all():
        gtin, serial = _battery(row.jws)
        conn.execute(
            table.update()
            .where(table.c.passport_id == row.passport_id, table.c.version == row.version)
            .values(gtin=gtin, serial=serial)
        )


def downgrade() -> None:
    op.drop_index("ix_passport_backups_battery", table_name="passport_backups")
    with op.batch_alter_table("passport_backups") as batch:
        batch.drop_column("signer_jwk")
        batch.drop_column("serial")
        batch.drop_column("gtin")
