"""Migrations ``ledger_0007`` (the slim store) and ``ledger_0008`` (owners as numbers in the
edges), ``ledger_0010`` (the events' owner, hash and catalogue in small forms), ``ledger_0011`` (profiles
compressed), ``ledger_0012`` (lots and events as numbers in the edges) and ``ledger_0013`` (event
bodies compressed on PostgreSQL), on a store holding data, SQLite and PostgreSQL.

A store at ``ledger_0006`` (or ``ledger_0007``) gets a scenario's ledger (the rows a ledger at
that revision holds: each lot's profile as its own text, each edge's owners as strings; copied
from a ledger recorded by this code, so both hold the same content), then is migrated: every lot
keeps its profile text (now stored once per owner and text), every edge its owners, and every
trace, summary, lot and verify answer equals the one of the ledger recorded directly on the
current schema. The rows copied, the answers compared and the course of a test that migrates
and back are in ``ledger_migration_testkit``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from ledger_migration_testkit import (
    CLOCK,
    LOCATIONS,
    MigrationRoundTrip,
    answers,
    changed_then_migrated,
    copy_to_old,
    edge_strings,
)
from ledger_testkit import OWNER, identity
from sqlalchemy import Engine, LargeBinary, select, text

from batpass.ledger import CATALOGUE, MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.scenario import generate
from batpass.store import upgrade
from batpass.store.migrations import alembic_config
from store_testkit import drop_schema, scratch_engine


@pytest.fixture(params=["ledger_0006"])
def old_store(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty store with the ledger at ``request.param`` (``ledger_0006`` unless a test says)."""
    eng, schema = scratch_engine(store_kind, tmp_path / "old.db")
    try:  # the schema exists now: dropped however the migration or the test ends
        cfg = alembic_config(LOCATIONS)
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "store@head")
            command.upgrade(cfg, request.param)
        yield eng
    finally:
        eng.dispose()
        if schema is not None:
            drop_schema(schema)


def test_ledger_0007_converts_a_store_with_data(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    sc = generate(lots=300, owner=OWNER, seed=5)
    me = identity()
    direct = LedgerService(make_store([MIGRATIONS_DIR]), me, batch_size=50, clock=CLOCK)
    direct.record(sc.events)
    with direct.engine.connect() as conn:
        mined = [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.kind == "extraction").limit(5))]
    batteries = sc.batteries[:6]
    expected = answers(direct, batteries, mined)
    assert expected["verify"][0] and expected["audit"] == []

    copy_to_old(direct.engine, old_store)
    with old_store.connect() as conn:
        before = dict(conn.execute(text("SELECT id, profile FROM ledger_lots")).all())
        events = conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
    assert len(before) > 250 and events > 250
    upgrade(old_store, LOCATIONS)

    with old_store.connect() as conn:
        after = dict(conn.execute(select(t.lots.c.id, t.profiles.c.body).select_from(t.LOTS_FROM)).all())
        stored = conn.execute(select(t.profiles.c.digest, t.profiles.c.body)).all()
        indexes = {i["name"] for i in _indexes(conn, "ledger_edges")}
    assert after == before  # every lot keeps its profile's text
    assert len(stored) == len(set(before.values())) < len(before)  # each text once
    assert all(hashlib.sha256(b.encode()).digest() == d for d, b in stored)
    assert "ix_ledger_edges_event" not in indexes and "ix_ledger_edges_parent" in indexes

    migrated = LedgerService(old_store, me, batch_size=50, clock=CLOCK)
    assert answers(migrated, batteries, mined) == expected


def _indexes(conn: Any, table: str) -> list[Any]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_indexes(table))


