"""The shared part of the ledger's migration tests (``test_ledger_slim_migration``): a store at
an older revision filled with the rows of a ledger recorded by this code, the answers compared
before and after a migration, and the course of a test that migrates a store with data and
back (:class:`MigrationRoundTrip`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from ledger_testkit import OWNER, identity
from sqlalchemy import Engine, LargeBinary, MetaData, select, text, type_coerce

from batpass.core.clock import FixedClock
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.scenario import generate
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import upgrade
from batpass.store.migrations import alembic_config

LOCATIONS = [STORE_MIGRATIONS, MIGRATIONS_DIR]
#: summaries carry the time they were computed at
CLOCK = FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))


def copy_to_old(new: Engine, old: Engine) -> None:
    """Every ledger row of ``new`` into ``old`` as a store at that older revision holds it."""
    reflected = MetaData()
    with old.connect() as conn:
        reflected.reflect(conn, only=lambda name, _m: name.startswith("ledger_"))
    numbered = "owner_no" in reflected.tables["ledger_edges"].c  # ledger_0008: edges name owners by number
    with new.connect() as src, old.begin() as dst:
        for name, table in reflected.tables.items():
            if name == "ledger_lots" and "profile" in table.c:
                cols = [c for c in t.lots.c if c.name not in ("profile_no", "lot_no")]
                q: Any = select(*cols, t.profiles.c.body.label("profile")).select_from(t.LOTS_FROM)
            elif name == "ledger_lots":  # before ledger_0012: no lot numbers
                q = select(*[c for c in t.lots.c if c.name in table.c])
            elif name == "ledger_edges" and not numbered:
                q = edge_strings()
            elif name == "ledger_edges" and "child" in table.c:  # before ledger_0012: lots as strings
                q = edge_lot_strings()
            elif name == "ledger_owners" and not numbered:  # only the owners edges name had numbers
                e = t.edges
                q = select(t.owners.c.no, t.owners.c.owner).where(
                    t.owners.c.no.in_(select(e.c.owner_no).union(select(e.c.parent_owner_no)).scalar_subquery())
                )
            elif name == "ledger_owners":
                q = select(*[c for c in t.owners.c if c.name in table.c])
            elif name == "ledger_events" and "owner" in table.c:  # before ledger_0010
                rows = event_strings(src)
                assert set(table.c.keys()) == set(rows[0]), name
                dst.execute(table.insert(), rows)
                continue
            elif name == "ledger_profiles" and not isinstance(table.c.digest.type, LargeBinary):
                rows = profile_strings(src)  # before ledger_0011: hex digests, plain texts
                dst.execute(table.insert(), rows)
                continue
            elif name == "ledger_profiles":  # the stored (compressed) bodies as they are
                p = t.profiles.c
                q = select(p.owner, p.no, p.digest, type_coerce(p.body, LargeBinary).label("body"))
            else:
                q = select(t.metadata.tables[name])
            rows = [dict(r) for r in src.execute(q).mappings()]
            assert set(table.c.keys()) == (set(rows[0]) if rows else set(table.c.keys())), name
            if rows:
                dst.execute(table.insert(), rows)


def edge_strings() -> Any:
    """The edges with their owners as strings, as the store before ``ledger_0008`` held them."""
    return select(
        t.edge_owner,
        t.edge_child.label("child"),
        t.edge_parent_owner.label("parent_owner"),
        t.edge_parent.label("parent"),
        t.edge_event.label("event_id"),
        t.edges.c.input_kg,
    ).select_from(t.EDGES_FROM)


def edge_lot_strings() -> Any:
    """The edges with their lots and event as strings, as the store before ``ledger_0012`` held them."""
    e = t.edges
    return select(
        e.c.owner_no,
        t.edge_child.label("child"),
        e.c.parent_owner_no,
        t.edge_parent.label("parent"),
        t.edge_event.label("event_id"),
        e.c.input_kg,
    ).select_from(t.EDGES_FROM)


def event_strings(conn: Any) -> list[dict[str, Any]]:
    """The events with their owner, hash and catalogue as strings, as the store before
    ``ledger_0010`` held them."""
    e = t.events
    q = (
        select(
            t.owners.c.owner,
            *[c for c in e.c if c.name not in {"owner_no", "catalogue_no"}],
            t.event_catalogue.label("catalogue"),
        )
        .select_from(t.EVENTS_FROM.join(t.owners, t.owners.c.no == e.c.owner_no))
        .order_by(t.owners.c.owner, e.c.seq)
    )
    return [{**r, "hash": t.hash_hex(r["hash"])} for r in conn.execute(q).mappings()]


def profile_strings(conn: Any) -> list[dict[str, Any]]:
    """The profiles with their digest as hex and their text as it is, as the store before
    ``ledger_0011`` held them."""
    p = t.profiles
    q = select(p.c.owner, p.c.no, p.c.digest, p.c.body).order_by(p.c.owner, p.c.no)
    return [{**r, "digest": bytes(r["digest"]).hex()} for r in conn.execute(q).mappings()]


def answers(svc: LedgerService, batteries: Sequence[str], lots: Sequence[str]) -> dict[str, Any]:
    rep = svc.verify()
    return {
        "traces": [svc.trace(OWNER, b) for b in batteries],
        "recalls": [svc.trace(OWNER, lot, direction="down") for lot in lots],
        "summaries": [svc.summary(OWNER, b) for b in batteries],
        "lots": [svc.lot(OWNER, lot) for lot in lots],
        "verify": (rep.ok, rep.events, rep.batches, rep.problems),
        "events": svc.events(OWNER, limit=100_000),
        "audit": svc.self_audit(),
    }


def mined_lots(svc: LedgerService) -> list[str]:
    """Five extraction lots of ``svc``'s ledger (the recalls the answers compare)."""
    with svc.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.kind == "extraction").limit(5))]


