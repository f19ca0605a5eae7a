"""The CX-0136 PCF exchange source of a node, on both stores: as the supplier it stores each
request (202, idempotent per requester and request id) and answers on its own only a requester a
product twin names; as the customer it takes a ``PUT`` only from the supplier it asked, for the
product it asked, with a PCF that validates and names that product — anything else changes
nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine, insert, select

from batpass import dataspace, footprint
from batpass.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from batpass.core.ids import new_uuid7
from batpass.dataspace import (
    ConsumerChannels,
    DataPlaneReply,
    DataspaceSettings,
    DspConsumer,
    Participant,
    TwinRegistry,
)
from batpass.exchange import MIGRATIONS_DIR as EXCHANGE_MIGRATIONS
from batpass.exchange import ConnectorClient, PcfExchange, exchanges_table
from batpass.footprint import (
    DeclaredUnit,
    FootprintHeader,
    OwnEmissions,
    PactService,
    Quantity,
    Stage,
    aggregate,
    read_pact,
    write_catenax,
    write_pact_v3,
)

pytestmark = pytest.mark.anyio

ME = "did:web:customer.example"
SUPPLIER = "did:web:supplier.example"
OTHER = "did:web:other.example"
PRODUCT = "urn:gtin:04012345000030"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class NoCallers:
    """The participant verifier port: these tests never verify a caller (no route is called)."""

    async def verify(self, authorization: str | None) -> Participant:
        raise Unauthorized("no callers in this test", rule="test")


class NoTokens:
    def issue(self, *, audience: str) -> str:
        raise Unauthorized("no tokens in this test", rule="test")


async def _no_did(did: str) -> dict[str, Any]:
    raise NotFound(f"{did}: no DID resolution in this test", rule="test")


@pytest.fixture
def exchange(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[PcfExchange]:
    engine = make_store([dataspace.MIGRATIONS_DIR, footprint.MIGRATIONS_DIR, EXCHANGE_MIGRATIONS])
    client = httpx.AsyncClient()
    consumer = DspConsumer(
        engine,
        settings=DataspaceSettings(did=ME, base_url="https://customer.example"),
        verifier=NoCallers(),
        token_issuer=NoTokens(),
        client=client,
    )
    yield PcfExchange(
        PactService(engine, base_url="https://customer.example"),
        TwinRegistry(engine, verifier=NoCallers()),
        engine=engine,
        connector=ConnectorClient(ConsumerChannels(consumer), _no_did),
    )


def _pact_doc(product: str = PRODUCT, kg: str = "12") -> dict[str, Any]:
    """A PACT v3 footprint of ``product``."""
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(product,),
        product_name="cell",
        company_name="supplier",
        company_ids=("urn:bpn:id:BPNL00000000901S",),
        reference_period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime.now(dt.UTC),
        product_description="cell",
        geography="DE",
        standards=("ISO14067",),
    )
    fp = aggregate(
        [],
        own=OwnEmissions(by_stage={Stage.RAW_MATERIAL: Decimal(kg)}, primary_data_share=Decimal("0.4")),
        output=Quantity(Decimal(1), DeclaredUnit.PIECE),
        header=header,
        mass_per_declared_unit_kg=Decimal("0.9"),
    )
    return write_pact_v3(fp)


def _pcf(product: str = PRODUCT, kg: str = "12") -> dict[str, Any]:
    """The Catena-X PCF 9.0 a supplier sends for ``product``."""
    return write_catenax(read_pact(_pact_doc(product, kg), expect=3))


def _asked(ex: PcfExchange, rid: str = "r-1", *, supplier: str = SUPPLIER, product: str = PRODUCT) -> None:
    """A request this node sent (as ``request`` stores it before it leaves)."""
    now = dt.datetime.now(dt.UTC)
    with ex.engine.begin() as conn:
        conn.execute(
            insert(exchanges_table).values(
                role="consumer",
                partner_did=supplier,
                request_id=rid,
                partner_bpnl=None,
                product_id=product,
                status="accepted",
                auto=False,
                comment=None,
                pcf=None,
                answers=0,
                outbox_key=None,
                error=None,
                created_at=now,
                updated_at=now,
            )
        )


async def _call(
    ex: PcfExchange,
    method: str,
    *,
    sender: str = SUPPLIER,
    product: str = PRODUCT,
    query: dict[str, str] | None = None,
    body: Any = None,
    path: str | None = None,
) -> DataPlaneReply:
    return await ex.proxy(
        "productId",
        method=method,
        path=path if path is not None else f"productIds/{product}",
        query={"requestId": "r-1"} if query is None else query,
        body=body,
        consumer_did=sender,
        consumer_bpnl="BPNL00000000901S",
        agreement_id="agreement-1",
    )


async def test_the_answer_of_the_supplier_asked_is_stored(exchange: PcfExchange) -> None:
    _asked(exchange)
    pcf = _pcf()
    reply = await _call(exchange, "PUT", body=pcf)
    assert reply == DataPlaneReply(200, {"requestId": "r-1", "productId": PRODUCT, "status": "received"})
    got = exchange.exchange("r-1")
    assert got["status"] == "received" and got["pcf"] == pcf and got["partner"] == SUPPLIER
    # the same answer again (an outbox retry): 200; another PCF for an answered request: 409
    assert (await _call(exchange, "PUT", body=pcf)).status == 200
    with pytest.raises(Conflict):
        await _call(exchange, "PUT", body=_pcf(kg="13"))
    assert exchange.exchange("r-1")["pcf"] == pcf


_OTHER_ANSWERS: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("not the supplier asked", {"sender": OTHER}, NotFound),
    ("not the product asked", {"product": "urn:gtin:04012345000047"}, NotFound),
    ("an unknown request", {"query": {"requestId": "r-unknown"}}, NotFound),
    ("a PCF update (no requestId): not taken", {"query": {}}, InvalidInput),
    ("a malformed request id", {"query": {"requestId": "bad id"}}, InvalidInput),
    ("not an object", {"body": ["not", "a", "pcf"]}, InvalidInput),
    ("fails the bundled schema", {"body": "invalid"}, InvalidInput),
    ("valid, but the PCF of another product", {"body": "other-product"}, InvalidInput),
    ("API 1.3.0's path: not served", {"path": "footprintExchange/r-1"}, NotFound),
]


async def test_any_other_answer_changes_nothing(exchange: PcfExchange) -> None:
    _asked(exchange)
    pcf = _pcf()
    bodies = {
        "invalid": {k: v for k, v in pcf.items() if k != "productLifeCycleStagesAndEmissions"},
        "other-product": _pcf(product="urn:gtin:04012345000047"),
    }
    for why, change, error in _OTHER_ANSWERS:
        args = dict(change)
        body = args.pop("body", pcf)
        with pytest.raises(error):
            await _call(exchange, "PUT", body=bodies.get(body, body) if isinstance(body, str) else body, **args)
        got = exchange.exchange("r-1")
        assert got["status"] == "accepted" and "pcf" not in got, why
    assert (await _call(exchange, "PUT", body=pcf)).status == 200  # the right answer still is taken


async def test_a_request_is_stored_once_and_accepted(exchange: PcfExchange) -> None:
    query = {"requestId": "r-7", "comment": "x" * 300}
    reply = await _call(exchange, "GET", sender=OTHER, query=query)
    assert reply == DataPlaneReply(202, {"requestId": "r-7", "productId": PRODUCT, "status": "accepted"})
    assert (await _call(exchange, "GET", sender=OTHER, query=query)).status == 202  # a retry: one request
    # the same request id from another requester is another request
    assert (await _call(exchange, "GET", sender=SUPPLIER, query={"requestId": "r-7"})).status == 202
    rows = exchange.incoming()
    assert sorted(r["partner"] for r in rows) == sorted([SUPPLIER, OTHER])
    mine = next(r for r in rows if r["partner"] == OTHER)
    # no twin names the requester: it waits for the operator
    assert mine["status"] == "accepted" and mine["automatic"] is False and len(mine["comment"]) == 250
    with pytest.raises(Conflict):  # one request id names one product
        await _call(exchange, "GET", sender=OTHER, product="urn:gtin:04012345000047", query={"requestId": "r-7"})
    for bad in ({}, {"requestId": ""}, {"requestId": "r" * 129}):
        with pytest.raises(InvalidInput):
            await _call(exchange, "GET", sender=OTHER, query=bad)
    with pytest.raises(InvalidInput):
        await _call(exchange, "POST", sender=OTHER, body={})
    with pytest.raises(NotFound):
        await _call(exchange, "GET", sender=OTHER, path="productIds/")
    with exchange.engine.connect() as conn:
        assert len(conn.execute(select(exchanges_table)).all()) == 2


async def test_the_operator_cannot_answer_what_was_not_asked(exchange: PcfExchange) -> None:
    with pytest.raises(NotFound):
        await exchange.answer(OTHER, "r-none")
    await _call(exchange, "GET", sender=OTHER, query={"requestId": "r-8"})
    with pytest.raises(NotFound, match="no active footprint"):  # nothing to send yet
        await exchange.answer(OTHER, "r-8")
    assert exchange.incoming()[0]["status"] == "accepted"


async def test_at_start_only_the_pending_automatic_answers_are_tried_again(exchange: PcfExchange) -> None:
    exchange.pact.store_document(_pact_doc(PRODUCT, "9"))
    now = dt.datetime.now(dt.UTC)
    base = {"role": "provider", "partner_bpnl": None, "product_id": PRODUCT, "comment": None, "pcf": None}
    rows = [
        {"partner_did": OTHER, "request_id": "auto", "status": "accepted", "auto": True, "answers": 0},
        {"partner_did": OTHER, "request_id": "manual", "status": "accepted", "auto": False, "answers": 0},
        {"partner_did": OTHER, "request_id": "sent", "status": "answered", "auto": True, "answers": 1},
    ]
    with exchange.engine.begin() as conn:
        for r in rows:
            conn.execute(
                insert(exchanges_table).values(**base, **r, outbox_key=None, error=None, created_at=now, updated_at=now)
            )
    exchange.resume()
    for _ in range(200):  # the answer runs in the background; it cannot reach OTHER here
        notes = {r["requestId"]: r.get("error") for r in exchange.incoming()}
        if notes["auto"]:
            break
        await anyio.sleep(0.01)
    assert "no DID resolution in this test" in str(notes["auto"])  # it went as far as the partner
    assert notes["manual"] is None and notes["sent"] is None


def test_the_migration_matches_the_table(exchange: PcfExchange) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from batpass.store import metadata

    with exchange.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, metadata) if "cx_pcf_exchanges" in repr(d)]
    assert diff == []
