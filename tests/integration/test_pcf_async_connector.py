"""The asynchronous Catena-X PCF exchange (CX-0136 v1.0.1 §4.1, PCF exchange API 1.1.0) across two
Catena-X nodes over HTTPS: the customer asks (``GET /productIds/{id}?requestId=``, 202 Accepted,
through the supplier's connector); the supplier answers later by ``PUT /productIds/{id}?requestId=``
through the customer's connector, written into its outbox; the customer stores the PCF once it
validated against the Catena-X schema (checked here again against the copy vendored in ``tests/specs``).

Three ways a request is answered: at once when a product twin names the customer and an active
footprint exists; after the operator's release when no twin names the customer; and after a
footprint became active when there was none at request time.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from batpass.core.ids import new_uuid7
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.footprint import (
    DeclaredUnit,
    FootprintHeader,
    OwnEmissions,
    Quantity,
    Stage,
    aggregate,
    write_pact_v3,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PCF_SCHEMA = ROOT / "tests/specs/catenax/semantic-models/io.catenax.pcf/9.0.0/gen/Pcf-schema.json"
TWINNED = "urn:gtin:04012345000030"  # a product twin names the customer; active footprint
UNTWINNED = "urn:gtin:04012345000047"  # active footprint, no twin naming the customer
NOT_YET = "urn:gtin:04012345000054"  # a twin names the customer; only a deprecated footprint


@dataclass
class Setup:
    home: Path
    supplier: RunningNode
    customer: RunningNode

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(self.home))), timeout=60)


def _pact(product: str, bpnl: str, kg: str, *, status: str = "Active") -> dict[str, Any]:
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(product,),
        product_name="NMC811 cell",
        company_name="cell supplier",
        company_ids=(f"urn:bpn:id:{bpnl}",),
        reference_period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime.now(dt.UTC),
        product_description="NMC811 pouch cell",
        geography="DE",
        standards=("ISO14067",),
    )
    fp = aggregate(
        [],
        own=OwnEmissions(
            by_stage={Stage.RAW_MATERIAL: Decimal(kg), Stage.MAIN_PRODUCTION: Decimal("3")},
            primary_data_share=Decimal("0.4"),
        ),
        output=Quantity(Decimal(1), DeclaredUnit.PIECE),
        header=header,
        mass_per_declared_unit_kg=Decimal("0.9"),
    )
    doc = write_pact_v3(fp)
    doc["status"] = status
    return doc


def _ok(r: httpx.Response, *codes: int) -> Any:
    assert r.status_code in (codes or (200,)), r.text[:2000]
    return r.json()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("pcfasync")
    specs = [
        NodeSpec("pa-supplier", ("catena-x",), legal_name="cell supplier", bpnl="BPNL00000000901S"),
        NodeSpec("pa-customer", ("catena-x",), legal_name="pack maker", bpnl="BPNL00000000902C"),
    ]
    with federation(home, specs, configure=operator_config(0)) as runs:
        supplier, customer = runs
        catenax_memberships(home, supplier, runs)
        s = Setup(home, supplier, customer)
        admin = supplier.admin_headers()
        bpnl = str(supplier.node.config.bpnl)
        with s.client() as c:
            for product, kg, status in (
                (TWINNED, "12", "Active"),
                (UNTWINNED, "14", "Active"),
                (NOT_YET, "15", "Deprecated"),
            ):
                doc = _pact(product, bpnl, kg, status=status)
                _ok(c.post(supplier.base_url + "/v1/footprints/pact/footprints", json=doc, headers=admin), 201)
            for product in (TWINNED, NOT_YET):
                twin = {"productId": product, "readers": [customer.node.config.bpnl]}
                _ok(c.post(supplier.base_url + "/v1/connector/twins/products", json=twin, headers=admin), 201)
        yield s


def _ask(s: Setup, c: httpx.Client, product: str) -> dict[str, Any]:
    body = {"provider": s.supplier.did, "productId": product, "comment": "PCF for the 2027 pack"}
    out: dict[str, Any] = _ok(
        c.post(s.customer.base_url + "/v1/connector/pcf/exchanges", json=body, headers=s.customer.admin_headers()),
        202,
    )
    assert out["status"] in ("accepted", "received") and out["productId"] == product
    return out


def _exchange(s: Setup, c: httpx.Client, rid: str) -> dict[str, Any]:
    out: dict[str, Any] = _ok(
        c.get(f"{s.customer.base_url}/v1/connector/pcf/exchanges/{rid}", headers=s.customer.admin_headers())
    )
    return out


def _received(s: Setup, c: httpx.Client, rid: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        ex = _exchange(s, c, rid)
        if ex["status"] == "received" or time.monotonic() > deadline:
            assert ex["status"] == "received", ex
            return ex
        time.sleep(0.05)


def _incoming(s: Setup, c: httpx.Client, rid: str) -> dict[str, Any]:
    rows = _ok(c.get(s.supplier.base_url + "/v1/connector/pcf/incoming", headers=s.supplier.admin_headers()))
    [row] = [r for r in rows if r["requestId"] == rid]
    assert row["partner"] == s.customer.did and row["partnerBpnl"] == "BPNL00000000902C"
    out: dict[str, Any] = row
    return out


def _check_pcf(pcf: dict[str, Any], product: str, gate_kg: str) -> None:
    validator = jsonschema.Draft4Validator(json.loads(PCF_SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(pcf), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    assert pcf["companyAndProductInformation"][0]["productInformation"][0]["productIds"] == [product]
    gate = pcf["productLifeCycleStagesAndEmissions"][0]["productionStage"][0]["pcfExcludingBiogenicUptake"]
    assert Decimal(str(gate)) == Decimal(gate_kg)


def test_an_entitled_request_is_answered_later_through_the_customers_connector(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        asked = _ask(s, c, TWINNED)
        rid = asked["requestId"]
        ex = _received(s, c, rid)
        _check_pcf(ex["pcf"], TWINNED, "15")  # 12 raw material + 3 production, per piece
        assert ex["partner"] == s.supplier.did and ex["comment"] == "PCF for the 2027 pack"
        # the supplier stored the request and sent the answer through its outbox: delivered (200)
        deadline = time.monotonic() + 20  # the outbox records the reply just after the customer stored it
        while (row := _incoming(s, c, rid)).get("delivery", {}).get("state") != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert row["status"] == "answered" and row["automatic"] is True
        assert row["delivery"]["state"] == "sent" and row["delivery"]["responseStatus"] == 200
        assert row["comment"] == "PCF for the 2027 pack"
        # answering again sends nothing more
        again = _ok(
            c.post(
                s.supplier.base_url + "/v1/connector/pcf/incoming/answer",
                json={"partner": s.customer.did, "requestId": rid},
                headers=s.supplier.admin_headers(),
            )
        )
        assert again["delivery"]["state"] == "sent"
        assert len([r for r in _incoming_all(s, c) if r["requestId"] == rid]) == 1


def _incoming_all(s: Setup, c: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = _ok(
        c.get(s.supplier.base_url + "/v1/connector/pcf/incoming", headers=s.supplier.admin_headers())
    )
    return out


def test_a_request_no_twin_entitles_waits_for_the_operators_release(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        rid = _ask(s, c, UNTWINNED)["requestId"]
        row = _incoming(s, c, rid)
        # accepted (202) but never answered on its own: no twin names the customer
        assert row["status"] == "accepted" and row["automatic"] is False and "delivery" not in row
        assert _exchange(s, c, rid)["status"] == "accepted"
        # the synchronous pull of the same product is refused to this customer, as before
        r = c.post(
            s.customer.base_url + "/v1/connector/pcf/requests",
            json={"provider": s.supplier.did, "productId": UNTWINNED},
            headers=s.customer.admin_headers(),
        )
        assert r.status_code == 404, r.text
        # the operator releases it
        out = _ok(
            c.post(
                s.supplier.base_url + "/v1/connector/pcf/incoming/answer",
                json={"partner": s.customer.did, "requestId": rid},
                headers=s.supplier.admin_headers(),
            )
        )
        assert out["status"] == "answered"
        _check_pcf(_received(s, c, rid)["pcf"], UNTWINNED, "17")


def test_a_request_before_any_active_footprint_is_answered_once_one_exists(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        rid = _ask(s, c, NOT_YET)["requestId"]
        deadline = time.monotonic() + 20
        while "error" not in (row := _incoming(s, c, rid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert row["status"] == "accepted" and row["automatic"] is True
        assert "no active footprint" in row["error"]
        answer = {"partner": s.customer.did, "requestId": rid}
        r = c.post(
            s.supplier.base_url + "/v1/connector/pcf/incoming/answer", json=answer, headers=s.supplier.admin_headers()
        )
        assert r.status_code == 404 and "no active footprint" in r.text, r.text
        assert _exchange(s, c, rid)["status"] == "accepted"
        # the supplier's footprint becomes active: the operator answers
        doc = _pact(NOT_YET, str(s.supplier.node.config.bpnl), "16")
        _ok(
            c.post(
                s.supplier.base_url + "/v1/footprints/pact/footprints", json=doc, headers=s.supplier.admin_headers()
            ),
            201,
        )
        out = _ok(
            c.post(
                s.supplier.base_url + "/v1/connector/pcf/incoming/answer",
                json=answer,
                headers=s.supplier.admin_headers(),
            )
        )
        assert out["status"] == "answered" and "error" not in out
        _check_pcf(_received(s, c, rid)["pcf"], NOT_YET, "19")
        # the customer lists its requests (newest first), without the PCFs
        mine = _ok(c.get(s.customer.base_url + "/v1/connector/pcf/exchanges", headers=s.customer.admin_headers()))
        assert mine[0]["requestId"] == rid and "pcf" not in mine[0]
