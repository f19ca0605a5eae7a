"""Golden tests of the footprint model, computed by hand (docs/rules.md "Footprint exchange")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from batpass.core.errors import InvalidInput
from batpass.footprint import OuranosCfp, OuranosDqr, ouranos_parent_cfp, ouranos_round, ouranos_weighted_dqr
from batpass.footprint._ouranos_map import (
    OuranosDqrMapping,
    cfp_from_records,
    cfp_to_records,
    from_ouranos,
    header_for_ouranos,
)
from batpass.footprint._pact import read_pact, write_pact_v2, write_pact_v3
from batpass.footprint.model import (
    BomInput,
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    LifetimeEnergy,
    OwnEmissions,
    ProductFootprint,
    Quantity,
    Stage,
    StageSplit,
    SupplierRole,
    aggregate,
    per_kwh,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)


def header(name: str) -> FootprintHeader:
    return FootprintHeader(
        id=f"id-{name}",
        product_ids=(f"urn:test:{name}",),
        product_name=name,
        company_name="Co",
        company_ids=("urn:test:co",),
        reference_period_start=T0,
        reference_period_end=T1,
        created=T0,
    )


# ---- Ouranos arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.000001", "1.00001"),  # a 6th decimal rounds up
        ("1.00001", "1.00001"),  # 5 decimals unchanged
        ("1.0000100001", "1.00002"),
        ("0.0000001", "0.00001"),
        ("0", "0.00000"),
        ("2.5", "2.50000"),
        ("99999.99999", "99999.99999"),
    ],
)
def test_ouranos_round_up_at_the_sixth_decimal(raw: str, expected: str) -> None:
    assert ouranos_round(raw) == D(expected)


@pytest.mark.parametrize("raw", ["-0.00001", "99999.999991", "100000", "NaN", "abc"])
def test_ouranos_round_refuses_out_of_range(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ouranos_round(raw)
    assert err.value.field == "ghgEmission"


def test_ouranos_parent_cfp_by_hand() -> None:
    # child A: pre 1.2 + 0.3 = 1.5, main 0.4 + 0.1 = 0.5 per unit, 3 units required
    a = OuranosCfp(
        D("1.2"),
        D("0.4"),
        D("0.3"),
        D("0.1"),
        "kgCO2e/kilogram",
        OuranosDqr(D(1), D(2), D(3)),
        OuranosDqr(D(2), D(2), D(2)),
    )
    # child B: pre 2, main 1 per unit, 0.5 units required, ratings only for pre
    b = OuranosCfp(D(2), D(1), D(0), D(0), "kgCO2e/kilogram", OuranosDqr(D(3), D(3), D(3)), None)
    parent = ouranos_parent_cfp(
        pre_own=D("0.5"),
        main_own=D(2),
        children=[(a, D(3)), (b, D("0.5"))],
        dqr_pre_own=OuranosDqr(D(2), D(1), D(1)),
        dqr_main_own=None,
        unit="kgCO2e/unit",
    )
    assert parent.pre_production == D("0.5") and parent.main_production == D(2)
    assert parent.pre_component == D("5.5")  # 1.5 × 3 + 2 × 0.5
    assert parent.main_component == D("2.0")  # 0.5 × 3 + 1 × 0.5
    # pre ratings: weights own 0.5, A 4.5, B 1.0 → TeR (0.5·2 + 4.5·1 + 1·3)/6 = 8.5/6 = 1.416666… → 1.41667
    assert parent.dqr_pre == OuranosDqr(D("1.41667"), D("2.08334"), D("2.83334"))
    # main ratings: only A carries them (weight 1.5) → A's ratings
    assert parent.dqr_main == OuranosDqr(D(2), D(2), D(2))
    assert parent.pre_total == D(6) and parent.main_total == D(4)


def test_ouranos_weighted_dqr_is_none_without_weight() -> None:
    assert ouranos_weighted_dqr([]) is None
    assert ouranos_weighted_dqr([(D(0), OuranosDqr(D(1), D(1), D(1)))]) is None


def test_ouranos_cfp_without_all_four_values_is_refused() -> None:
    rows = [
        {"cfpType": t, "ghgEmission": 1, "ghgDeclaredUnit": "kgCO2e/kilogram"}
        for t in ("preProduction", "mainProduction", "preComponent")
    ]
    with pytest.raises(InvalidInput) as err:
        cfp_from_records(rows)
    assert err.value.field == "cfp.mainComponent"
    assert "all four" in str(err.value) or "together" in (err.value.rule or "")


def test_ouranos_records_round_trip() -> None:
    cfp = OuranosCfp(D("1.000001"), D(2), D(3), D(4), "kgCO2e/kilogram", OuranosDqr(D(1), D(2), D(3)), None)
    assert cfp.pre_production == D("1.00001")
    back = cfp_from_records(cfp_to_records(cfp, cfp_id="c", trace_id="t"))
    assert back == cfp


def test_ouranos_map_marks_distribution_and_end_of_life_not_provided() -> None:
    cfp = OuranosCfp(
        D(10), D(5), D(0), D(0), "kgCO2e/kilogram", OuranosDqr(D(2), D(2), D(2)), OuranosDqr(D(4), D(4), D(4))
    )
    fp = from_ouranos(
        cfp,
        header=header_for_ouranos(
            trace_id="t1",
            part_name="cathode",
            operator_name="JP",
            operator_id="op1",
            period_start=T0,
            period_end=T1,
            created=T0,
            method="METI 1.1",
        ),
    )
    assert fp.stages.distribution is None and fp.stages.end_of_life is None
    assert fp.stages.not_provided == (Stage.DISTRIBUTION, Stage.END_OF_LIFE)
    assert fp.per_unit == D(15)
    assert fp.dqr is not None and fp.dqr.scale == DqrScale.UNSPECIFIED
    # emission-weighted: (10·2 + 5·4)/15 = 2.6667, kept raw
    assert fp.dqr.technological == D("2.66667")
    mapped = OuranosDqrMapping(raw_best=D(1), raw_worst=D(3)).apply(fp.dqr)
    assert mapped.scale == DqrScale.ONE_TO_FIVE and mapped.technological == D(1) + 4 * (D("2.66667") - 1) / 2


def test_ouranos_header_without_reference_period_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        header_for_ouranos(
            trace_id="t",
            part_name="p",
            operator_name="o",
            operator_id="1",
            period_start=None,
            period_end=T1,
            created=T0,
            method=None,
        )
    assert err.value.field == "pcf.referencePeriodStart"


# ---- PACT v2 / v3 ---------------------------------------------------------------------------------


def pact_v2(**pcf_over: object) -> dict[str, object]:
    pcf: dict[str, object] = {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": "2000",
        "pCfExcludingBiogenic": "300",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2024-12-31T00:00:00Z",
        "exemptedEmissionsPercent": 1.0,
        "dqi": {
            "technologicalDQR": 2,
            "geographicalDQR": 1,
            "temporalDQR": 3,
            "completenessDQR": 2,
            "reliabilityDQR": 2,
            "coveragePercent": 90,
        },
    }
    pcf.update(pcf_over)
    return {
        "id": "3893bb5d-da16-4dc1-9185-11d97476c254",
        "specVersion": "2.2.0",
        "version": 1,
        "created": "2024-05-01T00:00:00Z",
        "status": "Active",
        "companyName": "Car Co",
        "companyIds": ["urn:test:car"],
        "productDescription": "car",
        "productIds": ["urn:test:car-1"],
        "productCategoryCpc": "4911",
        "productNameCompany": "Car",
        "comment": "",
        "pcf": pcf,
    }


def pact_v3(**pcf_over: object) -> dict[str, object]:
    pcf: dict[str, object] = {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "2000",
        "productMassPerDeclaredUnit": "1",
        "pcfExcludingBiogenicUptake": "600000",
        "pcfIncludingBiogenicUptake": "600000",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2024-12-31T00:00:00Z",
        "fossilGhgEmissions": "600000",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "1",
        "dqi": {"technologicalDQR": "3", "geographicalDQR": "1", "temporalDQR": "5"},
    }
    pcf.update(pcf_over)
    return {
        "id": "3893bb5d-da16-4dc1-9185-11d97476c254",
        "specVersion": "3.0.0",
        "created": "2024-05-01T00:00:00Z",
        "status": "Active",
        "companyName": "Car Co",
        "companyIds": ["urn:test:car"],
        "productDescription": "car",
        "productIds": ["urn:test:car-1"],
        "productNameCompany": "Car",
        "pcf": pcf,
    }


def test_same_product_in_v2_and_v3_gives_the_same_totals() -> None:
    v2 = read_pact(pact_v2(), expect=2)
    v3 = read_pact(pact_v3(), expect=3)
    assert v2.per_unit == v3.per_unit == D(300)
    assert v2.total == v3.total == D(600000)
    # DQR 1–3 → 1–5 by x5 = 1 + 2(x3 − 1): (2, 1, 3) → (3, 1, 5)
    assert v2.dqr is not None and v2.dqr.to_scale(DqrScale.ONE_TO_FIVE) == v3.dqr
    assert v2.stages.unsplit == D(300) and not v2.stages.split_provided


def test_v3_write_read_round_trip_and_v2_write() -> None:
    fp = read_pact(pact_v3(), expect=3)
    again = read_pact(write_pact_v3(fp), expect=3)
    assert again.total == fp.total and again.per_unit == fp.per_unit and again.dqr == fp.dqr
    v2 = write_pact_v2(fp, product_category_cpc="4911")
    assert v2["pcf"]["pCfExcludingBiogenic"] == "300" and v2["pcf"]["unitaryProductAmount"] == "2000"
    assert read_pact(v2, expect=2).total == D(600000)


def test_v2_document_read_as_v3_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        read_pact(pact_v2(), expect=3)
    assert err.value.field == "specVersion"
    doc = pact_v2()
    doc["specVersion"] = "3.0.0"
    with pytest.raises(InvalidInput) as err:
        read_pact(doc, expect=3)
    assert err.value.field == "pcf.unitaryProductAmount"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (pact_v2(dqi={"technologicalDQR": 4, "geographicalDQR": 1, "temporalDQR": 1}), "dqi.technologicalDQR"),
        (pact_v3(dqi={"technologicalDQR": "1", "geographicalDQR": "6", "temporalDQR": "1"}), "dqi.geographicalDQR"),
        (pact_v3(dqi={"technologicalDQR": "0.5", "geographicalDQR": "1", "temporalDQR": "1"}), "dqi.technologicalDQR"),
    ],
)
def test_dqr_out_of_range_is_refused(doc: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_pact(doc)
    assert err.value.field == field


def test_exemptions_above_the_v2_cap_are_refused() -> None:
    assert read_pact(pact_v2(exemptedEmissionsPercent=5.0)).exempted_share == D("0.05")
    with pytest.raises(InvalidInput) as err:
        read_pact(pact_v2(exemptedEmissionsPercent=5.01))
    assert err.value.field == "pcf.exemptedEmissionsPercent" and "5 %" in (err.value.rule or "")


def test_missing_reference_period_is_refused() -> None:
    doc = pact_v3()
    del doc["pcf"]["referencePeriodEnd"]  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as err:
        read_pact(doc)
    assert err.value.field == "pcf.referencePeriodEnd"


def test_primary_data_share_required_from_2025() -> None:
    with pytest.raises(InvalidInput) as err:
        read_pact(pact_v3(referencePeriodEnd="2025-06-30T00:00:00Z"))
    assert err.value.field == "pcf.primaryDataShare"
    assert read_pact(pact_v3(referencePeriodEnd="2025-06-30T00:00:00Z", primaryDataShare="40")).primary_data_share == D(
        "0.4"
    )


# ---- aggregation ----------------------------------------------------------------------------------


def test_four_level_chain_pack_module_cell_cathode() -> None:
    """cathode (Ouranos, 10 pre + 5 main per kg) → 100 cells from 50 kg cathode + 200 own
    → 10 modules from 120 cells + 60 own → 1 pack from 4 modules + 40 own + 20 distribution."""
    cathode = from_ouranos(
        OuranosCfp(D(10), D(5), D(0), D(0), "kgCO2e/kilogram"),
        header=header_for_ouranos(
            trace_id="t",
            part_name="NMC811",
            operator_name="JP cathode",
            operator_id="1",
            period_start=T0,
            period_end=T1,
            created=T0,
            method="METI 1.1",
        ),
    )
    cell = aggregate(
        [BomInput(cathode, Quantity(D(50), DeclaredUnit.KILOGRAM), SupplierRole.CATHODE)],
        own=OwnEmissions({Stage.MAIN_PRODUCTION: D(200)}),
        output=Quantity(D(100), DeclaredUnit.PIECE),
        header=header("cell"),
        mass_per_declared_unit_kg=D("0.7"),
    )
    # the cathode's whole 15 kg CO2e/kg is raw material for the battery (ROLE_STAGE)
    assert (cell.stages.raw_material, cell.stages.main_production) == (D("7.5"), D(2))
    module = aggregate(
        [BomInput(cell, Quantity(D(120), DeclaredUnit.PIECE), SupplierRole.CELL)],
        own=OwnEmissions({Stage.MAIN_PRODUCTION: D(60)}),
        output=Quantity(D(10), DeclaredUnit.PIECE),
        header=header("module"),
    )
    assert (module.stages.raw_material, module.stages.main_production, module.per_unit) == (D(90), D(30), D(120))
    pack = aggregate(
        [BomInput(module, Quantity(D(4), DeclaredUnit.PIECE), SupplierRole.MODULE)],
        own=OwnEmissions({Stage.MAIN_PRODUCTION: D(40), Stage.DISTRIBUTION: D(20)}),
        output=Quantity(D(1), DeclaredUnit.PIECE),
        header=header("pack"),
    )
    assert pack.stages.raw_material == D(360)
    assert pack.stages.main_production == D(160)
    assert pack.stages.distribution == D(20)
    assert pack.stages.end_of_life is None and pack.stages.not_provided == (Stage.END_OF_LIFE,)
    assert pack.per_unit == D(540)
    kwh = per_kwh(pack, LifetimeEnergy(rated_energy_kwh=D(60), full_equivalent_cycles=D(1500)))
    assert kwh.lifetime_kwh == D(90000)
    assert kwh.total == D(540) / D(90000) == D("0.006")
    assert kwh.stages[Stage.RAW_MATERIAL] == D("0.004")
    assert kwh.stages[Stage.END_OF_LIFE] is None


def _v3(
    per_unit: str, pds: str, dqr: tuple[str, str, str], unit: str = "kilogram", mass: str = "1"
) -> ProductFootprint:
    return read_pact(
        pact_v3(
            declaredUnitOfMeasurement=unit,
            declaredUnitAmount="1",
            pcfExcludingBiogenicUptake=per_unit,
            productMassPerDeclaredUnit=mass,
            primaryDataShare=pds,
            dqi={"technologicalDQR": dqr[0], "geographicalDQR": dqr[1], "temporalDQR": dqr[2]},
        )
    )


def test_emission_weighted_primary_data_share_and_dqr() -> None:
    a = _v3("2", "50", ("1", "2", "3"))  # 10 kg → 20 kg CO2e
    b = _v3("10", "100", ("5", "4", "3"), unit="piece", mass="2")  # 6 kg = 3 pieces → 30 kg CO2e
    out = aggregate(
        [
            BomInput(a, Quantity(D(10), DeclaredUnit.KILOGRAM), SupplierRole.REFINER),
            BomInput(b, Quantity(D(6), DeclaredUnit.KILOGRAM), SupplierRole.COMPONENT),
        ],
        own=OwnEmissions(
            {Stage.MAIN_PRODUCTION: D(50)},
            primary_data_share=D(1),
            dqr=DataQuality(D(1), D(1), D(1), DqrScale.ONE_TO_FIVE),
        ),
        output=Quantity(D(4), DeclaredUnit.PIECE),
        header=header("x"),
    )
    assert out.per_unit == D(25)  # (20 + 30 + 50) / 4
    assert out.stages.raw_material == D("12.5") and out.stages.main_production == D("12.5")
    assert out.primary_data_share == (D(20) * D("0.5") + D(30) + D(50)) / D(100)  # 0.9
    assert out.dqr is not None and out.dqr.technological == (D(20) * 1 + D(30) * 5 + D(50)) / D(100)  # 2.2
    assert out.dqr.temporal == (D(20) * 3 + D(30) * 3 + D(50)) / D(100)  # 2.0


def test_pieces_to_kilograms_through_mass_per_piece() -> None:
    a = _v3("2", "50", ("1", "1", "1"))  # per kg
    out = aggregate(
        [BomInput(a, Quantity(D(5), DeclaredUnit.PIECE), SupplierRole.COMPONENT, mass_per_piece_kg=D("0.4"))],
        own=OwnEmissions(),
        output=Quantity(D(1), DeclaredUnit.PIECE),
        header=header("y"),
    )
    assert out.per_unit == D("4.0")


def test_unit_mismatch_is_refused() -> None:
    a = _v3("2", "50", ("1", "1", "1"))
    with pytest.raises(InvalidInput) as err:
        aggregate(
            [BomInput(a, Quantity(D(5), DeclaredUnit.LITER), SupplierRole.COMPONENT)],
            own=OwnEmissions(),
            output=Quantity(D(1), DeclaredUnit.PIECE),
            header=header("z"),
        )
    assert err.value.field == "inputs[0].quantity.unit" and "units must match" in (err.value.rule or "")
    with pytest.raises(InvalidInput) as err:
        aggregate(
            [BomInput(a, Quantity(D(5), DeclaredUnit.PIECE), SupplierRole.COMPONENT)],
            own=OwnEmissions(),
            output=Quantity(D(1), DeclaredUnit.PIECE),
            header=header("z"),
        )
    assert err.value.field == "inputs[0].mass_per_piece_kg"


def test_unsplit_input_keeps_the_result_unsplit_and_quality_unknown() -> None:
    cell = read_pact(
        pact_v3(declaredUnitOfMeasurement="piece", declaredUnitAmount="1", pcfExcludingBiogenicUptake="10")
    )
    out = aggregate(
        [BomInput(cell, Quantity(D(2), DeclaredUnit.PIECE), SupplierRole.CELL)],
        own=OwnEmissions({Stage.MAIN_PRODUCTION: D(5)}),
        output=Quantity(D(1), DeclaredUnit.PIECE),
        header=header("m"),
    )
    assert out.stages.unsplit == D(25) and out.stages.raw_material is None and not out.stages.split_provided
    assert out.primary_data_share is None  # the cell's PACT 2024 footprint gives none
    assert out.notes


def test_stage_split_invariants() -> None:
    with pytest.raises(InvalidInput):
        StageSplit(raw_material=D(1), unsplit=D(2))
    assert StageSplit(D(1), D(2), None, D(3)).total == D(6)
