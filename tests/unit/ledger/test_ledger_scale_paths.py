"""The paths that must stay flat as the ledger grows: the downstream query plan, a received
summary recomputing only what was made from its lot (equal to recomputing each lot on its own),
and a trace that says when it stopped at its hop cap."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import identity, receipt, set_statistics
from sqlalchemy import Engine, select

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._reach import reach_statement
from batpass.ledger._rows import lot_from_row, profile_json, profile_of
from batpass.ledger._trace import downstream_profiles, downstream_query, frontier_search, profiles_from_graph
from batpass.ledger.model import EventKind, Lot
from batpass.scenario import COMPANIES, flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

OWNER = "did:web:node.example"
SUPPLIER = "did:web:supplier.example"

#: the scenario's mines the synthetic CAHRA sample flags (the artisanal cobalt site)
HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


@pytest.fixture
def partitions(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[LedgerService, object]:
    sc = generate(lots=300, seed=7)
    ids = {c.did: identity(c.did) for c in COMPANIES.values()}
    svc = LedgerService(
        make_store([MIGRATIONS_DIR]), identity(OWNER), identities=ids.get, high_risk_sites=HIGH_RISK_SITES
    )
    svc.record(sc.events)
    return svc, sc


def test_the_downstream_query_reads_the_parent_index(tmp_path: Path) -> None:
    """Without statistics SQLite answered a frontier of lots through the partition's primary key
    (every edge of the owner, per hop: 310 ms at 10⁶ lots); the query must go through the parent
    index whatever the frontier's size."""
    from batpass.store import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    upgrade(engine, [MIGRATIONS_DIR])
    svc = LedgerService(engine, identity(OWNER), high_risk_sites=HIGH_RISK_SITES, batch_size=500)
    svc.record(generate(lots=400, owner=OWNER, seed=3).events)
    with engine.connect() as conn:
        parents = _parents(conn, 5)
        queries = [downstream_query(OWNER, parents[:n], [OWNER]) for n in (1, 2, 5)]
        queries.append(t.receipts_query(OWNER, "did:web:supplier.example", parents[0]))  # receive_summary's
    for q in queries:
        assert _through_parent_index(_edges_plan(engine, q)), q
    engine.dispose()


def _parents(conn: Any, n: int) -> list[str]:
    """The first ``n`` lots (by id) that edges name as parents."""
    q = select(t.edge_parent).select_from(t.EDGES_FROM).distinct().order_by(t.edge_parent).limit(n)
    return [r[0] for r in conn.execute(q)]


def _edges_plan(engine: Engine, query: Any) -> list[str]:
    """The lines of ``query``'s plan (SQLite's ``EXPLAIN QUERY PLAN`` details, PostgreSQL's
    ``EXPLAIN`` lines)."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return [str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        return [str(r[0]).strip() for r in conn.exec_driver_sql("EXPLAIN " + sql)]


#: a read of the edges that goes straight to a frontier's edges: a search (not a scan) of the
#: parent index keyed by the parent (SQLite), an index scan of it (PostgreSQL)
_PARENT_SEARCH = re.compile(
    r"SEARCH ledger_edges USING (COVERING )?INDEX ix_ledger_edges_parent \(parent_owner_no=\? AND parent_no=\?"
    r"|Index (Only )?Scan using ix_ledger_edges_parent on ledger_edges"
    r"|Bitmap Index Scan on ix_ledger_edges_parent|Bitmap Heap Scan on ledger_edges"
)


def _edge_reads(plan: Sequence[str]) -> list[str]:
    """The plan's steps that read the edge table or one of its indexes."""
    step = re.compile(r"\b(SCAN|SEARCH)\b|Scan\b")
    return [line for line in plan if step.search(line) and re.search(r"ledger_edges\b|_ledger_edges_", line)]


