"""The normalised product footprint and its aggregation along a bill of materials (pure).

Role: one product footprint every exchange format maps to and from — per declared unit and as a
total, the Annex II stage split (or one cradle-to-gate value marked "stage split not provided"),
primary data share, data-quality ratings on a stated scale, reference period, geography, method and
standards, verification, mass-balance flag — and the aggregation of a product's footprint from its
inputs' supplier footprints (Regulation (EU) 2023/1542 Art. 7, Annex II; PACT Technical Specifications
v2 and v3; docs/rules.md "Footprint exchange").

Conventions: values are ``Decimal`` kg CO2e excluding biogenic uptake; ``per_unit`` is the
footprint of **one** declared unit; ``total`` = ``per_unit × declared_unit_amount``. A stage a
source does not carry is ``None`` ("not provided"), never zero. This module knows no wire format,
no SQL and no HTTP; the format mapping tables live in ``_pact.py``, ``_catenax_pcf.py`` and
``_ouranos_map.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from batpass.core.errors import InvalidInput

ZERO = Decimal(0)
ONE = Decimal(1)


class Stage(StrEnum):
    """The four life-cycle stages of Annex II point 4 (the use stage is excluded)."""

    RAW_MATERIAL = "raw_material_and_preprocessing"
    MAIN_PRODUCTION = "main_production"
    DISTRIBUTION = "distribution"
    END_OF_LIFE = "end_of_life"


class DeclaredUnit(StrEnum):
    """Declared units across PACT v2/v3, Catena-X PCF 9.0 and Ouranos (mapped in each adapter)."""

    KILOGRAM = "kilogram"
    PIECE = "piece"
    KILOWATT_HOUR = "kilowatt_hour"
    LITER = "liter"
    CUBIC_METER = "cubic_meter"
    MEGAJOULE = "megajoule"
    TON_KILOMETER = "ton_kilometer"
    SQUARE_METER = "square_meter"


class DqrScale(StrEnum):
    """The scale a set of data-quality ratings is expressed on (lower is better on 1–3 and 1–5)."""

    ONE_TO_THREE = "1-3"  # PACT v2
    ONE_TO_FIVE = "1-5"  # PACT v3, Catena-X PCF 9.0, and batpass's normalised scale
    UNSPECIFIED = "unspecified"  # Ouranos: the scale is not published with the API


_SCALE_RANGE = {DqrScale.ONE_TO_THREE: (ONE, Decimal(3)), DqrScale.ONE_TO_FIVE: (ONE, Decimal(5))}


@dataclass(frozen=True)
class DataQuality:
    """Technological, geographical and temporal data-quality ratings on ``scale``."""

    technological: Decimal
    geographical: Decimal
    temporal: Decimal
    scale: DqrScale

    def __post_init__(self) -> None:
        bounds = _SCALE_RANGE.get(self.scale)
        if bounds is None:
            return
        low, high = bounds
        for name in ("technological", "geographical", "temporal"):
            value = getattr(self, name)
            if not (low <= value <= high):
                raise InvalidInput(
                    f"{name} data-quality rating {value} is outside {low}–{high}",
                    field=f"dqi.{name}DQR",
                    rule=f"data-quality ratings range {self.scale.value} (PACT v2: 1-3; PACT v3, Catena-X PCF: 1-5)",
                    value=str(value),
                )

    def to_scale(self, target: DqrScale) -> DataQuality:
        """Convert between 1–3 and 1–5 by the documented linear rule (docs/footprint.md):
        ``x5 = 1 + 2 (x3 − 1)``, ``x3 = 1 + (x5 − 1) / 2`` — both ends and the middle map onto each
        other (1↔1, 2↔3, 3↔5) and lower stays better. An unspecified scale is never converted here
        (see ``OuranosDqrMapping``)."""
        if target == self.scale:
            return self
        if DqrScale.UNSPECIFIED in (target, self.scale):
            raise InvalidInput(
                "ratings on an unspecified scale are converted only through a configured mapping",
                field="dqi.scale",
                rule="Ouranos DQR scale unspecified (not published with the Ouranos data transaction API)",
            )
        if self.scale == DqrScale.ONE_TO_THREE:

            def conv(x: Decimal) -> Decimal:
                return ONE + 2 * (x - ONE)
        else:

            def conv(x: Decimal) -> Decimal:
                return ONE + (x - ONE) / 2

        return DataQuality(conv(self.technological), conv(self.geographical), conv(self.temporal), target)


@dataclass(frozen=True)
class StageSplit:
    """Footprint per declared unit by Annex II stage. ``None`` = not provided (never zero).

    ``unsplit`` carries a cradle-to-gate value whose split into raw material / main production the
    source does not give ("stage split not provided"); then those two stages are ``None``.
    """

    raw_material: Decimal | None = None
    main_production: Decimal | None = None
    distribution: Decimal | None = None
    end_of_life: Decimal | None = None
    unsplit: Decimal | None = None

    def __post_init__(self) -> None:
        if self.unsplit is not None and (self.raw_material is not None or self.main_production is not None):
            raise InvalidInput(
                "a cradle-to-gate value without split cannot sit beside raw-material or main-production values",
                field="stages.unsplit",
                rule=(
                    "Regulation (EU) 2023/1542 Annex II: a cradle-to-gate value without a stage split stands for "
                    "raw material and main production together (stage split not provided)"
                ),
            )

    def get(self, stage: Stage) -> Decimal | None:
        return {
            Stage.RAW_MATERIAL: self.raw_material,
            Stage.MAIN_PRODUCTION: self.main_production,
            Stage.DISTRIBUTION: self.distribution,
            Stage.END_OF_LIFE: self.end_of_life,
        }[stage]

    @property
    def split_provided(self) -> bool:
        return self.unsplit is None

    @property
    def not_provided(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in Stage if self.get(stage) is None)

    @property
    def total(self) -> Decimal:
        return sum((v for v in (*[self.get(s) for s in Stage], self.unsplit) if v is not None), ZERO)

    def scaled(self, factor: Decimal) -> StageSplit:
        def m(v: Decimal | None) -> Decimal | None:
            return None if v is None else v * factor

        return StageSplit(
            m(self.raw_material), m(self.main_production), m(self.distribution), m(self.end_of_life), m(self.unsplit)
        )

    def as_dict(self) -> dict[str, Decimal | None]:
        out: dict[str, Decimal | None] = {stage.value: self.get(stage) for stage in Stage}
        out["cradle_to_gate_unsplit"] = self.unsplit
        return out


@dataclass(frozen=True)
class Verification:
    """Third-party verification or certification of a footprint (PACT ``verification``/``assurance``,
    Catena-X ``attestationOfConformance``, Ouranos certificate files)."""

    provider: str
    standard: str | None = None
    coverage: str | None = None
    completed_at: dt.datetime | None = None


@dataclass(frozen=True)
class FootprintHeader:
    """Who and what a footprint describes, and for which period."""

    id: str
    product_ids: tuple[str, ...]
    product_name: str
    company_name: str
    company_ids: tuple[str, ...]
    reference_period_start: dt.datetime | None
    reference_period_end: dt.datetime | None
    created: dt.datetime
    product_description: str = ""
    classifications: tuple[str, ...] = ()
    geography: str | None = None
    standards: tuple[str, ...] = ()
    method: str | None = None  # e.g. "METI battery CFP method 1.1", "PACT-3.0"
    status: str = "Active"
    validity_start: dt.datetime | None = None
    validity_end: dt.datetime | None = None
    comment: str = ""

    def __post_init__(self) -> None:
        if self.reference_period_start is None or self.reference_period_end is None:
            raise InvalidInput(
                "a footprint needs its reference period (start and end)",
                field="pcf.referencePeriodStart" if self.reference_period_start is None else "pcf.referencePeriodEnd",
                rule="reference period required (PACT CarbonFootprint.referencePeriodStart/End)",
            )
        if self.reference_period_end < self.reference_period_start:
            raise InvalidInput(
                "the reference period ends before it starts",
                field="pcf.referencePeriodEnd",
                rule="referencePeriodEnd ≥ referencePeriodStart",
            )


@dataclass(frozen=True)
class ProductFootprint:
    """The normalised product footprint."""

    header: FootprintHeader
    declared_unit: DeclaredUnit
    declared_unit_amount: Decimal
    per_unit: Decimal
    stages: StageSplit
    mass_per_declared_unit_kg: Decimal | None = None
    primary_data_share: Decimal | None = None  # 0..1
    dqr: DataQuality | None = None
    exempted_share: Decimal | None = None  # 0..1
    mass_balance: bool = False
    verification: Verification | None = None
    source: str = "batpass"
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.declared_unit_amount <= 0:
            raise InvalidInput(
                f"declared unit amount is {self.declared_unit_amount}, must be > 0",
                field="pcf.declaredUnitAmount",
                rule="declaredUnitAmount > 0 (PACT v3)",
                value=str(self.declared_unit_amount),
            )
        if self.per_unit < 0:
            raise InvalidInput(
                f"footprint {self.per_unit} is negative",
                field="pcf.pcfExcludingBiogenicUptake",
                rule="pcfExcludingBiogenicUptake ≥ 0",
                value=str(self.per_unit),
            )
        for name in ("primary_data_share", "exempted_share"):
            value = getattr(self, name)
            if value is not None and not (ZERO <= value <= ONE):
                raise InvalidInput(f"{name} {value} is outside 0–1", field=name, rule="share 0–100 %", value=str(value))
        if self.mass_per_declared_unit_kg is not None and self.mass_per_declared_unit_kg < 0:
            raise InvalidInput(
                "mass per declared unit is negative",
                field="pcf.productMassPerDeclaredUnit",
                rule="productMassPerDeclaredUnit ≥ 0",
            )

    @property
    def total(self) -> Decimal:
        """Footprint of ``declared_unit_amount`` declared units (PACT v3 ``pcfExcludingBiogenicUptake``)."""
        return self.per_unit * self.declared_unit_amount


# ---- Annex II stage by supplier role: the mapping table ------------------------------------------


class SupplierRole(StrEnum):
    MINE = "mine"
    REFINER = "refiner"
    PRECURSOR = "precursor"
    CATHODE = "cathode"
    ANODE = "anode"
    ELECTROLYTE = "electrolyte"
    SEPARATOR = "separator"
    COMPONENT = "component"  # housings, electronics, passive parts
    CELL = "cell"
    MODULE = "module"
    PACK = "pack"
    LOGISTICS = "logistics"
    RECYCLER = "recycler"


CARRY = "carry"
"""The input is itself a battery component with its own Annex II split: its stages are carried."""

#: Which Annex II stage an input's footprint goes to, by the supplier's role. Materials and
#: component parts up to the cell components belong to "raw material acquisition and
#: pre-processing"; cells, modules and packs carry their own Annex II split (their assembly is
#: "main product production"); logistics services go to distribution; recycling services to end
#: of life. (Annex II point 4; the JRC draft rules for EV batteries place active-material
#: manufacture in the first stage.) A component's own distribution value (inbound transport to
#: the assembler) is part of the assembler's main production.
ROLE_STAGE: Mapping[SupplierRole, Stage | str] = {
    SupplierRole.MINE: Stage.RAW_MATERIAL,
    SupplierRole.REFINER: Stage.RAW_MATERIAL,
    SupplierRole.PRECURSOR: Stage.RAW_MATERIAL,
    SupplierRole.CATHODE: Stage.RAW_MATERIAL,
    SupplierRole.ANODE: Stage.RAW_MATERIAL,
    SupplierRole.ELECTROLYTE: Stage.RAW_MATERIAL,
    SupplierRole.SEPARATOR: Stage.RAW_MATERIAL,
    SupplierRole.COMPONENT: Stage.RAW_MATERIAL,
    SupplierRole.CELL: CARRY,
    SupplierRole.MODULE: CARRY,
    SupplierRole.PACK: CARRY,
    SupplierRole.LOGISTICS: Stage.DISTRIBUTION,
    SupplierRole.RECYCLER: Stage.END_OF_LIFE,
}


@dataclass(frozen=True)
class Quantity:
    amount: Decimal
    unit: DeclaredUnit


@dataclass(frozen=True)
class BomInput:
    """One input of a transformation: a supplier footprint × quantity consumed.

    ``mass_per_piece_kg`` converts pieces to kilograms when the input is counted in pieces but its
    footprint is declared per kilogram.
    """

    footprint: ProductFootprint
    quantity: Quantity
    role: SupplierRole
    mass_per_piece_kg: Decimal | None = None


@dataclass(frozen=True)
class OwnEmissions:
    """The aggregator's own emissions for the whole output batch, kg CO2e, by Annex II stage."""

    by_stage: Mapping[Stage, Decimal] = field(default_factory=dict)
    primary_data_share: Decimal | None = None
    dqr: DataQuality | None = None
    mass_balance: bool = False

    @property
    def total(self) -> Decimal:
        return sum(self.by_stage.values(), ZERO)


