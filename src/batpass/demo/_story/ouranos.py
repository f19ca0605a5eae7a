"""Demo step ``ouranos``: three Japanese operators on the hub exchange carbon footprints through
trades, on the published Ouranos API.

The hub's operator (``jp-hub``) onboards the refiner, the cathode maker and the cell maker with
its admin API (``/v1/ouranos/admin/...``: operators, plants, accounts, one application API key).
Each operator then logs in with :class:`batpass.ouranos.OuranosClient` over HTTPS and works as a
client of the published API would (ouranos-ecosystem-idi data-transaction-system tutorials):

1. parts and parts structures: cell ← NMC811 cathode active material (CAM) ← LiOH·H2O,
   NiSO4·6H2O, CoSO4·7H2O;
2. the cathode maker asks the refiner (one request per salt), the cell maker asks the cathode
   maker (``PUT tradeRequest``), each **requested → accepted** (the supplier links its own part,
   ``PUT tradeResponse``) **→ answered** (the supplier's CFP, all four values with DQR, ``PUT cfp``)
   **→ released** (extension ``cfpAcl`` TOTALCFP + TOTALDQR to that buyer);
3. each buyer reads the released responses (``GET cfp``: ``*Response``), computes its part's CFP
   with :func:`batpass.footprint.ouranos_parent_cfp` and writes its four values; the hub's
   ``*Total`` must equal the buyer's own computation.

It also checks that the supplier never sees the buyer's ``amountRequired``. Hand-offs:
``story.shared["ouranos.operators"]``, ``story.shared["ouranos.cell"]`` and the ``ouranos``
block of the hub's entry in ``summary.json`` (README "What the demo shows").

The emission figures are illustrative demo values in the ranges of the published studies cited
next to them; the masses follow the cell chemistry of :mod:`batpass.scenario` (NMC811).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from rich.table import Table

from batpass.core.clock import utc_now
from batpass.core.errors import ConfidentialityViolation, InvariantViolation, NotFound
from batpass.demo._story._context import Story, account_password
from batpass.footprint import OuranosCfp, OuranosDqr, ouranos_parent_cfp, ouranos_round
from batpass.ledger import MATERIALS, Element
from batpass.ouranos import OuranosClient
from batpass.scenario import CHEMISTRIES
from batpass.trust import client_ssl_context

__all__ = ["run"]

HUB = "jp-hub"
KG = "kgCO2e/kilogram"
PER_CELL = "kgCO2e/unit"
#: the scenario's cells: 0.24 kWh each (batpass.scenario, "250 cells of 0.24 kWh per round")
CELL_KWH = Decimal("0.24")
#: a total the hub reports may differ from the client's by the 5-decimal round-up of a sub-sum
_TOLERANCE = Decimal("0.0001")

JSON = dict[str, Any]


# --------------------------------------------------------------------------------- the actors


@dataclass(frozen=True)
class _Operator:
    short: str
    open_operator_id: str  # a corporate number (法人番号) with a valid check digit, fictitious
    name: str
    address: str
    plant_suffix: str
    plant_name: str
    plant_address: str


OPERATORS: tuple[_Operator, ...] = (
    _Operator(
        "jp-refiner",
        "1500010001234",
        "Niihama Battery Materials Refining KK",
        "Ehime, Niihama, Isoura-cho 17-5",
        "000001",
        "Niihama battery-salt plant",
        "Ehime, Niihama, Isoura-cho 17-5",
    ),
    _Operator(
        "jp-cathode",
        "1180001045678",
        "Tokai Cathode KK",
        "Aichi, Nagoya, Minato-ku 3-2-1",
        "000001",
        "Tokai CAM plant",
        "Mie, Yokkaichi, Kasumi 2-1",
    ),
    _Operator(
        "jp-cellmaker",
        "3120001067890",
        "Osaka Cells KK",
        "Osaka, Kita-ku, Umeda 2-4-9",
        "000001",
        "Osaka cell plant",
        "Osaka, Sakai, Chikko-shinmachi 3-1",
    ),
)


# ------------------------------------------------------------------------------ the numbers


def _dqr(ter: str, ger: str, tir: str) -> OuranosDqr:
    return OuranosDqr(Decimal(ter), Decimal(ger), Decimal(tir))


#: data-quality ratings, raw (the Ouranos API publishes no scale): primary plant data
#: rates better (lower, as PACT's 1-3) than secondary database values
PRIMARY = _dqr("1.2", "1.0", "1.1")
SECONDARY = _dqr("2.4", "2.1", "1.9")


@dataclass(frozen=True)
class _Input:
    """A purchased input the buyer does not trace on the hub: declared by the buyer itself as its
    part's ``preComponent`` (secondary data, raw-material acquisition and pre-processing stage)."""

    name: str
    kg: Decimal  # per unit of the product
    kg_co2e_per_kg: Decimal
    dqr: OuranosDqr = SECONDARY

    def as_child(self) -> tuple[OuranosCfp, Decimal]:
        return OuranosCfp(self.kg_co2e_per_kg, Decimal(0), Decimal(0), Decimal(0), KG, self.dqr, None), self.kg


