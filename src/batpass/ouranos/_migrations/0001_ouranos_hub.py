"""ouranos: the hub's operators, accounts, API keys, plants, parts, structures, trades, CFP,
releases, certificates, notifications and released upstream summaries

Revision ID: ouranos_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ouranos_0001"
down_revision = None
branch_labels = ("ouranos",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ouranos_account",
        sa.Column("account_id", sa.String(320), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", UTCDateTime, nullable=True),
        sa.Column("password_changed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_ouranos_account"),
    )
    op.create_index("ix_ouranos_account_operator_id", "ouranos_account", ["operator_id"])
    op.create_table(
        "ouranos_api_key",
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=True),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_ouranos_api_key"),
        sa.UniqueConstraint("key_sha256", name="uq_ouranos_api_key_key_sha256"),
    )
    op.create_index("ix_ouranos_api_key_operator_id", "ouranos_api_key", ["operator_id"])
    op.create_table(
        "ouranos_certification",
        sa.Column("cfp_certification_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("description", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("cfp_certification_id", name="pk_ouranos_certification"),
    )
    op.create_index("ix_ouranos_certification_operator_id", "ouranos_certification", ["operator_id"])
    op.create_index("ix_ouranos_certification_trace_id", "ouranos_certification", ["trace_id"])
    op.create_table(
        "ouranos_certification_file",
        sa.Column("file_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("cfp_certification_id", sa.String(36), nullable=True),
        sa.Column("file_name", sa.String(256), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("file_id", name="pk_ouranos_certification_file"),
    )
    op.create_index("ix_ouranos_certification_file_operator_id", "ouranos_certification_file", ["operator_id"])
    op.create_index(
        "ix_ouranos_certification_file_cfp_certification_id", "ouranos_certification_file", ["cfp_certification_id"]
    )
    op.create_table(
        "ouranos_certification_release",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("released_to_operator_id", sa.String(36), nullable=False),
        sa.Column("released_flag", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "trace_id", "released_to_operator_id", name="pk_ouranos_certification_release"
        ),
    )
    op.create_table(
        "ouranos_cfp",
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("cfp_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("pre_production", sa.String(16), nullable=False),
        sa.Column("main_production", sa.String(16), nullable=False),
        sa.Column("pre_component", sa.String(16), nullable=False),
        sa.Column("main_component", sa.String(16), nullable=False),
        sa.Column("dqr_pre_ter", sa.String(16), nullable=True),
        sa.Column("dqr_pre_ger", sa.String(16), nullable=True),
        sa.Column("dqr_pre_tir", sa.String(16), nullable=True),
        sa.Column("dqr_main_ter", sa.String(16), nullable=True),
        sa.Column("dqr_main_ger", sa.String(16), nullable=True),
        sa.Column("dqr_main_tir", sa.String(16), nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("trace_id", name="pk_ouranos_cfp"),
        sa.UniqueConstraint("cfp_id", name="uq_ouranos_cfp_cfp_id"),
    )
    op.create_index("ix_ouranos_cfp_operator_id", "ouranos_cfp", ["operator_id"])
    op.create_table(
        "ouranos_cfp_release",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("released_to_operator_id", sa.String(36), nullable=False),
        sa.Column("acl_item_group", sa.String(16), nullable=False),
        sa.Column("released_flag", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "trace_id", "released_to_operator_id", "acl_item_group", name="pk_ouranos_cfp_release"
        ),
    )
    op.create_table(
        "ouranos_notification",
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("notification_type", sa.String(32), nullable=False),
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("notified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name="pk_ouranos_notification"),
    )
    op.create_index("ix_ouranos_notification_operator_id", "ouranos_notification", ["operator_id"])
    op.create_table(
        "ouranos_operator",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("open_operator_id", sa.String(20), nullable=False),
        sa.Column("operator_name", sa.String(256), nullable=False),
        sa.Column("operator_address", sa.String(256), nullable=False),
        sa.Column("global_operator_id", sa.String(256), nullable=True),
        sa.Column("did", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("operator_id", name="pk_ouranos_operator"),
        sa.UniqueConstraint("global_operator_id", name="uq_ouranos_operator_global_operator_id"),
        sa.UniqueConstraint("open_operator_id", name="uq_ouranos_operator_open_operator_id"),
    )
    op.create_table(
        "ouranos_part",
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("plant_id", sa.String(36), nullable=False),
        sa.Column("parts_name", sa.String(50), nullable=False),
        sa.Column("support_parts_name", sa.String(50), nullable=True),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("terminated_flag", sa.Boolean, nullable=False),
        sa.Column("amount_required_unit", sa.String(16), nullable=True),
        sa.Column("parent_flag", sa.Boolean, nullable=False),
        sa.Column("parts_label_name", sa.String(50), nullable=True),
        sa.Column("parts_add_info1", sa.String(50), nullable=True),
        sa.Column("parts_add_info2", sa.String(50), nullable=True),
        sa.Column("parts_add_info3", sa.String(50), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("trace_id", name="pk_ouranos_part"),
        sa.UniqueConstraint("operator_id", "name_key", name="uq_ouranos_part_name_key"),
    )
    op.create_index("ix_ouranos_part_operator_id", "ouranos_part", ["operator_id"])
    op.create_table(
        "ouranos_plant",
        sa.Column("plant_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("open_plant_id", sa.String(26), nullable=False),
        sa.Column("plant_name", sa.String(256), nullable=False),
        sa.Column("plant_address", sa.String(256), nullable=False),
        sa.Column("global_plant_id", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("plant_id", name="pk_ouranos_plant"),
        sa.UniqueConstraint("operator_id", "open_plant_id", name="uq_ouranos_plant_open_plant_id"),
    )
    op.create_index("ix_ouranos_plant_operator_id", "ouranos_plant", ["operator_id"])
    op.create_table(
        "ouranos_structure",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("parent_trace_id", sa.String(36), nullable=False),
        sa.Column("child_trace_id", sa.String(36), nullable=False),
        sa.Column("amount_required", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("parent_trace_id", "child_trace_id", name="pk_ouranos_structure"),
    )
    op.create_index("ix_ouranos_structure_operator_id", "ouranos_structure", ["operator_id"])
    op.create_table(
        "ouranos_summary",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("summary_jws", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("operator_id", "trace_id", name="pk_ouranos_summary"),
    )
    op.create_table(
        "ouranos_summary_release",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("released_to_operator_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "trace_id", "released_to_operator_id", name="pk_ouranos_summary_release"
        ),
    )
    op.create_table(
        "ouranos_trade",
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("status_id", sa.String(36), nullable=False),
        sa.Column("downstream_operator_id", sa.String(36), nullable=False),
        sa.Column("upstream_operator_id", sa.String(36), nullable=False),
        sa.Column("downstream_trace_id", sa.String(36), nullable=False),
        sa.Column("upstream_trace_id", sa.String(36), nullable=True),
        sa.Column("request_type", sa.String(8), nullable=False),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.Column("reply_message", sa.String(1000), nullable=True),
        sa.Column("response_due_date", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("trade_id", name="pk_ouranos_trade"),
        sa.UniqueConstraint("status_id", name="uq_ouranos_trade_status_id"),
    )
    op.create_index("ix_ouranos_trade_downstream_operator_id", "ouranos_trade", ["downstream_operator_id"])
    op.create_index("ix_ouranos_trade_upstream_operator_id", "ouranos_trade", ["upstream_operator_id"])
    op.create_index("ix_ouranos_trade_downstream_trace_id", "ouranos_trade", ["downstream_trace_id"])
    op.create_index("ix_ouranos_trade_upstream_trace_id", "ouranos_trade", ["upstream_trace_id"])


def downgrade() -> None:
    op.drop_table("ouranos_trade")
    op.drop_table("ouranos_summary_release")
    op.drop_table("ouranos_summary")
    op.drop_table("ouranos_structure")
    op.drop_table("ouranos_plant")
    op.drop_table("ouranos_part")
    op.drop_table("ouranos_operator")
    op.drop_table("ouranos_notification")
    op.drop_table("ouranos_cfp_release")
    op.drop_table("ouranos_cfp")
    op.drop_table("ouranos_certification_release")
    op.drop_table("ouranos_certification_file")
    op.drop_table("ouranos_certification")
    op.drop_table("ouranos_api_key")
    op.drop_table("ouranos_account")
