"""Material ledger: lots, custody events, mass balance per element, hash-chained and signed
history, trace, upstream summaries, recycled content and credit accounts, outflow watch."""

from __future__ import annotations

from pathlib import Path

from batpass.ledger._materials import ELEMENTS, MATERIALS, Element, Material
from batpass.ledger._summary import sign_summary, verify_summary
from batpass.ledger.errors import DoubleClaim, LotOverdrawn, MassBalanceViolation, UnitMismatch
from batpass.ledger.model import (
    MASS_TOLERANCE_ABS_KG,
    MASS_TOLERANCE_REL,
    CustodyModel,
    Event,
    EventKind,
    Lot,
    LotId,
    RecycledOrigin,
    Unit,
    parse_event,
)
from batpass.ledger.ports import FootprintSource
from batpass.ledger.service import LedgerService, RecordResult, VerifyReport

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"
#: JSON Schema (draft 2020-12) of one ledger event line as :func:`parse_event` accepts it
#: (docs/ledger-events.md)
EVENT_SCHEMA_PATH = Path(__file__).resolve().parent / "_data" / "ledger-event.schema.json"

__all__ = [
    "ELEMENTS",
    "EVENT_SCHEMA_PATH",
    "MASS_TOLERANCE_ABS_KG",
    "MASS_TOLERANCE_REL",
    "MATERIALS",
    "MIGRATIONS_DIR",
    "CustodyModel",
    "DoubleClaim",
    "Element",
    "Event",
    "EventKind",
    "FootprintSource",
    "LedgerService",
    "Lot",
    "LotId",
    "LotOverdrawn",
    "MassBalanceViolation",
    "Material",
    "RecordResult",
    "RecycledOrigin",
    "Unit",
    "UnitMismatch",
    "VerifyReport",
    "parse_event",
    "sign_summary",
    "verify_summary",
]