@dataclass(frozen=True)
class _Footprint:
    """An operator's own emissions per declared unit of a part, and its non-traced inputs."""

    pre_own: Decimal
    main_own: Decimal
    inputs: tuple[_Input, ...] = ()


@dataclass(frozen=True)
class _Salt:
    key: str  # ledger material code
    parts_name: str
    label: str
    element: Element
    excess: Decimal  # reagent excess over stoichiometry in CAM synthesis
    footprint: _Footprint


# Refined salts, kg CO2e per kg of salt; all of it is stage 1 (raw-material acquisition and
# pre-processing, Regulation (EU) 2023/1542 Annex II): the refiner's conversion is its own
# ``preProduction``, the mined intermediate it buys is declared as ``preComponent``.
# - LiOH·H2O from Australian spodumene (SC6): ~7 kg SC6 per kg (2.8 % Li, 85 % recovery), ~0.4 kg
#   CO2e/kg SC6 mined and shipped; conversion (roasting, leaching) ~12 kg CO2e/kg: ~15 in all, as
#   Kelly et al. (2021), Resour. Conserv. Recycl. 174, 105762, report for spodumene-based LiOH·H2O.
# - NiSO4·6H2O from Indonesian HPAL mixed hydroxide precipitate (39 % Ni): ~0.59 kg MHP per kg,
#   ~5.5 kg CO2e/kg MHP; dissolution, solvent extraction, crystallisation ~0.9: ~4.2 kg CO2e/kg,
#   ~19 kg CO2e/kg Ni, within the range of the Nickel Institute's life cycle data (2023).
# - CoSO4·7H2O from DR Congo cobalt hydroxide (35 % Co): ~0.62 kg per kg, ~3.0 kg CO2e/kg;
#   refining ~3.2: ~5.1 kg CO2e/kg, ~24 kg CO2e/kg Co, as the range in Dai et al. (2019),
#   "Life Cycle Analysis of Lithium-Ion Batteries for Automotive Applications", Batteries 5(2), 48.
SALTS: tuple[_Salt, ...] = (
    _Salt(
        "lithium_hydroxide",
        "Lithium hydroxide monohydrate (battery grade)",
        "LiOH·H2O",
        Element.LI,
        Decimal("1.03"),
        _Footprint(
            Decimal("12.3"), Decimal(0), (_Input("spodumene concentrate SC6", Decimal("6.97"), Decimal("0.40")),)
        ),
    ),
    _Salt(
        "nickel_sulphate",
        "Nickel sulphate hexahydrate",
        "NiSO4·6H2O",
        Element.NI,
        Decimal("1.00"),
        _Footprint(Decimal("0.9"), Decimal(0), (_Input("nickel MHP (HPAL)", Decimal("0.59"), Decimal("5.5")),)),
    ),
    _Salt(
        "cobalt_sulphate",
        "Cobalt sulphate heptahydrate",
        "CoSO4·7H2O",
        Element.CO,
        Decimal("1.00"),
        _Footprint(Decimal("3.2"), Decimal(0), (_Input("cobalt hydroxide", Decimal("0.62"), Decimal("3.0")),)),
    ),
)

