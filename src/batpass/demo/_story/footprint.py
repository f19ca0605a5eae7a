"""Demo step ``footprint``: the European pack maker builds its pack's carbon footprint from the
Japanese cell maker's CFP, read as a PACT v3 document the Ouranos hub exports.

Actors and calls (HTTPS only):

1. Japan → Europe through the bridge: the cell maker released ``cfp`` to the car maker's BPNL on
   the hub (federation step). The bridge publishes the cell CFP for the car maker (``POST
   /v1/bridge/publications/cfp``: the hub exports it as PACT v3 only under that release, with
   the reference period and primary data share the cell maker declares, which Ouranos does not
   carry: FY2025, the period of its trades, and the share of the cell's CFP from its own plant's
   data, supplier values and database factors counted as secondary — a conservative reading).
   A publication for a partner the cell maker did not release to is refused (403), nothing
   published.
2. The car maker asks the bridge's connector for the Catena-X PCF (``POST
   /v1/connector/pcf/requests``: DSP catalog, negotiation under Membership, FrameworkAgreement
   and ``cx.pcf.base:1``, transfer, pull) and reads the same footprint as PACT v3 on the
   bridge's PACT API (OAuth2 client credentials the bridge gave it), whose stage extension
   carries the Annex II split; distribution and end of life stay "not provided". Both formats
   must agree.
3. It aggregates (``batpass.footprint.model.aggregate``): cells × count per pack, plus its own
   emissions (:data:`OWN`), into the four Annex II stages, and divides by the pack's lifetime
   energy (:data:`LIFETIME_FORMULA`), then serves the pack footprint from its own PACT API
   (``POST /v1/footprints/pact/footprints`` on ``eu-carmaker``).

Fills ``summary.story.footprint`` (README "What the demo shows") and ``story.shared["footprint.pack"]``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from batpass.core.clock import utc_now
from batpass.core.errors import InvariantViolation
from batpass.core.ids import new_uuid7
from batpass.demo._story._context import Story
from batpass.footprint import (
    PER_KWH_LIFETIME_ENERGY,
    BomInput,
    DeclaredUnit,
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
    read_catenax,
    read_pact,
    write_pact_v3,
)
from batpass.ouranos._pact_export import STAGES_EXTENSION
from batpass.scenario import CHEMISTRIES

__all__ = ["run"]

HUB = "jp-hub"
PACK = "eu-carmaker"
BRIDGE = "bridge"
#: the battery model's static data (the passport step publishes the same file)
MODEL_FILE = Path(__file__).resolve().parents[2] / "passport" / "_data" / "demo-ev-model.yaml"
#: the cell maker's reference period: Japanese fiscal year 2025, the period of its trades
PERIOD = (dt.datetime(2025, 4, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, 23, 59, 59, tzinfo=dt.UTC))
#: cell mass beyond the scenario's active materials and foils (electrolyte, separator, binder,
#: can), as the cell maker declares it on the hub (``_story/ouranos.py``)
CELL_OTHER_KG = Decimal("0.18")
#: tolerance between the hub's totals and the exported document (5-decimal round-up of sub-sums)
_TOLERANCE = Decimal("0.001")


@dataclasses.dataclass(frozen=True)
class _Own:
    """The pack maker's own emissions per pack, as its plant declares them (illustrative demo
    values; the pack result is checked against the published range below)."""

    #: module and pack components bought outside the traced chain (housing, frames, busbars,
    #: BMS, thermal system): kg CO2e per kg, a secondary factor for a mostly-aluminium mix
    components_kg_co2e_per_kg: Decimal = Decimal("8.0")
    #: module and pack assembly (welding, bonding, end-of-line test): kWh electricity per kWh
    #: of pack capacity, the plant's metered figure (primary data)
    assembly_kwh_per_kwh: Decimal = Decimal("1.5")
    #: German electricity mix 2023, 0.380 kg CO2/kWh (Umweltbundesamt, "Entwicklung der
    #: spezifischen Treibhausgas-Emissionen des deutschen Strommix 1990-2023", 2024)
    grid_kg_co2e_per_kwh: Decimal = Decimal("0.380")


OWN = _Own()
#: Emilsson & Dahllöf (2019), IVL report C 444: 61-106 kg CO2e per kWh of capacity for NMC
#: battery production (cradle to gate); the pack's figure per kWh of capacity is checked
#: against it (a plausibility check, printed, not a rule)
PUBLISHED_RANGE = (Decimal(61), Decimal(106))
LIFETIME_FORMULA = (
    "E_total = rated_energy_kwh × expected_lifetime_cycles × usable_share, usable_share = (1 + "
    "capacity_threshold_exhaustion) / 2 (linear fade to the exhaustion threshold); CF = Σ stages / E_total"
)


def _model() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MODEL_FILE.read_text(encoding="utf-8"))
    return data


def _lifetime(values: dict[str, Any]) -> LifetimeEnergy:
    threshold = Decimal(str(values["capacity_threshold_exhaustion"]["value"])) / 100
    return LifetimeEnergy(
        rated_energy_kwh=Decimal(str(values["rated_energy"]["value"])),
        full_equivalent_cycles=Decimal(str(values["expected_lifetime_cycles"])),
        usable_share=(1 + threshold) / 2,
    )


def _publish_through_bridge(story: Story, params: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Japan → Europe: the bridge publishes the cell maker's cell CFP for the car maker (the cell
    maker released ``cfp`` to the car maker's BPNL on the hub, in the federation step); the car
    maker then asks the bridge's connector for the Catena-X PCF (usage purpose
    ``cx.pcf.base:1``) and reads the PACT v3 document, with the Annex II stage extension, on the
    bridge's PACT API with the client the bridge gave it. A publication for a partner the
    operator did not release to is refused and nothing is published. Returns the PACT v3
    document and the Catena-X PCF."""
    cell = story.shared["ouranos.cell"]
    maker = story.shared["ouranos.operators"]["jp-cellmaker"]
    car_bpnl = str(story.node(PACK).node.config.bpnl)
    body = {
        "operatorDid": maker["did"],
        "traceId": cell["traceId"],
        "referencePeriodStart": params["referencePeriodStart"],
        "referencePeriodEnd": params["referencePeriodEnd"],
        "primaryDataShare": params["primaryDataShare"],
    }
    other = str(story.node("eu-recycler").node.config.bpnl)
    refused = story.call(
        "POST", BRIDGE, "/v1/bridge/publications/cfp", json={**body, "partnerBpnl": other}, expect=(403,)
    )
    if "not released" not in refused.text:
        raise InvariantViolation(f"an unreleased publication was refused for another reason: {refused.text}")
    pub = story.call(
        "POST", BRIDGE, "/v1/bridge/publications/cfp", json={**body, "partnerBpnl": car_bpnl}, expect=(201,)
    ).json()
    pcf = story.call(
        "POST",
        PACK,
        "/v1/connector/pcf/requests",
        json={"provider": story.node(BRIDGE).did, "productId": pub["productIds"][0]},
    ).json()["pcf"]
    client = story.call("POST", BRIDGE, "/v1/footprints/pact/clients", json={"name": PACK}, expect=(201,)).json()
    token = story.call(
        "POST",
        BRIDGE,
        "/pact/auth/token",
        admin=False,
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    ).json()["access_token"]
    doc = story.call(
        "GET",
        BRIDGE,
        f"/pact/3/footprints/{pub['footprintId']}",
        admin=False,
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]
    story.artefact(None, "footprint/cell.catenax-pcf.json", pcf)
    return doc, pcf