def _through_parent_index(plan: Sequence[str]) -> bool:
    """Whether every read of the edges in ``plan`` searches the parent index (and there is one).
    The guard this file keeps: before, it asked only that the index's name appear in the plan and
    the primary key's (as PostgreSQL names it) not — a full scan through the parent index passed
    it, and a SQLite search of the primary key, which SQLite calls ``PRIMARY KEY``, could not fail it."""
    reads = _edge_reads(plan)
    return bool(reads) and all(_PARENT_SEARCH.search(line) for line in reads)


def _unindexable(parents: Sequence[str]) -> list[Any]:
    """Statements asking for the same edges in a way no index answers (the parent and its owner
    wrapped in expressions), and one asking for every edge of the owner: the guard must refuse
    each of their plans, whatever the statistics."""
    from sqlalchemy import literal_column

    e = t.edges
    by_expression = [
        select(e.c.child_no).where(
            e.c.parent_owner_no + literal_column("0") == t.owner_no_of(OWNER),
            (e.c.parent_no + literal_column("0")).in_(t.lot_nos_of(OWNER, parents[:n])),
        )
        for n in (1, 11)
    ]
    return [*by_expression, select(e.c.child_no, e.c.parent_no).where(e.c.owner_no == t.owner_no_of(OWNER))]


@pytest.mark.parametrize("statistics", ["as ingested", "vacuumed", "analyzed"])
def test_the_downstream_queries_read_the_parent_index_on_both_stores(
    make_store: Callable[[Sequence[Path]], Engine], statistics: str
) -> None:
    """Once PostgreSQL knows the table sizes (``VACUUM``, as autovacuum does after a bulk
    ingest) but has no column statistics, it answered a frontier of a few lots by joining the
    partition's owner number into the primary key (owner_no, child, …) and filtering every edge
    of the partition (4,604 rows read for 11 lots at 10⁴ lots, 459,000 at 10⁶); with the parent
    index it reads the frontier's edges only. The plan must go through the parent index on both
    stores, as ingested, after ``VACUUM`` and after ``ANALYZE`` — for the downstream hop, the
    receipts of a received summary and the reconciliation's receipts of a shipment."""
    engine = make_store([MIGRATIONS_DIR])
    svc = LedgerService(engine, identity(OWNER), high_risk_sites=HIGH_RISK_SITES, batch_size=1000)
    svc.record(generate(lots=4000, owner=OWNER, seed=3).events)
    # a supplier's lot this store does not hold, received: the edges name it by a foreign number
    svc.record(
        [receipt(SUPPLIER, "ore-shipped", "ore-in", "lithium_brine_concentrate", 50.0, document="BL-1", owner=OWNER)]
    )
    set_statistics(engine, statistics)
    with engine.connect() as conn:
        parents = _parents(conn, 11)
    assert len(parents) == 11
    queries = [downstream_query(OWNER, parents[:n], [OWNER]) for n in (1, 2, 5, 11)]
    queries.append(t.receipts_query(OWNER, "did:web:supplier.example", parents[0]))  # receive_summary's
    queries.append(t.shipment_receipts_query(OWNER, parents[0]))  # the reconciliation's
    # the same two for the supplier's lot held by its foreign number (the receiver's node judging
    # the supplier's shipment: one look-up a message)
    queries.append(t.receipts_query(OWNER, SUPPLIER, "ore-shipped"))
    queries.append(t.shipment_receipts_query(SUPPLIER, "ore-shipped"))
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(queries[-1])] == [OWNER]  # the look-up finds the receipt
    for q in queries:
        plan = _edges_plan(engine, q)
        assert _through_parent_index(plan), "\n".join(plan)
    # the guard itself, on the same store and statistics: statements the parent index cannot
    # answer must fail it (before, a full scan through that index passed on SQLite)
    for q in _unindexable(parents):
        plan = _edges_plan(engine, q)
        assert _edge_reads(plan) and not _through_parent_index(plan), plan
    # a recall in one statement (ledger._reach): its recursive step and its edges, both by parent
    reach = reach_statement(engine.dialect.name == "postgresql").params(
        owner=OWNER, roots=parents[:5], allowed=[OWNER], last=63
    )
    plan = _edges_plan(engine, reach)
    assert len(_edge_reads(plan)) >= 2 and _through_parent_index(plan), plan
    engine.dispose()


