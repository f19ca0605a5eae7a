"""The demo's ``ouranos`` step, checked as a user of ``summary.json`` would: the hub's entry lists
a demo API key and operator logins (README "What the demo shows") that work on the published Ouranos API over
HTTPS, the cell maker's CFP reads back with its supplier's released share, and the cathode maker
(the supplier) never sees the cell maker's required amount."""

from __future__ import annotations

import ssl
from decimal import Decimal
from typing import Any

import httpx
import pytest
from demo_runner import DemoRun

from batpass.core.errors import NotFound
from batpass.ouranos import OuranosClient

pytestmark = pytest.mark.integration

LOGIN_KEYS = {"operatorId", "openOperatorId", "operatorAccountId", "accountPassword", "did"}


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> dict[str, Any]:
    """The session's full demo run (tests/integration/conftest.py)."""
    return {"out": demo_run.out, "summary": demo_run.summary}


def _hub(summary: dict[str, Any]) -> dict[str, Any]:
    [hub] = [n for n in summary["nodes"] if n["name"] == "jp-hub"]
    return dict(hub)


def _http(demo: dict[str, Any]) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(demo["out"] / demo["summary"]["ca_cert"]))
    return httpx.Client(base_url=_hub(demo["summary"])["ouranos"]["base_url"], verify=ctx, timeout=30)


def _login(http: httpx.Client, api_key: str, op: dict[str, Any]) -> OuranosClient:
    c = OuranosClient(http, api_key=api_key)
    c.login(op["operatorAccountId"], op["accountPassword"])
    return c


def test_summary_lists_the_hub_with_a_key_and_operator_logins(demo: dict[str, Any]) -> None:
    summary = demo["summary"]
    hub = _hub(summary)
    block = hub["ouranos"]
    assert set(block) == {"base_url", "api_key", "operators"}
    assert block["base_url"] == hub["base_url"] and block["base_url"].startswith("https://")
    assert block["api_key"]
    assert len(block["operators"]) == 3
    assert len({o["operatorId"] for o in block["operators"]}) == 3
    for op in block["operators"]:
        assert set(op) == LOGIN_KEYS
        assert 1 <= len(op["openOperatorId"]) <= 20
        assert op["did"] == f"{hub['did']}:operators:{op['operatorId']}"
    assert summary["story"]["timings_s"]["ouranos"] > 0


def test_operators_log_in_and_the_cell_cfp_reads_back(demo: dict[str, Any]) -> None:
    block = _hub(demo["summary"])["ouranos"]
    refiner, _, cellmaker = block["operators"]
    with _http(demo) as http:
        for op in block["operators"]:
            c = _login(http, block["api_key"], op)
            assert c.operator()["operatorId"] == op["operatorId"]
            assert c.last_track  # the tracking header on every success
            # each operator's DID document is served by the hub
            doc = http.get(f"/operators/{op['operatorId']}/did.json").json()
            assert doc["id"] == op["did"]

        cell = _login(http, block["api_key"], cellmaker)
        [cell_part] = list(cell.pages("parts", parentFlag="true"))
        structure = cell.get("partsStructure", traceId=cell_part["traceId"])
        [cam_child] = structure["childrenPartsModel"]
        amount = Decimal(str(cam_child["amountRequired"]))
        assert Decimal("0.2") < amount < Decimal("0.5")  # kg of NMC811 CAM in a 0.24 kWh cell

        rows = {r["cfpType"]: r for r in cell.cfp([cell_part["traceId"], cam_child["traceId"]])}
        assert rows["preProduction"]["ghgDeclaredUnit"] == "kgCO2e/unit"
        v = {k: Decimal(str(r["ghgEmission"])) for k, r in rows.items()}
        # the cathode maker released its CAM totals and ratings to the cell maker
        assert v["preProductionResponse"] > 0 and v["mainProductionResponse"] > 0
        assert rows["preProductionResponse"]["dqrValue"]["TeR"] is not None
        # parent totals: own + own-declared parts + the released response × amount
        for stage in ("pre", "main"):
            want = v[f"{stage}Component"] + v[f"{stage}ProductionResponse"] * amount
            assert abs(v[f"{stage}ComponentTotal"] - want) <= Decimal("0.00002")
            assert v[f"{stage}ProductionTotal"] == v[f"{stage}Production"]
        per_cell = sum(v[f"{t}Total"] for t in ("preProduction", "mainProduction", "preComponent", "mainComponent"))
        per_kwh = per_cell / Decimal("0.24")
        assert Decimal(40) < per_kwh < Decimal(120)  # kg CO2e per kWh of cells, as published ranges

        # the refiner's values reach the cell maker only as part of the CAM total: not directly
        refiner_client = _login(http, block["api_key"], refiner)
        salts = [p["traceId"] for p in refiner_client.pages("parts")]
        assert len(salts) == 3
        assert cell.cfp(salts) == []


def test_the_supplier_never_sees_the_buyers_amount(demo: dict[str, Any]) -> None:
    block = _hub(demo["summary"])["ouranos"]
    _, cathode, cellmaker = block["operators"]
    with _http(demo) as http:
        cell = _login(http, block["api_key"], cellmaker)
        [cell_part] = list(cell.pages("parts", parentFlag="true"))
        [cam_child] = cell.get("partsStructure", traceId=cell_part["traceId"])["childrenPartsModel"]
        assert cam_child["amountRequired"] is not None  # the buyer sees its own amount

        supplier = _login(http, block["api_key"], cathode)
        received = [
            r
            for r in supplier.pages("tradeResponse")
            if r["tradeModel"]["downstreamOperatorId"] == cellmaker["operatorId"]
        ]
        assert len(received) == 1
        assert received[0]["partsModel"]["traceId"] == cam_child["traceId"]
        assert received[0]["partsModel"]["amountRequired"] is None
        assert received[0]["tradeModel"]["upstreamTraceId"]  # accepted, linking the supplier's CAM
        # reading the buyer's part or structure directly reveals nothing either
        assert _no_read(lambda: supplier.get("parts", traceId=cam_child["traceId"]))
        assert _no_read(lambda: supplier.get("partsStructure", traceId=cell_part["traceId"]))
        assert supplier.cfp([cell_part["traceId"], cam_child["traceId"]]) == []


def _no_read(call: Any) -> bool:
    try:
        return bool(call() == [])
    except NotFound:
        return True