def _own_share(cell: dict[str, Any]) -> Decimal:
    """The cell maker's declared primary data share: its own plant's values over the total."""
    own = Decimal(cell["preProduction"]) + Decimal(cell["mainProduction"])
    total = own + Decimal(cell["preComponent"]) + Decimal(cell["mainComponent"])
    return own / total


def _cell_footprint(doc: dict[str, Any]) -> ProductFootprint:
    """The cell footprint as the pack maker reads it: PACT v3, with the Annex II split from the
    hub's stage extension (PACT v3 itself carries none)."""
    fp = read_pact(doc, expect=3)
    ext = next((e for e in doc.get("extensions", []) if e.get("dataSchema") == STAGES_EXTENSION), None)
    if ext is None:
        return fp  # cradle-to-gate, stage split not provided
    stages = ext["data"]["stages"]

    def stage(name: Stage) -> Decimal | None:
        value = stages.get(name.value)
        return None if value is None else Decimal(str(value))

    split = StageSplit(
        stage(Stage.RAW_MATERIAL), stage(Stage.MAIN_PRODUCTION), stage(Stage.DISTRIBUTION), stage(Stage.END_OF_LIFE)
    )
    if abs(split.total - fp.per_unit) > _TOLERANCE:
        raise InvariantViolation(
            f"the stage extension sums to {split.total}, the footprint is {fp.per_unit} per unit",
            field=f"extensions[{STAGES_EXTENSION}].stages",
            rule="the Annex II split adds up to pcfExcludingBiogenicUptake / declaredUnitAmount",
        )
    return dataclasses.replace(fp, stages=split)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run(story: Story) -> None:
    cell = story.shared["ouranos.cell"]
    model = _model()
    values = model["values"]

    # 1. the cell footprint as PACT v3, exported by the hub
    share = _own_share(cell)
    params = {
        "referencePeriodStart": PERIOD[0].isoformat().replace("+00:00", "Z"),
        "referencePeriodEnd": PERIOD[1].isoformat().replace("+00:00", "Z"),
        "primaryDataShare": format((share * 100).quantize(Decimal("0.01")), "f"),
    }
    doc, pcf = _publish_through_bridge(story, params)
    cell_fp = _cell_footprint(doc)
    cx_fp = read_catenax(pcf)
    if abs(cx_fp.per_unit - cell_fp.per_unit) > _TOLERANCE:
        raise InvariantViolation(
            f"the Catena-X PCF says {cx_fp.per_unit} per cell, the PACT document {cell_fp.per_unit}",
            field="pcf.productLifeCycleStagesAndEmissions",
            rule="one footprint, two formats",
        )
    hub_total = sum(Decimal(cell[k]) for k in ("preProduction", "mainProduction", "preComponent", "mainComponent"))
    if abs(cell_fp.per_unit - hub_total) > _TOLERANCE:
        raise InvariantViolation(
            f"the exported cell footprint is {cell_fp.per_unit} per cell, the hub's totals say {hub_total}",
            field="pcf.pcfExcludingBiogenicUptake",
            rule="the export carries the part's stage totals (own + parts)",
        )

    # 2. the pack: cells × count + own emissions (Annex II stages), per kWh of lifetime energy
    kwh_per_cell = Decimal(str(cell["kwh_per_unit"]))
    pack_kwh = Decimal(str(values["rated_energy"]["value"]))
    cells = Decimal(int((pack_kwh / kwh_per_cell).to_integral_value()))
    chem = CHEMISTRIES["NMC811"]
    per_kwh_kg = Decimal(str(chem.cam_kg_per_kwh + chem.graphite_kg_per_kwh + chem.copper_kg_per_kwh))
    cell_kg = (per_kwh_kg + Decimal(str(chem.aluminium_kg_per_kwh))) * kwh_per_cell + CELL_OTHER_KG
    other_kg = Decimal(str(values["weight"]["value"])) - cells * cell_kg
    components = other_kg * OWN.components_kg_co2e_per_kg
    assembly = pack_kwh * OWN.assembly_kwh_per_kwh * OWN.grid_kg_co2e_per_kwh
    car = story.node(PACK)
    bpnl = str(car.node.config.bpnl)
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(f"urn:gtin:{model['gtin']}",),
        product_name=str(values["model_name"]),
        company_name=str(values["manufacturer_name"]),
        company_ids=(f"urn:bpn:id:{bpnl}",),
        reference_period_start=PERIOD[0],
        reference_period_end=PERIOD[1],
        created=utc_now(),
        product_description=f"{model['model_id']} EV battery pack, {pack_kwh} kWh, {cells} cells",
        geography="DE",
        standards=("ISO14067",),
        comment=(
            "Pack = cells from the Ouranos hub's PACT v3 export × count + own module/pack components and "
            "assembly; distribution and end of life not provided."
        ),
    )
    pack = aggregate(
        [BomInput(cell_fp, Quantity(cells, DeclaredUnit.PIECE), SupplierRole.CELL)],
        own=OwnEmissions(
            by_stage={Stage.RAW_MATERIAL: components, Stage.MAIN_PRODUCTION: assembly},
            primary_data_share=assembly / (assembly + components),
        ),
        output=Quantity(Decimal(1), DeclaredUnit.PIECE),
        header=header,
        mass_per_declared_unit_kg=Decimal(str(values["weight"]["value"])),
    )
    lifetime = _lifetime(values)
    cf = per_kwh(pack, lifetime)

    # 3. served from the pack maker's own PACT API
    pack_doc = write_pact_v3(pack)
    pack_doc["extensions"] = [
        {
            "specVersion": "2.0.0",
            "dataSchema": STAGES_EXTENSION,
            "data": {
                "declaredUnitOfMeasurement": "piece",
                "declaredUnitAmount": "1",
                "unit": "kg CO2e per declared unit",
                "stages": {s.value: (None if (v := pack.stages.get(s)) is None else format(v, "f")) for s in Stage},
                "notProvided": [s.value for s in pack.stages.not_provided],
                "perKwhLifetimeEnergy": {
                    "kgCo2ePerKwh": format(cf.total, "f"),
                    "lifetimeKwh": format(cf.lifetime_kwh, "f"),
                    "formula": LIFETIME_FORMULA,
                },
            },
        }
    ]
    stored = story.call("POST", PACK, "/v1/footprints/pact/footprints", json=pack_doc, expect=(201,)).json()

    stages = {s.value: (None if (v := cf.stages[s]) is None else float(v)) for s in Stage}
    not_provided = [s.value for s in cf.not_provided]
    batteries = story.shared.get("ledger.batteries") or []
    entry = {
        "battery": batteries[0] if batteries else model["model_id"],
        "kg_co2e_per_kwh": float(cf.total),
        "stages": stages,
        "not_provided": not_provided,
        # what the figure is per (Annex II): kWh of the energy one battery provides over its life
        "basis": PER_KWH_LIFETIME_ENERGY,
        "lifetime_kwh": float(cf.lifetime_kwh),
        "model": model["model_id"],
    }
    story.story["footprint"] = entry
    normalised = _plain(dataclasses.asdict(pack))
    story.shared["footprint.pack"] = {
        **entry,
        "kg_co2e_per_pack": float(pack.per_unit),
        "formula": LIFETIME_FORMULA,
        "primary_data_share": None if pack.primary_data_share is None else float(pack.primary_data_share),
        "reference_period_end": PERIOD[1].date().isoformat(),
        "source_format": "pact-v3",
        "document": stored,
        "normalised": normalised,
        "cell_document": doc,
    }
    _show(story, cell_fp, cells, components, assembly, pack, cf.total, cf.lifetime_kwh, stages, pack_kwh)


