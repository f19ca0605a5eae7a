"""Europe → Japan through Ouranos trades (issue #9 item 3), without the network.

The conversion: a Catena-X PCF 9.0 becomes the four Ouranos values per the part's unit (the
cradle-to-gate value booked by the supplier's role, rounded up at the 6th decimal), the 1–5
ratings go onto the configured Ouranos scale (the inverse of the hub's mapping, so it reads them
back), and what the record cannot carry is named. Then the service against a real hub in
process (both stores): representing a supplier registers its parts; a sync answers an open
request, refuses a request the buyer cancelled while the bridge was pulling the PCF (the hub's
refusal: nothing written), leaves one the supplier's connector refuses unanswered, and a second
sync changes nothing. The supplier's connector is stood in for by a function serving its PCF
documents (the real pull over DSP is in tests/integration/test_bridge_trades_connector.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from batpass import bridge, exchange, ouranos
from batpass.bridge._trades import (
    REPLY_MAX,
    BridgeTrades,
    RepresentedProduct,
    convert_pcf,
    dqr_mapping_from_config,
    match_product,
    ratings_to_ouranos,
    suppliers_table,
)
from batpass.core.errors import ConfigurationError, InvalidInput, NotFound
from batpass.footprint import (
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    OuranosDqrMapping,
    ProductFootprint,
    StageSplit,
    SupplierRole,
    write_catenax,
)
from batpass.ouranos import AmountUnit, OuranosClient, OuranosHub
from batpass.ouranos._harness import build_app, seed_operator
from batpass.trust import SecretBox, load_or_create_identity

D = Decimal
SUPPLIER = "BPNL00000009MINE"
SUPPLIER_DID = "did:web:mine.example"
LIOH = "urn:gtin:4012345000016"
LIOH_B = "urn:gtin:4012345000023"
NICKEL = "urn:gtin:4012345000030"
ONE_TO_THREE = OuranosDqrMapping(raw_best=D(1), raw_worst=D(3))
BASE = "https://hub.test:8443"


def _fp(
    product: str = LIOH,
    *,
    total: str = "12345.6",
    amount: str = "1000",
    unit: DeclaredUnit = DeclaredUnit.KILOGRAM,
    dqr: DataQuality | None = DataQuality(D("1.6"), D("2.2"), D("1.4"), DqrScale.ONE_TO_FIVE),
    distribution: str | None = None,
) -> ProductFootprint:
    per = D(total) / D(amount)
    dist = None if distribution is None else D(distribution) / D(amount)
    header = FootprintHeader(
        id="urn:uuid:0193c0de-0000-7000-8000-00000000000a",
        product_ids=(product,),
        product_name="Lithium hydroxide monohydrate",
        company_name="Atacama Lithium SpA",
        company_ids=(f"urn:bpn:id:{SUPPLIER}",),
        reference_period_start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    return ProductFootprint(
        header=header,
        declared_unit=unit,
        declared_unit_amount=D(amount),
        per_unit=per + (dist or D(0)),
        stages=StageSplit(distribution=dist, unsplit=per),
        mass_per_declared_unit_kg=D(1),
        primary_data_share=D("0.6"),
        dqr=dqr,
    )


def _pcf(**kw: Any) -> dict[str, Any]:
    return write_catenax(_fp(**kw))


def _product(
    product: str = LIOH, unit: AmountUnit = AmountUnit.KILOGRAM, role: SupplierRole = SupplierRole.REFINER
) -> RepresentedProduct:
    return RepresentedProduct(product, "LiOH battery grade", unit, role)


# ------------------------------------------------------------------------------ conversion


def test_values_are_per_unit_of_the_part_and_booked_in_pre_processing() -> None:
    a = convert_pcf(_pcf(), product=_product(), mapping=ONE_TO_THREE)
    c = a.cfp
    # 12,345.6 kg CO2e for 1,000 kg: 12.3456 per kilogram, all of it raw-material pre-processing
    assert (c.pre_production, c.main_production, c.pre_component, c.main_component) == (
        D("12.3456"),
        D(0),
        D(0),
        D(0),
    )
    assert c.unit == "kgCO2e/kilogram"
    assert a.pcf_id == "urn:uuid:0193c0de-0000-7000-8000-00000000000a" and a.product_id == LIOH
    rows = {r["cfpType"]: r for r in a.records("0193c0de-0000-7000-8000-0000000000aa")}
    assert set(rows) == {"preProduction", "mainProduction", "preComponent", "mainComponent"}
    assert rows["preProduction"]["ghgEmission"] == 12.3456
    assert rows["preProduction"]["dqrValue"] == rows["preComponent"]["dqrValue"]  # one dqrValue per dqrType


def test_values_are_rounded_up_at_the_sixth_decimal() -> None:
    a = convert_pcf(_pcf(total="1", amount="3"), product=_product(), mapping=None)
    assert a.cfp.pre_production == D("0.33334")


def test_ratings_go_onto_the_configured_ouranos_scale_and_read_back() -> None:
    a = convert_pcf(_pcf(), product=_product(), mapping=ONE_TO_THREE)
    pre = a.cfp.dqr_pre
    assert pre is not None and (pre.ter, pre.ger, pre.tir) == (D("1.3"), D("1.6"), D("1.2"))
    # a stage without emissions carries no rating (the API refuses one there)
    assert a.cfp.dqr_main is None
    assert ONE_TO_THREE.convert(pre.ter, "TeR") == D("1.6") and ONE_TO_THREE.convert(pre.ger, "GeR") == D("2.2")
    assert "DQR: Catena-X 1–5 TeR 1.6, GeR 2.2, TiR 1.4 → Ouranos 1.3/1.6/1.2" in a.reply_message()
    # a scale where the larger number is better, and PACT v2's 1–3 converted first (2 → 3 → 50)
    flipped = OuranosDqrMapping(raw_best=D(100), raw_worst=D(0))
    raw = ratings_to_ouranos(DataQuality(D(1), D(2), D(3), DqrScale.ONE_TO_THREE), flipped)
    assert (raw.ter, raw.ger, raw.tir) == (D(100), D(50), D(0))


def test_without_a_mapping_or_ratings_no_ratings_are_sent_and_that_is_said() -> None:
    a = convert_pcf(_pcf(), product=_product(), mapping=None)
    assert a.cfp.dqr_pre is None and a.cfp.dqr_main is None
    assert "data-quality ratings (no Ouranos DQR mapping configured on the bridge)" in a.not_provided
    b = convert_pcf(_pcf(dqr=None), product=_product(), mapping=ONE_TO_THREE)
    assert b.cfp.dqr_pre is None and "data-quality ratings (the PCF has none)" in b.not_provided
    rows = b.records("0193c0de-0000-7000-8000-0000000000aa")
    assert all(r["dqrValue"] == {"TeR": None, "GeR": None, "TiR": None} for r in rows)


def test_the_stages_ouranos_cannot_carry_are_stated_not_provided() -> None:
    a = convert_pcf(_pcf(), product=_product(), mapping=ONE_TO_THREE)
    stated = " | ".join(a.not_provided)
    for stage in ("raw-material pre-processing and main production", "own/parts", "distribution", "end of life"):
        assert stage in stated, stage
    msg = a.reply_message()
    assert "Not provided: " in msg and "end of life" in msg and len(msg) <= REPLY_MAX
    assert "Primary data share 60 %" in msg and "role 'refiner'" in msg
    view = a.as_json()
    assert view["preProduction"] == "12.3456" and view["mainProduction"] == "0"
    assert view["notProvided"] == list(a.not_provided)
    # a PCF with its distribution stage: booked with the rest (the mapping table), not "not provided"
    d = convert_pcf(_pcf(distribution="500"), product=_product(), mapping=ONE_TO_THREE)
    assert d.cfp.pre_production == D("12.8456")
    assert not any(s.startswith("distribution") for s in d.not_provided)
    assert "distribution stage (0.5) is included" in d.reply_message()


def test_what_ouranos_cannot_say_is_refused_with_the_rule() -> None:
    with pytest.raises(InvalidInput, match="counted in unit") as unit:
        convert_pcf(_pcf(), product=_product(unit=AmountUnit.UNIT), mapping=None)
    assert unit.value.field == "declaredUnitOfMeasurement"
    with pytest.raises(InvalidInput, match="not urn:gtin:4012345000030"):
        convert_pcf(_pcf(), product=_product(NICKEL), mapping=None)
    # a cell's PCF without a stage split cannot be placed in pre-processing or main production
    with pytest.raises(InvalidInput, match="split") as split:
        convert_pcf(
            _pcf(unit=DeclaredUnit.PIECE), product=_product(unit=AmountUnit.UNIT, role=SupplierRole.CELL), mapping=None
        )
    assert split.value.field == "stages"
    with pytest.raises(InvalidInput, match="distribution"):
        convert_pcf(_pcf(), product=_product(role=SupplierRole.LOGISTICS), mapping=None)
    with pytest.raises(InvalidInput, match="companyAndProductInformation") as schema:
        convert_pcf({"scopeOfPcfForm": []}, product=_product(), mapping=None)
    assert schema.value.rule == "Catena-X PCF 9.0 (io.catenax.pcf:9.0.0)"


def test_which_product_a_request_asks_about() -> None:
    a = RepresentedProduct(LIOH, "LiOH battery grade", AmountUnit.KILOGRAM, SupplierRole.REFINER, "t-a")
    b = RepresentedProduct(NICKEL, "Nickel sulphate", AmountUnit.KILOGRAM, SupplierRole.REFINER, "t-b")
    both = [a, b]
    assert match_product(both, upstream_trace_id="t-b", message=LIOH, buyer_parts_name=None) == b
    assert match_product(both, upstream_trace_id=None, message=f"CFP of {NICKEL} please", buyer_parts_name=None) == b
    assert match_product(both, upstream_trace_id=None, message="CFP", buyer_parts_name=" lioh BATTERY grade") == a
    assert match_product([a], upstream_trace_id=None, message=None, buyer_parts_name="anything") == a
    why = match_product(both, upstream_trace_id=None, message="CFP please", buyer_parts_name="Cathode")
    assert isinstance(why, str) and "names none of the supplier's 2 products" in why


def test_the_dqr_mapping_comes_from_the_configuration() -> None:
    assert dqr_mapping_from_config({}) is None
    assert dqr_mapping_from_config({"ouranos_dqr_mapping": {"raw_best": "1", "raw_worst": "3"}}) == ONE_TO_THREE
    for bad in ({"raw_best": "1"}, {"raw_best": "x", "raw_worst": "3"}, {"raw_best": "2", "raw_worst": "2"}):
        with pytest.raises(InvalidInput) as err:
            dqr_mapping_from_config({"ouranos_dqr_mapping": bad})
        assert err.value.field == "ouranos_dqr_mapping"


# ------------------------------------------------------------------------------ the service


class Hub:
    """A hub in process, its buyer (a seeded operator) and a Catena-X supplier onboarded with
    its BPNL as openOperatorId and globalOperatorId, without a plant (the bridge adds one)."""

    def __init__(self, hub: OuranosHub) -> None:
        self.hub = hub
        self.buyer = seed_operator(hub, 0)
        op = hub.onboard_operator(
            open_operator_id=SUPPLIER,
            operator_name="Atacama Lithium SpA",
            operator_address="Antofagasta, CL",
            global_operator_id=SUPPLIER,
        )
        self.supplier_id = op.operator_id
        hub.add_account(op.operator_id, "bridge@mine.example", "Br1dgeMine!")
        _, self.api_key = hub.issue_api_key()
        self.app = build_app(hub, base_url=BASE)

    def http(self) -> httpx.Client:
        # starlette's TestClient speaks httpx's Client interface (from its own httpx copy)
        return cast(httpx.Client, TestClient(self.app, base_url=BASE))

    @contextmanager
    def client(self, account: str, password: str) -> Iterator[OuranosClient]:
        with self.http() as http:
            c = OuranosClient(http, api_key=self.api_key)
            c.login(account, password)
            yield c


def _request(
    buyer: OuranosClient, hub: Hub, names: Sequence[str], messages: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The buyer's parts structure (a cathode ← the given purchased parts) and one trade request
    per part to the supplier, found by its BPNL; answers child name → ids."""
    b = hub.buyer

    def part(name: str, parent: bool) -> dict[str, Any]:
        return {
            "amountRequired": None if parent else 1.2,
            "amountRequiredUnit": "kilogram",
            "operatorId": b.operator_id,
            "partsName": name,
            "plantId": b.plant_id,
            "supportPartsName": None,
            "terminatedFlag": False,
            "traceId": None,
        }

    structure = buyer.put(
        "partsStructure",
        {"parentPartsModel": part("NMC811 CAM", True), "childrenPartsModel": [part(n, False) for n in names]},
    )
    supplier = buyer.operator(open_operator_id=SUPPLIER)["operatorId"]
    out: dict[str, dict[str, str]] = {}
    for child, message in zip(structure["childrenPartsModel"], messages, strict=True):
        body = {
            "statusModel": {
                "message": message,
                "replyMessage": None,
                "requestStatus": {},
                "requestType": "CFP",
                "statusId": None,
                "tradeId": None,
                "responseDueDate": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
            },
            "tradeModel": {
                "downstreamOperatorId": b.operator_id,
                "downstreamTraceId": child["traceId"],
                "tradeId": None,
                "upstreamOperatorId": supplier,
                "upstreamTraceId": None,
            },
        }
        t = buyer.put("tradeRequest", body)
        out[child["partsName"]] = {
            "child": child["traceId"],
            "tradeId": t["tradeModel"]["tradeId"],
            "statusId": t["statusModel"]["statusId"],
        }
    return out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def setup(make_store: Callable[[Sequence[Path]], Engine], tmp_path: Path) -> tuple[Hub, Engine]:
    engine = make_store([ouranos.MIGRATIONS_DIR])
    identity = load_or_create_identity(tmp_path / "hub-keys", "did:web:hub.test%3A8443")
    return Hub(OuranosHub(engine, identity, hub_home=tmp_path / "hub", base_url=BASE)), make_store(
        [exchange.MIGRATIONS_DIR, bridge.MIGRATIONS_DIR]
    )