_RULE_UNITS = "input emissions = quantity × supplier footprint per unit; units must match (docs/rules.md 'Aggregation')"


def declared_units_of(item: BomInput, index: int) -> Decimal:
    """The input quantity expressed in the supplier footprint's declared unit.

    Same unit: as is. Kilograms of a footprint declared per piece: ÷ mass per declared unit.
    Pieces of a footprint declared per kilogram: × ``mass_per_piece_kg`` of the input. Anything
    else is a unit mismatch.
    """
    fp = item.footprint
    qty = item.quantity
    if qty.amount < 0:
        raise InvalidInput(
            f"input {index} quantity {qty.amount} is negative",
            field=f"inputs[{index}].quantity",
            rule="quantities are non-negative",
            value=str(qty.amount),
        )
    if qty.unit == fp.declared_unit:
        return qty.amount
    if qty.unit == DeclaredUnit.KILOGRAM and fp.declared_unit == DeclaredUnit.PIECE:
        mass = fp.mass_per_declared_unit_kg
        if not mass:
            raise InvalidInput(
                f"input {index} is counted in kilogram but its footprint is per piece without a mass per declared unit",
                field=f"inputs[{index}].footprint.productMassPerDeclaredUnit",
                rule=_RULE_UNITS,
            )
        return qty.amount / mass
    if qty.unit == DeclaredUnit.PIECE and fp.declared_unit == DeclaredUnit.KILOGRAM:
        if not item.mass_per_piece_kg:
            raise InvalidInput(
                f"input {index} is counted in pieces but its footprint is per kilogram and no mass per piece is given",
                field=f"inputs[{index}].mass_per_piece_kg",
                rule=_RULE_UNITS,
            )
        return qty.amount * item.mass_per_piece_kg
    raise InvalidInput(
        f"input {index} is counted in {qty.unit.value} but its footprint is declared per {fp.declared_unit.value}",
        field=f"inputs[{index}].quantity.unit",
        rule=_RULE_UNITS,
        value=qty.unit.value,
    )


