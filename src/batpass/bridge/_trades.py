"""Europe → Japan through Ouranos trades: a hub operator asks a supplier that
lives on Catena-X for its CFP with an ordinary Ouranos trade request, and the bridge answers it
with that supplier's footprint in the Ouranos shape.

**Representation.** The hub's admin onboards the Catena-X supplier as a hosted operator
(``openOperatorId`` = its BPNL: the published API allows 1–20 characters and the supplier has no
Japanese corporate number, so a buyer finds it with ``GET authInfo?dataTarget=operator&
openOperatorId=<BPNL>``; ``globalOperatorId`` = its BPNL too) and gives the bridge a login and an
API key. ``POST /v1/bridge/represented`` records the supplier (BPNL, the DID of its connector, the
hub operator, the credentials — kept in the node's database, never logged nor answered) and its
products; the bridge logs in as that operator, checks that the operator's ``globalOperatorId`` is
the supplier's BPNL, and registers one part per product (``PUT parts``, terminated: its upstream is
not on the hub), keeping each part's ``traceId`` ⇄ Catena-X ``productId``.

**Answering.** ``POST /v1/bridge/trades/sync`` (idempotent) logs in as each represented supplier,
lists the requests it received (``GET tradeResponse``: trade, status and the buyer's part, its
amount nulled by the hub) and, for each request not answered or refused before:

1. a request the buyer cancelled (``CANCEL``; or ``REJECT``) is refused: nothing is written on
   the hub, the reason is recorded and reported;
2. the product is the one whose part the trade already links, else the one the request message
   names (``productId``) or whose part name the buyer's part carries, else the only one;
3. the supplier's PCF is pulled through the bridge's own connector (Dataspace Protocol, asset
   ``catenax-pcf``, usage purpose ``cx.pcf.base:1``): the supplier's product twin naming the
   bridge's BPNL is its consent; a refusal leaves the request unanswered, with the reason;
4. :func:`convert_pcf` maps it: Catena-X PCF 9.0 → the normalised footprint → the values the
   buyer books, by the supplier's role (``batpass.footprint.aggregate`` and its ``ROLE_STAGE``
   mapping table: a material's or component's whole cradle-to-gate value is raw-material
   acquisition and pre-processing) → the Ouranos CFP (rounded up at the 6th decimal); the 1–5
   ratings go onto the Ouranos scale through the inverse of the configured
   :class:`~batpass.footprint.OuranosDqrMapping` (config ``ouranos_dqr_mapping``; without one,
   no ratings are sent and that is stated);
5. the bridge accepts (``PUT tradeResponse`` linking the supplier's part — the hub refuses a
   request closed meanwhile: then it is refused like 1), writes the four values (``PUT cfp``),
   releases ``TOTALCFP`` and ``TOTALDQR`` to the buyer (``cfpAcl``) and states what is not
   provided in the trade's **reply message** (extension ``replyMessage``, which the buyer reads on
   ``GET status``); the same statement (``notProvided``) is in the bridge's record and the sync
   answer.

Ouranos cannot say "not provided": its four values are numbers. So the statement is where the
missing stages are named (the supplier's stage split, the own/parts split, distribution when the
PCF does not carry it, end of life, ratings without a mapping); a ``mainProduction`` of 0 for a
material is the mapping table's assignment, said as such.

It must not know the hub's internals: it speaks the published API (and the hub's extensions) as
any client would, through :class:`~batpass.ouranos.OuranosClient`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

import anyio.from_thread
import anyio.to_thread
import httpx
from sqlalchemy import JSON as SqlJson
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import BatpassError, Forbidden, InvalidIdentifier, InvalidInput, NotFound, Unauthorized
from batpass.core.ids import Bpnl, Did
from batpass.footprint import (
    BomInput,
    DataQuality,
    DqrScale,
    OuranosCfp,
    OuranosDqr,
    OuranosDqrMapping,
    OwnEmissions,
    ProductFootprint,
    Quantity,
    SupplierRole,
    aggregate,
    read_catenax,
    to_ouranos,
)
from batpass.ouranos import AmountUnit, CfpResponseStatus, OuranosClient
from batpass.store import UnitOfWork
from batpass.store.metadata import UTCDateTime, metadata
from batpass.trust import SecretBox

__all__ = [
    "BridgeTrades",
    "HubAnswer",
    "RepresentedProduct",
    "convert_pcf",
    "dqr_mapping_from_config",
    "match_product",
    "ratings_to_ouranos",
]

log = logging.getLogger(__name__)

#: ``replyMessage`` maxLength (extension.ReplyMessageModel)
REPLY_MAX = 1000
_CLOSED = frozenset({str(CfpResponseStatus.CANCEL), str(CfpResponseStatus.REJECT)})
#: outcomes that a later sync leaves alone
_SETTLED = frozenset({"answered", "refused"})

suppliers_table = Table(
    "represented_suppliers",
    metadata,
    Column("bpnl", String(16), nullable=False),
    Column("supplier_did", String(512), nullable=False),
    Column("operator_id", String(36), nullable=False),
    Column("open_operator_id", String(20), nullable=False),
    Column("plant_id", String(36), nullable=False),
    # the hub credentials the bridge presents as that operator: secrets, sealed at rest with the
    # node's secrets key (trust.SecretBox, bound to the row and column), never answered nor logged
    Column("api_key", Text, nullable=False),
    Column("account_id", String(320), nullable=False),
    Column("account_password", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("bpnl", name="pk_represented_suppliers"),
    UniqueConstraint("operator_id", name="uq_represented_suppliers_operator_id"),
)
products_table = Table(
    "represented_products",
    metadata,
    Column("bpnl", String(16), nullable=False),
    Column("product_id", String(512), nullable=False),  # Catena-X
    Column("trace_id", String(36), nullable=False),  # the supplier's part on the hub
    Column("parts_name", String(50), nullable=False),
    Column("unit", String(16), nullable=False),  # Ouranos amountRequiredUnit
    Column("role", String(16), nullable=False),  # SupplierRole: which Annex II stage the buyer books
    PrimaryKeyConstraint("bpnl", "product_id", name="pk_represented_products"),
    UniqueConstraint("trace_id", name="uq_represented_products_trace_id"),
)
trades_table = Table(
    "represented_trades",
    metadata,
    Column("trade_id", String(36), nullable=False),
    Column("bpnl", String(16), nullable=False),
    Column("status_id", String(36), nullable=False),
    Column("buyer_operator_id", String(36), nullable=False),
    Column("product_id", String(512), nullable=True),
    Column("trace_id", String(36), nullable=True),
    Column("outcome", String(16), nullable=False),  # answered | refused | unanswered
    Column("reason", Text, nullable=True),
    Column("answer", SqlJson, nullable=True),  # the values written and what is not provided
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("trade_id", name="pk_represented_trades"),
)
Index("ix_represented_trades_bpnl", trades_table.c.bpnl, trades_table.c.outcome)


# ------------------------------------------------------------------------------ the conversion


def _num(value: Decimal) -> str:
    """A decimal as a person writes it (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class RepresentedProduct:
    """One product of a represented supplier: its Catena-X id, its part on the hub (``traceId``,
    ``partsName``, ``amountRequiredUnit``) and its role (which Annex II stage a buyer books it in)."""

    product_id: str
    parts_name: str
    unit: AmountUnit
    role: SupplierRole
    trace_id: str = ""


@dataclass(frozen=True)
class HubAnswer:
    """A supplier's PCF in the Ouranos shape: the four values (per the part's unit), what the
    Ouranos record does not provide, and notes on how the values were placed."""

    cfp: OuranosCfp
    pcf_id: str
    product_id: str
    not_provided: tuple[str, ...]
    notes: tuple[str, ...]

    def reply_message(self) -> str:
        """The statement the buyer reads on the trade (≤ 1000 characters, ReplyMessageModel)."""
        text = " ".join(
            (
                f"batpass bridge: CFP of {self.product_id} from the supplier's Catena-X PCF {self.pcf_id}.",
                *self.notes,
                "Not provided: " + "; ".join(self.not_provided) + "." if self.not_provided else "",
            )
        ).strip()
        return text if len(text) <= REPLY_MAX else text[: REPLY_MAX - 1] + "…"

    def as_json(self) -> dict[str, Any]:
        def dqr(d: OuranosDqr | None) -> dict[str, str] | None:
            return None if d is None else {"TeR": _num(d.ter), "GeR": _num(d.ger), "TiR": _num(d.tir)}

        c = self.cfp
        return {
            "pcfId": self.pcf_id,
            "productId": self.product_id,
            "ghgDeclaredUnit": c.unit,
            "preProduction": _num(c.pre_production),
            "mainProduction": _num(c.main_production),
            "preComponent": _num(c.pre_component),
            "mainComponent": _num(c.main_component),
            "dqrPreProcessing": dqr(c.dqr_pre),
            "dqrMainProcessing": dqr(c.dqr_main),
            "notProvided": list(self.not_provided),
            "notes": list(self.notes),
        }

    def records(self, trace_id: str) -> list[dict[str, Any]]:
        """``PUT cfp``: the four writable types together (one traceId, unit and a new cfpId); a
        stage without a rating sends ``{TeR: null, ...}`` (the API refuses ratings on a stage
        whose values are all 0)."""
        c = self.cfp
        rows = (
            ("preProduction", "preProcessing", c.pre_production, c.dqr_pre),
            ("mainProduction", "mainProcessing", c.main_production, c.dqr_main),
            ("preComponent", "preProcessing", c.pre_component, c.dqr_pre),
            ("mainComponent", "mainProcessing", c.main_component, c.dqr_main),
        )
        return [
            {
                "cfpId": None,
                "traceId": trace_id,
                "ghgEmission": float(value),
                "ghgDeclaredUnit": c.unit,
                "cfpType": kind,
                "dqrType": dqr_type,
                "dqrValue": (
                    {"TeR": None, "GeR": None, "TiR": None}
                    if dqr is None
                    else {"TeR": float(dqr.ter), "GeR": float(dqr.ger), "TiR": float(dqr.tir)}
                ),
            }
            for kind, dqr_type, value, dqr in rows
        ]


def ratings_to_ouranos(dqr: DataQuality, mapping: OuranosDqrMapping) -> OuranosDqr:
    """1–5 ratings (1–3 converted first) onto the raw Ouranos scale: the inverse of ``mapping``
    (``raw = raw_best + (x − 1) (raw_worst − raw_best) / 4``), so the hub's own mapping reads the
    same 1–5 back; the Ouranos rounding (up at the 6th decimal) applies."""
    if dqr.scale == DqrScale.UNSPECIFIED:
        raise InvalidInput(
            "ratings on an unspecified scale have no 1–5 value to convert",
            field="dqr.scale",
            rule="Ouranos DQR mapping (docs/footprint.md)",
        )
    if mapping.raw_best == mapping.raw_worst:
        raise InvalidInput(
            "the Ouranos DQR mapping maps best and worst onto the same value",
            field="ouranos_dqr_mapping",
            rule="raw_best ≠ raw_worst",
        )
    five = dqr.to_scale(DqrScale.ONE_TO_FIVE)
    span = mapping.raw_worst - mapping.raw_best

    def raw(x: Decimal) -> Decimal:
        return mapping.raw_best + (x - 1) * span / 4

    return OuranosDqr(raw(five.technological), raw(five.geographical), raw(five.temporal))


def _part_unit(unit: AmountUnit) -> str:
    """``amountRequiredUnit`` → ``ghgDeclaredUnit`` (the enum values pair up: kilogram ⇄
    kgCO2e/kilogram, unit ⇄ kgCO2e/unit, ...)."""
    return f"kgCO2e/{unit}"


def convert_pcf(
    doc: Mapping[str, Any],
    *,
    product: RepresentedProduct,
    mapping: OuranosDqrMapping | None,
) -> HubAnswer:
    """The Ouranos CFP a buyer reads for ``product`` from the supplier's Catena-X PCF 9.0 ``doc``.

    The PCF is read (and validated) as the normalised footprint, which must name the product;
    then booked as the buyer books a supplier of this role (``aggregate`` with this one input
    and nothing of its own: ``ROLE_STAGE`` decides the stages), then written as Ouranos values.
    Refused (:class:`InvalidInput`, with the field and the rule) when the PCF cannot be said in
    Ouranos terms: a declared unit other than the part's, a role whose stages Ouranos lacks
    (logistics, recycling), a cell/module/pack PCF without a stage split."""
    fp = read_catenax(dict(doc))
    if product.product_id not in fp.header.product_ids:
        raise InvalidInput(
            f"the PCF names {list(fp.header.product_ids)}, not {product.product_id}",
            field="productInformation.productIds",
            rule="CX-0136: the answer is the PCF of the product asked",
        )
    booked = aggregate(
        [BomInput(fp, Quantity(Decimal(1), fp.declared_unit), product.role)],
        own=OwnEmissions(),
        output=Quantity(Decimal(1), fp.declared_unit),
        header=fp.header,
        mass_per_declared_unit_kg=fp.mass_per_declared_unit_kg,
    )
    cfp = to_ouranos(booked)
    want = _part_unit(product.unit)
    if cfp.unit != want:
        raise InvalidInput(
            f"the PCF is declared per {fp.declared_unit.value}, the part on the hub is counted in {product.unit}",
            field="declaredUnitOfMeasurement",
            rule="the Ouranos CFP is declared per the part's amountRequiredUnit",
        )
    dqr_pre, dqr_main, dqr_note = _ratings(fp, mapping, cfp)
    cfp = replace(cfp, dqr_pre=dqr_pre, dqr_main=dqr_main)
    stated = _not_provided(fp, rated=dqr_pre is not None or dqr_main is not None)
    return HubAnswer(cfp, fp.header.id, product.product_id, stated, _notes(fp, cfp, product, dqr_note))


def _ratings(
    fp: ProductFootprint, mapping: OuranosDqrMapping | None, cfp: OuranosCfp
) -> tuple[OuranosDqr | None, OuranosDqr | None, str]:
    """Ratings per Ouranos stage: the PCF's one set, on the Ouranos scale, for each stage that
    carries emissions (the API refuses ratings on a stage whose values are all 0)."""
    if fp.dqr is None or fp.dqr.scale == DqrScale.UNSPECIFIED or mapping is None:
        return None, None, ""
    raw = ratings_to_ouranos(fp.dqr, mapping)
    five = fp.dqr.to_scale(DqrScale.ONE_TO_FIVE)
    note = (
        f"DQR: Catena-X 1–5 TeR {_num(five.technological)}, GeR {_num(five.geographical)}, "
        f"TiR {_num(five.temporal)} → Ouranos {_num(raw.ter)}/{_num(raw.ger)}/{_num(raw.tir)} "
        f"(linear: 1 → {_num(mapping.raw_best)}, 5 → {_num(mapping.raw_worst)})."
    )
    pre = raw if cfp.pre_production or cfp.pre_component else None
    main = raw if cfp.main_production or cfp.main_component else None
    return pre, main, note


def _not_provided(fp: ProductFootprint, *, rated: bool) -> tuple[str, ...]:
    """What the Ouranos record leaves out, named (Ouranos values cannot be "not provided")."""
    out: list[str] = []
    if not fp.stages.split_provided:
        out.append("the supplier's split into raw-material pre-processing and main production (the PCF has none)")
    out.append("the own/parts split (all as preProduction/mainProduction, preComponent and mainComponent 0)")
    if fp.stages.distribution is None:
        out.append("distribution (not in the PCF; Ouranos has no such stage)")
    out.append("end of life (Ouranos has no such stage)")
    if not rated:
        why = "the PCF has none" if fp.dqr is None else "no Ouranos DQR mapping configured on the bridge"
        out.append(f"data-quality ratings ({why})")
    return tuple(out)


def _notes(fp: ProductFootprint, cfp: OuranosCfp, product: RepresentedProduct, dqr_note: str) -> tuple[str, ...]:
    unit = cfp.unit.removeprefix("kgCO2e/")
    notes = [
        f"Per 1 {unit}: preProduction {_num(cfp.pre_production)}, mainProduction {_num(cfp.main_production)} "
        f"kgCO2e, booked as for a supplier of role '{product.role.value}' (Annex II stage by role)."
    ]
    if fp.stages.distribution is not None and fp.stages.distribution > 0:
        notes.append(f"The PCF's distribution stage ({_num(fp.stages.distribution)}) is included.")
    if dqr_note:
        notes.append(dqr_note)
    if fp.primary_data_share is not None:
        notes.append(f"Primary data share {_num(fp.primary_data_share * 100)} % (no Ouranos field).")
    return tuple(notes)


def match_product(
    products: Sequence[RepresentedProduct],
    *,
    upstream_trace_id: str | None,
    message: str | None,
    buyer_parts_name: str | None,
) -> RepresentedProduct | str:
    """Which of the supplier's products a request asks about, or why that cannot be told.

    In Ouranos the supplier picks the part it links; the bridge picks, in order: the part the
    trade already links; the product whose id the request message names; the product whose
    part name is the buyer's part name (case-insensitive); the supplier's only product."""
    if upstream_trace_id:
        linked = [p for p in products if p.trace_id == upstream_trace_id]
        if linked:
            return linked[0]
    named = [p for p in products if message and p.product_id in message]
    if len(named) == 1:
        return named[0]
    wanted = (buyer_parts_name or "").strip().casefold()
    same = [p for p in products if wanted and p.parts_name.strip().casefold() == wanted]
    if len(same) == 1:
        return same[0]
    if len(products) == 1:
        return products[0]
    return (
        f"the request names none of the supplier's {len(products)} products: "
        "put the Catena-X productId in the request message, or name the part as the supplier's part"
    )


def dqr_mapping_from_config(extra: Mapping[str, Any]) -> OuranosDqrMapping | None:
    """Config ``ouranos_dqr_mapping: {"raw_best": "1", "raw_worst": "3"}`` (no default: the
    Ouranos scale is not published, docs/footprint.md)."""
    raw = extra.get("ouranos_dqr_mapping")
    if raw is None:
        return None
    try:
        mapping = OuranosDqrMapping(Decimal(str(raw["raw_best"])), Decimal(str(raw["raw_worst"])))
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise InvalidInput(
            "ouranos_dqr_mapping needs raw_best and raw_worst (decimals)",
            field="ouranos_dqr_mapping",
            rule="bridge configuration",
        ) from exc
    if mapping.raw_best == mapping.raw_worst:
        raise InvalidInput("raw_best equals raw_worst", field="ouranos_dqr_mapping", rule="raw_best ≠ raw_worst")
    return mapping


# ------------------------------------------------------------------------------ the service


@dataclass(frozen=True)
class _Supplier:
    bpnl: str
    did: str
    operator_id: str
    open_operator_id: str
    plant_id: str
    api_key: str
    account_id: str
    password: str
    products: tuple[RepresentedProduct, ...]


#: pulls a supplier's PCF: (supplier DID, productId, requestId) → the Catena-X PCF document
PcfPull = Callable[[str, str, str], Coroutine[Any, Any, Any]]


class _Refused(Exception):
    """This request is closed: record the reason, write nothing on the hub."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Unanswered(Exception):
    """Not answered this time (the supplier's connector, the PCF, the hub): tried again next sync."""

    def __init__(self, reason: str, product: RepresentedProduct | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.product = product


class BridgeTrades:
    """The bridge's side of hub trades addressed to the Catena-X suppliers it represents.

    ``hub_http`` makes a client of the hub's published API (base URL and TLS trust set);
    ``pull_pcf`` asks a supplier's connector for a product's PCF; ``secrets`` seals the suppliers'
    hub credentials in the database; ``dqr_mapping`` is the Ouranos rating scale the bridge
    writes on (none: ratings are not sent, and that is stated)."""

    def __init__(
        self,
        engine: Engine,
        *,
        hub_http: Callable[[], httpx.Client],
        pull_pcf: PcfPull,
        secrets: SecretBox,
        dqr_mapping: OuranosDqrMapping | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.engine = engine
        self.secrets = secrets
        self.hub_http = hub_http
        self.pull_pcf = pull_pcf
        self.dqr_mapping = dqr_mapping
        self.clock = clock
        self._lock = asyncio.Lock()

    # -- sealed credentials ---------------------------------------------------------------------

    @staticmethod
    def _context(bpnl: str, column: str) -> str:
        return f"{suppliers_table.name}/{bpnl}/{column}"

    def _seal(self, bpnl: str, column: str, secret: str) -> str:
        return self.secrets.seal(secret, context=self._context(bpnl, column))

    def _open(self, bpnl: str, column: str, stored: str) -> str:
        return self.secrets.open(stored, context=self._context(bpnl, column))

    def seal_stored(self) -> int:
        """Seal credentials stored in the clear by a bridge from before sealing; the number of
        suppliers rewritten (0 once done)."""
        cols = ("api_key", "account_password")
        with UnitOfWork(self.engine) as uow:
            rows = uow.conn.execute(select(suppliers_table.c.bpnl, *(suppliers_table.c[c] for c in cols))).all()
            n = 0
            for r in rows:
                values = {
                    c: self._seal(r.bpnl, c, r[i + 1]) for i, c in enumerate(cols) if not SecretBox.is_sealed(r[i + 1])
                }
                if values:
                    uow.conn.execute(update(suppliers_table).where(suppliers_table.c.bpnl == r.bpnl).values(**values))
                    n += 1
            uow.commit()
        return n

    # -- representation -----------------------------------------------------------------------

    def _login(self, http: httpx.Client, api_key: str, account_id: str, password: str) -> OuranosClient:
        client = OuranosClient(http, api_key=api_key)
        client.login(account_id, password)
        return client

    def represent(
        self,
        *,
        bpnl: str,
        supplier_did: str,
        operator_id: str,
        api_key: str,
        account_id: str,
        password: str,
        products: Sequence[RepresentedProduct],
    ) -> dict[str, Any]:
        """Record (or replace) a represented supplier after checking its hub login, and register
        its products as terminated parts of that operator (``PUT parts`` keeps a part's
        traceId for the same plant and name, so calling again is harmless)."""
        try:
            bpnl, supplier_did = str(Bpnl(bpnl)), str(Did(supplier_did))
        except InvalidIdentifier as exc:
            field_ = "bpnl" if exc.id_kind == Bpnl.id_kind else "did"
            raise InvalidInput(exc.message, field=field_, rule=exc.rule) from exc
        if not products:
            raise InvalidInput("name at least one product", field="products", rule="POST /v1/bridge/represented")
        if len({p.product_id for p in products}) != len(products):
            raise InvalidInput("a productId is listed twice", field="products", rule="one part per product")
        with self.hub_http() as http:
            try:
                client = self._login(http, api_key, account_id, password)
            except (Unauthorized, Forbidden) as exc:  # the hub's refusal, not this node's admin key
                raise InvalidInput(
                    f"the hub refused the login: {exc.message}",
                    field="operatorAccountId",
                    rule="the bridge logs in with the account and API key the hub's admin gave it",
                ) from exc
            me = client.operator()
            if me["operatorId"] != operator_id:
                raise InvalidInput(
                    f"the account logs in as operator {me['operatorId']}, not {operator_id}",
                    field="operatorId",
                    rule="the bridge acts as the operator it was given",
                )
            global_id = (me.get("operatorAttribute") or {}).get("globalOperatorId")
            if global_id != bpnl:
                raise InvalidInput(
                    f"the hub operator's globalOperatorId is {global_id!r}, not the supplier's BPNL {bpnl}",
                    field="bpnl",
                    rule="a represented supplier's hub operator carries its BPNL as globalOperatorId",
                )
            plant_id = self._plant(client, me, bpnl)
            parts = [
                replace(p, trace_id=str(client.put("parts", _part(operator_id, plant_id, p))["traceId"]))
                for p in products
            ]
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            values = {
                "supplier_did": supplier_did,
                "operator_id": operator_id,
                "open_operator_id": str(me["openOperatorId"]),
                "plant_id": plant_id,
                "api_key": self._seal(bpnl, "api_key", api_key),
                "account_id": account_id,
                "account_password": self._seal(bpnl, "account_password", password),
                "updated_at": now,
            }
            exists = uow.conn.execute(select(suppliers_table.c.bpnl).where(suppliers_table.c.bpnl == bpnl)).first()
            if exists:
                uow.conn.execute(update(suppliers_table).where(suppliers_table.c.bpnl == bpnl).values(**values))
            else:
                uow.conn.execute(insert(suppliers_table).values(bpnl=bpnl, created_at=now, **values))
            uow.conn.execute(delete(products_table).where(products_table.c.bpnl == bpnl))
            for p in parts:
                uow.conn.execute(
                    insert(products_table).values(
                        bpnl=bpnl,
                        product_id=p.product_id,
                        trace_id=p.trace_id,
                        parts_name=p.parts_name,
                        unit=str(p.unit),
                        role=p.role.value,
                    )
                )
            uow.commit()
        return self.represented_one(bpnl)

    @staticmethod
    def _plant(client: OuranosClient, me: Mapping[str, Any], bpnl: str) -> str:
        """The operator's first plant, or a new one (``openPlantId`` = BPNL + ``000001``, the
        6 digits the published pattern asks for)."""
        plants = client.plants()
        if plants:
            return str(plants[0]["plantId"])
        body = {
            "plantId": None,
            "operatorId": me["operatorId"],
            "openPlantId": f"{bpnl}000001",
            "plantName": f"{me['operatorName']} (Catena-X)"[:256],
            "plantAddress": str(me["operatorAddress"]),
            "plantAttribute": {"globalPlantId": None},
        }
        return str(client.put_plant(body)["plantId"])

    def _suppliers(self) -> list[_Supplier]:
        with UnitOfWork(self.engine, write=False) as uow:
            sups = uow.conn.execute(select(suppliers_table).order_by(suppliers_table.c.bpnl)).all()
            prods = uow.conn.execute(select(products_table).order_by(products_table.c.product_id)).all()
        by: dict[str, list[RepresentedProduct]] = {}
        for p in prods:
            by.setdefault(p.bpnl, []).append(
                RepresentedProduct(p.product_id, p.parts_name, AmountUnit(p.unit), SupplierRole(p.role), p.trace_id)
            )
        return [
            _Supplier(
                s.bpnl,
                s.supplier_did,
                s.operator_id,
                s.open_operator_id,
                s.plant_id,
                self._open(s.bpnl, "api_key", s.api_key),
                s.account_id,
                self._open(s.bpnl, "account_password", s.account_password),
                tuple(by.get(s.bpnl, ())),
            )
            for s in sups
        ]

    @staticmethod
    def _public(s: _Supplier) -> dict[str, Any]:
        """A represented supplier as answered: no credentials."""
        return {
            "bpnl": s.bpnl,
            "did": s.did,
            "operatorId": s.operator_id,
            "openOperatorId": s.open_operator_id,
            "plantId": s.plant_id,
            "operatorAccountId": s.account_id,
            "products": [
                {
                    "productId": p.product_id,
                    "partsName": p.parts_name,
                    "unit": str(p.unit),
                    "role": p.role.value,
                    "traceId": p.trace_id,
                }
                for p in s.products
            ],
        }

    def represented(self) -> list[dict[str, Any]]:
        return [self._public(s) for s in self._suppliers()]

    def represented_one(self, bpnl: str) -> dict[str, Any]:
        for s in self._suppliers():
            if s.bpnl == bpnl:
                return self._public(s)
        raise NotFound(f"{bpnl} is not represented by this bridge", field="bpnl", rule="represented suppliers")

    # -- trades -------------------------------------------------------------------------------

    def trades(self, *, bpnl: str | None = None) -> list[dict[str, Any]]:
        """The bridge's record of the requests it handled (answered, refused, unanswered)."""
        q = select(trades_table).order_by(trades_table.c.created_at, trades_table.c.trade_id)
        if bpnl is not None:
            q = q.where(trades_table.c.bpnl == bpnl)
        with UnitOfWork(self.engine, write=False) as uow:
            return [_trade_view(r) for r in uow.conn.execute(q).all()]

    async def sync(self) -> dict[str, Any]:
        """Answer every open request addressed to a represented supplier (see the module
        docstring); one sync at a time, so a request is never answered twice."""
        async with self._lock:
            return await anyio.to_thread.run_sync(self._sync_all)

    def _sync_all(self) -> dict[str, Any]:
        report: dict[str, Any] = {"suppliers": [], "answered": [], "refused": [], "unanswered": [], "unchanged": 0}
        for sup in self._suppliers():
            entry: dict[str, Any] = {"bpnl": sup.bpnl, "operatorId": sup.operator_id, "requests": 0}
            try:
                self._sync_supplier(sup, report, entry)
            except BatpassError as exc:
                # the credentials stay out of the message: the client's errors carry the hub's answer only
                entry["error"] = f"{exc.kind}: {exc.message}"
                log.warning("trade sync for %s failed: %s", sup.bpnl, exc.message)
            report["suppliers"].append(entry)
        return report

    def _sync_supplier(self, sup: _Supplier, report: dict[str, Any], entry: dict[str, Any]) -> None:
        with self.hub_http() as http:
            client = self._login(http, sup.api_key, sup.account_id, sup.password)
            received = [
                r for r in client.pages("tradeResponse") if r["tradeModel"]["upstreamOperatorId"] == sup.operator_id
            ]
            entry["requests"] = len(received)
            settled = self._settled([r["tradeModel"]["tradeId"] for r in received])
            for item in received:
                trade, status = item["tradeModel"], item["statusModel"]
                if trade["tradeId"] in settled:
                    report["unchanged"] += 1
                    continue
                base = {
                    "tradeId": trade["tradeId"],
                    "statusId": status["statusId"],
                    "buyerOperatorId": trade["downstreamOperatorId"],
                }
                try:
                    product, answer, reply = self._answer(client, sup, item)
                except _Refused as r:
                    self._record(sup, trade, status, "refused", reason=r.reason)
                    report["refused"].append({**base, "reason": r.reason})
                except _Unanswered as u:
                    self._record(sup, trade, status, "unanswered", reason=u.reason, product=u.product)
                    report["unanswered"].append(
                        {**base, "productId": u.product.product_id if u.product else None, "reason": u.reason}
                    )
                else:
                    view = {**answer.as_json(), "traceId": product.trace_id, "replyMessage": reply}
                    self._record(sup, trade, status, "answered", product=product, answer=view)
                    report["answered"].append({**base, **view})

    def _settled(self, trade_ids: Iterable[str]) -> set[str]:
        ids = list(trade_ids)
        if not ids:
            return set()
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(trades_table.c.trade_id).where(
                    trades_table.c.trade_id.in_(ids), trades_table.c.outcome.in_(sorted(_SETTLED))
                )
            ).all()
        return {r.trade_id for r in rows}

    def _answer(
        self, client: OuranosClient, sup: _Supplier, item: Mapping[str, Any]
    ) -> tuple[RepresentedProduct, HubAnswer, str]:
        """One request: refused if closed, else pulled, converted, accepted, written, released
        and stated — or left unanswered with the reason."""
        trade, status, buyer_part = item["tradeModel"], item["statusModel"], item.get("partsModel") or {}
        state = str((status.get("requestStatus") or {}).get("cfpResponseStatus"))
        if state in _CLOSED:
            raise _Refused(_closed_reason(state, status["statusId"]))
        product = match_product(
            sup.products,
            upstream_trace_id=trade.get("upstreamTraceId"),
            message=status.get("message"),
            buyer_parts_name=buyer_part.get("partsName"),
        )
        if isinstance(product, str):
            raise _Unanswered(product)
        try:
            doc: Any = anyio.from_thread.run(self.pull_pcf, sup.did, product.product_id, trade["tradeId"])
        except BatpassError as exc:
            raise _Unanswered(f"the supplier's connector gave no PCF: {exc.message}", product) from exc
        try:
            answer = convert_pcf(doc, product=product, mapping=self.dqr_mapping)
        except InvalidInput as exc:
            raise _Unanswered(
                f"the supplier's PCF cannot be said in Ouranos terms: {exc.message} ({exc.rule})", product
            ) from exc
        try:
            client.accept(trade["tradeId"], product.trace_id)
        except BatpassError as exc:
            now = _current_state(client, status["statusId"])
            if now in _CLOSED:  # closed between the listing and the answer: the hub refused it
                raise _Refused(
                    f"{_closed_reason(now, status['statusId'])}; the hub refused the answer: {exc.message}"
                ) from exc
            raise _Unanswered(f"the hub refused the acceptance: {exc.message}", product) from exc
        reply = answer.reply_message()
        try:
            client.put_cfp(answer.records(product.trace_id))
            client.release_cfp(product.trace_id, trade["downstreamOperatorId"], cfp=True, dqr=True)
            client.put("replyMessage", {"statusId": status["statusId"], "replyMessage": reply})
        except BatpassError as exc:
            raise _Unanswered(f"the answer was not completed on the hub: {exc.message}", product) from exc
        return product, answer, reply

    def _record(
        self,
        sup: _Supplier,
        trade: Mapping[str, Any],
        status: Mapping[str, Any],
        outcome: Literal["answered", "refused", "unanswered"],
        *,
        reason: str | None = None,
        product: RepresentedProduct | None = None,
        answer: Mapping[str, Any] | None = None,
    ) -> None:
        now = self.clock.now()
        t = trades_table
        values = {
            "outcome": outcome,
            "reason": reason,
            "product_id": product.product_id if product else None,
            "trace_id": product.trace_id if product and outcome == "answered" else None,
            "answer": dict(answer) if answer is not None else None,
            "updated_at": now,
        }
        with UnitOfWork(self.engine) as uow:
            prev = uow.conn.execute(select(t.c.attempts).where(t.c.trade_id == trade["tradeId"])).first()
            if prev is None:
                uow.conn.execute(
                    insert(t).values(
                        trade_id=trade["tradeId"],
                        bpnl=sup.bpnl,
                        status_id=status["statusId"],
                        buyer_operator_id=trade["downstreamOperatorId"],
                        attempts=1,
                        created_at=now,
                        **values,
                    )
                )
            else:
                uow.conn.execute(
                    update(t).where(t.c.trade_id == trade["tradeId"]).values(attempts=prev.attempts + 1, **values)
                )
            uow.commit()


def _closed_reason(state: str, status_id: str) -> str:
    who = "cancelled by the buyer" if state == str(CfpResponseStatus.CANCEL) else "rejected"
    return f"request {status_id} was {who} ({state}): a closed request is not answered, nothing was written"


def _current_state(client: OuranosClient, status_id: str) -> str | None:
    try:
        rows = client.get("status", statusTarget="RESPONSE", statusId=status_id)
    except BatpassError:
        return None
    for row in rows if isinstance(rows, list) else []:
        return str((row.get("requestStatus") or {}).get("cfpResponseStatus"))
    return None


def _part(operator_id: str, plant_id: str, p: RepresentedProduct) -> dict[str, Any]:
    """A published ``PartsModel`` of a represented product: terminated (its upstream is on
    Catena-X, not on the hub); the hub mints the traceId (or keeps it for the same name)."""
    return {
        "amountRequired": None,
        "amountRequiredUnit": str(p.unit),
        "operatorId": operator_id,
        "partsName": p.parts_name,
        "plantId": plant_id,
        "supportPartsName": None,
        "terminatedFlag": True,
        "traceId": None,
        "partsLabelName": None,
        "partsAddInfo1": None,
        "partsAddInfo2": None,
        "partsAddInfo3": None,
    }


def _trade_view(r: Any) -> dict[str, Any]:
    return {
        "tradeId": r.trade_id,
        "bpnl": r.bpnl,
        "statusId": r.status_id,
        "buyerOperatorId": r.buyer_operator_id,
        "productId": r.product_id,
        "traceId": r.trace_id,
        "outcome": r.outcome,
        "reason": r.reason,
        "answer": r.answer,
        "attempts": r.attempts,
        "updatedAt": r.updated_at.isoformat(),
    }


# ------------------------------------------------------------------------------ routes