# NMC811 cathode active material, per kg: co-precipitation and two calcinations in oxygen,
# ~12 kWh/kg at the Japanese grid's ~0.45 kg CO2e/kWh (Ministry of the Environment, FY2022
# emission factors) → ~5.6 kg CO2e/kg, CAM production counted in main production as the JRC draft
# rules do (draft delegated act, Ares(2024)3131389); manganese sulphate (0.17 kg, stoichiometric) and sodium
# hydroxide for precipitation (~0.82 kg) are bought outside the hub. With the salts the CAM lands
# near 24 kg CO2e/kg, within the 15-30 range of Dai et al. (2019) for nickel-rich NMC.
CAM = _Footprint(
    Decimal(0),
    Decimal("5.6"),
    (
        _Input("manganese sulphate monohydrate", Decimal("0.17372"), Decimal("1.2")),
        _Input("sodium hydroxide", Decimal("0.82"), Decimal("1.1")),
    ),
)

# The cell (per piece, 0.24 kWh NMC811/graphite): masses from the scenario's chemistry (kg per
# kWh × 0.24); electrode making, drying rooms and formation ~40 kWh per kWh of cells at ~0.45 kg
# CO2e/kWh → ~4.3 kg CO2e per cell (main production); the non-traced materials use secondary
# factors (coated spherical graphite ~4.5, copper foil ~7, aluminium foil ~13, electrolyte,
# separator, binder and can ~6 kg CO2e/kg). The cell lands near 66 kg CO2e/kWh, inside the
# 61-106 kg CO2e/kWh of Emilsson & Dahllöf (2019), IVL report C 444.
_NMC = CHEMISTRIES["NMC811"]


def _kg(per_kwh: float) -> Decimal:
    return ouranos_round(Decimal(str(per_kwh)) * CELL_KWH)


CELL = _Footprint(
    Decimal(0),
    Decimal("4.32"),
    (
        _Input("spherical graphite (coated)", _kg(_NMC.graphite_kg_per_kwh), Decimal("4.5")),
        _Input("copper foil", _kg(_NMC.copper_kg_per_kwh), Decimal("7.0")),
        _Input("aluminium foil", _kg(_NMC.aluminium_kg_per_kwh), Decimal("13.0")),
        _Input("electrolyte, separator, binder, can", Decimal("0.18"), Decimal("6.0")),
    ),
)
#: kg of CAM per cell (scenario: NMC811 at 1.37 kg CAM per kWh)
CAM_PER_CELL = _kg(_NMC.cam_kg_per_kwh)


def _salt_per_kg_cam(salt: _Salt) -> Decimal:
    """kg of the salt per kg of CAM: the element's mass fraction in LiNi0.8Mn0.1Co0.1O2 over the
    salt's (``batpass.ledger.MATERIALS``), times the reagent excess."""
    cam_fr = (MATERIALS["cam_nmc811"].fractions or {})[salt.element]
    salt_fr = (MATERIALS[salt.key].fractions or {})[salt.element]
    return ouranos_round(Decimal(str(cam_fr)) / Decimal(str(salt_fr)) * salt.excess)


# ------------------------------------------------------------------------------- arithmetic


def _declared(fp: _Footprint, unit: str) -> OuranosCfp:
    """The four values an operator writes: its own emissions, and its non-traced inputs × mass
    as ``preComponent`` / ``mainComponent``; ratings emission-weighted over both."""
    c = ouranos_parent_cfp(
        pre_own=fp.pre_own,
        main_own=fp.main_own,
        children=[i.as_child() for i in fp.inputs],
        dqr_pre_own=PRIMARY,
        dqr_main_own=PRIMARY,
        unit=unit,
    )
    # a stage without emissions has no weighted rating; the write still states the plant's own
    return OuranosCfp(
        c.pre_production,
        c.main_production,
        c.pre_component,
        c.main_component,
        unit,
        c.dqr_pre or PRIMARY,
        c.dqr_main or PRIMARY,
    )