def changed_then_migrated(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine, *changes: str
) -> LedgerService:
    """A ledger on ``old_store`` migrated to the head after it got a small scenario's rows (60
    lots, seed 8) and then the SQL ``changes`` (rows changed before the migration)."""
    direct = LedgerService(make_store([MIGRATIONS_DIR]), identity(), batch_size=50, clock=CLOCK)
    direct.record(generate(lots=60, owner=OWNER, seed=8).events)
    copy_to_old(direct.engine, old_store)
    with old_store.begin() as conn:
        for sql in changes:
            conn.execute(text(sql))
    upgrade(old_store, LOCATIONS)
    return LedgerService(old_store, identity(), batch_size=50, clock=CLOCK)


class MigrationRoundTrip:
    """The course of a test that migrates a store with data and back. Built: the first half of a
    scenario recorded on the current schema (:attr:`direct`; its answers clean) and copied into
    ``old_store`` as that store's revision holds it. The test snapshots the old rows, then
    :meth:`migrate`, checks the new rows and :meth:`answers_match_the_first_half`;
    :meth:`downgrade` and compares the rows with its snapshot; :meth:`finish` migrates again,
    records the second half on both ledgers and compares their answers (chain and audit clean)."""

    def __init__(self, make_store: Callable[[Sequence[Path]], Engine], old_store: Engine, *, seed: int) -> None:
        self.scenario = generate(lots=300, owner=OWNER, seed=seed)
        self.half = len(self.scenario.events) // 2
        self.me = identity()
        self.direct = LedgerService(make_store([MIGRATIONS_DIR]), self.me, batch_size=50, clock=CLOCK)
        self.direct.record(self.scenario.events[: self.half])
        self.mined = mined_lots(self.direct)
        self.batteries = self.scenario.batteries[:6]
        self.half_answers = answers(self.direct, self.batteries, self.mined)
        assert self.half_answers["verify"][0] and self.half_answers["audit"] == []
        self.old = old_store
        copy_to_old(self.direct.engine, old_store)

    def migrate(self) -> None:
        upgrade(self.old, LOCATIONS)

    def migrated(self) -> LedgerService:
        """A ledger on the migrated store (the same identity, batch size and clock as :attr:`direct`)."""
        return LedgerService(self.old, self.me, batch_size=50, clock=CLOCK)

    def answers_match_the_first_half(self) -> None:
        assert answers(self.migrated(), self.batteries, self.mined) == self.half_answers

    def downgrade(self, revision: str) -> None:
        cfg = alembic_config(LOCATIONS)
        with self.old.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def finish(self) -> None:
        self.migrate()
        migrated = self.migrated()
        for svc in (self.direct, migrated):
            svc.record(self.scenario.events[self.half :])
        expected = answers(self.direct, self.batteries, self.mined)
        assert expected["verify"][0] and expected["audit"] == []
        assert answers(migrated, self.batteries, self.mined) == expected
