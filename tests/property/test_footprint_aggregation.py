"""Properties of the footprint arithmetic (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.footprint import OuranosCfp, ouranos_parent_cfp, ouranos_round
from batpass.footprint.model import (
    BomInput,
    DeclaredUnit,
    FootprintHeader,
    OwnEmissions,
    ProductFootprint,
    Quantity,
    Stage,
    StageSplit,
    SupplierRole,
    aggregate,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
HEADER = FootprintHeader(
    id="x",
    product_ids=("urn:x",),
    product_name="x",
    company_name="c",
    company_ids=("urn:c",),
    reference_period_start=T0,
    reference_period_end=T0,
    created=T0,
)
amounts = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
# small enough that a parent stays within the Ouranos maximum (5 children × 100 × 100)
small = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=0, max_value=D("99999.99999"), places=8, allow_nan=False, allow_infinity=False))
def test_ouranos_round_is_a_ceiling_within_one_step(value: D) -> None:
    r = ouranos_round(value)
    assert r >= value and r - value < D("0.00001") and r == ouranos_round(r)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(amounts, amounts, amounts), min_size=1, max_size=6), amounts, amounts, st.integers(1, 50))
def test_aggregate_conserves_emissions(items: list[tuple[D, D, D]], own_main: D, own_dist: D, out: int) -> None:
    inputs = [
        BomInput(
            ProductFootprint(HEADER, DeclaredUnit.KILOGRAM, D(1), raw + main, StageSplit(raw, main)),
            Quantity(qty, DeclaredUnit.KILOGRAM),
            SupplierRole.CELL,
        )
        for raw, main, qty in items
    ]
    fp = aggregate(
        inputs,
        own=OwnEmissions({Stage.MAIN_PRODUCTION: own_main, Stage.DISTRIBUTION: own_dist}),
        output=Quantity(D(out), DeclaredUnit.PIECE),
        header=HEADER,
    )
    expected = sum(((raw + main) * qty for raw, main, qty in items), D(0)) + own_main + own_dist
    assert abs(fp.per_unit * out - expected) < D("1e-12")
    assert fp.stages.end_of_life is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(small, small, small), min_size=0, max_size=5), small, small)
def test_ouranos_parent_is_own_plus_children(children: list[tuple[D, D, D]], pre: D, main: D) -> None:
    kids = [(OuranosCfp(a, b, D(0), D(0), "kgCO2e/kilogram"), q) for a, b, q in children]
    parent = ouranos_parent_cfp(pre_own=pre, main_own=main, children=kids, unit="kgCO2e/kilogram")
    assert parent.pre_component == ouranos_round(sum((c.pre_total * q for c, q in kids), D(0)))
    assert parent.pre_production == ouranos_round(pre)