def _with_suppliers(declared: OuranosCfp, responses: Sequence[tuple[OuranosCfp, Decimal]]) -> OuranosCfp:
    """The part's full CFP: own + its declared parts + Σ(released supplier response × amount)."""
    own_parts = OuranosCfp(
        Decimal(0),
        Decimal(0),
        declared.pre_component,
        declared.main_component,
        declared.unit,
        declared.dqr_pre,
        declared.dqr_main,
    )
    return ouranos_parent_cfp(
        pre_own=declared.pre_production,
        main_own=declared.main_production,
        children=[(own_parts, Decimal(1)), *responses],
        dqr_pre_own=declared.dqr_pre,
        dqr_main_own=declared.dqr_main,
        unit=declared.unit,
    )


_WRITE = (
    ("preProduction", "preProcessing", "pre_production", "dqr_pre"),
    ("mainProduction", "mainProcessing", "main_production", "dqr_main"),
    ("preComponent", "preProcessing", "pre_component", "dqr_pre"),
    ("mainComponent", "mainProcessing", "main_component", "dqr_main"),
)


def _dqr_json(d: OuranosDqr | None) -> JSON:
    if d is None:
        return {"TeR": None, "GeR": None, "TiR": None}
    return {"TeR": float(d.ter), "GeR": float(d.ger), "TiR": float(d.tir)}


def _cfp_body(trace_id: str, c: OuranosCfp) -> list[JSON]:
    """``PUT cfp``: the four writable types together (same traceId, unit, new cfpId)."""
    return [
        {
            "cfpId": None,
            "traceId": trace_id,
            "ghgEmission": float(getattr(c, attr)),
            "ghgDeclaredUnit": c.unit,
            "cfpType": kind,
            "dqrType": dqr_type,
            "dqrValue": _dqr_json(getattr(c, dqr_attr)),
        }
        for kind, dqr_type, attr, dqr_attr in _WRITE
    ]


def _by_type(rows: Sequence[JSON]) -> dict[str, JSON]:
    return {r["cfpType"]: r for r in rows}


def _dec(v: Any) -> Decimal:
    return Decimal(str(v))


def _dqr_in(v: JSON) -> OuranosDqr | None:
    if v.get("TeR") is None:
        return None
    return OuranosDqr(_dec(v["TeR"]), _dec(v["GeR"]), _dec(v["TiR"]))


def _response(client: OuranosClient, child_trace: str) -> OuranosCfp:
    """What the supplier released for a child part: its stage totals (``*Response``) and ratings."""
    rows = _by_type(client.cfp([child_trace]))
    pre, main = rows.get("preProductionResponse"), rows.get("mainProductionResponse")
    if pre is None or main is None:
        raise InvariantViolation(
            f"no released CFP response for child part {child_trace}",
            field="cfp.preProductionResponse",
            rule="a buyer sees the supplier's totals once TOTALCFP is released to it",
        )
    dqr_pre, dqr_main = _dqr_in(pre["dqrValue"]), _dqr_in(main["dqrValue"])
    # a stage without emissions has no (emission-weighted) rating; any other must carry one
    for row, dqr in ((pre, dqr_pre), (main, dqr_main)):
        if dqr is None and _dec(row["ghgEmission"]) > 0:
            raise InvariantViolation(
                f"no released ratings in {row['cfpType']} of child part {child_trace}",
                field="cfp.dqrValue",
                rule="ratings flow once TOTALDQR is released",
            )
    return OuranosCfp(
        _dec(pre["ghgEmission"]), _dec(main["ghgEmission"]), Decimal(0), Decimal(0), pre["ghgDeclaredUnit"],
        dqr_pre, dqr_main,
    )  # fmt: skip


def _totals(client: OuranosClient, trace_id: str) -> dict[str, JSON]:
    rows = _by_type(client.cfp([trace_id]))
    return {k.removesuffix("Total"): v for k, v in rows.items() if k.endswith("Total")}


def _check_totals(what: str, hub: dict[str, JSON], mine: OuranosCfp) -> None:
    """The hub's ``*Total`` must equal the buyer's own computation (to the 5-decimal round-up)."""
    for kind, _, attr, _ in _WRITE:
        got = _dec(hub[kind]["ghgEmission"]) if kind in hub else None
        want: Decimal = getattr(mine, attr)
        if got is None or abs(got - want) > _TOLERANCE:
            raise InvariantViolation(
                f"{what}: the hub's {kind}Total is {got}, the buyer computed {want}",
                field=f"cfp.{kind}Total",
                rule="parent total = own + own-declared parts + Σ(released response × amountRequired)",
            )


