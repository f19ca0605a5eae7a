"""Material ledger: lots, custody events, mass balance per element, hash-chained and signed
history, trace, upstream summaries, recycled content and credit accounts, outflow watch.

The ledger owns the upstream summary (docs/contracts.md): :class:`UpstreamSummary` and its parts,
and the one codec between it and the wire form (:func:`encode_summary`, :func:`decode_summary`),
are exported here; other packages import them from here (they are defined in
``batpass.core.summary`` only so that trust, which the ledger stands on, can read them too)."""

from __future__ import annotations

from pathlib import Path

from batpass.core.summary import (
    READ_VERSIONS,
    SUMMARY_BASIS,
    SUMMARY_VERSION,
    ActiveMaterial,
    ElementShares,
    Recycled,
    SiteShares,
    SubjectKind,
    SummarySubject,
    Tombstone,
    UpstreamSummary,
    decode_summary,
    encode_summary,
)
from batpass.ledger._authorisations import AuthorisationCheck, recheck_with
from batpass.ledger._materials import (
    CATALOGUE,
    CATALOGUES,
    ELEMENTS,
    MATERIALS,
    Catalogue,
    Element,
    Material,
    extend_catalogue,
    load_extension,
)
from batpass.ledger._reconcile import OUTBOX_KIND as RECONCILIATION_OUTBOX_KIND
from batpass.ledger._reconcile import Outcome as ReconciliationOutcome
from batpass.ledger._reconcile import Reconciliation, ReconciliationSettings
from batpass.ledger._reconcile import parse_settings as parse_reconciliation
from batpass.ledger._shipment_rules import RULES as SHIPMENT_RULES
from batpass.ledger._shipment_rules import OutflowPolicy, ShipmentRules, parse_policy
from batpass.ledger._summary import sign_summary, verify_summary
from batpass.ledger.errors import DoubleClaim, LotOverdrawn, MassBalanceViolation, ShipmentBlocked, UnitMismatch
from batpass.ledger.model import (
    MASS_TOLERANCE_ABS_KG,
    MASS_TOLERANCE_REL,
    CustodyModel,
    CustomerLot,
    Event,
    EventKind,
    Lot,
    LotId,
    ReceivedSummary,
    RecycledOrigin,
    SupplierLot,
    Unit,
    parse_event,
)
from batpass.ledger.ports import FootprintSource, SignerKeyResolver, SummaryPushers
from batpass.ledger.service import LedgerService, RecordResult, VerifyReport

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"
#: JSON Schema (draft 2020-12) of one ledger event line as :func:`parse_event` accepts it
#: (docs/ledger-events.md)
EVENT_SCHEMA_PATH = Path(__file__).resolve().parent / "_data" / "ledger-event.schema.json"

__all__ = [
    "CATALOGUE",
    "CATALOGUES",
    "ELEMENTS",
    "EVENT_SCHEMA_PATH",
    "MASS_TOLERANCE_ABS_KG",
    "MASS_TOLERANCE_REL",
    "MATERIALS",
    "MIGRATIONS_DIR",
    "READ_VERSIONS",
    "RECONCILIATION_OUTBOX_KIND",
    "SHIPMENT_RULES",
    "SUMMARY_BASIS",
    "SUMMARY_VERSION",
    "ActiveMaterial",
    "AuthorisationCheck",
    "Catalogue",
    "CustodyModel",
    "CustomerLot",
    "DoubleClaim",
    "Element",
    "ElementShares",
    "Event",
    "EventKind",
    "FootprintSource",
    "LedgerService",
    "Lot",
    "LotId",
    "LotOverdrawn",
    "MassBalanceViolation",
    "Material",
    "OutflowPolicy",
    "ReceivedSummary",
    "Reconciliation",
    "ReconciliationOutcome",
    "ReconciliationSettings",
    "RecordResult",
    "Recycled",
    "RecycledOrigin",
    "ShipmentBlocked",
    "ShipmentRules",
    "SignerKeyResolver",
    "SiteShares",
    "SubjectKind",
    "SummaryPushers",
    "SummarySubject",
    "SupplierLot",
    "Tombstone",
    "Unit",
    "UnitMismatch",
    "UpstreamSummary",
    "VerifyReport",
    "decode_summary",
    "encode_summary",
    "extend_catalogue",
    "load_extension",
    "parse_event",
    "parse_policy",
    "parse_reconciliation",
    "recheck_with",
    "sign_summary",
    "verify_summary",
]
