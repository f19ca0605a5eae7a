"""Dataspace persistence: tables on the shared metadata and the queries the services run.

Every DSP process (negotiation, transfer), agreement and data-plane token is stored, so a
restarted node resumes where it stopped. The catalog is filtered in the database: each offer's
access policy is projected (``_odrl.project_access``) into gate rows and a validity window, and
one query returns the page of offers a requester may see (no per-offer policy round trips, the
EDC N+1 of eclipse-edc/Connector #5545). Same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    exists,
    not_,
    or_,
    select,
)

from batpass.dataspace._odrl import AccessGates
from batpass.store.metadata import UTCDateTime, metadata

__all__ = [
    "agreements",
    "assets",
    "bpn_groups",
    "dtr_asset_ids",
    "dtr_shells",
    "dtr_submodels",
    "mgmt_assets",
    "mgmt_contract_definitions",
    "mgmt_edrs",
    "mgmt_offers",
    "mgmt_policies",
    "negotiations",
    "offer_gates",
    "offers",
    "tokens",
    "transfers",
    "visible_offers",
]

_SEQ = BigInteger().with_variant(Integer, "sqlite")

assets = Table(
    "dsp_assets",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("source_key", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("properties", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

offers = Table(
    "dsp_offers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("asset_id", String(200), ForeignKey("dsp_assets.id"), nullable=False),
    Column("access_policy", JSON, nullable=False),
    Column("usage_policy", JSON, nullable=False),
    Column("needs_bpn", Boolean, nullable=False),
    Column("needs_group", Boolean, nullable=False),
    Column("impossible", Boolean, nullable=False),
    Column("not_before", UTCDateTime, nullable=True),
    Column("not_after", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_dsp_offers_asset_id", offers.c.asset_id)

offer_gates = Table(
    "dsp_offer_gates",
    metadata,
    Column("offer_id", String(200), ForeignKey("dsp_offers.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(200), primary_key=True),
)
Index("ix_dsp_offer_gates_kind", offer_gates.c.kind, offer_gates.c.value, offer_gates.c.offer_id)

bpn_groups = Table(
    "dsp_bpn_groups",
    metadata,
    Column("bpnl", String(16), primary_key=True),
    Column("group_name", String(200), primary_key=True),
)

negotiations = Table(
    "dsp_negotiations",
    metadata,
    Column("pid", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("consumer_pid", String(200), nullable=False),
    Column("provider_pid", String(200), nullable=True),
    Column("counterparty_did", Text, nullable=False),
    Column("counterparty_bpnl", String(16), nullable=True),
    Column("counterparty_address", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_count", Integer, nullable=False),
    Column("state_at", UTCDateTime, nullable=False),
    Column("last_message", String(64), nullable=True),
    Column("offer", JSON, nullable=False),
    Column("offer_id", String(200), nullable=True),
    Column("agreement_id", String(200), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_dsp_negotiations_consumer_pid", negotiations.c.consumer_pid)

agreements = Table(
    "dsp_agreements",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("negotiation_pid", String(64), nullable=False),
    Column("asset_id", String(200), nullable=False),
    Column("offer_id", String(200), nullable=False),
    Column("provider_did", Text, nullable=False),
    Column("consumer_did", Text, nullable=False),
    Column("consumer_bpnl", String(16), nullable=True),
    Column("policy", JSON, nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
)

transfers = Table(
    "dsp_transfers",
    metadata,
    Column("pid", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("consumer_pid", String(200), nullable=False),
    Column("provider_pid", String(200), nullable=True),
    Column("agreement_id", String(200), nullable=False),
    Column("format", String(64), nullable=False),
    Column("counterparty_did", Text, nullable=False),
    Column("counterparty_bpnl", String(16), nullable=True),
    Column("counterparty_address", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_count", Integer, nullable=False),
    Column("state_at", UTCDateTime, nullable=False),
    Column("last_message", String(64), nullable=True),
    Column("data_address", JSON, nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_dsp_transfers_consumer_pid", transfers.c.consumer_pid)

tokens = Table(
    "dsp_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("transfer_pid", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # access | refresh
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked", Boolean, nullable=False),
)
Index("ix_dsp_tokens_transfer_pid", tokens.c.transfer_pid)

dtr_shells = Table(
    "dtr_shells",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("aas_id", String(2048), nullable=False, unique=True),
    Column("id_short", String(128), nullable=True),
    Column("global_asset_id", String(2048), nullable=True),
    Column("asset_kind", String(32), nullable=True),
    Column("asset_type", String(2048), nullable=True),
    Column("descriptor", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_dtr_shells_global_asset_id", dtr_shells.c.global_asset_id)

dtr_asset_ids = Table(
    "dtr_asset_ids",
    metadata,
    Column("shell_seq", _SEQ, ForeignKey("dtr_shells.seq", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    # a BPNL named in externalSubjectId, PUBLIC_READABLE, or '' (closed: owner only)
    Column("reader", String(200), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("value", String(2048), nullable=False),
)
Index(
    "ix_dtr_asset_ids_lookup",
    dtr_asset_ids.c.name,
    dtr_asset_ids.c.value,
    dtr_asset_ids.c.reader,
    dtr_asset_ids.c.shell_seq,
)

dtr_submodels = Table(
    "dtr_submodels",
    metadata,
    Column("shell_seq", _SEQ, ForeignKey("dtr_shells.seq", ondelete="CASCADE"), primary_key=True),
    Column("sm_id", String(2048), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("descriptor", JSON, nullable=False),
)


# -- management API facade (EDC management API v3 resources, ``_management``) ----------------

mgmt_assets = Table(
    "dsp_mgmt_assets",
    metadata,
    Column("id", String(200), ForeignKey("dsp_assets.id", ondelete="CASCADE"), primary_key=True),
    Column("data_address", JSON, nullable=False),
    Column("private_properties", JSON, nullable=False),
)

mgmt_policies = Table(
    "dsp_mgmt_policies",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("policy", JSON, nullable=False),
    Column("private_properties", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mgmt_contract_definitions = Table(
    "dsp_mgmt_contract_definitions",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("access_policy_id", String(200), nullable=False),
    Column("contract_policy_id", String(200), nullable=False),
    Column("assets_selector", JSON, nullable=False),
    Column("private_properties", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: which catalog offers a contract definition produced (one per selected asset)
mgmt_offers = Table(
    "dsp_mgmt_offers",
    metadata,
    Column("offer_id", String(200), primary_key=True),
    Column("definition_id", String(200), nullable=False),
    Column("asset_id", String(200), nullable=False),
)
Index("ix_dsp_mgmt_offers_definition_id", mgmt_offers.c.definition_id)

#: negotiations started by ``POST /v3/edrs``: a pull transfer follows once they are finalized
mgmt_edrs = Table(
    "dsp_mgmt_edrs",
    metadata,
    Column("negotiation_pid", String(64), primary_key=True),
    Column("transfer_pid", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)


def gate_values(gates: AccessGates) -> dict[str, Any]:
    return {
        "needs_bpn": gates.bpns_any is not None,
        "needs_group": gates.groups_any is not None,
        "impossible": gates.impossible,
        "not_before": gates.not_before,
        "not_after": gates.not_after,
    }


def visible_offers(
    conn: Connection,
    *,
    bpnl: str | None,
    groups: Sequence[str],
    credentials: Sequence[str],
    now: dt.datetime,
    after: str | None,
    limit: int,
    offer_ids: Sequence[str] | None = None,
) -> list[Any]:
    """One query: the page of offers whose access gates the requester passes, ordered by id."""
    g = offer_gates.alias("g")

    def gate(kind: str, values: Sequence[str]) -> Any:
        if not values:
            return exists().where(and_(g.c.offer_id == offers.c.id, g.c.kind == kind, g.c.value.is_(None)))
        return exists().where(and_(g.c.offer_id == offers.c.id, g.c.kind == kind, g.c.value.in_(list(values))))

    mine = [bpnl] if bpnl else []
    conds = [
        offers.c.impossible.is_(False),
        or_(offers.c.needs_bpn.is_(False), gate("bpn", mine)),
        or_(offers.c.needs_group.is_(False), gate("group", groups)),
        not_(gate("not_bpn", mine)),
        not_(gate("not_group", groups)),
        not_(
            exists().where(
                and_(
                    g.c.offer_id == offers.c.id,
                    g.c.kind == "cred",
                    g.c.value.not_in(list(credentials)) if credentials else g.c.value.is_not(None),
                )
            )
        ),
        or_(offers.c.not_before.is_(None), offers.c.not_before <= now),
        or_(offers.c.not_after.is_(None), offers.c.not_after >= now),
    ]
    if after is not None:
        conds.append(offers.c.id > after)
    if offer_ids is not None:
        conds.append(offers.c.id.in_(list(offer_ids)))
    q = (
        select(offers, assets.c.title, assets.c.properties)
        .join(assets, assets.c.id == offers.c.asset_id)
        .where(and_(*conds))
        .order_by(offers.c.id)
        .limit(limit)
    )
    return list(conn.execute(q).all())
