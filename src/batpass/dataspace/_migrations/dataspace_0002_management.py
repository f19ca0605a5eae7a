"""dataspace: management API facade (EDC management API v3 assets, policies, contract definitions, EDRs)

Revision ID: dataspace_0002
Revises: dataspace_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "dataspace_0002"
down_revision = "dataspace_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsp_mgmt_assets",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("data_address", sa.JSON, nullable=False),
        sa.Column("private_properties", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_mgmt_assets"),
        sa.ForeignKeyConstraint(["id"], ["dsp_assets.id"], name="fk_dsp_mgmt_assets_id_dsp_assets", ondelete="CASCADE"),
    )
    op.create_table(
        "dsp_mgmt_policies",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("private_properties", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_mgmt_policies"),
    )
    op.create_table(
        "dsp_mgmt_contract_definitions",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("access_policy_id", sa.String(200), nullable=False),
        sa.Column("contract_policy_id", sa.String(200), nullable=False),
        sa.Column("assets_selector", sa.JSON, nullable=False),
        sa.Column("private_properties", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_mgmt_contract_definitions"),
    )
    op.create_table(
        "dsp_mgmt_offers",
        sa.Column("offer_id", sa.String(200), nullable=False),
        sa.Column("definition_id", sa.String(200), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name="pk_dsp_mgmt_offers"),
    )
    op.create_index("ix_dsp_mgmt_offers_definition_id", "dsp_mgmt_offers", ["definition_id"])
    op.create_table(
        "dsp_mgmt_edrs",
        sa.Column("negotiation_pid", sa.String(64), nullable=False),
        sa.Column("transfer_pid", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("negotiation_pid", name="pk_dsp_mgmt_edrs"),
    )


def downgrade() -> None:
    op.drop_table("dsp_mgmt_edrs")
    op.drop_index("ix_dsp_mgmt_offers_definition_id", table_name="dsp_mgmt_offers")
    op.drop_table("dsp_mgmt_offers")
    op.drop_table("dsp_mgmt_contract_definitions")
    op.drop_table("dsp_mgmt_policies")
    op.drop_table("dsp_mgmt_assets")
