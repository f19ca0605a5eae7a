"""The EU battery passport: Annex XIII data points, access tiers, states and lifecycle.

Pure model (no I/O, no SQL, no HTTP, no serialisation format). Sources:

- Regulation (EU) 2023/1542, Art. 77 (passport), Art. 78 (who may access what), Annex XIII
  (the data points, in four access groups), Annex IV (performance and durability parameters),
  Annex VI (labels), Art. 3(1)(32) (remanufacturing);
- the passport rules of the ruleset ``eu-2023-1542`` (``batpass.compliance``): scope and dates
  per category, status values and transitions, remanufacturing thresholds, the data points the
  Commission's launch guidance marks "not to be filled yet", access tiers.

Every data point is a :class:`FieldSpec` in :data:`FIELDS`, with exactly one access
:class:`Tier`, the categories it applies to, whether it belongs to the battery model or to the
individual battery, its value kind and its unit. :func:`field_state` says, for a passport and a
date, whether a data point is present, missing or not yet required. The passport's own
identifier is a UUID, distinct from the battery's GS1 identifier (:class:`BatteryId`).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.core.limits import MAX_ITEMS, MAX_TEXT, UNIT_RANGES, check_number
from batpass.passport.errors import (
    LifecycleViolation,
    MissingMandatoryField,
    UnitMismatch,
    WrongCategory,
)

__all__ = [
    "ALL_TIERS",
    "CATEGORY_ALIASES",
    "DYNAMIC_KEYS",
    "FIELDS",
    "FIELDS_BY_KEY",
    "ROLE_TIERS",
    "Category",
    "FieldSpec",
    "FieldState",
    "Kind",
    "Level",
    "Mandate",
    "Passport",
    "PassportRules",
    "Quantity",
    "Status",
    "Tier",
    "check_publishable",
    "check_remanufacturing",
    "check_scope",
    "coerce_value",
    "diff_values",
    "field_state",
    "missing_on_publish",
    "parse_category",
    "parse_values",
    "readable_keys",
    "successor_status_allowed",
    "tiers_for_roles",
    "transition",
    "value_from_json",
    "value_to_json",
    "visible_view",
]


class Tier(StrEnum):
    """Access groups of Annex XIII and Art. 77(2); each data point belongs to exactly one."""

    PUBLIC = "public"  # Annex XIII (1): the general public
    LEGITIMATE_INTEREST = "legitimate_interest"  # Annex XIII (2): legitimate interest + authorities
    AUTHORITIES = "authorities"  # Annex XIII (3): notified bodies, market surveillance, Commission
    DYNAMIC = "dynamic"  # Annex XIII (4): per-battery data, persons with a legitimate interest


#: Roles (docs/contracts.md) and the tiers each role opens (Regulation (EU) 2023/1542 Art. 77(2), Annex XIII).
ROLE_TIERS: Mapping[str, frozenset[Tier]] = {
    "legitimate_interest": frozenset({Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.DYNAMIC}),
    "notified_body": frozenset({Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.AUTHORITIES}),
    "market_surveillance_authority": frozenset({Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.AUTHORITIES}),
    "commission": frozenset({Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.AUTHORITIES}),
}
ALL_TIERS: frozenset[Tier] = frozenset(Tier)


def tiers_for_roles(roles: Iterable[str]) -> frozenset[Tier]:
    """The tiers a reader with ``roles`` may read; the public tier always (Art. 77(2)(a)).

    Unknown role names open nothing.
    """
    out: set[Tier] = {Tier.PUBLIC}
    for role in roles:
        out |= ROLE_TIERS.get(role, frozenset())
    return frozenset(out)


class Category(StrEnum):
    """Battery categories that take a passport (Art. 77(1)); stationary storage is industrial."""

    EV = "ev"
    LMT = "lmt"
    INDUSTRIAL = "industrial"
    STATIONARY = "stationary"

    @property
    def scope_rule(self) -> str:
        return {
            Category.EV: "passport.scope.ev",
            Category.LMT: "passport.scope.lmt",
            Category.INDUSTRIAL: "passport.scope.industrial",
            Category.STATIONARY: "passport.scope.industrial",
        }[self]


#: Spellings accepted on input (Catena-X and Battery Pass spell categories differently).
CATEGORY_ALIASES: Mapping[str, Category] = {
    "ev": Category.EV,
    "electric vehicle": Category.EV,
    "lmt": Category.LMT,
    "industrial": Category.INDUSTRIAL,
    "stationary": Category.STATIONARY,
    "sbess": Category.STATIONARY,
}


def parse_category(value: object) -> Category:
    """Strict parse; portable, SLI and unknown categories take no passport (Art. 77(1))."""
    key = str(value).strip().lower()
    try:
        return CATEGORY_ALIASES[key]
    except KeyError:
        raise WrongCategory(
            f"category '{value}' takes no battery passport: one of ev, lmt, industrial, stationary"
            " (portable and SLI batteries carry a QR code but no passport)",
            field="category",
            rule="passport.scope (Art. 77(1))",
            value=value,
        ) from None


class Level(StrEnum):
    """Whether a data point is shared by every battery of a model or belongs to one battery."""

    MODEL = "model"
    ITEM = "item"


class Kind(StrEnum):
    TEXT = "text"
    URL = "url"
    INTEGER = "integer"
    QUANTITY = "quantity"  # a number with the unit declared on the data point
    DATE = "date"
    TEXTS = "texts"  # list of strings
    RECORDS = "records"  # list of flat records (dict of str -> str | number | bool)
    MAPPING = "mapping"  # a JSON object (e.g. shares per element)


class Status(StrEnum):
    """Battery status values (Annex XIII (4)(b); ruleset ``passport.status.values``)."""

    ORIGINAL = "original"
    REUSED = "re-used"
    REPURPOSED = "repurposed"
    REMANUFACTURED = "remanufactured"
    WASTE = "waste"


class FieldState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    NOT_YET_REQUIRED = "not_yet_required"
    NOT_APPLICABLE = "not_applicable"


_ALL = frozenset(Category)
_PERF = frozenset(Category)  # Annex IV applies to LMT, EV and industrial (incl. stationary)
_IND = frozenset({Category.INDUSTRIAL, Category.STATIONARY})
_IND_EV = frozenset({Category.INDUSTRIAL, Category.STATIONARY, Category.EV})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One data point of the passport.

    ``launch_group`` names the group of the ruleset rule ``passport.launch.not_yet_required``
    the data point belongs to (carbon footprint, due diligence, recycled content, instructions for
    use), if any. ``mandatory`` means the data point must be present on publishing once its
    category's passport obligation applies and it is not in a launch group marked not yet required.
    """

    key: str
    label: str
    tier: Tier
    level: Level
    kind: Kind
    source: str
    unit: str | None = None
    applies_to: frozenset[Category] = _ALL
    mandatory: bool = False
    launch_group: str | None = None
    derived: bool = False  # set by batpass (identifiers, status, upstream summary), not by input