def _lots_made_from(svc: LedgerService, owner: str, lot: str) -> list[tuple[str, str]]:
    with svc.engine.connect() as conn:
        root = lot_from_row(t.select_lots(conn, owner, [lot])[0])
        return list(frontier_search(conn, root, direction="down", max_hops=10_000).lots)


def _close(a: object, b: object) -> bool:
    """Equal profiles, numbers to 1e-9 (sums taken in another order differ in the last digits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _same_profiles(got: dict[tuple[str, str], str], want: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """The keys whose profiles differ (beyond rounding)."""
    assert got.keys() == want.keys()
    return [k for k in got if got[k] != want[k] and not _close(json.loads(got[k]), json.loads(want[k]))]


def _each_on_its_own(svc: LedgerService, owner: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The quadratic reference: each lot's profile from a full upstream search of its own."""
    out: dict[tuple[str, str], str] = {}
    with svc.engine.connect() as conn:
        for key in keys:
            lot = lot_from_row(t.select_lots(conn, key[0], [key[1]])[0])
            up = frontier_search(conn, lot, max_hops=10_000)
            got = svc.received_summaries(owner, [p[1] for _, p in up.boundary])
            out[key] = profile_json(profiles_from_graph(up, {k: v.summary for k, v in got.items()})[key])
    return out


def test_a_received_summary_recomputes_what_was_made_from_its_lot(partitions: tuple[LedgerService, object]) -> None:
    """Every summary a cell maker receives changes exactly the profiles of what it made from the
    received lots, and each equals that lot's profile recomputed on its own from scratch."""
    svc, sc = partitions
    cells = COMPANIES["osaka-cells"].did
    shipped = {e["outputs"][0]["lot"] for e in sc.events if e["kind"] == "shipment"}  # type: ignore[attr-defined]
    receipts = [
        e
        for e in sc.events  # type: ignore[attr-defined]
        if e["kind"] == "receipt" and e["owner"] == cells and e["receipt"]["from_lot"] in shipped
    ]
    assert len(receipts) >= 6
    touched: set[tuple[str, str]] = set()
    for rec in receipts[:6]:
        supplier_lot = rec["receipt"]["from_lot"]
        supplier = rec["receipt"]["from_owner"]
        affected = _lots_made_from(svc, cells, rec["outputs"][0]["lot"])
        with svc.engine.connect() as conn:
            before = {r.id: r.profile for r in t.select_lots(conn, cells, [k[1] for k in affected])}
        svc.receive_summary(cells, svc.signed_summary(supplier, supplier_lot))
        with svc.engine.connect() as conn:
            rows = t.select_lots(conn, cells, [k[1] for k in affected])
            after = {r.id: profile_json(profile_of(lot_from_row(r))) for r in rows}
        assert any(after[i] != before[i] for i in after), "a received summary changed nothing downstream"
        assert not _same_profiles({(cells, i): v for i, v in after.items()}, _each_on_its_own(svc, cells, affected))
        touched.update(affected)
    with svc.engine.connect() as conn:
        every = [(cells, r[0]) for r in conn.execute(select(t.lots.c.id).where(t.lots.c.owner == cells))]
        stored = {
            (cells, r.id): profile_json(profile_of(lot_from_row(r)))
            for r in t.select_lots(conn, cells, [k[1] for k in every])
        }
    assert not _same_profiles(stored, _each_on_its_own(svc, cells, every)), "a lot not made from a received lot changed"
    assert touched and svc.verify(cells).ok


