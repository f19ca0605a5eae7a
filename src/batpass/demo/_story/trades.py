"""Demo step ``trades``: Europe → Japan through the bridge — a hub operator asks a supplier that
lives on Catena-X for its carbon footprint with an ordinary Ouranos trade.

1. ``cx-refining`` (Jiangxi Lithium Refining, a Catena-X node) keeps the PACT v3 footprint of its
   battery-grade lithium hydroxide and registers the product's twin for the bridge's BPNL only
   (``POST /v1/footprints/pact/footprints``, ``POST /v1/connector/twins/products``).
2. ``jp-hub`` hosts the refiner as an operator whose ``openOperatorId`` is its BPNL (it has no
   Japanese corporate number) with an account for the bridge; the bridge represents it (``POST
   /v1/bridge/represented``: its DID, its products as hub parts).
3. The cathode maker, logged in on the published API, requests the CFP of lithium hydroxide from
   it (``PUT tradeRequest``), and a second request it then cancels.
4. The bridge syncs (``POST /v1/bridge/trades/sync``): it pulls the PCF through its connector
   (DSP, usage purpose ``cx.pcf.base:1``), converts it to the Ouranos shape (per kilogram, all in
   pre-processing for a refined material, ratings from PACT's 1–5 onto the configured Ouranos
   scale) and answers, releasing the values to the buyer; the reply message states what is not
   provided (stage split, distribution, end of life). The cancelled request is refused, nothing
   written.
5. The cathode maker reads the released response (``GET cfp``: ``preProductionResponse``).

The footprint is an illustrative demo value: 15.1 kg CO2e per kg LiOH·H2O from Australian
spodumene refined in China, the order of magnitude Kelly et al. (2021), Resour. Conserv. Recycl.
174, 105762, report (see :mod:`batpass.demo._story.ouranos` for the Japanese refiner's figure).
Writes ``story.shared["trades.answered"]`` (the sync answer).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rich.table import Table

from batpass.core.clock import utc_now
from batpass.core.errors import InvariantViolation
from batpass.core.ids import new_uuid7
from batpass.demo._story._context import Story, account_password
from batpass.footprint import (
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    ProductFootprint,
    StageSplit,
    write_pact_v3,
)

__all__ = ["run"]

HUB = "jp-hub"
BRIDGE = "bridge"
SUPPLIER = "cx-refining"
BUYER = "jp-cathode"
COMPANY = "Jiangxi Lithium Refining"
#: the supplier's products (GTINs with valid check digits, fictitious)
LIOH = "urn:gtin:4012345000054"
LI2CO3 = "urn:gtin:4012345000061"
KG_CO2E_PER_KG = {LIOH: Decimal("15.1"), LI2CO3: Decimal("9.8")}
JSON = dict[str, Any]


def _footprint(story: Story, product: str, name: str) -> JSON:
    bpnl = str(story.node(SUPPLIER).node.config.bpnl)
    amount = Decimal(1000)
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(product,),
        product_name=name,
        company_name=COMPANY,
        company_ids=(f"urn:bpn:id:{bpnl}",),
        reference_period_start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        created=utc_now(),
        geography="CN",
        standards=("ISO14067",),
    )
    per = KG_CO2E_PER_KG[product]
    fp = ProductFootprint(
        header=header,
        declared_unit=DeclaredUnit.KILOGRAM,
        declared_unit_amount=amount,
        per_unit=per,
        stages=StageSplit(unsplit=per),
        mass_per_declared_unit_kg=Decimal(1),
        primary_data_share=Decimal("0.55"),
        dqr=DataQuality(Decimal("1.8"), Decimal("2.0"), Decimal("1.5"), DqrScale.ONE_TO_FIVE),
    )
    return write_pact_v3(fp)


def _represent(story: Story, api_key: str) -> JSON:
    """The supplier's footprints and twins, its operator on the hub, the bridge representing it."""
    bridge_bpnl = str(story.node(BRIDGE).node.config.bpnl)
    for product, name in ((LIOH, "Lithium hydroxide monohydrate, battery grade"), (LI2CO3, "Lithium carbonate")):
        story.call("POST", SUPPLIER, "/v1/footprints/pact/footprints", json=_footprint(story, product, name))
        twin = {"productId": product, "readers": [bridge_bpnl]}
        story.call("POST", SUPPLIER, "/v1/connector/twins/products", json=twin, expect=(201,))
    bpnl = str(story.node(SUPPLIER).node.config.bpnl)
    op = story.call(
        "POST",
        HUB,
        "/v1/ouranos/admin/operators",
        json={
            "openOperatorId": bpnl,
            "operatorName": f"{COMPANY} (Catena-X, through the bridge)",
            "operatorAddress": "Yichun, Jiangxi, CN",
            "globalOperatorId": bpnl,
        },
        expect=(201,),
    ).json()
    login = ("bridge@" + bpnl.lower(), account_password())
    account = {"operatorAccountId": login[0], "accountPassword": login[1]}
    story.call("POST", HUB, f"/v1/ouranos/admin/operators/{op['operatorId']}/accounts", json=account, expect=(201,))
    body = {
        "bpnl": bpnl,
        "did": story.node(SUPPLIER).did,
        "operatorId": op["operatorId"],
        "apiKey": api_key,
        "operatorAccountId": login[0],
        "accountPassword": login[1],
        "products": [
            {"productId": LIOH, "partsName": "LiOH·H2O battery grade", "unit": "kilogram", "role": "refiner"},
            {"productId": LI2CO3, "partsName": "Li2CO3", "unit": "kilogram", "role": "refiner"},
        ],
    }
    rec: JSON = story.call("POST", BRIDGE, "/v1/bridge/represented", json=body, expect=(201,)).json()
    return {"operatorId": op["operatorId"], "bpnl": bpnl, **rec}