def _common_dqr(dqr: DataQuality | None) -> DataQuality | None:
    if dqr is None or dqr.scale == DqrScale.UNSPECIFIED:
        return None
    return dqr.to_scale(DqrScale.ONE_TO_FIVE)


@dataclass
class _Acc:
    raw: Decimal = ZERO
    main: Decimal = ZERO
    dist: Decimal | None = None
    eol: Decimal | None = None
    unsplit: Decimal | None = None

    def add(self, stage: Stage, value: Decimal) -> None:
        if stage == Stage.RAW_MATERIAL:
            self.raw += value
        elif stage == Stage.MAIN_PRODUCTION:
            self.main += value
        elif stage == Stage.DISTRIBUTION:
            self.dist = (self.dist or ZERO) + value
        else:
            self.eol = (self.eol or ZERO) + value

    def add_unsplit(self, value: Decimal) -> None:
        self.unsplit = (self.unsplit or ZERO) + value


def aggregate(
    inputs: Sequence[BomInput],
    *,
    own: OwnEmissions,
    output: Quantity,
    header: FootprintHeader,
    mass_per_declared_unit_kg: Decimal | None = None,
) -> ProductFootprint:
    """A product's footprint from its inputs and its own emissions (docs/rules.md "Aggregation").

    Each input contributes quantity (in its footprint's declared unit) × footprint per unit,
    assigned to Annex II stages by ``ROLE_STAGE``; own emissions are added by stage; the sum is
    divided by the output quantity. Primary data share and data-quality ratings (on the 1–5 scale)
    are emission-weighted averages over inputs and own emissions; when any contributor with
    emissions lacks one, the result has none (never a guess). A stage nobody provides stays "not
    provided"; a cradle-to-gate value without split stays unsplit.
    """
    if output.amount <= 0:
        raise InvalidInput(
            f"output quantity {output.amount} must be > 0", field="output.amount", rule="divide by output quantity"
        )
    acc = _Acc()
    weights: list[tuple[Decimal, Decimal | None, DataQuality | None]] = []
    mass_balance = own.mass_balance
    notes: list[str] = []
    for index, item in enumerate(inputs):
        units = declared_units_of(item, index)
        fp = item.footprint
        split = fp.stages.scaled(units)
        contribution = fp.per_unit * units
        target = ROLE_STAGE[item.role]
        if target == CARRY:
            if split.raw_material is not None:
                acc.add(Stage.RAW_MATERIAL, split.raw_material)
            if split.main_production is not None:
                acc.add(Stage.MAIN_PRODUCTION, split.main_production)
            if split.distribution is not None:
                acc.add(Stage.MAIN_PRODUCTION, split.distribution)
            if split.end_of_life is not None:
                acc.add(Stage.END_OF_LIFE, split.end_of_life)
            if split.unsplit is not None:
                acc.add_unsplit(split.unsplit)
                notes.append(f"input {index} ({fp.header.product_name}): stage split not provided")
        else:
            assert isinstance(target, Stage)
            acc.add(target, contribution)
        weights.append((contribution, fp.primary_data_share, _common_dqr(fp.dqr)))
        mass_balance = mass_balance or fp.mass_balance
    for stage, value in own.by_stage.items():
        if value < 0:
            raise InvalidInput(
                f"own emissions for {stage.value} are negative", field=f"own.{stage.value}", rule="emissions ≥ 0"
            )
        acc.add(Stage(stage), value)
    weights.append((own.total, own.primary_data_share, _common_dqr(own.dqr)))

    total_weight = sum((w for w, _, _ in weights), ZERO)
    pds: Decimal | None = None
    dqr: DataQuality | None = None
    if total_weight > 0:
        if all(p is not None for w, p, _ in weights if w > 0):
            pds = sum((w * p for w, p, _ in weights if w > 0 and p is not None), ZERO) / total_weight
        if all(d is not None for w, _, d in weights if w > 0):
            tech = sum((w * d.technological for w, _, d in weights if w > 0 and d is not None), ZERO)
            geo = sum((w * d.geographical for w, _, d in weights if w > 0 and d is not None), ZERO)
            temp = sum((w * d.temporal for w, _, d in weights if w > 0 and d is not None), ZERO)
            dqr = DataQuality(tech / total_weight, geo / total_weight, temp / total_weight, DqrScale.ONE_TO_FIVE)

    per = ONE / output.amount
    if acc.unsplit is not None:
        # some of the cradle-to-gate value has no split: the raw/main split of the result is not provided
        stages = StageSplit(
            None,
            None,
            None if acc.dist is None else acc.dist * per,
            None if acc.eol is None else acc.eol * per,
            (acc.unsplit + acc.raw + acc.main) * per,
        )
    else:
        stages = StageSplit(
            acc.raw * per,
            acc.main * per,
            None if acc.dist is None else acc.dist * per,
            None if acc.eol is None else acc.eol * per,
        )
    return ProductFootprint(
        header=header,
        declared_unit=output.unit,
        declared_unit_amount=ONE,
        per_unit=stages.total,
        stages=stages,
        mass_per_declared_unit_kg=mass_per_declared_unit_kg,
        primary_data_share=pds,
        dqr=dqr,
        mass_balance=mass_balance,
        source="batpass-aggregation",
        notes=tuple(notes),
    )