# ----------------------------------------------------------------------------------- wire


def _part(op: JSON, name: str, *, unit: str, terminated: bool, amount: Decimal | None = None) -> JSON:
    """A published ``PartsModel`` (traceId minted by the hub)."""
    return {
        "amountRequired": None if amount is None else float(amount),
        "amountRequiredUnit": unit,
        "operatorId": op["operatorId"],
        "partsName": name,
        "plantId": op["plantId"],
        "supportPartsName": None,
        "terminatedFlag": terminated,
        "traceId": None,
        "partsLabelName": None,
        "partsAddInfo1": None,
        "partsAddInfo2": None,
        "partsAddInfo3": None,
    }


def _trade_request(buyer: JSON, supplier_id: str, child_trace: str, message: str, due: dt.date) -> JSON:
    return {
        "statusModel": {
            "message": message,
            "replyMessage": None,
            "requestStatus": {},
            "requestType": "CFP",
            "statusId": None,
            "tradeId": None,
            "responseDueDate": due.isoformat(),
        },
        "tradeModel": {
            "downstreamOperatorId": buyer["operatorId"],
            "downstreamTraceId": child_trace,
            "tradeId": None,
            "upstreamOperatorId": supplier_id,
            "upstreamTraceId": None,
        },
    }


@dataclass
class _Trade:
    """One trade as the story shows it: requested → accepted → answered → released."""

    buyer: str
    supplier: str
    part: str
    amount: Decimal
    child_trace: str
    trade_id: str = ""
    status_id: str = ""
    upstream_trace: str = ""
    steps: tuple[str, ...] = ()

    def mark(self, step: str) -> None:
        self.steps = (*self.steps, step)


# ----------------------------------------------------------------------------------- story


def _onboard(story: Story) -> tuple[str, dict[str, JSON]]:
    """The hub's operator onboards the three operators (admin API) and issues one API key."""
    ops: dict[str, JSON] = {}
    for o in OPERATORS:
        rec = story.call(
            "POST",
            HUB,
            "/v1/ouranos/admin/operators",
            json={"openOperatorId": o.open_operator_id, "operatorName": o.name, "operatorAddress": o.address},
        ).json()
        plant = story.call(
            "POST",
            HUB,
            f"/v1/ouranos/admin/operators/{rec['operatorId']}/plants",
            json={
                "openPlantId": o.open_operator_id + o.plant_suffix,
                "plantName": o.plant_name,
                "plantAddress": o.plant_address,
            },
        ).json()
        account, password = f"cfp@{o.short}.example.jp", account_password()
        story.call(
            "POST",
            HUB,
            f"/v1/ouranos/admin/operators/{rec['operatorId']}/accounts",
            json={"operatorAccountId": account, "accountPassword": password},
        )
        ops[o.short] = {
            "operatorId": rec["operatorId"],
            "openOperatorId": rec["openOperatorId"],
            "operatorAccountId": account,
            "accountPassword": password,
            "did": rec["did"],
            "plantId": plant["plantId"],
            "name": o.name,
        }
    key = story.call("POST", HUB, "/v1/ouranos/admin/api-keys", json={"label": "batpass demo"}).json()["apiKey"]
    return str(key), ops


def _login(http: httpx.Client, api_key: str, op: JSON) -> OuranosClient:
    c = OuranosClient(http, api_key=api_key)
    c.login(op["operatorAccountId"], op["accountPassword"])
    if c.operator()["operatorId"] != op["operatorId"]:
        raise InvariantViolation(
            f"account {op['operatorAccountId']} logged in as another operator",
            field="operatorId",
            rule="GET authInfo?dataTarget=operator answers the logged-in operator",
        )
    return c


