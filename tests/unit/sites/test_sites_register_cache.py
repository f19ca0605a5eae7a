"""The ledger reads the site register once per summary or trace, not the whole register each
time: the register's view is kept per register version and the version is all a summary asks
(one small query); a write to the register — through this service or another process's —
changes the version, so the next summary never sees a stale view. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI, sample, site
from sqlalchemy import Engine, event

from batpass.core.clock import FixedClock
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.sites import FINDING, MIGRATIONS_DIR, DueDiligenceEvidence, Site, SiteService
from batpass.trust import NodeIdentity, generate_keypair

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
OWNER = "did:web:mines.example"


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _register_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if " from sites" in s]


@pytest.fixture
def world(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[Engine, SiteService, LedgerService]:
    engine = make_store([MIGRATIONS_DIR, LEDGER_MIGRATIONS])
    sites = SiteService(engine, clock=FixedClock(NOW))
    ledger = LedgerService(
        engine,
        NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-1")]),
        high_risk_sites=sites.site_facts,
        clock=FixedClock(NOW),
    )
    ledger.record(
        [
            {
                "id": f"ev-{lot}",
                "kind": "extraction",
                "owner": OWNER,
                "at": f"2026-01-01T00:00:0{i}Z",
                "site": {"id": mine, "country": "CD"},
                "outputs": [{"lot": lot, "material": "cobalt_hydroxide", "quantity": {"value": 100, "unit": "kg"}}],
            }
            for i, (mine, lot) in enumerate((("MINE-CD-2", "co-2"), ("MINE-CD-1", "co-1")))
        ]
    )
    sites.register(Site.from_json(KOLWEZI))
    sites.register(Site.from_json(HAUT_LOMAMI))
    sites.load_cahra(sample())
    return engine, sites, ledger


def test_a_summary_asks_the_register_one_small_query(world: tuple[Engine, SiteService, LedgerService]) -> None:
    engine, _, ledger = world
    ledger.summary(OWNER, "co-2")  # the view of this register version is read once
    with _statements(engine) as seen:
        first = ledger.summary(OWNER, "co-2")
        ledger.trace(OWNER, "co-1")
    reads = _register_reads(seen)
    assert len(reads) == 2, reads  # one per summary or trace, and only the version
    assert all("from sites_register" in s for s in reads), reads
    assert first.elements["Co"].sites.flagged == pytest.approx(1.0)


def test_never_stale_after_a_write_here_or_elsewhere(world: tuple[Engine, SiteService, LedgerService]) -> None:
    engine, sites, ledger = world
    assert ledger.summary(OWNER, "co-2").elements["Co"].sites.findings == ()
    sites.add_evidence("MINE-CD-2", DueDiligenceEvidence(FINDING, "doc:edd-1", dt.date(2026, 11, 30)))
    assert [f.reference for f in ledger.summary(OWNER, "co-2").elements["Co"].sites.findings] == ["doc:edd-1"]
    # another process's register service (the CLI) writes: this ledger sees it at once
    other = SiteService(engine, clock=FixedClock(NOW))
    other.register(Site.from_json(site(HAUT_LOMAMI, certifications=[])))
    assert ledger.summary(OWNER, "co-1").elements["Co"].sites.certified == pytest.approx(0.0)
    other.register(Site.from_json(site(KOLWEZI, region="CD-HL")))  # moved out of the listed region
    assert ledger.summary(OWNER, "co-2").elements["Co"].sites.flagged == pytest.approx(0.0)
    # and a certification that lapses with the day is judged on the day asked
    assert sites.site_facts(today=dt.date(2030, 1, 1)).certified == frozenset()
