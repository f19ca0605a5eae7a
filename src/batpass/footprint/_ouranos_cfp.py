"""The Ouranos CFP arithmetic, written once (contract section 2; shared with ``ouranos/``).

Role: the numbers of the Ouranos data transaction API's carbon footprint records — the four
per-declared-unit values of one part (``cfpType`` ``preProduction``, ``mainProduction``,
``preComponent``, ``mainComponent``), the data-quality ratings per stage (``dqrType``
``preProcessing`` / ``mainProcessing``, each ``{TeR, GeR, TiR}``), the parent totals and the
5-decimal round-up.

Sources: the published OpenAPI (``ouranos-ecosystem-idi/data-transaction-system``, ``docs/openapi.yaml``:
``CfpModel.ghgEmission``: 0–99999.99999, at most 5 decimals; ``ghgDeclaredUnit`` enum), and the
reference application's arithmetic (``ouranos-ecosystem-idi/sample-application-cfp-frontend``,
``lib/utils.ts``):

- parent stage value = own stage value + Σ(child stage total × amount required);
- each of TeR, GeR, TiR of a stage = Σ(dqr × emission) / Σ(emission) over the parent's own
  emission of that stage and each child's (amount × stage total);
- every value is rounded **up** at the 6th decimal (ceiling, values are never negative).

The scale of the ratings is not published with the API; the values are kept raw here. This module
is pure: no I/O, no web framework, no SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from batpass.core.errors import InvalidInput

#: the largest value ``ghgEmission`` and ``dqrValue`` accept (OpenAPI ``CfpModel``)
OURANOS_MAX = Decimal("99999.99999")
_QUANTUM = Decimal("0.00001")
_RULE_FOUR = "Ouranos CFP PUT: preProduction, mainProduction, preComponent and mainComponent are sent together"
_RULE_RANGE = "Ouranos CfpModel.ghgEmission: 0–99999.99999, at most 5 decimals, rounded up at the 6th"

#: ``ghgDeclaredUnit`` enum of the published OpenAPI
OURANOS_DECLARED_UNITS: frozenset[str] = frozenset(
    {
        "kgCO2e/liter",
        "kgCO2e/kilogram",
        "kgCO2e/cubic-meter",
        "kgCO2e/kilowatt-hour",
        "kgCO2e/megajoule",
        "kgCO2e/ton-kilometer",
        "kgCO2e/square-meter",
        "kgCO2e/unit",
    }
)


def _to_decimal(value: Decimal | int | str | float, field: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number, got {value!r}", field=field, rule=_RULE_RANGE, value=value)
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidOperation
            # the shortest repr is what the sender wrote; binary expansion would invent digits
            dec = Decimal(repr(value))
        else:
            dec = Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{field} must be a decimal number, got {value!r}", field=field, rule=_RULE_RANGE, value=value
        ) from exc
    if not dec.is_finite():
        raise InvalidInput(f"{field} must be finite, got {value!r}", field=field, rule=_RULE_RANGE, value=value)
    return dec


def ouranos_round(value: Decimal | int | str | float, *, field: str = "ghgEmission") -> Decimal:
    """Round to at most 5 decimals, **up** at the 6th (ceiling; values are 0 or more).

    Raises :class:`InvalidInput` naming ``field`` when the value is negative or, once rounded,
    above :data:`OURANOS_MAX`.
    """
    dec = _to_decimal(value, field)
    if dec < 0:
        raise InvalidInput(f"{field} is {dec}, below 0", field=field, rule=_RULE_RANGE, value=str(dec))
    rounded = dec.quantize(_QUANTUM, rounding=ROUND_CEILING)
    if rounded > OURANOS_MAX:
        raise InvalidInput(f"{field} is {dec}, above {OURANOS_MAX}", field=field, rule=_RULE_RANGE, value=str(dec))
    return rounded


@dataclass(frozen=True)
class OuranosDqr:
    """Data-quality ratings of one stage: technological (TeR), geographical (GeR) and temporal
    (TiR) representativeness, raw (the scale is not published with the API)."""

    ter: Decimal
    ger: Decimal
    tir: Decimal

    def __post_init__(self) -> None:
        for name in ("ter", "ger", "tir"):
            object.__setattr__(self, name, ouranos_round(getattr(self, name), field=f"dqrValue.{name}"))

    @property
    def overall(self) -> Decimal:
        """(TeR + GeR + TiR) / 3, as the reference application shows it (``lib/utils.ts``)."""
        return (self.ter + self.ger + self.tir) / 3


@dataclass(frozen=True)
class OuranosCfp:
    """One part's CFP per declared unit: the four values the published API writes together.

    ``pre_production`` / ``main_production`` are the part's own emissions, ``pre_component`` /
    ``main_component`` those from its parts, for the raw-material acquisition and pre-processing
    stage (前処理) and the main production stage (製造). Values are normalised with
    :func:`ouranos_round` on construction.
    """

    pre_production: Decimal
    main_production: Decimal
    pre_component: Decimal
    main_component: Decimal
    unit: str
    dqr_pre: OuranosDqr | None = None
    dqr_main: OuranosDqr | None = None

    def __post_init__(self) -> None:
        for name, wire in (
            ("pre_production", "preProduction"),
            ("main_production", "mainProduction"),
            ("pre_component", "preComponent"),
            ("main_component", "mainComponent"),
        ):
            value = getattr(self, name)
            if value is None:
                raise InvalidInput(
                    f"cfpType {wire} is missing: a CFP carries all four values together",
                    field=f"cfp.{wire}",
                    rule=_RULE_FOUR,
                )
            object.__setattr__(self, name, ouranos_round(value, field=f"cfp.{wire}.ghgEmission"))
        if self.unit not in OURANOS_DECLARED_UNITS:
            raise InvalidInput(
                f"ghgDeclaredUnit {self.unit!r} is not one of {sorted(OURANOS_DECLARED_UNITS)}",
                field="cfp.ghgDeclaredUnit",
                rule="Ouranos CfpModel.ghgDeclaredUnit enum",
                value=self.unit,
            )

    @property
    def pre_total(self) -> Decimal:
        """Pre-processing stage total (own + from parts), ``preProductionTotal``."""
        return self.pre_production + self.pre_component

    @property
    def main_total(self) -> Decimal:
        """Main production stage total (own + from parts), ``mainProductionTotal``."""
        return self.main_production + self.main_component

    @property
    def total(self) -> Decimal:
        return self.pre_total + self.main_total


def ouranos_weighted_dqr(items: Sequence[tuple[Decimal, OuranosDqr]]) -> OuranosDqr | None:
    """Emission-weighted mean of ratings: each of TeR, GeR, TiR = Σ(w × r) / Σ(w).

    ``items`` are ``(emission weight, ratings)``. Returns ``None`` when there is nothing to weigh
    (no items, or all weights zero): a rating is then undefined, never zero.
    """
    total = Decimal(0)
    ter = ger = tir = Decimal(0)
    for weight, dqr in items:
        w = _to_decimal(weight, "dqr weight")
        if w < 0:
            raise InvalidInput(f"emission weight {w} is negative", field="ghgEmission", rule=_RULE_RANGE, value=str(w))
        total += w
        ter += w * dqr.ter
        ger += w * dqr.ger
        tir += w * dqr.tir
    if total == 0:
        return None
    return OuranosDqr(ter=ter / total, ger=ger / total, tir=tir / total)


def ouranos_parent_cfp(
    *,
    pre_own: Decimal,
    main_own: Decimal,
    children: Sequence[tuple[OuranosCfp, Decimal]],
    dqr_pre_own: OuranosDqr | None = None,
    dqr_main_own: OuranosDqr | None = None,
    unit: str,
) -> OuranosCfp:
    """A parent part's CFP from its own emissions and its children's released values.

    ``children`` are ``(child's released CFP, amountRequired)``; each child contributes its stage
    totals × amount to the parent's ``preComponent`` / ``mainComponent``. Ratings are
    emission-weighted over the parent's own emission and each child's contribution (children
    without ratings, and zero emissions, carry no weight). Values are rounded up at the 6th decimal.
    """
    pre_own_d = ouranos_round(pre_own, field="cfp.preProduction.ghgEmission")
    main_own_d = ouranos_round(main_own, field="cfp.mainProduction.ghgEmission")
    pre_parts = Decimal(0)
    main_parts = Decimal(0)
    pre_items: list[tuple[Decimal, OuranosDqr]] = []
    main_items: list[tuple[Decimal, OuranosDqr]] = []
    if dqr_pre_own is not None:
        pre_items.append((pre_own_d, dqr_pre_own))
    if dqr_main_own is not None:
        main_items.append((main_own_d, dqr_main_own))
    for index, (child, amount) in enumerate(children):
        amt = _to_decimal(amount, f"children[{index}].amountRequired")
        if amt < 0:
            raise InvalidInput(
                f"amountRequired of child {index} is {amt}, below 0",
                field=f"children[{index}].amountRequired",
                rule="amountRequired is a non-negative quantity",
                value=str(amt),
            )
        pre_contrib = child.pre_total * amt
        main_contrib = child.main_total * amt
        pre_parts += pre_contrib
        main_parts += main_contrib
        if child.dqr_pre is not None:
            pre_items.append((pre_contrib, child.dqr_pre))
        if child.dqr_main is not None:
            main_items.append((main_contrib, child.dqr_main))
    return OuranosCfp(
        pre_production=pre_own_d,
        main_production=main_own_d,
        pre_component=ouranos_round(pre_parts, field="cfp.preComponent.ghgEmission"),
        main_component=ouranos_round(main_parts, field="cfp.mainComponent.ghgEmission"),
        unit=unit,
        dqr_pre=ouranos_weighted_dqr(pre_items),
        dqr_main=ouranos_weighted_dqr(main_items),
    )