def _supplier_accepts(supplier: OuranosClient, trade: _Trade, own_trace: str) -> None:
    """The supplier finds the request (notification, then ``GET tradeResponse``) and links its part.

    The buyer's ``amountRequired`` must not reach it (the platform's rule: the traceability back end
    nulls it, as ``ouranos-ecosystem-idi/data-transaction-system`` shows)."""
    notes = [n for n in supplier.pages("notifications") if n["tradeRelation"]["tradeId"] == trade.trade_id]
    if not any(n["notificationType"] == "REQUEST_NEW" for n in notes):
        raise InvariantViolation(
            f"no REQUEST_NEW notification for trade {trade.trade_id}",
            field="notifications",
            rule="a supplier is told of a new request",
        )
    received = [r for r in supplier.pages("tradeResponse") if r["tradeModel"]["tradeId"] == trade.trade_id]
    if len(received) != 1:
        raise InvariantViolation(
            f"the supplier sees {len(received)} requests for trade {trade.trade_id}",
            field="tradeResponse",
            rule="the supplier sees each request it received once",
        )
    # and reading the buyer's part directly answers nothing (another operator's ids are not found)
    try:
        direct: Any = supplier.get("parts", traceId=trade.child_trace)
    except NotFound:
        direct = []
    seen = [received[0], notes, direct]
    if received[0]["partsModel"]["amountRequired"] is not None or trade.amount in set(_numbers(seen)):
        raise ConfidentialityViolation(
            f"the supplier of trade {trade.trade_id} sees the buyer's amountRequired {trade.amount}",
            field="tradeResponse.partsModel.amountRequired",
            rule="the supplier never sees the buyer's required amount",
        )
    trade.mark("amount hidden")
    linked = supplier.accept(trade.trade_id, own_trace)
    trade.upstream_trace = linked["upstreamTraceId"]
    trade.mark("accepted")


def _numbers(value: Any) -> Iterator[Decimal]:
    """Every number in a JSON value (what a response could reveal a quantity through)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield _dec(value)


def _buyer_sees(buyer: OuranosClient, trade: _Trade, *, stage: str) -> None:
    """Each step confirmed from the buyer's side of the published API."""
    if stage == "accepted":
        [t] = buyer.get("tradeRequest", traceIds=trade.child_trace)
        ok = t["upstreamTraceId"] == trade.upstream_trace
    elif stage == "answered":
        [st] = buyer.get("status", statusTarget="REQUEST", statusId=trade.status_id)
        ok = st["requestStatus"]["cfpResponseStatus"] == "COMPLETED"
    else:
        rows = _by_type(buyer.cfp([trade.child_trace]))
        ok = "preProductionResponse" in rows and rows["preProductionResponse"]["dqrValue"]["TeR"] is not None
    if not ok:
        raise InvariantViolation(
            f"trade {trade.trade_id} ({trade.buyer} ← {trade.supplier}) is not {stage} as the buyer sees it",
            field="tradeRequest",
            rule="requested → accepted → answered → released",
        )


def _release(supplier: OuranosClient, trace_id: str, buyer_id: str) -> None:
    supplier.release_cfp(trace_id, buyer_id, cfp=True, dqr=True)


def _request(
    buyer: OuranosClient, buyer_op: JSON, supplier_op: JSON, trade: _Trade, message: str, due: dt.date
) -> None:
    # the buyer finds its supplier by its public id (GET authInfo?dataTarget=operator&openOperatorId=)
    supplier_id = buyer.operator(open_operator_id=supplier_op["openOperatorId"])["operatorId"]
    body = buyer.put("tradeRequest", _trade_request(buyer_op, supplier_id, trade.child_trace, message, due))
    trade.trade_id, trade.status_id = body["tradeModel"]["tradeId"], body["statusModel"]["statusId"]
    trade.mark("requested")