def _show(
    story: Story,
    cell_fp: ProductFootprint,
    cells: Decimal,
    components: Decimal,
    assembly: Decimal,
    pack: ProductFootprint,
    per_kwh_total: Decimal,
    lifetime_kwh: Decimal,
    stages: dict[str, float | None],
    pack_kwh: Decimal,
) -> None:
    table = Table(title=f"Pack footprint (eu-carmaker, per pack; {cells} cells from the hub's PACT v3 export)")
    for col in ("Annex II stage", "cells (kg)", "own (kg)", "pack (kg)", "kg CO2e / kWh lifetime"):
        table.add_column(col, justify="right")
    own = {Stage.RAW_MATERIAL: components, Stage.MAIN_PRODUCTION: assembly}
    for s in Stage:
        c = cell_fp.stages.get(s)
        p = pack.stages.get(s)
        table.add_row(
            s.value,
            "not provided" if c is None else f"{c * cells:,.1f}",
            f"{own[s]:,.1f}" if s in own else "–",
            "not provided" if p is None else f"{p:,.1f}",
            "not provided" if stages[s.value] is None else f"{stages[s.value]:.4f}",
        )
    story.console.print(table)
    per_capacity = pack.per_unit / pack_kwh
    low, high = PUBLISHED_RANGE
    where = "within" if low <= per_capacity <= high else "outside"
    story.console.print(
        f"pack: [bold]{pack.per_unit:,.0f} kg CO2e[/] = {per_capacity:.1f} kg CO2e per kWh of capacity "
        f"({where} the {low}-{high} of IVL C 444); [bold]{per_kwh_total:.4f} kg CO2e/kWh[/] of "
        f"{lifetime_kwh:,.0f} kWh lifetime energy; served on eu-carmaker's PACT API"
    )