def test_a_trace_says_when_it_stopped_at_its_hop_cap(partitions: tuple[LedgerService, object]) -> None:
    svc, sc = partitions
    cells = COMPANIES["osaka-cells"].did
    receipt = next(e for e in sc.events if e["kind"] == "receipt" and e["owner"] == cells)  # type: ignore[attr-defined]
    lot = receipt["outputs"][0]["lot"]
    full = svc.trace(cells, lot, direction="down")
    assert full["hop_cap_reached"] is False and full["hops"] >= 2 and full["max_hops"] == 64
    cut = svc.trace(cells, lot, direction="down", max_hops=1)
    assert cut["hop_cap_reached"] is True and cut["hops"] == 1 and cut["graph_lots"] < full["graph_lots"]
    # the cap reached with lots not yet expanded is reported even when nothing lies below them
    at_cap = svc.trace(cells, lot, direction="down", max_hops=full["hops"])
    assert at_cap["hop_cap_reached"] is True and at_cap["graph_lots"] == full["graph_lots"]
    above = svc.trace(cells, lot, direction="down", max_hops=full["hops"] + 1)
    assert above["hop_cap_reached"] is False and above["graph_lots"] == full["graph_lots"]


def test_recomputing_stops_at_recovered_lots_and_stays_exact(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """In one partition holding the whole loop (mines to recycling and back into cathodes), a
    summary for an outside supplier's lot recomputes what was made from it up to recovered lots
    (their origin is their recovery), and every stored profile still equals its own recomputation."""
    from dataclasses import replace

    from batpass.core.summary import Did
    from batpass.ledger._summary import sign_summary

    foils = "did:web:foils.batpass.example"
    ids = {OWNER: identity(OWNER), foils: identity(foils)}
    svc = LedgerService(
        make_store([MIGRATIONS_DIR]), ids[OWNER], identities=ids.get, high_risk_sites=HIGH_RISK_SITES, batch_size=500
    )
    sc = generate(lots=600, owner=OWNER, seed=9)
    svc.record(sc.events)
    kinds = {e["kind"] for e in sc.events}
    assert {"recovery", "receipt"} <= kinds, "the scenario must hold the recycling loop and outside receipts"

    def below(lot: str) -> dict[tuple[str, str], Lot]:
        with svc.engine.connect() as conn:
            root = lot_from_row(t.select_lots(conn, OWNER, [lot])[0])
            return frontier_search(conn, root, direction="down", max_hops=10_000).lots

    # the first foil delivery whose cells were recycled within the scenario
    receipt = next(
        e
        for e in sc.events
        if e["kind"] == "receipt"
        and e["receipt"]["from_owner"] == foils
        and any(x.kind is EventKind.RECOVERY for x in below(e["outputs"][0]["lot"]).values())
    )
    lot = receipt["outputs"][0]["lot"]
    own = svc.summary(OWNER, lot)
    supplier_lot = receipt["receipt"]["from_lot"]
    token = sign_summary(replace(own, subject=replace(own.subject, id=supplier_lot), issuer=Did(foils)), ids[foils])

    def stored() -> dict[tuple[str, str], str]:
        with svc.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.owner == OWNER))]
            return {(OWNER, r.id): profile_json(profile_of(lot_from_row(r))) for r in t.select_lots(conn, OWNER, ids)}

    with svc.engine.connect() as conn:
        root = lot_from_row(t.select_lots(conn, OWNER, [lot])[0])
        recomputed = downstream_profiles(conn, [root], lambda lots: {})
    everything_below = below(lot)
    assert recomputed.keys() < everything_below.keys()
    assert not any(everything_below[k].kind is EventKind.RECOVERY for k in recomputed)
    before = stored()
    svc.receive_summary(OWNER, token)
    after = stored()
    changed = [k for k in after if after[k] != before[k]]
    assert changed and not _same_profiles(after, _each_on_its_own(svc, OWNER, list(after)))
    assert svc.verify(OWNER).ok