@pytest.mark.parametrize("old_store", ["ledger_0007"], indirect=True)
def test_ledger_0008_numbers_the_owners_of_a_store_with_data(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """The first half of a scenario recorded, the store migrated, the second half recorded on
    it: the answers equal those of a ledger that recorded it all on the current schema."""
    sc = generate(lots=300, owner=OWNER, seed=6)
    half = len(sc.events) // 2
    me = identity()
    direct = LedgerService(make_store([MIGRATIONS_DIR]), me, batch_size=50, clock=CLOCK)
    direct.record(sc.events[:half])
    with direct.engine.connect() as conn:
        edges = sorted(tuple(r) for r in conn.execute(edge_strings()).all())

    copy_to_old(direct.engine, old_store)
    with old_store.connect() as conn:
        before = sorted(tuple(r) for r in conn.execute(text("SELECT * FROM ledger_edges")).all())
    assert before == edges and len(before) > 100
    upgrade(old_store, LOCATIONS)

    with old_store.connect() as conn:
        after = sorted(tuple(r) for r in conn.execute(edge_strings()).all())
        numbered = dict(conn.execute(select(t.owners.c.owner, t.owners.c.no)).all())
        columns = {c["name"] for c in _columns(conn, "ledger_edges")}
        indexes = {i["name"]: i["column_names"] for i in _indexes(conn, "ledger_edges")}
    assert after == before  # every edge keeps its owners
    assert set(numbered) == {r[0] for r in before} | {r[2] for r in before}
    # (the store is at the head now: lots and events as numbers too, ``ledger_0012``)
    assert columns == {c.name for c in t.edges.c}
    assert indexes["ix_ledger_edges_parent"] == ["parent_owner_no", "parent_no"]

    migrated = LedgerService(old_store, me, batch_size=50, clock=CLOCK)
    for svc in (direct, migrated):
        svc.record(sc.events[half:])
    with direct.engine.connect() as conn:
        mined = [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.kind == "extraction").limit(5))]
    expected = answers(direct, sc.batteries[:6], mined)
    assert expected["verify"][0] and expected["audit"] == []
    assert answers(migrated, sc.batteries[:6], mined) == expected


def _columns(conn: Any, table: str) -> list[Any]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_columns(table))


_OLD_EVENTS = "SELECT owner, seq, id, kind, at, body, hash, batch_no, catalogue FROM ledger_events ORDER BY owner, seq"


@pytest.mark.parametrize("old_store", ["ledger_0009"], indirect=True)
def test_ledger_0010_slims_the_events_of_a_store_with_data_and_back(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """Events with their owner, hash and catalogue as strings (``ledger_0009``) migrated to
    numbers and bytes: the same events, chain and answers; the second half of the scenario
    recorded on the migrated store gives what the direct ledger gives; the downgrade gives back
    the rows as they were."""
    run = MigrationRoundTrip(make_store, old_store, seed=7)
    with old_store.connect() as conn:
        before = [tuple(r) for r in conn.execute(text(_OLD_EVENTS)).all()]
        lots_before = _lot_rows(conn)
    assert len(before) > 100 and all(len(r[6]) == 64 for r in before) and {r[8] for r in before} == {CATALOGUE.digest}
    run.migrate()

    with old_store.connect() as conn:
        columns = {c["name"]: c["type"] for c in _columns(conn, "ledger_events")}
        catalogues = conn.execute(select(t.catalogues.c.digest)).scalars().all()
        stored = conn.execute(select(t.events.c.hash)).scalars().all()
    assert set(columns) == {"owner_no", "seq", "id", "kind", "at", "body", "hash", "batch_no", "catalogue_no"}
    assert catalogues == [CATALOGUE.digest] and {len(h) for h in stored} == {32}
    _check_lots_table(old_store, lots_before, rowid=False)
    run.answers_match_the_first_half()

    run.downgrade("ledger_0009")
    with old_store.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(_OLD_EVENTS)).all()] == before
    _check_lots_table(old_store, lots_before, rowid=True)
    run.finish()