# ---- kg CO2e per kWh of total lifetime energy ----------------------------------------------------


@dataclass(frozen=True)
class LifetimeEnergy:
    """Total energy a battery provides over its service life, the Annex II functional unit.

    Default formula (configurable until the Commission's methodology act defines it):
    ``E_total [kWh] = rated_energy_kwh × full_equivalent_cycles × usable_share``; or give
    ``total_kwh`` directly to override it.
    """

    rated_energy_kwh: Decimal | None = None
    full_equivalent_cycles: Decimal | None = None
    usable_share: Decimal = ONE
    total_kwh: Decimal | None = None

    FORMULA = "E_total = rated_energy_kwh × full_equivalent_cycles × usable_share (kWh); CF = Σ stages / E_total"

    def total(self) -> Decimal:
        if self.total_kwh is not None:
            value = self.total_kwh
        elif self.rated_energy_kwh is not None and self.full_equivalent_cycles is not None:
            value = self.rated_energy_kwh * self.full_equivalent_cycles * self.usable_share
        else:
            raise InvalidInput(
                "lifetime energy needs total_kwh, or rated_energy_kwh and full_equivalent_cycles",
                field="lifetime",
                rule="Annex II functional unit: kWh of total energy over the service life",
            )
        if value <= 0:
            raise InvalidInput(f"lifetime energy {value} kWh must be > 0", field="lifetime", rule="E_total > 0")
        return value


