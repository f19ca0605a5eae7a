"""Exchanges served through the Catena-X connector (docs/architecture.md "Flows", flows 3, 4 and 6):
the Catena-X battery pass and PCF as connector assets, the asynchronous CX-0136 PCF exchange,
recycled-content claims that debit a recycler's credit account, and the site register under a
usage policy.

A passport on another node, read with this node's access-role credentials
(:func:`fetch_passport`, the one fetch of the console and ``batpass comply --passport``).

A cross-node workflow: it uses the dataspace connector, the passport, footprint and ledger
capabilities, and knows nothing of the node, the federation, the bridge, the demo or the CLI.
"""

from pathlib import Path

from batpass.exchange._assets import (
    BATTERY_PASS_ASSET,
    BATTERY_PASS_SEMANTIC_ID,
    DPP_PURPOSE,
    FRAMEWORK_AGREEMENT,
    PCF_ASSET,
    PCF_PURPOSE,
    PCF_SEMANTIC_ID,
    BatteryPassSource,
    ConnectorClient,
    PcfSource,
    battery_twin,
    install_passport_offer,
    install_pcf_offer,
    product_twin,
    register_twin,
)
from batpass.exchange._credit import CREDIT_ASSET, CreditAccounts, CreditClaims, install_credit_offer
from batpass.exchange._directory import PartnerBpnls, dsp_endpoints_of
from batpass.exchange._industry_core import (
    BOM_AS_BUILT_ASSET,
    BOM_AS_BUILT_SEMANTIC_ID,
    DTR_ASSET,
    INDUSTRY_CORE_PURPOSE,
    SERIAL_PART_ASSET,
    SERIAL_PART_SEMANTIC_ID,
    USAGE_AS_BUILT_ASSET,
    USAGE_AS_BUILT_SEMANTIC_ID,
    BomReleases,
    IndustryCore,
    RegistryProxy,
    bom_releases_table,
    industry_core_twin,
    install_industry_core_offers,
    lot_asset_id,
    lot_twin,
    validate_aspect,
)
from batpass.exchange._pcf_async import OUTBOX_KIND, PcfExchange, exchanges_table
from batpass.exchange._reconcile_inbox import MAX_BATCH as RECONCILIATION_MAX_BATCH
from batpass.exchange._reconcile_inbox import (
    RECONCILIATION_ASSET,
    ReconciliationCourier,
    ReconciliationInbox,
    install_reconciliation_offer,
)
from batpass.exchange._reconcile_inbox import answer as reconciliation_answer
from batpass.exchange._reconcile_inbox import answers_of as reconciliation_answers
from batpass.exchange._reconcile_inbox import batch_or_each as reconciliation_batch_or_each
from batpass.exchange._reconcile_inbox import chunks as reconciliation_chunks
from batpass.exchange._remote import (
    HeldRole,
    OpenedTier,
    PassportFetcher,
    RemotePassport,
    fetch_passport,
    held_roles,
    opened_by,
)
from batpass.exchange._sites import SITES_ASSET, SITES_PURPOSE, SiteRegisterSource, install_sites_offer

#: this package's Alembic branch (its first revision keeps the id ``node_0001`` it had in ``node/``)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "BATTERY_PASS_ASSET",
    "BATTERY_PASS_SEMANTIC_ID",
    "BOM_AS_BUILT_ASSET",
    "BOM_AS_BUILT_SEMANTIC_ID",
    "CREDIT_ASSET",
    "DPP_PURPOSE",
    "DTR_ASSET",
    "FRAMEWORK_AGREEMENT",
    "INDUSTRY_CORE_PURPOSE",
    "MIGRATIONS_DIR",
    "OUTBOX_KIND",
    "PCF_ASSET",
    "PCF_PURPOSE",
    "PCF_SEMANTIC_ID",
    "RECONCILIATION_ASSET",
    "RECONCILIATION_MAX_BATCH",
    "SERIAL_PART_ASSET",
    "SERIAL_PART_SEMANTIC_ID",
    "SITES_ASSET",
    "SITES_PURPOSE",
    "USAGE_AS_BUILT_ASSET",
    "USAGE_AS_BUILT_SEMANTIC_ID",
    "BatteryPassSource",
    "BomReleases",
    "ConnectorClient",
    "CreditAccounts",
    "CreditClaims",
    "HeldRole",
    "IndustryCore",
    "OpenedTier",
    "PartnerBpnls",
    "PassportFetcher",
    "PcfExchange",
    "PcfSource",
    "ReconciliationCourier",
    "ReconciliationInbox",
    "RegistryProxy",
    "RemotePassport",
    "SiteRegisterSource",
    "battery_twin",
    "bom_releases_table",
    "dsp_endpoints_of",
    "exchanges_table",
    "fetch_passport",
    "held_roles",
    "industry_core_twin",
    "install_credit_offer",
    "install_industry_core_offers",
    "install_passport_offer",
    "install_pcf_offer",
    "install_reconciliation_offer",
    "install_sites_offer",
    "lot_asset_id",
    "lot_twin",
    "opened_by",
    "product_twin",
    "reconciliation_answer",
    "reconciliation_answers",
    "reconciliation_batch_or_each",
    "reconciliation_chunks",
    "register_twin",
    "validate_aspect",
]
