"""Europe → Japan through Ouranos trades (issue #9 item 3) across three real nodes over HTTPS: an
Ouranos hub, the bridge (catena-x + bridge) and a supplier on Catena-X (a mine).

The bridge and the supplier are Catena-X members who signed the Data Exchange Governance (the PCF
offer's usage policy asks for ``FrameworkAgreement``); the supplier stores PACT v3 footprints and
product twins naming the bridge's BPNL (one names another partner). The hub's admin onboards the
supplier as an operator (its BPNL as ``openOperatorId`` and ``globalOperatorId``) and gives the
bridge a login; the bridge represents it. A Japanese buyer requests three CFPs and cancels one;
a sync answers the first with the converted values (read back by the buyer as the released
``*Response``), refuses the cancelled one with nothing stored, leaves the one the supplier's
connector refuses unanswered with the reason, and a second sync does nothing new.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from batpass.core.ids import new_uuid7
from batpass.demo._dataspace_setup import catenax_memberships
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.footprint import (
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    ProductFootprint,
    StageSplit,
    write_pact_v3,
)
from batpass.ouranos import OuranosClient

pytestmark = pytest.mark.integration

D = Decimal
BRIDGE_BPNL = "BPNL00000009BRDG"
MINE_BPNL = "BPNL00000009MINE"
OTHER_BPNL = "BPNL00000009OTHR"
LIOH = "urn:gtin:4012345000016"
LIOH_TECH = "urn:gtin:4012345000023"
NICKEL = "urn:gtin:4012345000030"
BUYER_CN = "1180001045678"  # a corporate number with a valid check digit (fictitious)
BRIDGE_LOGIN = ("bridge@atacama.example", "Br1dgeMine!")
BUYER_LOGIN = ("cfp@tokai.example.jp", "T0kaiCath!")


def _footprint(product: str, total: str, dqr: tuple[str, str, str]) -> dict[str, Any]:
    """A PACT v3 footprint of 1,000 kg of a salt (cradle-to-gate, no stage split)."""
    amount = D(1000)
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(product,),
        product_name="Lithium hydroxide monohydrate",
        company_name="Atacama Lithium SpA",
        company_ids=(f"urn:bpn:id:{MINE_BPNL}",),
        reference_period_start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime.now(dt.UTC),
        geography="CL",
    )
    per = D(total) / amount
    fp = ProductFootprint(
        header=header,
        declared_unit=DeclaredUnit.KILOGRAM,
        declared_unit_amount=amount,
        per_unit=per,
        stages=StageSplit(unsplit=per),
        mass_per_declared_unit_kg=D(1),
        primary_data_share=D("0.6"),
        dqr=DataQuality(D(dqr[0]), D(dqr[1]), D(dqr[2]), DqrScale.ONE_TO_FIVE),
    )
    return write_pact_v3(fp)


def _ok(r: httpx.Response, *codes: int) -> Any:
    assert r.status_code in (codes or (200,)), r.text[:2000]
    return r.json()


@dataclass
class Setup:
    home: Path
    hub: RunningNode
    bridge: RunningNode
    mine: RunningNode
    api_key: str
    supplier_id: str
    buyer_id: str
    buyer_plant: str
    traces: dict[str, str]  # productId → the supplier's part on the hub

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(federation_ca(self.home)))

    def client(self) -> httpx.Client:
        return httpx.Client(verify=self.ssl(), timeout=60)

    @contextmanager
    def ouranos(self, login: tuple[str, str]) -> Iterator[OuranosClient]:
        with httpx.Client(base_url=self.hub.base_url, verify=self.ssl(), timeout=60) as http:
            c = OuranosClient(http, api_key=self.api_key)
            c.login(*login)
            yield c


def _configure(runs: list[RunningNode]) -> None:
    hub, bridge, mine = runs
    for r in runs:  # the mine operates the Catena-X trust list in this test
        r.node.config.extra["trust_operators"] = {"catena-x": mine.did}
    hub.node.config.extra["bridge"] = {
        "url": bridge.base_url,
        "did": bridge.did,
        "dsp_url": bridge.base_url + "/api/dsp/2025-1",
    }
    bridge.node.config.extra["hub"] = {"url": hub.base_url, "did": hub.did}
    bridge.node.config.extra["ouranos_dqr_mapping"] = {"raw_best": "1", "raw_worst": "3"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("bridgetrades")
    specs = [
        NodeSpec(
            "brt-hub", ("ouranos",), legal_name="Ouranos Battery Hub KK", country="JP", corporate_number="5010401089998"
        ),
        NodeSpec("brt-bridge", ("catena-x", "bridge"), legal_name="EU-JP Battery Bridge GmbH", bpnl=BRIDGE_BPNL),
        NodeSpec("brt-mine", ("catena-x",), legal_name="Atacama Lithium SpA", country="CL", bpnl=MINE_BPNL),
    ]
    with federation(home, specs, configure=_configure) as runs:
        hub, bridge, mine = runs
        catenax_memberships(home, mine, [mine, bridge])
        s = Setup(home, hub, bridge, mine, "", "", "", "", {})
        with s.client() as c:
            # the supplier: footprints, and twins naming the bridge (nickel: another partner only)
            for product, total, dqr in (
                (LIOH, "12345.6", ("1.6", "2.2", "1.4")),
                (LIOH_TECH, "9000", ("2", "2", "2")),
                (NICKEL, "4200", ("1", "1", "1")),
            ):
                doc = _footprint(product, total, dqr)
                _ok(
                    c.post(mine.base_url + "/v1/footprints/pact/footprints", json=doc, headers=mine.admin_headers()),
                    201,
                )
                readers = [OTHER_BPNL] if product == NICKEL else [BRIDGE_BPNL]
                twin = {"productId": product, "readers": readers}
                _ok(
                    c.post(mine.base_url + "/v1/connector/twins/products", json=twin, headers=mine.admin_headers()), 201
                )
            # the hub: the supplier as a hosted operator (its BPNL as openOperatorId), and a buyer
            admin = hub.admin_headers()
            op = {
                "openOperatorId": MINE_BPNL,
                "operatorName": "Atacama Lithium SpA",
                "operatorAddress": "Antofagasta, CL",
                "globalOperatorId": MINE_BPNL,
            }
            s.supplier_id = _ok(c.post(hub.base_url + "/v1/ouranos/admin/operators", json=op, headers=admin), 201)[
                "operatorId"
            ]
            account = {"operatorAccountId": BRIDGE_LOGIN[0], "accountPassword": BRIDGE_LOGIN[1]}
            _ok(
                c.post(
                    f"{hub.base_url}/v1/ouranos/admin/operators/{s.supplier_id}/accounts", json=account, headers=admin
                ),
                201,
            )
            buyer = {"openOperatorId": BUYER_CN, "operatorName": "Tokai Cathode KK", "operatorAddress": "Nagoya, JP"}
            s.buyer_id = _ok(c.post(hub.base_url + "/v1/ouranos/admin/operators", json=buyer, headers=admin), 201)[
                "operatorId"
            ]
            plant = {
                "openPlantId": BUYER_CN + "000001",
                "plantName": "Tokai CAM plant",
                "plantAddress": "Yokkaichi, JP",
            }
            s.buyer_plant = _ok(
                c.post(f"{hub.base_url}/v1/ouranos/admin/operators/{s.buyer_id}/plants", json=plant, headers=admin), 201
            )["plantId"]
            account = {"operatorAccountId": BUYER_LOGIN[0], "accountPassword": BUYER_LOGIN[1]}
            _ok(
                c.post(f"{hub.base_url}/v1/ouranos/admin/operators/{s.buyer_id}/accounts", json=account, headers=admin),
                201,
            )
            s.api_key = _ok(
                c.post(hub.base_url + "/v1/ouranos/admin/api-keys", json={"label": "apps"}, headers=admin), 201
            )["apiKey"]
            # the bridge represents the supplier on the hub
            body = {
                "bpnl": MINE_BPNL,
                "did": mine.did,
                "operatorId": s.supplier_id,
                "apiKey": s.api_key,
                "operatorAccountId": BRIDGE_LOGIN[0],
                "accountPassword": BRIDGE_LOGIN[1],
                "products": [
                    {"productId": LIOH, "partsName": "LiOH battery grade", "unit": "kilogram", "role": "mine"},
                    {"productId": LIOH_TECH, "partsName": "LiOH technical grade", "unit": "kilogram", "role": "mine"},
                    {"productId": NICKEL, "partsName": "Nickel sulphate", "unit": "kilogram", "role": "refiner"},
                ],
            }
            rec = _ok(
                c.post(bridge.base_url + "/v1/bridge/represented", json=body, headers=bridge.admin_headers()), 201
            )
            s.traces = {p["productId"]: p["traceId"] for p in rec["products"]}
        yield s


def _part(s: Setup, name: str, *, parent: bool) -> dict[str, Any]:
    return {
        "amountRequired": None if parent else 1.2,
        "amountRequiredUnit": "kilogram",
        "operatorId": s.buyer_id,
        "partsName": name,
        "plantId": s.buyer_plant,
        "supportPartsName": None,
        "terminatedFlag": False,
        "traceId": None,
    }


def _request(buyer: OuranosClient, s: Setup, child: str, supplier: str, message: str) -> dict[str, str]:
    due = dt.date.today() + dt.timedelta(days=30)
    ids = buyer.request_cfp(
        buyer_operator_id=s.buyer_id, child_trace_id=child, supplier_operator_id=supplier, message=message, due=due
    )
    return {"child": child, **ids}


def _sync(s: Setup) -> dict[str, Any]:
    with s.client() as c:
        out: dict[str, Any] = _ok(
            c.post(s.bridge.base_url + "/v1/bridge/trades/sync", headers=s.bridge.admin_headers())
        )
    return out


def test_a_hub_buyer_gets_a_catenax_suppliers_cfp_through_the_bridge(setup: Setup) -> None:
    s = setup
    with s.ouranos(BUYER_LOGIN) as buyer:
        structure = buyer.put(
            "partsStructure",
            {
                "parentPartsModel": _part(s, "NMC811 cathode active material", parent=True),
                "childrenPartsModel": [_part(s, n, parent=False) for n in ("LiOH", "LiOH technical", "NiSO4")],
            },
        )
        child = {c["partsName"]: c["traceId"] for c in structure["childrenPartsModel"]}
        # the buyer finds the European supplier by its BPNL, as it would by a corporate number
        supplier = buyer.operator(open_operator_id=MINE_BPNL)
        assert supplier["operatorId"] == s.supplier_id
        lioh = _request(buyer, s, child["LiOH"], s.supplier_id, f"CFP of {LIOH}, FY2025 deliveries")
        tech = _request(buyer, s, child["LiOH technical"], s.supplier_id, f"CFP of {LIOH_TECH}")
        nickel = _request(buyer, s, child["NiSO4"], s.supplier_id, f"CFP of {NICKEL}")
        buyer.cancel_request(tech["tradeId"], tech["statusId"])

    first = _sync(s)
    assert first["suppliers"] == [{"bpnl": MINE_BPNL, "operatorId": s.supplier_id, "requests": 3}]
    [answered] = first["answered"]
    assert answered["tradeId"] == lioh["tradeId"] and answered["traceId"] == s.traces[LIOH]
    # 12,345.6 kg CO2e per 1,000 kg → 12.3456 per kilogram, a mine's value in pre-processing;
    # ratings 1.6/2.2/1.4 on 1–5 → 1.3/1.6/1.2 on the configured Ouranos 1–3
    assert (answered["preProduction"], answered["mainProduction"]) == ("12.3456", "0")
    assert answered["dqrPreProcessing"] == {"TeR": "1.3", "GeR": "1.6", "TiR": "1.2"}
    assert answered["dqrMainProcessing"] is None
    assert any("end of life" in n for n in answered["notProvided"])
    [refused] = first["refused"]
    assert refused["tradeId"] == tech["tradeId"] and "cancelled by the buyer" in refused["reason"]
    [unanswered] = first["unanswered"]
    assert unanswered["tradeId"] == nickel["tradeId"] and unanswered["productId"] == NICKEL
    assert "the supplier's connector gave no PCF" in unanswered["reason"]

    with s.ouranos(BUYER_LOGIN) as buyer:
        # the released response equals the converted values, ratings included (TOTALDQR)
        rows = {r["cfpType"]: r for r in buyer.cfp([lioh["child"]])}
        assert D(str(rows["preProductionResponse"]["ghgEmission"])) == D("12.3456")
        assert D(str(rows["mainProductionResponse"]["ghgEmission"])) == 0
        assert rows["preProductionResponse"]["ghgDeclaredUnit"] == "kgCO2e/kilogram"
        dqr = rows["preProductionResponse"]["dqrValue"]
        assert (D(str(dqr["TeR"])), D(str(dqr["GeR"])), D(str(dqr["TiR"]))) == (D("1.3"), D("1.6"), D("1.2"))
        [status] = buyer.get("status", statusTarget="REQUEST", statusId=lioh["statusId"])
        assert status["requestStatus"]["cfpResponseStatus"] == "COMPLETED"
        reply = status["replyMessage"]
        assert reply == answered["replyMessage"] and "Not provided:" in reply and LIOH in reply
        # the cancelled and the refused requests: nothing flowed, nothing linked, no reply
        for req in (tech, nickel):
            assert not [r for r in buyer.cfp([req["child"]]) if r["cfpType"].endswith("Response")]
            [t] = buyer.get("tradeRequest", traceIds=req["child"])
            assert t["upstreamTraceId"] is None
        [cancelled] = buyer.get("status", statusTarget="REQUEST", statusId=tech["statusId"])
        assert cancelled["requestStatus"]["cfpResponseStatus"] == "CANCEL" and cancelled["replyMessage"] is None
        notes_before = len(list(buyer.pages("notifications")))
    with s.ouranos(BRIDGE_LOGIN) as sup:
        # nothing stored for the cancelled (or the refused) request's product on the hub
        for product in (LIOH_TECH, NICKEL):
            assert sup.cfp([s.traces[product]]) == []
            assert sup.get("cfpAcl", traceId=s.traces[product]) == []
        [acl] = sup.get("cfpAcl", traceId=s.traces[LIOH])
        assert acl["releasedToOperatorId"] == s.buyer_id
        assert {a["aclItemGroup"]: a["releasedFlag"] for a in acl["acl"]} == {"TOTALCFP": True, "TOTALDQR": True}
    with s.client() as c:
        records = {
            r["tradeId"]: r
            for r in _ok(c.get(s.bridge.base_url + "/v1/bridge/trades", headers=s.bridge.admin_headers()))
        }
        represented = c.get(s.bridge.base_url + "/v1/bridge/represented", headers=s.bridge.admin_headers()).text
    assert records[tech["tradeId"]]["outcome"] == "refused" and records[tech["tradeId"]]["answer"] is None
    assert records[tech["tradeId"]]["reason"] == refused["reason"]
    assert records[lioh["tradeId"]]["outcome"] == "answered"
    # the hub credentials are neither answered nor logged
    log = (s.bridge.node.home / "serve.log").read_text(errors="replace")
    for secret in (BRIDGE_LOGIN[1], s.api_key):
        assert secret not in represented and secret not in log

    second = _sync(s)
    assert second["answered"] == [] and second["refused"] == [] and second["unchanged"] == 2
    assert [u["tradeId"] for u in second["unanswered"]] == [nickel["tradeId"]]
    with s.ouranos(BUYER_LOGIN) as buyer:
        assert len(list(buyer.pages("notifications"))) == notes_before  # no CFP_UPDATED, nothing new
        rows = {r["cfpType"]: r for r in buyer.cfp([lioh["child"]])}
        assert D(str(rows["preProductionResponse"]["ghgEmission"])) == D("12.3456")