def run(story: Story) -> None:
    api_key, ops = _onboard(story)
    hub = story.nodes[HUB]
    due = utc_now().astimezone().date() + dt.timedelta(days=30)  # a month from today, local date
    ssl_ctx = client_ssl_context(story.out / "ca.pem")
    with httpx.Client(base_url=hub.base_url, verify=ssl_ctx, timeout=httpx.Timeout(30.0)) as http:
        refiner = _login(http, api_key, ops["jp-refiner"])
        cathode = _login(http, api_key, ops["jp-cathode"])
        cell = _login(http, api_key, ops["jp-cellmaker"])
        r_op, c_op, m_op = ops["jp-refiner"], ops["jp-cathode"], ops["jp-cellmaker"]

        # parts: the refiner's salts (terminated: their upstream is not on the hub)
        salt_parts = {
            s.key: refiner.put("parts", _part(r_op, s.parts_name, unit="kilogram", terminated=True))["traceId"]
            for s in SALTS
        }
        # the cathode maker's structure: CAM ← its three procured salts (kg per kg CAM)
        amounts = {s.key: _salt_per_kg_cam(s) for s in SALTS}
        cam_struct = cathode.put(
            "partsStructure",
            {
                "parentPartsModel": _part(c_op, "NMC811 cathode active material", unit="kilogram", terminated=False),
                "childrenPartsModel": [
                    _part(c_op, s.parts_name, unit="kilogram", terminated=False, amount=amounts[s.key]) for s in SALTS
                ],
            },
        )
        cam_trace = cam_struct["parentPartsModel"]["traceId"]
        cam_children = {c["partsName"]: c["traceId"] for c in cam_struct["childrenPartsModel"]}
        # the cell maker's structure: cell ← CAM (kg per cell)
        cell_struct = cell.put(
            "partsStructure",
            {
                "parentPartsModel": _part(m_op, "NMC811 prismatic cell 0.24 kWh", unit="unit", terminated=False),
                "childrenPartsModel": [
                    _part(
                        m_op, "NMC811 cathode active material", unit="kilogram", terminated=False, amount=CAM_PER_CELL
                    )
                ],
            },
        )
        cell_trace = cell_struct["parentPartsModel"]["traceId"]
        cell_cam_trace = cell_struct["childrenPartsModel"][0]["traceId"]

        # requests: the cell maker asks its cathode supplier, the cathode maker its refiner
        cam_trade = _Trade("jp-cellmaker", "jp-cathode", "NMC811 CAM", CAM_PER_CELL, cell_cam_trace)
        _request(cell, m_op, c_op, cam_trade, "CFP of the NMC811 CAM you deliver to our Sakai plant", due)
        salt_trades = {
            s.key: _Trade("jp-cathode", "jp-refiner", s.label, amounts[s.key], cam_children[s.parts_name])
            for s in SALTS
        }
        for s in SALTS:
            _request(cathode, c_op, r_op, salt_trades[s.key], f"CFP of {s.parts_name}, FY2025 deliveries", due)

        # the refiner: accepted (linking its salt), answered (four values, DQR), released
        for s in SALTS:
            t = salt_trades[s.key]
            _supplier_accepts(refiner, t, salt_parts[s.key])
            _buyer_sees(cathode, t, stage="accepted")
        salt_cfp: dict[str, OuranosCfp] = {}
        for s in SALTS:
            t = salt_trades[s.key]
            salt_cfp[s.key] = _declared(s.footprint, KG)
            refiner.put_cfp(_cfp_body(salt_parts[s.key], salt_cfp[s.key]))
            _buyer_sees(cathode, t, stage="answered")
            t.mark("answered")
            _release(refiner, salt_parts[s.key], c_op["operatorId"])
            _buyer_sees(cathode, t, stage="released")
            t.mark("released")

        # the cathode maker accepts the cell maker's request with its CAM part, computes the CAM's
        # CFP from its own emissions and the released salt responses × amounts, answers, releases
        _supplier_accepts(cathode, cam_trade, cam_trace)
        _buyer_sees(cell, cam_trade, stage="accepted")
        cam_declared = _declared(CAM, KG)
        cam_full = _with_suppliers(
            cam_declared, [(_response(cathode, cam_children[s.parts_name]), amounts[s.key]) for s in SALTS]
        )
        cathode.put_cfp(_cfp_body(cam_trace, cam_declared))
        _check_totals("NMC811 CAM", _totals(cathode, cam_trace), cam_full)
        _buyer_sees(cell, cam_trade, stage="answered")
        cam_trade.mark("answered")
        _release(cathode, cam_trace, m_op["operatorId"])
        _buyer_sees(cell, cam_trade, stage="released")
        cam_trade.mark("released")

        # the cell maker: its cell CFP from its own emissions and the CAM response × amount
        cam_response = _response(cell, cell_cam_trace)
        cell_declared = _declared(CELL, PER_CELL)
        cell_full = _with_suppliers(cell_declared, [(cam_response, CAM_PER_CELL)])
        cell.put_cfp(_cfp_body(cell_trace, cell_declared))
        hub_totals = _totals(cell, cell_trace)
        _check_totals("cell", hub_totals, cell_full)

    trades = [*salt_trades.values(), cam_trade]
    _publish(story, hub.base_url, api_key, ops, cell_trace, hub_totals)
    _show(story, trades, cell_declared, cell_full, cam_response, hub_totals)