#: the basis of every per-kWh carbon footprint figure batpass states (issue 18): kg CO2e per kWh of
#: the total energy the battery provides over its expected service life (Annex II functional
#: unit), never per kWh of rated capacity; the passport's ``carbon_footprint``, the compliance
#: report's ``footprint``, ``summary.json``'s ``story.footprint`` and the PACT extension's
#: ``perKwhLifetimeEnergy`` are this figure
PER_KWH_LIFETIME_ENERGY = "per_kwh_lifetime_energy"


@dataclass(frozen=True)
class PerKwh:
    """A battery's footprint in kg CO2e per kWh of total lifetime energy, by Annex II stage
    (basis :data:`PER_KWH_LIFETIME_ENERGY`)."""

    total: Decimal
    stages: Mapping[Stage, Decimal | None]
    unsplit: Decimal | None
    lifetime_kwh: Decimal
    formula: str

    @property
    def not_provided(self) -> tuple[Stage, ...]:
        return tuple(stage for stage, value in self.stages.items() if value is None)


def per_kwh(footprint: ProductFootprint, lifetime: LifetimeEnergy) -> PerKwh:
    """kg CO2e per kWh for one battery: its footprint per piece ÷ E_total (per stage likewise)."""
    if footprint.declared_unit != DeclaredUnit.PIECE:
        raise InvalidInput(
            "the per-kWh figure is computed for one battery (declared unit piece), "
            f"not per {footprint.declared_unit.value}",
            field="declared_unit",
            rule="Annex II: footprint of one battery per kWh of lifetime energy",
        )
    energy = lifetime.total()
    stages = {stage: (None if v is None else v / energy) for stage in Stage for v in [footprint.stages.get(stage)]}
    unsplit = None if footprint.stages.unsplit is None else footprint.stages.unsplit / energy
    return PerKwh(footprint.per_unit / energy, stages, unsplit, energy, LifetimeEnergy.FORMULA)


def with_header(footprint: ProductFootprint, **changes: object) -> ProductFootprint:
    """A copy with header fields replaced."""
    return replace(footprint, header=replace(footprint.header, **changes))  # type: ignore[arg-type]