def _part(op_id: str, plant_id: str, name: str, *, parent: bool) -> JSON:
    return {
        "amountRequired": None if parent else 0.26,
        "amountRequiredUnit": "kilogram",
        "operatorId": op_id,
        "partsName": name,
        "plantId": plant_id,
        "supportPartsName": None,
        "terminatedFlag": False,
        "traceId": None,
    }


def run(story: Story) -> None:
    rep = _represent(story, story.hub_api_key())
    op = story.shared["ouranos.operators"][BUYER]
    with story.ouranos(BUYER) as buyer:
        plant = buyer.plants()[0]["plantId"]
        structure = buyer.put(
            "partsStructure",
            {
                "parentPartsModel": _part(op["operatorId"], plant, "NMC811 CAM (second lithium source)", parent=True),
                "childrenPartsModel": [
                    _part(op["operatorId"], plant, n, parent=False) for n in ("LiOH·H2O (CN)", "Li2CO3 (CN)")
                ],
            },
        )
        child = {c["partsName"]: c["traceId"] for c in structure["childrenPartsModel"]}
        # found by its BPNL, as a Japanese supplier is found by its corporate number
        supplier_id = buyer.operator(open_operator_id=rep["bpnl"])["operatorId"]
        due = utc_now().astimezone().date() + dt.timedelta(days=30)  # a month from today, local date
        lioh, carb = (
            {
                "child": child[part],
                **buyer.request_cfp(
                    buyer_operator_id=op["operatorId"],
                    child_trace_id=child[part],
                    supplier_operator_id=supplier_id,
                    message=message,
                    due=due,
                ),
            }
            for part, message in (("LiOH·H2O (CN)", f"CFP of {LIOH}, FY2025"), ("Li2CO3 (CN)", f"CFP of {LI2CO3}"))
        )
        buyer.cancel_request(carb["tradeId"], carb["statusId"])
        sync: JSON = story.call("POST", BRIDGE, "/v1/bridge/trades/sync").json()
        answered = {a["tradeId"]: a for a in sync["answered"]}
        refused = {r["tradeId"]: r for r in sync["refused"]}
        if lioh["tradeId"] not in answered or carb["tradeId"] not in refused:
            raise InvariantViolation(f"the bridge's sync answered {sync}", rule="demo.trades")
        rows = {r["cfpType"]: r for r in buyer.cfp([lioh["child"]])}
        got = Decimal(str(rows["preProductionResponse"]["ghgEmission"]))
        if got != KG_CO2E_PER_KG[LIOH]:
            raise InvariantViolation(
                f"the cathode maker read {got} kg CO2e/kg, the supplier declared {KG_CO2E_PER_KG[LIOH]}",
                rule="demo.trades: the Ouranos response carries the Catena-X PCF per kilogram",
            )
        if [r for r in buyer.cfp([carb["child"]]) if r["cfpType"].endswith("Response")]:
            raise InvariantViolation("a cancelled request got a CFP through the bridge", rule="demo.trades")
    story.shared["trades.answered"] = sync
    story.artefact(None, "trades/bridge-sync.json", sync)
    _show(story, answered[lioh["tradeId"]], refused[carb["tradeId"]], rows)


def _show(story: Story, answered: JSON, refused: JSON, rows: dict[str, JSON]) -> None:
    t = Table(title=f"Europe → Japan: {BUYER} asks {SUPPLIER} (Catena-X) for CFPs through the bridge")
    for col in ("product", "outcome", "kg CO2e/kg (pre / main)", "TeR/GeR/TiR"):
        t.add_column(col)
    dqr = rows["preProductionResponse"].get("dqrValue") or {}
    t.add_row(
        LIOH,
        "answered, released",
        f"{rows['preProductionResponse']['ghgEmission']} / {rows['mainProductionResponse']['ghgEmission']}",
        "/".join(str(dqr.get(k)) for k in ("TeR", "GeR", "TiR")),
    )
    t.add_row(LI2CO3, "refused (cancelled)", "—", "—")
    story.console.print(t)
    story.console.print("not provided, as the reply message states: " + "; ".join(answered.get("notProvided", [])))
    story.console.print(f"refused: {refused['reason']}")