def _publish(
    story: Story, base_url: str, api_key: str, ops: dict[str, JSON], cell_trace: str, totals: dict[str, JSON]
) -> None:
    """Hand-offs (``_context.py``) and the hub's block of ``summary.json`` (README "What the demo shows")."""
    login_keys = ("operatorId", "openOperatorId", "operatorAccountId", "accountPassword", "did")
    operators = {short: {k: op[k] for k in login_keys} for short, op in ops.items()}
    story.shared["ouranos.operators"] = operators
    pre, main = totals["preProduction"], totals["mainProduction"]
    story.shared["ouranos.cell"] = {
        "traceId": cell_trace,
        **{kind: str(_dec(totals[kind]["ghgEmission"])) for kind, *_ in _WRITE},
        "ghgDeclaredUnit": pre["ghgDeclaredUnit"],
        "dqr": {
            "preProcessing": {k: None if v is None else str(_dec(v)) for k, v in pre["dqrValue"].items()},
            "mainProcessing": {k: None if v is None else str(_dec(v)) for k, v in main["dqrValue"].items()},
        },
        "kwh_per_unit": float(CELL_KWH),
    }
    entry = next(n for n in story.summary["nodes"] if n["name"] == HUB)
    entry["ouranos"] = {
        "base_url": base_url,
        "api_key": api_key,
        "operators": [dict(operators[o.short]) for o in OPERATORS],
    }


def _show(
    story: Story,
    trades: Sequence[_Trade],
    declared: OuranosCfp,
    full: OuranosCfp,
    cam: OuranosCfp,
    hub_totals: dict[str, JSON],
) -> None:
    flow = Table(title="Ouranos trades on jp-hub (published API, HTTPS)")
    flow.add_column("buyer ← supplier", no_wrap=True)
    flow.add_column("part", no_wrap=True)
    for col in ("requested", "accepted", "answered", "released"):
        flow.add_column(col, justify="center")
    flow.add_column("amount\nhidden", justify="center")
    for t in trades:
        flow.add_row(
            f"{t.buyer.removeprefix('jp-')} ← {t.supplier.removeprefix('jp-')}",
            t.part,
            *(
                "[green]✓[/]" if s in t.steps else "[red]✗[/]"
                for s in ("requested", "accepted", "answered", "released", "amount hidden")
            ),
        )
    story.console.print(flow)

    table = Table(title=f"cell CFP, jp-cellmaker ({declared.unit}; {CELL_KWH} kWh per cell)")
    for col in ("stage", "own", "own parts", f"CAM×{CAM_PER_CELL.normalize()} kg", "total (hub)", "TeR/GeR/TiR"):
        table.add_column(col, justify="right")
    for label, kind, own, parts, supplier, dqr in (
        ("pre", "pre", declared.pre_production, declared.pre_component, cam.pre_production, full.dqr_pre),
        ("main", "main", declared.main_production, declared.main_component, cam.main_production, full.dqr_main),
    ):
        hub_total = _dec(hub_totals[f"{kind}Production"]["ghgEmission"]) + _dec(
            hub_totals[f"{kind}Component"]["ghgEmission"]
        )
        table.add_row(
            label,
            f"{own:.3f}",
            f"{parts:.3f}",
            f"{supplier * CAM_PER_CELL:.3f}",
            f"{hub_total:.3f}",
            "–" if dqr is None else f"{dqr.ter:.2f}/{dqr.ger:.2f}/{dqr.tir:.2f}",
        )
    story.console.print(table)
    story.console.print(
        f"cell: [bold]{full.total:.3f} kg CO2e[/] per cell = [bold]{full.total / CELL_KWH:.1f} kg CO2e/kWh[/]; "
        "the hub's totals equal the cell maker's ouranos_parent_cfp"
    )