def _lot_rows(conn: Any) -> list[tuple[Any, ...]]:
    """The lots' rows, without their numbers (``ledger_0012``): what a store before it held."""
    res = conn.execute(text("SELECT * FROM ledger_lots ORDER BY owner, id"))
    keep = [i for i, k in enumerate(res.keys()) if k != "lot_no"]
    return [tuple(r[i] for i in keep) for r in res.all()]


def _check_lots_table(engine: Engine, rows: list[tuple[Any, ...]], *, rowid: bool) -> None:
    """``ledger_lots`` holds ``rows``, keeps its partial battery index and, on SQLite, is a rowid
    table or not as ``rowid`` says."""
    with engine.connect() as conn:
        assert _lot_rows(conn) == rows
        indexes = {i["name"]: i["column_names"] for i in _indexes(conn, "ledger_lots")}
        assert indexes["ix_ledger_lots_battery"] == ["owner", "battery_id"]
        if engine.dialect.name == "sqlite":
            sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'ledger_lots'")).all())
            assert sql["ledger_lots"].rstrip().endswith("WITHOUT ROWID") is not rowid
            assert sql["ix_ledger_lots_battery"].rstrip().endswith("WHERE battery_id IS NOT NULL")


@pytest.mark.parametrize("old_store", ["ledger_0009"], indirect=True)
def test_ledger_0010_keeps_a_changed_hash_detected(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """A stored hash changed before the migration (upper-case hex, or not hex at all) is not
    turned into the right bytes: after it, verify still names those events."""
    migrated = changed_then_migrated(
        make_store,
        old_store,
        "UPDATE ledger_events SET hash = upper(hash) WHERE seq = 3",
        "UPDATE ledger_events SET hash = 'zz' || substr(hash, 3) WHERE seq = 9",
    )
    rep = migrated.verify(derived=False)
    assert {(p.rule, p.seq) for p in rep.problems if p.rule == "ledger.chain.hash"} >= {
        ("ledger.chain.hash", 3),
        ("ledger.chain.hash", 9),
    }


_OLD_PROFILES = "SELECT owner, no, digest, body FROM ledger_profiles ORDER BY owner, no"


@pytest.mark.parametrize("old_store", ["ledger_0010"], indirect=True)
def test_ledger_0011_compresses_the_profiles_of_a_store_with_data_and_back(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """Profiles as hex digests and plain texts (``ledger_0010``) migrated to 32-byte digests and
    bodies compressed with dictionary 1: every profile reads back as the exact text, every
    answer is the direct ledger's; the downgrade gives back the rows as they were; the second
    half of the scenario recorded on the migrated store gives what the direct ledger gives."""
    run = MigrationRoundTrip(make_store, old_store, seed=9)
    with old_store.connect() as conn:
        before = [tuple(r) for r in conn.execute(text(_OLD_PROFILES)).all()]
    assert len(before) > 20 and all(len(r[2]) == 64 and r[3].startswith("{") for r in before)
    run.migrate()

    with old_store.connect() as conn:
        columns = {c["name"]: c["type"] for c in _columns(conn, "ledger_profiles")}
        raw = [tuple(r) for r in conn.execute(text(_OLD_PROFILES)).all()]
        read = [tuple(r) for r in conn.execute(select(t.profiles).order_by(t.profiles.c.owner, t.profiles.c.no)).all()]
    assert isinstance(columns["digest"], LargeBinary) and isinstance(columns["body"], LargeBinary)
    assert [(o, n, bytes(d).hex(), b) for o, n, d, b in read] == before  # the exact texts
    assert all(len(d) == 32 and bytes(b)[0] == 1 for _o, _n, d, b in raw)  # dictionary 1
    assert sum(len(b) for *_, b in raw) < 0.4 * sum(len(b) for *_, b in before)
    run.answers_match_the_first_half()

    run.downgrade("ledger_0010")
    with old_store.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(_OLD_PROFILES)).all()] == before
    run.finish()