def _f(
    key: str,
    label: str,
    tier: Tier,
    level: Level,
    kind: Kind,
    source: str,
    unit: str | None = None,
    **kw: Any,
) -> FieldSpec:
    return FieldSpec(key, label, tier, level, kind, source, unit, **kw)


P, LI, AU, DY = Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.AUTHORITIES, Tier.DYNAMIC
M, IT = Level.MODEL, Level.ITEM

#: The catalogue of data points. Order is the reading order of the public page (key facts first).
FIELDS: tuple[FieldSpec, ...] = (
    # --- identification (Annex XIII (1)(a)-(f); Art. 77(3)) -------------------------------------
    _f("passport_id", "Passport identifier", P, IT, Kind.TEXT, "Art. 77(3); DIN DKE SPEC 99100", derived=True),
    _f(
        "battery_id",
        "Battery identifier",
        P,
        IT,
        Kind.URL,
        "Art. 77(3); ISO/IEC 15459 via GS1 Digital Link",
        derived=True,
    ),
    _f("status", "Battery status", P, IT, Kind.TEXT, "Annex XIII (4)(b); Art. 77(6)", derived=True),
    _f("category", "Battery category", P, M, Kind.TEXT, "Annex VI Part A (b); Art. 3", derived=True),
    _f("manufacturer_name", "Manufacturer", P, M, Kind.TEXT, "Annex VI Part A (a)", mandatory=True),
    _f("manufacturer_address", "Manufacturer address", P, M, Kind.TEXT, "Annex VI Part A (a)", mandatory=True),
    _f("manufacturer_id", "Manufacturer identifier (BPNL)", P, M, Kind.TEXT, "Annex VI Part A (a)"),
    _f("model_name", "Battery model", P, M, Kind.TEXT, "Annex VI Part A (c)", mandatory=True),
    _f("chemistry", "Battery chemistry", P, M, Kind.TEXT, "Annex VI Part A (g)", mandatory=True),
    _f("rated_capacity", "Rated capacity", P, M, Kind.QUANTITY, "Annex IV Part A (1)", "Ah", mandatory=True),
    _f(
        "rated_energy",
        "Rated energy",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A; Art. 77(1) (2 kWh threshold)",
        "kWh",
        mandatory=True,
    ),
    _f("weight", "Weight", P, M, Kind.QUANTITY, "Annex VI Part A (f)", "kg", mandatory=True),
    _f("manufacturing_place", "Place of manufacture", P, IT, Kind.TEXT, "Annex VI Part A (d)", mandatory=True),
    _f("manufacturing_facility", "Manufacturing facility (BPNA)", P, IT, Kind.TEXT, "Annex VI Part A (d)"),
    _f(
        "manufacturing_date",
        "Date of manufacture",
        P,
        IT,
        Kind.DATE,
        "Annex VI Part A (e) (month and year)",
        mandatory=True,
    ),
    _f("placed_on_market", "Placed on the market", P, IT, Kind.DATE, "Art. 77(1)"),
    _f("economic_operator", "Economic operator", P, IT, Kind.TEXT, "Art. 77(4)", derived=True),
    _f("economic_operator_id", "Economic operator identifier (BPNL)", P, IT, Kind.TEXT, "Art. 77(4)"),
    _f("predecessors", "Previous passports", P, IT, Kind.TEXTS, "Art. 77(6)(a)", derived=True),
    _f("successors", "Next passports", P, IT, Kind.TEXTS, "Art. 77(6)(a)", derived=True),
    # --- the battery's life after its first use (Art. 77(6)-(8)) -------------------------------
    _f(
        "intended_use",
        "Use in this life",
        P,
        IT,
        Kind.TEXT,
        "Art. 77(6)(a); Art. 3(1)(31) (repurposing: a use other than the original)",
    ),
    _f(
        "restored_capacity",
        "Restored capacity (remanufacturing)",
        P,
        IT,
        Kind.QUANTITY,
        "Art. 3(1)(32) (at least 90 % of the original rated capacity)",
        "Ah",
        derived=True,
    ),
    _f(
        "waste_operator",
        "Responsible for the waste battery",
        P,
        IT,
        Kind.TEXT,
        "Art. 77(6)(b) (producer, compliance scheme or waste operator)",
        derived=True,
    ),
    _f("recycler", "Recycled by", P, IT, Kind.TEXT, "Art. 77(8)", derived=True),
    _f("recycled_on", "Recycled on", P, IT, Kind.DATE, "Art. 77(8)", derived=True),
    _f(
        "recovered_materials",
        "Materials recovered",
        P,
        IT,
        Kind.RECORDS,
        "Art. 77(8); Annex XII Part C (material recovery)",
        derived=True,
    ),
    _f(
        "backup_node",
        "Backup copy held by",
        P,
        IT,
        Kind.URL,
        "Art. 77(5) (passport outlives its operator)",
        derived=True,
    ),
    # --- safety and composition, public part (Annex XIII (1)) -----------------------------------
    _f(
        "hazardous_substances",
        "Hazardous substances (other than Hg, Cd, Pb)",
        P,
        M,
        Kind.RECORDS,
        "Annex XIII (1)(b); Annex VI Part A (i)",
        mandatory=True,
    ),
    _f("mercury_share", "Mercury content", P, M, Kind.QUANTITY, "Art. 6; Annex VI Part A (i)", "%"),
    _f("cadmium_share", "Cadmium content", P, M, Kind.QUANTITY, "Art. 13(4) (hazard symbol above 0.002 %)", "%"),
    _f("lead_share", "Lead content", P, M, Kind.QUANTITY, "Art. 13(4) (hazard symbol above 0.004 %)", "%"),
    _f("extinguishing_agent", "Usable extinguishing agent", P, M, Kind.TEXTS, "Annex VI Part A (j)", mandatory=True),
    _f(
        "critical_raw_materials",
        "Critical raw materials (above 0.1 % w/w)",
        P,
        M,
        Kind.TEXTS,
        "Annex VI Part A (k)",
        mandatory=True,
    ),
    _f(
        "material_origin",
        "Mined origin of critical raw materials (share of each element's mass in this battery, by country)",
        P,
        IT,
        Kind.MAPPING,
        "Annex XIII (1)(c); upstream summary",
        derived=True,
    ),
    _f("labels", "Meaning of labels and symbols", P, M, Kind.RECORDS, "Annex VI Part B; Art. 13"),
    _f(
        "separate_collection_info",
        "Separate collection",
        P,
        M,
        Kind.URL,
        "Annex XIII (1)(d); Art. 74(1)(a)-(c)",
        mandatory=True,
    ),
    _f(
        "waste_prevention_info",
        "Prevention and management of waste",
        P,
        M,
        Kind.URL,
        "Annex XIII (1)(d); Art. 74(1)",
        mandatory=True,
    ),
    _f(
        "declaration_of_conformity",
        "EU declaration of conformity",
        P,
        M,
        Kind.URL,
        "Annex XIII (1)(e); Art. 18",
        mandatory=True,
    ),
    _f(
        "instructions_for_use",
        "Instructions for use",
        P,
        M,
        Kind.URL,
        "Annex XIII (1)(f); Art. 74",
        mandatory=True,
        launch_group="instructions_for_use",
    ),
    # --- carbon footprint (Art. 7, Annex II) ----------------------------------------------------
    _f(
        "carbon_footprint",
        "Carbon footprint",
        P,
        M,
        Kind.QUANTITY,
        "Art. 7(1); Annex II",
        "kgCO2e/kWh",
        applies_to=_PERF,
        mandatory=True,
        launch_group="carbon_footprint",
    ),
    _f(
        "carbon_footprint_stages",
        "Carbon footprint per life-cycle stage",
        P,
        M,
        Kind.MAPPING,
        "Art. 7(1)(d); Annex II",
        "kgCO2e/kWh",
        applies_to=_PERF,
        launch_group="carbon_footprint",
    ),
    _f(
        "carbon_footprint_absolute",
        "Absolute carbon footprint",
        P,
        M,
        Kind.QUANTITY,
        "Art. 7(1) (voluntary, in absolute terms); DIN DKE SPEC 99100 6.3.10",
        "kgCO2e",
        applies_to=_PERF,
        launch_group="carbon_footprint",
    ),
    _f(
        "carbon_footprint_class",
        "Carbon footprint performance class",
        P,
        M,
        Kind.TEXT,
        "Art. 7(2) (no classes adopted yet)",
        applies_to=_PERF,
        launch_group="carbon_footprint",
    ),
    _f(
        "carbon_footprint_study",
        "Carbon footprint study",
        P,
        M,
        Kind.URL,
        "Art. 7(1)(e)",
        applies_to=_PERF,
        launch_group="carbon_footprint",
    ),
    # --- due diligence (Art. 52), recycled and renewable content (Art. 8) -----------------------
    _f(
        "due_diligence_report",
        "Supply-chain due-diligence report",
        P,
        M,
        Kind.URL,
        "Art. 52(3); Annex XIII (1)(g)",
        mandatory=True,
        launch_group="due_diligence",
    ),
    _f(
        "mined_site_status",
        "Mined raw materials by site (share of each element's mined part from certified, flagged or unknown sites)",
        P,
        IT,
        Kind.MAPPING,
        "Art. 48-52; Annex X; upstream summary sites (no site named)",
        "share (0-1)",
        derived=True,
    ),
    _f(
        "recycled_content",
        "Recycled content (pre- and post-consumer, per element)",
        P,
        IT,
        Kind.MAPPING,
        "Art. 8; Annex XIII (1)(h)",
        "share (0-1)",
        mandatory=True,
        launch_group="recycled_content",
    ),
    _f("renewable_content", "Renewable content", P, M, Kind.QUANTITY, "Annex XIII (1)(i)", "%"),
    # --- performance and durability (Annex IV, Annex XIII (1)(k)) ------------------------------
    _f(
        "voltage_nominal",
        "Nominal voltage",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (4)",
        "V",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "voltage_min",
        "Minimum voltage",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (4)",
        "V",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "voltage_max",
        "Maximum voltage",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (4)",
        "V",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "original_power",
        "Original power capability",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (5)",
        "W",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "max_permitted_power",
        "Maximum permitted battery power",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (5)",
        "W",
        applies_to=_PERF,
    ),
    _f(
        "power_capability_ratio",
        "Ratio of power to energy",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (5)",
        "W/Wh",
        applies_to=_IND,
    ),
    _f(
        "expected_lifetime_cycles",
        "Expected lifetime (cycles)",
        P,
        M,
        Kind.INTEGER,
        "Annex IV Part A (6)",
        "cycles",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "expected_lifetime_years",
        "Expected lifetime (calendar years)",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (6)",
        "year",
        applies_to=_PERF,
    ),
    _f(
        "capacity_threshold_exhaustion",
        "Capacity threshold for exhaustion",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (7)",
        "%",
        applies_to=_IND_EV,
    ),
    _f(
        "temperature_min",
        "Lowest operating temperature",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (8)",
        "Cel",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "temperature_max",
        "Highest operating temperature",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (8)",
        "Cel",
        applies_to=_PERF,
        mandatory=True,
    ),
    _f(
        "round_trip_efficiency_initial",
        "Initial round-trip efficiency",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (9)",
        "%",
        applies_to=_IND,
    ),
    _f(
        "round_trip_efficiency_50",
        "Round-trip efficiency at 50 % of cycle life",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (9)",
        "%",
        applies_to=_IND,
    ),
    _f(
        "internal_resistance_initial",
        "Initial internal resistance (pack)",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (3)",
        "Ohm",
        applies_to=_PERF,
    ),
    _f(
        "self_discharge_initial",
        "Initial self-discharge rate",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (10)",
        "%/month",
        applies_to=_IND,
    ),
    _f(
        "c_rate_cycle_test",
        "C-rate of the cycle-life test",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (6)",
        "1/h",
        applies_to=_PERF,
    ),
    # test conditions and further ratings a manufacturer states (Annex IV Part B; DIN DKE SPEC 99100)
    _f("rated_test_temperature", "Temperature of the rating tests", P, M, Kind.QUANTITY, "Annex IV Part B", "Cel"),
    _f(
        "cycle_test_depth_of_discharge",
        "Depth of discharge in the cycle-life test",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (6)",
        "%",
    ),
    _f(
        "c_rate_cycle_test_discharge",
        "Discharge rate of the cycle-life test",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (6)",
        "1/h",
    ),
    _f("power_at_20_soc", "Power capability at 20 % state of charge", P, M, Kind.QUANTITY, "Annex IV Part A (5)", "W"),
    _f("power_at_80_soc", "Power capability at 80 % state of charge", P, M, Kind.QUANTITY, "Annex IV Part A (5)", "W"),
    _f(
        "internal_resistance_cell",
        "Initial internal resistance (cell)",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (3)",
        "Ohm",
    ),
    _f(
        "internal_resistance_module",
        "Initial internal resistance (module)",
        P,
        M,
        Kind.QUANTITY,
        "Annex IV Part A (3)",
        "Ohm",
    ),
    _f("height", "Height", P, M, Kind.QUANTITY, "DIN DKE SPEC 99100 (physical dimensions)", "mm"),
    _f("length", "Length", P, M, Kind.QUANTITY, "DIN DKE SPEC 99100 (physical dimensions)", "mm"),
    _f("width", "Width", P, M, Kind.QUANTITY, "DIN DKE SPEC 99100 (physical dimensions)", "mm"),
    _f(
        "declaration_of_conformity_id",
        "EU declaration of conformity identifier",
        P,
        M,
        Kind.TEXT,
        "Annex XIII (1)(e); Art. 18",
    ),
    _f(
        "manufacturer_documents",
        "Further documents of the manufacturer (kind, title, url)",
        P,
        M,
        Kind.RECORDS,
        "Annex XIII (1); DIN DKE SPEC 99100 (sustainability, safety, performance documents)",
    ),
    _f("warranty_years", "Commercial warranty", P, M, Kind.QUANTITY, "Annex XIII (1)(l)", "year"),
    # --- persons with a legitimate interest + authorities (Annex XIII (2)) ---------------------
    _f("composition_cathode", "Cathode materials", LI, M, Kind.RECORDS, "Annex XIII (2)(a)", mandatory=True),
    _f("composition_anode", "Anode materials", LI, M, Kind.RECORDS, "Annex XIII (2)(a)", mandatory=True),
    _f("composition_electrolyte", "Electrolyte materials", LI, M, Kind.RECORDS, "Annex XIII (2)(a)", mandatory=True),
    _f("part_numbers", "Part numbers of components", LI, M, Kind.RECORDS, "Annex XIII (2)(b)", mandatory=True),
    _f("spare_part_sources", "Contacts for spare parts", LI, M, Kind.RECORDS, "Annex XIII (2)(b)", mandatory=True),
    _f("dismantling_info", "Dismantling information", LI, M, Kind.RECORDS, "Annex XIII (2)(c)", mandatory=True),
    _f("safety_measures", "Safety measures", LI, M, Kind.URL, "Annex XIII (2)(d)", mandatory=True),
    # --- notified bodies, market surveillance authorities and the Commission (Annex XIII (3)) --
    _f(
        "test_reports",
        "Results of test reports proving compliance",
        AU,
        M,
        Kind.RECORDS,
        "Annex XIII (3)",
        mandatory=True,
    ),
    _f(
        "credentials",
        "Credentials backing the claims (vc+jwt, dc+sd-jwt)",
        LI,
        IT,
        Kind.TEXTS,
        "Art. 77(2); upstream summary credentials",
        derived=True,
    ),
    # --- per battery, persons with a legitimate interest (Annex XIII (4)) -----------------------
    _f("state_of_health", "State of health", DY, IT, Kind.QUANTITY, "Annex XIII (4)(a); Annex VII", "%"),
    _f("state_of_charge", "State of charge", DY, IT, Kind.QUANTITY, "Annex VII Part A", "%"),
    _f("remaining_capacity", "Remaining capacity", DY, IT, Kind.QUANTITY, "Annex VII Part A (1)", "Ah"),
    _f("full_cycles", "Number of full charge-discharge cycles", DY, IT, Kind.INTEGER, "Annex VII Part A (4)", "cycles"),
    _f("energy_throughput", "Energy throughput", DY, IT, Kind.QUANTITY, "Annex VII Part A", "kWh"),
    _f("capacity_fade", "Capacity fade", DY, IT, Kind.QUANTITY, "Annex VII Part A", "%"),
    _f("capacity_throughput", "Capacity throughput", DY, IT, Kind.QUANTITY, "Annex VII Part A", "Ah"),
    _f("remaining_energy", "Remaining energy", DY, IT, Kind.QUANTITY, "Annex VII Part A (1)", "kWh"),
    _f("remaining_power", "Remaining power capability", DY, IT, Kind.QUANTITY, "Annex VII Part A (2)", "W"),
    _f("power_fade", "Power fade", DY, IT, Kind.QUANTITY, "Annex VII Part A (2)", "%"),
    _f(
        "remaining_round_trip_efficiency",
        "Remaining round-trip efficiency",
        DY,
        IT,
        Kind.QUANTITY,
        "Annex VII Part B (3)",
        "%",
    ),
    _f("round_trip_efficiency_fade", "Round-trip efficiency fade", DY, IT, Kind.QUANTITY, "Annex VII Part B (3)", "%"),
    _f(
        "internal_resistance_current",
        "Internal resistance (pack)",
        DY,
        IT,
        Kind.QUANTITY,
        "Annex VII Part A (3)",
        "Ohm",
    ),
    _f(
        "internal_resistance_increase",
        "Internal resistance increase (pack)",
        DY,
        IT,
        Kind.QUANTITY,
        "Annex VII Part A (3)",
        "%",
    ),
    _f(
        "self_discharge_current",
        "Evolution of self-discharge rate",
        DY,
        IT,
        Kind.QUANTITY,
        "Annex VII Part B (4)",
        "%/month",
    ),
    _f(
        "negative_events",
        "Negative events (accidents, deep discharge, ...)",
        DY,
        IT,
        Kind.RECORDS,
        "Annex VII Part A (6)",
    ),
    _f(
        "operating_environment",
        "Operating environment (temperature exposure)",
        DY,
        IT,
        Kind.RECORDS,
        "Annex VII Part A (5)",
    ),
    _f("dynamic_updated_at", "Dynamic data last updated", DY, IT, Kind.DATE, "Annex XIII (4)", derived=True),
)
FIELDS_BY_KEY: Mapping[str, FieldSpec] = {f.key: f for f in FIELDS}
#: data points written only through the dynamic-data API (Annex XIII (4))
DYNAMIC_KEYS: frozenset[str] = frozenset(f.key for f in FIELDS if f.tier is Tier.DYNAMIC and not f.derived)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with its unit (units are UCUM-like codes: kg, Ah, kWh, V, W, %, Cel, ...)."""

    value: float
    unit: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise InvalidInput(f"quantity value {self.value!r} is not finite", rule="finite numbers")


# --- the rules, as read from the ruleset -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PassportRules:
    """The passport rules of the ruleset (docs/contracts.md), in the shape the model needs.

    Built from ``batpass.compliance.load_ruleset()`` with :meth:`from_ruleset` (duck-typed, so
    the model imports no other capability). ``scope_effective`` maps a scope rule id to its
    effective date (``None``: not yet determinable).
    """

    ruleset: str
    scope_effective: Mapping[str, dt.date | None]
    industrial_min_kwh: float
    statuses: tuple[str, ...]
    allowed: Mapping[str, frozenset[str]]
    new_passport_on: frozenset[str]
    reman_capacity_min_share: float
    reman_cell_soh_spread_max: float
    launch_not_yet_required: frozenset[str]
    launch_effective: dt.date | None
    tiers: tuple[str, ...]
    cadmium_max_share: float
    lead_max_share: float

    @classmethod
    def from_ruleset(cls, ruleset: Any) -> PassportRules:
        def r(rule_id: str) -> Any:
            return ruleset.rule(rule_id)

        transitions = r("passport.status.transitions").params
        reman = r("passport.remanufactured.thresholds").params
        launch = r("passport.launch.not_yet_required")
        return cls(
            ruleset=str(getattr(ruleset, "name", "eu-2023-1542")),
            scope_effective={
                rid: r(rid).effective
                for rid in ("passport.scope.ev", "passport.scope.lmt", "passport.scope.industrial")
            },
            industrial_min_kwh=float(r("passport.scope.industrial").params["min_kwh"]),
            statuses=tuple(r("passport.status.values").params["values"]),
            allowed={k: frozenset(v) for k, v in transitions["allowed"].items()},
            new_passport_on=frozenset(transitions["new_passport_on"]),
            reman_capacity_min_share=float(reman["capacity_min_share"]),
            reman_cell_soh_spread_max=float(reman["cell_soh_spread_max"]),
            launch_not_yet_required=frozenset(launch.params["data_points"]),
            launch_effective=launch.effective,
            tiers=tuple(r("passport.access.tiers").params["tiers"]),
            cadmium_max_share=float(r("passport.hazard.cadmium").params["max_share"]),
            lead_max_share=float(r("passport.hazard.lead").params["max_share"]),
        )

    def passport_required(self, category: Category, on: dt.date) -> bool:
        eff = self.scope_effective.get(category.scope_rule)
        return eff is not None and on >= eff


# --- values ------------------------------------------------------------------------------------

_NUMBERS = (int, float)
#: quantities that are above zero (a battery has a mass, a capacity and an energy); the others may
#: be zero, and every one is finite and within its unit's range (batpass.core.limits.UNIT_RANGES)
POSITIVE_KEYS: frozenset[str] = frozenset({"rated_capacity", "rated_energy", "weight"})


def coerce_value(spec: FieldSpec, raw: Any) -> Any:
    """Parse a raw input value (YAML/JSON) for ``spec`` strictly; raises naming field and rule.

    Quantities arrive as ``{"value": n, "unit": "u"}``; the unit must be the data point's unit.
    """
    rule = f"passport field {spec.key} ({spec.source}) is {spec.kind.value}" + (f" in {spec.unit}" if spec.unit else "")

    def bad(msg: str) -> InvalidInput:
        return InvalidInput(f"{spec.key}: {msg}", field=spec.key, rule=rule)

    if spec.kind is Kind.QUANTITY:
        if isinstance(raw, Quantity):
            value, unit = raw.value, raw.unit
        elif isinstance(raw, Mapping) and set(raw) == {"value", "unit"}:
            value, unit = raw["value"], raw["unit"]
        else:
            raise bad("expected {value, unit}")
        if isinstance(value, bool) or not isinstance(value, _NUMBERS):
            raise bad("value must be a number")
        if unit != spec.unit:
            raise UnitMismatch(
                f"{spec.key}: given in '{unit}', declared in '{spec.unit}'",
                field=spec.key,
                rule=rule,
            )
        low, high = UNIT_RANGES.get(str(unit), (-math.inf, math.inf))
        number = check_number(value, field=spec.key, rule=rule, low=low, high=high, positive=spec.key in POSITIVE_KEYS)
        return Quantity(number, str(unit))
    if spec.kind is Kind.INTEGER:
        if isinstance(raw, Mapping) and set(raw) == {"value", "unit"}:
            if raw["unit"] != spec.unit:
                raise UnitMismatch(
                    f"{spec.key}: given in '{raw['unit']}', declared in '{spec.unit}'",
                    field=spec.key,
                    rule=rule,
                )
            raw = raw["value"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise bad("expected a non-negative integer")
        return raw
    if spec.kind in (Kind.TEXT, Kind.URL):
        if not isinstance(raw, str) or not raw.strip():
            raise bad("expected a non-empty string")
        if len(raw) > MAX_TEXT:
            raise bad(f"at most {MAX_TEXT} characters")
        if spec.kind is Kind.URL and not raw.startswith(("https://", "http://", "urn:")):
            raise bad("expected an https URL or URN")
        return raw
    if spec.kind is Kind.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError as exc:
            raise bad("expected an ISO 8601 date YYYY-MM-DD") from exc
    if spec.kind is Kind.TEXTS:
        if not isinstance(raw, (list, tuple)) or not all(isinstance(x, str) and x for x in raw):
            raise bad("expected a list of non-empty strings")
        if len(raw) > MAX_ITEMS or any(len(x) > MAX_TEXT for x in raw):
            raise bad(f"at most {MAX_ITEMS} strings of at most {MAX_TEXT} characters")
        return tuple(raw)
    if spec.kind is Kind.RECORDS:
        if not isinstance(raw, (list, tuple)) or not all(isinstance(x, Mapping) for x in raw):
            raise bad("expected a list of records")
        if len(raw) > MAX_ITEMS:
            raise bad(f"at most {MAX_ITEMS} records")
        out = []
        for rec in raw:
            for k, v in rec.items():
                if not isinstance(k, str) or not (v is None or isinstance(v, (str, int, float, bool))):
                    raise bad(f"record entry '{k}' must map a name to a string, number or boolean")
                if (isinstance(v, str) and len(v) > MAX_TEXT) or (isinstance(v, float) and not math.isfinite(v)):
                    raise bad(f"record entry '{k}': text at most {MAX_TEXT} characters, numbers finite")
            out.append(dict(rec))
        return tuple(out)
    if spec.kind is Kind.MAPPING:
        if not isinstance(raw, Mapping):
            raise bad("expected an object")
        return _freeze(raw)
    raise bad("unknown kind")  # pragma: no cover


def _freeze(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): (_freeze(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}


def value_to_json(value: Any) -> Any:
    """A value as JSON (quantities as ``{value, unit}``, dates ISO 8601)."""
    if isinstance(value, Quantity):
        return {"value": value.value, "unit": value.unit}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [value_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: value_to_json(v) for k, v in value.items()}
    return value


def value_from_json(spec: FieldSpec, raw: Any) -> Any:
    return coerce_value(spec, raw)


# --- mandates (Art. 77(4): the operator may mandate another operator in writing) -------------


@dataclass(frozen=True, slots=True)
class Mandate:
    """A written mandate from the responsible operator to another party to write data.

    ``scope`` is ``static`` (the Annex XIII data points other than per-battery dynamic data) or
    ``dynamic`` (Annex XIII (4)). ``document`` references the written mandate itself.
    """

    mandate_id: uuid.UUID
    passport_id: uuid.UUID
    mandator: str
    mandatee: str
    scope: frozenset[str]
    document: str
    valid_from: dt.date
    valid_until: dt.date | None = None

    def covers(self, actor: str, scope: str, on: dt.date) -> bool:
        return (
            self.mandatee == actor
            and scope in self.scope
            and self.valid_from <= on
            and (self.valid_until is None or on <= self.valid_until)
        )


# --- the aggregate -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passport:
    """One passport version's content.

    ``values`` holds the input data points (model-level and item-level) keyed by
    :class:`FieldSpec` key; the derived ones (identifiers, status, operator, links) are
    attributes and appear in :meth:`field_values`.
    """

    passport_id: uuid.UUID
    battery_id: BatteryId
    resolver_base: str
    category: Category
    model_id: str
    status: Status
    operator: str
    backup_node: str
    values: Mapping[str, Any]
    predecessors: tuple[uuid.UUID, ...] = ()
    successors: tuple[uuid.UUID, ...] = ()
    ended: bool = False
    waste_operator: str | None = None
    version: int = 0

    @property
    def digital_link(self) -> str:
        return self.battery_id.digital_link(self.resolver_base)

    def responsible(self) -> str:
        """Who answers for the passport now: the waste operator once it is waste (Art. 77(6)(b))."""
        return self.waste_operator or self.operator

    def to_record(self) -> dict[str, Any]:
        """The full content as JSON (what each signed version carries)."""
        return {
            "passportId": str(self.passport_id),
            "battery": {"gtin": str(self.battery_id.gtin), "serial": str(self.battery_id.serial)},
            "resolverBase": self.resolver_base,
            "category": self.category.value,
            "modelId": self.model_id,
            "status": self.status.value,
            "operator": self.operator,
            "wasteOperator": self.waste_operator,
            "backupNode": self.backup_node,
            "predecessors": [str(p) for p in self.predecessors],
            "successors": [str(p) for p in self.successors],
            "ended": self.ended,
            "version": self.version,
            "values": {k: value_to_json(v) for k, v in sorted(self.values.items())},
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Passport:
        values = {k: coerce_value(FIELDS_BY_KEY[k], v) for k, v in rec["values"].items()}
        return cls(
            passport_id=uuid.UUID(rec["passportId"]),
            battery_id=BatteryId(rec["battery"]["gtin"], rec["battery"]["serial"]),
            resolver_base=rec["resolverBase"],
            category=Category(rec["category"]),
            model_id=rec["modelId"],
            status=Status(rec["status"]),
            operator=rec["operator"],
            waste_operator=rec.get("wasteOperator"),
            backup_node=rec["backupNode"],
            predecessors=tuple(uuid.UUID(p) for p in rec.get("predecessors", ())),
            successors=tuple(uuid.UUID(p) for p in rec.get("successors", ())),
            ended=bool(rec.get("ended", False)),
            version=int(rec.get("version", 0)),
            values=values,
        )

    @property
    def urn(self) -> str:
        return f"urn:uuid:{self.passport_id}"

    def field_values(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        out["passport_id"] = self.urn
        out["battery_id"] = self.digital_link
        out["status"] = self.status.value
        out["category"] = self.category.value
        out["economic_operator"] = self.operator
        out["backup_node"] = self.backup_node
        if self.predecessors:
            out["predecessors"] = tuple(f"urn:uuid:{p}" for p in self.predecessors)
        if self.successors:
            out["successors"] = tuple(f"urn:uuid:{p}" for p in self.successors)
        if self.waste_operator:
            out["waste_operator"] = self.waste_operator
        return out

    def with_values(self, updates: Mapping[str, Any]) -> Passport:
        merged = dict(self.values)
        for k, v in updates.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return replace(self, values=merged)


def field_state(
    passport: Passport,
    spec: FieldSpec,
    on: dt.date,
    rules: PassportRules,
    *,
    values: Mapping[str, Any] | None = None,
) -> FieldState:
    """Present, missing, not yet required, or not applicable (ruleset ``passport.*``).

    ``values`` may pass ``passport.field_values()`` computed once for many data points.
    """
    if passport.category not in spec.applies_to:
        return FieldState.NOT_APPLICABLE
    if (values if values is not None else passport.field_values()).get(spec.key) is not None:
        return FieldState.PRESENT
    if not rules.passport_required(passport.category, on):
        return FieldState.NOT_YET_REQUIRED
    if spec.launch_group in rules.launch_not_yet_required and (
        rules.launch_effective is None or on >= rules.launch_effective
    ):
        return FieldState.NOT_YET_REQUIRED
    return FieldState.MISSING if spec.mandatory else FieldState.NOT_YET_REQUIRED


def missing_on_publish(passport: Passport, on: dt.date, rules: PassportRules) -> list[FieldSpec]:
    """Mandatory data points missing on ``on`` (their state is ``missing``)."""
    values = passport.field_values()
    return [
        s for s in FIELDS if s.mandatory and field_state(passport, s, on, rules, values=values) is FieldState.MISSING
    ]


def check_publishable(passport: Passport, on: dt.date, rules: PassportRules) -> None:
    missing = missing_on_publish(passport, on, rules)
    if missing:
        first = missing[0]
        names = ", ".join(s.key for s in missing)
        raise MissingMandatoryField(
            f"mandatory data point(s) missing on {on.isoformat()}: {names}",
            field=first.key,
            rule=f"{passport.category.scope_rule} (Art. 77(1), Annex XIII; {first.source})",
        )


def check_scope(category: Category, rated_energy: Quantity | None, rules: PassportRules) -> None:
    """Industrial batteries take a passport only above the ruleset's energy threshold."""
    if category not in (Category.INDUSTRIAL, Category.STATIONARY):
        return
    if rated_energy is None or rated_energy.value <= rules.industrial_min_kwh:
        shown = "not given" if rated_energy is None else f"{rated_energy.value} kWh"
        raise WrongCategory(
            f"industrial battery rated energy {shown}: a passport is required above {rules.industrial_min_kwh:g} kWh",
            field="rated_energy",
            rule="passport.scope.industrial (Art. 77(1))",
        )


