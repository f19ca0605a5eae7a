"""What the compliance evaluator judges: plain descriptions of a battery model, a battery, an
economic operator and a recycler, and the findings (pure; Regulation (EU) 2023/1542 and the
Japanese rules of the ``jp`` ruleset).

A value left ``None`` is *missing*; the evaluator tells missing apart from "not yet required".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """Battery categories of Art. 3(1)."""

    PORTABLE = "portable"
    LMT = "lmt"
    SLI = "sli"
    INDUSTRIAL = "industrial"
    EV = "ev"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_YET_REQUIRED = "not yet required"
    NOT_YET_DETERMINABLE = "not yet determinable"
    #: no instrument sets this cap, class or minimum (never a number)
    NOT_SET = "not set"
    #: reported for information (a non-binding guideline, a subsidy): no pass or fail
    INFORMATION = "information"


@dataclass(frozen=True)
class Evidence:
    """One piece of what a node holds that a finding was judged on: the passport, the ledger's
    Art. 8 figures, a footprint, or a verified credential.

    ``purpose`` is what it evidences (:data:`PURPOSES`); ``source`` names it (a passport and its
    version, a credential's type and issuer); ``credential_type`` is set for a credential, with
    ``ecosystem`` (the trust list that admits its issuer) and, when it counts only through a
    mutual-recognition rule, ``recognition`` (that rule's id and label). ``covers`` lists what it
    covers (metals, materials), when that matters."""

    purpose: str
    source: str
    credential_type: str | None = None
    ecosystem: str | None = None
    recognition: str | None = None
    covers: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"purpose": self.purpose, "source": self.source}
        if self.credential_type is not None:
            out["credential_type"] = self.credential_type
            out["ecosystem"] = self.ecosystem
            out["recognition"] = self.recognition
        if self.covers:
            out["covers"] = sorted(self.covers)
        return out


#: what evidence may evidence (a rule's ``evidence.uses`` names some of these)
PURPOSES = frozenset(
    {"passport", "footprint", "verified_footprint", "recycled_content", "due_diligence", "recycling_figures"}
)


@dataclass(frozen=True)
class RecycledShare:
    """Recycled share of one metal (cobalt, lithium, nickel against the element in the active
    materials; lead against the battery), pre- and post-consumer kept apart (Art. 8)."""

    pre_consumer: Decimal
    post_consumer: Decimal
    custody_model: str | None = None  # ISO 22095 model
    scheme: str | None = None
    period: str | None = None
    site: str | None = None
    #: what the share is computed over: ``art8_model_batch_plant`` (Art. 8: battery model and
    #: batch per manufacturing plant) or ``battery_mass_balance`` (one battery; issue 18)
    basis: str | None = None
    #: chain-of-custody facts (``model``, ``scheme``, ``period``, ``site``) the evaluating node
    #: holds no evidence of (the ledger records no certification scheme): "not yet determinable"
    unknown: frozenset[str] = frozenset()

    @property
    def total(self) -> Decimal:
        return self.pre_consumer + self.post_consumer


@dataclass(frozen=True)
class FootprintDeclaration:
    """A model's carbon footprint declaration (Art. 7, Annex II): kg CO2e per kWh by stage, ``None``
    for a stage not provided."""

    kg_co2e_per_kwh: Decimal
    stages: Mapping[str, Decimal | None]
    source_format: str | None = None  # pact-v2 | pact-v3 | catenax-pcf | ouranos-cfp | batpass
    exempted_share: Decimal | None = None
    primary_data_share: Decimal | None = None
    reference_period_end: dt.date | None = None
    method_version: str | None = None  # METI method version, for Ouranos CFPs
    #: calculation method (e.g. "meti-battery-cfp"); an Ouranos CFP implies the METI method
    method: str | None = None


@dataclass(frozen=True)
class BatteryModel:
    model_id: str
    category: Category
    capacity_kwh: Decimal | None = None
    exclusively_external_storage: bool = False
    rechargeable: bool = True
    cadmium_share: Decimal | None = None  # w/w
    lead_share: Decimal | None = None
    cd_symbol: bool = False
    pb_symbol: bool = False
    footprint: FootprintDeclaration | None = None
    recycled: Mapping[str, RecycledShare] = field(default_factory=dict)
    performance_documented: bool | None = None
    #: metals the battery contains (Co, Li, Ni in active materials; Pb); None = not stated, all checked
    metals_present: frozenset[str] | None = None
    #: what the model's figures were read from (a node's evaluation; empty for a described model)
    evidence: tuple[Evidence, ...] = ()
    #: metals whose recycled share the evaluating node does not know: "not yet determinable"
    unknown: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Battery:
    battery_id: str
    model: BatteryModel
    has_passport: bool = False
    has_qr_code: bool = False
    status: str | None = "original"
    status_history: tuple[str, ...] = ()
    filled_data_points: frozenset[str] = frozenset()
    access_tiers: frozenset[str] = frozenset()
    remanufactured_capacity_share: Decimal | None = None
    remanufactured_cell_soh_spread: Decimal | None = None
    due_diligence_report_linked: bool = False
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Operator:
    name: str
    turnover_eur: Decimal | None = None
    due_diligence_policy: bool = False
    due_diligence_materials: frozenset[str] = frozenset()
    records_retention_years: int | None = None
    evidence: tuple[Evidence, ...] = ()
    #: facts the evaluating node does not hold (``turnover_eur``, ``due_diligence_policy``,
    #: ``records_retention_years``): a rule that needs one is "not yet determinable", not a fail
    unknown: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Recycler:
    name: str
    efficiency: Mapping[str, Decimal] = field(default_factory=dict)  # lithium_based, lead_acid, nickel_cadmium, other
    recovery: Mapping[str, Decimal] = field(default_factory=dict)  # cobalt, copper, lead, nickel, lithium
    evidence: tuple[Evidence, ...] = ()
    #: figures the evaluating node does not hold (``efficiency``, ``recovery``): a target without
    #: a figure is "not yet determinable" instead of being left out
    unknown: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    """One rule judged at one date: the values compared, the rule text and its reference."""

    rule: str
    status: Status
    at: dt.date
    subject: str
    values: Mapping[str, Any]
    text: str
    reference: str
    detail: str = ""
    #: what the finding was judged on (empty for a described subject)
    evidence: tuple[Evidence, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status.value,
            "at": self.at.isoformat(),
            "subject": self.subject,
            "values": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.values.items()},
            "text": self.text,
            "reference": self.reference,
            "detail": self.detail,
            "evidence": [e.as_dict() for e in self.evidence],
        }