@pytest.mark.parametrize("old_store", ["ledger_0010"], indirect=True)
def test_ledger_0011_keeps_a_changed_profile_detected(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """A profile changed before the migration (its digest upper-case or not hex, its text
    changed) is not turned into a matching row: after it, the self-audit still names each."""
    migrated = changed_then_migrated(
        make_store,
        old_store,
        "UPDATE ledger_profiles SET digest = upper(digest) WHERE no = 1",
        "UPDATE ledger_profiles SET digest = 'zz' || substr(digest, 3) WHERE no = 2",
        "UPDATE ledger_profiles SET body = replace(body, '1.0', '0.5') WHERE no = 3",
    )
    findings = migrated.self_audit()
    named = {f.key for f in findings if (f.table, f.rule) == ("ledger_profiles", "ledger.derived.profiles")}
    assert named == {f"{OWNER}/1", f"{OWNER}/2", f"{OWNER}/3"}


_OLD_EDGES = (
    "SELECT o.owner, e.child, p.owner, e.parent, e.event_id, e.input_kg FROM ledger_edges e "
    "JOIN ledger_owners o ON o.no = e.owner_no JOIN ledger_owners p ON p.no = e.parent_owner_no"
)


@pytest.mark.parametrize("old_store", ["ledger_0011"], indirect=True)
def test_ledger_0012_numbers_the_lots_of_the_edges_and_back(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """Edges naming lots and events as strings (``ledger_0011``), a supplier's lot the store does
    not hold among their parents, migrated to numbers: the same edges as strings, the same
    answers; the downgrade gives back the edges as they were; the second half of the scenario
    recorded on the migrated store gives what the direct ledger gives, chain and audit intact."""
    run = MigrationRoundTrip(make_store, old_store, seed=8)
    with run.direct.engine.connect() as conn:
        foreign = conn.execute(select(t.foreign_lots.c.id)).scalars().all()
    with old_store.connect() as conn:
        before = sorted(tuple(r) for r in conn.execute(text(_OLD_EDGES)).all())
        lots_before = _lot_rows(conn)
    assert len(before) > 100
    assert {r[3] for r in before if r[2] != OWNER} >= set(foreign)  # parents the store does not hold
    run.migrate()

    with old_store.connect() as conn:
        after = sorted(tuple(r) for r in conn.execute(edge_strings()).all())
        columns = {c["name"] for c in _columns(conn, "ledger_edges")}
        indexes = {i["name"]: i["column_names"] for i in _indexes(conn, "ledger_edges")}
        numbers = conn.execute(select(t.lots.c.owner, t.lots.c.lot_no)).all()
        tops = dict(conn.execute(select(t.owners.c.owner, t.owners.c.last_lot_no)).all())
        migrated_foreign = conn.execute(select(t.foreign_lots.c.id, t.foreign_lots.c.no)).all()
    assert after == before  # every edge keeps its lots, owners and event
    assert columns == {"owner_no", "child_no", "parent_owner_no", "parent_no", "event_seq", "input_kg"}
    assert indexes["ix_ledger_edges_parent"] == ["parent_owner_no", "parent_no"]
    assert len(set(numbers)) == len(numbers) and tops[OWNER] == len(numbers)
    assert sorted(lot for lot, _ in migrated_foreign) == sorted(foreign) and all(no < 0 for _, no in migrated_foreign)
    run.answers_match_the_first_half()

    run.downgrade("ledger_0011")
    with old_store.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(text(_OLD_EDGES)).all()) == before
        assert _lot_rows(conn) == lots_before
    run.finish()


_RAW_EVENTS = (
    "SELECT owner_no, seq, id, kind, at, body, hash, batch_no, catalogue_no FROM ledger_events ORDER BY owner_no, seq"
)


@pytest.mark.parametrize("old_store", ["ledger_0012"], indirect=True)
def test_ledger_0013_compresses_the_event_bodies_of_a_store_with_data_and_back(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """Event bodies as text (``ledger_0012``) migrated to bodies compressed with event dictionary
    1 on PostgreSQL (SQLite keeps the text): every body reads back as the exact text, every
    answer (chain, batches, audit included) is the direct ledger's; the downgrade gives back the
    rows as they were; the second half of the scenario recorded on the migrated store gives what
    the direct ledger gives."""
    sc = generate(lots=300, owner=OWNER, seed=11)
    half = len(sc.events) // 2
    me = identity()
    direct = LedgerService(make_store([MIGRATIONS_DIR]), me, batch_size=50, clock=CLOCK)
    direct.record(sc.events[:half])
    with direct.engine.connect() as conn:
        mined = [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.kind == "extraction").limit(5))]
    half_answers = answers(direct, sc.batteries[:6], mined)
    assert half_answers["verify"][0] and half_answers["audit"] == []

    copy_to_old(direct.engine, old_store)
    with old_store.connect() as conn:
        before = [tuple(r) for r in conn.execute(text(_RAW_EVENTS)).all()]
    assert len(before) > 100 and all(r[5].startswith("{") for r in before)
    upgrade(old_store, LOCATIONS)

    packed = old_store.dialect.name == "postgresql"
    with old_store.connect() as conn:
        columns = {c["name"]: c["type"] for c in _columns(conn, "ledger_events")}
        raw = [tuple(r) for r in conn.execute(text(_RAW_EVENTS)).all()]
        read = [tuple(r) for r in conn.execute(select(t.events).order_by(t.events.c.owner_no, t.events.c.seq)).all()]
        keys = {i["name"]: i["column_names"] for i in _indexes(conn, "ledger_events")}
    assert [(r[0], r[1], r[5]) for r in read] == [(r[0], r[1], r[5]) for r in before]  # the exact texts
    assert isinstance(columns["body"], LargeBinary) is packed
    assert [r[:5] + r[6:] for r in raw] == [r[:5] + r[6:] for r in before]
    if packed:
        assert all(bytes(r[5])[0] == 1 for r in raw)  # event dictionary 1
        assert sum(len(r[5]) for r in raw) < 0.5 * sum(len(r[5]) for r in before)
    else:
        assert raw == before
    assert keys.get("uq_ledger_events_owner", ["owner_no", "id"]) == ["owner_no", "id"]
    migrated = LedgerService(old_store, me, batch_size=50, clock=CLOCK)
    assert answers(migrated, sc.batteries[:6], mined) == half_answers

    cfg = alembic_config(LOCATIONS)
    with old_store.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "ledger_0012")
    with old_store.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(_RAW_EVENTS)).all()] == before
    upgrade(old_store, LOCATIONS)

    for svc in (direct, migrated):
        svc.record(sc.events[half:])
    expected = answers(direct, sc.batteries[:6], mined)
    assert expected["verify"][0] and expected["audit"] == []
    assert answers(migrated, sc.batteries[:6], mined) == expected


@pytest.mark.parametrize("old_store", ["ledger_0012"], indirect=True)
def test_ledger_0013_keeps_a_changed_event_detected(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    """An event body changed before the migration is compressed as it is: after it (and after
    the downgrade) verify still names that event."""
    direct = LedgerService(make_store([MIGRATIONS_DIR]), identity(), batch_size=50, clock=CLOCK)
    direct.record(generate(lots=60, owner=OWNER, seed=8).events)
    copy_to_old(direct.engine, old_store)
    with old_store.begin() as conn:
        assert conn.execute(
            text("UPDATE ledger_events SET body = replace(body, '\"kg\"', '\"t\"') WHERE seq = 5")
        ).rowcount
    cfg = alembic_config(LOCATIONS)
    for step in ("up", "down"):
        if step == "up":
            upgrade(old_store, LOCATIONS)
        else:
            with old_store.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "ledger_0012")
        rep = LedgerService(old_store, identity(), batch_size=50, clock=CLOCK).verify(derived=False)
        assert ("ledger.chain.hash", 5) in {(p.rule, p.seq) for p in rep.problems}, step