@pytest.mark.anyio
async def test_the_bridge_answers_refuses_and_leaves_unanswered(setup: tuple[Hub, Engine]) -> None:
    hub, bridge_engine = setup
    pulls: list[tuple[str, str]] = []
    cancel_during_pull: dict[str, str] = {}
    buyer_login = (hub.buyer.account_id, hub.buyer.password)

    async def pull(did: str, product: str, request_id: str) -> Any:
        """The supplier's connector: LiOH (both grades) for the bridge, nickel refused; while
        the bridge pulls for ``cancel_during_pull``, the buyer cancels that request."""
        pulls.append((product, request_id))
        assert did == SUPPLIER_DID
        if request_id in cancel_during_pull:
            with hub.client(*buyer_login) as b:
                b.put(
                    "status",
                    {
                        "statusId": cancel_during_pull.pop(request_id),
                        "tradeId": request_id,
                        "message": None,
                        "replyMessage": None,
                        "requestType": "CFP",
                        "responseDueDate": None,
                        "requestStatus": {"cfpResponseStatus": "CANCEL", "tradeTreeStatus": "UNTERMINATED"},
                    },
                )
        if product == NICKEL:
            raise NotFound(f"{did} has no catenax-pcf for {product} for this node", rule="entitled partners only")
        return _pcf(product=product)

    svc = BridgeTrades(
        bridge_engine, hub_http=hub.http, pull_pcf=pull, secrets=SecretBox.generate(), dqr_mapping=ONE_TO_THREE
    )
    products = [
        RepresentedProduct(LIOH, "LiOH battery grade", AmountUnit.KILOGRAM, SupplierRole.REFINER),
        RepresentedProduct(LIOH_B, "LiOH technical grade", AmountUnit.KILOGRAM, SupplierRole.REFINER),
        RepresentedProduct(NICKEL, "Nickel sulphate", AmountUnit.KILOGRAM, SupplierRole.REFINER),
    ]
    with pytest.raises(InvalidInput, match="the hub refused the login") as login:
        svc.represent(
            bpnl=SUPPLIER,
            supplier_did=SUPPLIER_DID,
            operator_id=hub.supplier_id,
            api_key=hub.api_key,
            account_id="bridge@mine.example",
            password="Wr0ngPass!",
            products=products,
        )
    assert login.value.field == "operatorAccountId" and "Wr0ngPass!" not in login.value.message
    with pytest.raises(InvalidInput, match="globalOperatorId"):
        svc.represent(
            bpnl="BPNL00000009OTHR",
            supplier_did=SUPPLIER_DID,
            operator_id=hub.supplier_id,
            api_key=hub.api_key,
            account_id="bridge@mine.example",
            password="Br1dgeMine!",
            products=products,
        )
    rec = svc.represent(
        bpnl=SUPPLIER,
        supplier_did=SUPPLIER_DID,
        operator_id=hub.supplier_id,
        api_key=hub.api_key,
        account_id="bridge@mine.example",
        password="Br1dgeMine!",
        products=products,
    )
    assert "accountPassword" not in rec and "apiKey" not in rec and "Br1dgeMine!" not in repr(rec)
    traces = {p["productId"]: p["traceId"] for p in rec["products"]}
    assert len(set(traces.values())) == 3
    # again: the same parts (the hub keeps a part's traceId for its plant and name)
    again = svc.represent(
        bpnl=SUPPLIER,
        supplier_did=SUPPLIER_DID,
        operator_id=hub.supplier_id,
        api_key=hub.api_key,
        account_id="bridge@mine.example",
        password="Br1dgeMine!",
        products=products,
    )
    assert {p["productId"]: p["traceId"] for p in again["products"]} == traces
    # the hub credentials are sealed in the database, bound to their row and column
    with bridge_engine.connect() as conn:
        stored = conn.execute(select(suppliers_table.c.api_key, suppliers_table.c.account_password)).one()
    assert all(SecretBox.is_sealed(v) for v in stored)
    assert hub.api_key not in repr(stored) and "Br1dgeMine!" not in repr(stored)
    with pytest.raises(ConfigurationError, match="does not open"):
        svc.secrets.open(stored.api_key, context=f"represented_suppliers/{SUPPLIER}/account_password")
    # a row stored in the clear (a bridge from before sealing) is sealed once, then left alone
    with bridge_engine.begin() as conn:
        conn.execute(update(suppliers_table).values(api_key=hub.api_key, account_password="Br1dgeMine!"))
    assert svc.seal_stored() == 1 and svc.seal_stored() == 0

    with hub.client(*buyer_login) as buyer:
        req = _request(
            buyer,
            hub,
            ["LiOH", "LiOH tech", "NiSO4", "Mystery"],
            [f"CFP of {LIOH}", f"CFP of {LIOH_B}", f"CFP of {NICKEL}", "CFP of what you sell us"],
        )
    cancel_during_pull[req["LiOH tech"]["tradeId"]] = req["LiOH tech"]["statusId"]

    first = await svc.sync()
    assert first["suppliers"] == [{"bpnl": SUPPLIER, "operatorId": hub.supplier_id, "requests": 4}]
    [answered] = first["answered"]
    assert answered["tradeId"] == req["LiOH"]["tradeId"] and answered["traceId"] == traces[LIOH]
    assert answered["preProduction"] == "12.3456" and answered["dqrPreProcessing"] == {
        "TeR": "1.3",
        "GeR": "1.6",
        "TiR": "1.2",
    }
    [refused] = first["refused"]
    assert refused["tradeId"] == req["LiOH tech"]["tradeId"]
    assert "cancelled by the buyer" in refused["reason"] and "the hub refused the answer" in refused["reason"]
    unanswered = {u["tradeId"]: u for u in first["unanswered"]}
    assert "the supplier's connector gave no PCF" in unanswered[req["NiSO4"]["tradeId"]]["reason"]
    assert "names none of the supplier's 3 products" in unanswered[req["Mystery"]["tradeId"]]["reason"]

    with hub.client(*buyer_login) as buyer:
        rows = {r["cfpType"]: r for r in buyer.cfp([req["LiOH"]["child"]])}
        assert rows["preProductionResponse"]["ghgEmission"] == 12.3456
        assert rows["mainProductionResponse"]["ghgEmission"] == 0
        assert rows["preProductionResponse"]["dqrValue"] == {"TeR": 1.3, "GeR": 1.6, "TiR": 1.2}
        [status] = buyer.get("status", statusTarget="REQUEST", statusId=req["LiOH"]["statusId"])
        assert status["requestStatus"]["cfpResponseStatus"] == "COMPLETED"
        assert status["replyMessage"] == answered["replyMessage"] and "Not provided:" in status["replyMessage"]
        # the cancelled request: nothing flowed, nothing linked
        assert not [r for r in buyer.cfp([req["LiOH tech"]["child"]]) if r["cfpType"].endswith("Response")]
        [cancelled] = buyer.get("tradeRequest", traceIds=req["LiOH tech"]["child"])
        assert cancelled["upstreamTraceId"] is None
    with hub.client("bridge@mine.example", "Br1dgeMine!") as sup:
        assert sup.cfp([traces[LIOH_B]]) == [] and sup.get("cfpAcl", traceId=traces[LIOH_B]) == []
        assert sup.cfp([traces[NICKEL]]) == []
    records = {r["tradeId"]: r for r in svc.trades()}
    assert records[req["LiOH tech"]["tradeId"]]["outcome"] == "refused"
    assert records[req["LiOH tech"]["tradeId"]]["answer"] is None
    assert records[req["LiOH"]["tradeId"]]["answer"]["notProvided"] == answered["notProvided"]

    pulled = len(pulls)
    second = await svc.sync()
    assert second["answered"] == [] and second["refused"] == [] and second["unchanged"] == 2
    assert {u["tradeId"] for u in second["unanswered"]} == {req["NiSO4"]["tradeId"], req["Mystery"]["tradeId"]}
    assert [p for p, _ in pulls[pulled:]] == [NICKEL]  # only the one still open was asked again
    assert {r["tradeId"]: r["attempts"] for r in svc.trades()}[req["NiSO4"]["tradeId"]] == 2


def test_migration_matches_the_tables(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from batpass.store.metadata import metadata

    engine = make_store([exchange.MIGRATIONS_DIR, bridge.MIGRATIONS_DIR])
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, metadata) if "represented_" in repr(d)]
    assert diff == []