# --- access tiers ------------------------------------------------------------------------------


def readable_keys(tiers: Iterable[Tier]) -> frozenset[str]:
    allowed = frozenset(tiers)
    return frozenset(f.key for f in FIELDS if f.tier in allowed)


def visible_view(passport: Passport, tiers: Iterable[Tier]) -> dict[str, Any]:
    """The data points a reader with ``tiers`` may see, as JSON values (all others absent)."""
    keys = readable_keys(tiers)
    return {k: value_to_json(v) for k, v in passport.field_values().items() if k in keys and v is not None}


def diff_values(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Changed data points between two versions: ``{key: {"from": ..., "to": ...}}``."""
    out: dict[str, dict[str, Any]] = {}
    for k in sorted(set(before) | set(after)):
        a, b = before.get(k), after.get(k)
        if value_to_json(a) != value_to_json(b):
            out[k] = {"from": value_to_json(a), "to": value_to_json(b)}
    return out


# --- lifecycle (Art. 77(6); ruleset passport.status.transitions) -------------------------------


def successor_status_allowed(rules: PassportRules, current: Status, to: Status) -> bool:
    return to.value in rules.allowed.get(current.value, frozenset())


def transition(passport: Passport, to: Status, rules: PassportRules, *, waste_operator: str | None = None) -> Passport:
    """A status change that keeps the passport (``waste``); others go through a new passport.

    Raises :class:`LifecycleViolation` naming the ``status`` field and the transitions rule.
    """
    rule = "passport.status.transitions (Art. 77(6))"
    if passport.ended:
        raise LifecycleViolation(
            "status: the passport has ended (battery recycled); no further change",
            rule=rule,
            field="status",
        )
    if not successor_status_allowed(rules, passport.status, to):
        allowed = sorted(rules.allowed.get(passport.status.value, frozenset()))
        raise LifecycleViolation(
            f"status: {passport.status.value} -> {to.value} is not allowed"
            f" (allowed from {passport.status.value}: {', '.join(allowed) or 'none'})",
            rule=rule,
            field="status",
        )
    if to.value in rules.new_passport_on:
        raise LifecycleViolation(
            f"status: {to.value} gives a new passport and identifier linked to this one",
            rule=rule,
            field="status",
        )
    if to is Status.WASTE and not waste_operator:
        raise InvalidInput(
            "waste_operator: becoming waste records who takes over responsibility",
            field="waste_operator",
            rule="Art. 77(6)(b) (producer, compliance scheme or waste operator)",
        )
    return replace(passport, status=to, waste_operator=waste_operator)


def check_remanufacturing(
    *,
    rated_capacity_ah: float,
    restored_capacity_ah: float,
    cell_soh: Sequence[float],
    rules: PassportRules,
) -> None:
    """Art. 3(1)(32): capacity >= 90 % of the original rating; cell state of health within 3 %."""
    rule = "passport.remanufactured.thresholds (Art. 3(1)(32))"
    if rated_capacity_ah <= 0:
        raise InvalidInput("rated_capacity must be positive", field="rated_capacity", rule=rule)
    check_number(restored_capacity_ah, field="restored_capacity", rule=rule, low=0.0, high=UNIT_RANGES["Ah"][1])
    for n, soh in enumerate(cell_soh):
        check_number(soh, field=f"cell_soh[{n}]", rule=rule, low=0.0, high=100.0)
    share = restored_capacity_ah / rated_capacity_ah
    if share < rules.reman_capacity_min_share:
        raise LifecycleViolation(
            f"restored_capacity: {restored_capacity_ah:g} Ah is {share:.1%} of the original rated"
            f" {rated_capacity_ah:g} Ah; remanufacturing needs at least"
            f" {rules.reman_capacity_min_share:.0%}",
            rule=rule,
            field="restored_capacity",
        )
    if not cell_soh:
        raise InvalidInput(
            "cell_soh: every cell must be evaluated (state of health per cell)",
            field="cell_soh",
            rule=rule,
        )
    spread = (max(cell_soh) - min(cell_soh)) / 100.0
    if spread > rules.reman_cell_soh_spread_max + 1e-12:
        raise LifecycleViolation(
            f"cell_soh: cells differ by {spread:.1%} in state of health; remanufacturing allows"
            f" at most {rules.reman_cell_soh_spread_max:.0%}",
            rule=rule,
            field="cell_soh",
        )


def parse_values(raw: Mapping[str, Any], *, allow_dynamic: bool = False) -> dict[str, Any]:
    """Parse a mapping of data points strictly: unknown keys, derived keys and bad values refused."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        spec = FIELDS_BY_KEY.get(key)
        if spec is None:
            raise InvalidInput(f"{key}: not a data point of the passport", field=key, rule="Annex XIII data points")
        if spec.derived:
            raise InvalidInput(f"{key}: set by batpass, not by input", field=key, rule=f"{spec.source} (derived)")
        if spec.tier is Tier.DYNAMIC and not allow_dynamic:
            raise InvalidInput(
                f"{key}: per-battery dynamic data is written through the dynamic-data API",
                field=key,
                rule="Annex XIII (4)",
            )
        out[key] = None if value is None else coerce_value(spec, value)
    return out


#: the most a recycler can recover from one battery, per material, in kg (a sanity bound)
MAX_RECOVERED_KG = 10_000.0


def parse_recovered(raw: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """What a recycler recovered from the battery: ``{material, mass_kg}`` records, each material
    named once, each mass positive and finite (Art. 77(8); Annex XII Part C)."""
    rule = "passport field recovered_materials (Art. 77(8)) is a list of {material, mass_kg}"
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    if len(raw) > MAX_ITEMS:
        raise InvalidInput(f"recovered: at most {MAX_ITEMS} records", field="recovered", rule=rule)
    for n, rec in enumerate(raw):
        where = f"recovered[{n}]"
        if not isinstance(rec, Mapping) or set(rec) != {"material", "mass_kg"}:
            raise InvalidInput(f"{where}: expected exactly material and mass_kg", field=where, rule=rule)
        material, mass = rec["material"], rec["mass_kg"]
        if not isinstance(material, str) or not material.strip() or len(material) > MAX_TEXT:
            raise InvalidInput(f"{where}.material: a non-empty name", field=f"{where}.material", rule=rule)
        if material.strip().lower() in seen:
            raise InvalidInput(f"{where}.material: {material} is listed twice", field=f"{where}.material", rule=rule)
        seen.add(material.strip().lower())
        if isinstance(mass, bool) or not isinstance(mass, _NUMBERS):
            raise InvalidInput(f"{where}.mass_kg: a number of kg", field=f"{where}.mass_kg", rule=rule)
        kg = check_number(mass, field=f"{where}.mass_kg", rule=rule, low=0.0, high=MAX_RECOVERED_KG, positive=True)
        out.append({"material": material.strip(), "mass_kg": kg})
    return tuple(out)


def new_life_values(
    target: Status, values: Mapping[str, Any], *, category: str | None, use: str | None
) -> tuple[dict[str, Any], Category | None]:
    """The data points a second life sets, and its new category: only a repurposed battery takes
    a new category or use (Art. 3(1)(31)); re-use and remanufacturing keep the original purpose."""
    updates = parse_values(values)
    if use is not None:
        updates.update(parse_values({"intended_use": use}))
    new_category = None if category is None else parse_category(category)
    if (new_category is not None or "intended_use" in updates) and target is not Status.REPURPOSED:
        name = "category" if new_category is not None else "use"
        raise InvalidInput(
            f"{name}: only a repurposed battery takes a new category or use"
            " (re-use and remanufacturing keep the original purpose)",
            field=name,
            rule="Art. 3(1)(31) (repurposing)",
        )
    return updates, new_category


def carried_values(base: Passport, updates: Mapping[str, Any], new_category: Category | None) -> dict[str, Any]:
    """What a new life's passport carries from ``base``: its data points but the dynamic ones and
    the former use; with a new model or category not the old model's carbon footprint (declared
    per battery model, Art. 7(1)); then ``updates``."""
    carried = {k: v for k, v in base.values.items() if FIELDS_BY_KEY[k].tier is not Tier.DYNAMIC}
    carried.pop("intended_use", None)
    new_model = updates.get("model_name") not in (None, base.values.get("model_name"))
    if new_model or new_category not in (None, base.category):
        for key in [k for k in carried if FIELDS_BY_KEY[k].launch_group == "carbon_footprint"]:
            del carried[key]
    carried.update(updates)
    return carried
