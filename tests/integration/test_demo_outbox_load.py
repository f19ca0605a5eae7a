"""The outbox under the demo's load (issue 24): the serving demo's nodes, SQLite each, write and
deliver hundreds of messages (passport backup copies, PACT events, DSP callbacks) while their
routes write too. Claims are taken in write transactions (``BEGIN IMMEDIATE``), so no node's log
holds a "database is locked" error, and no message was given up on."""

from __future__ import annotations

import pytest
from demo_runner import DemoRun

from batpass.store import make_engine, outbox_counts

pytestmark = pytest.mark.integration


def test_no_node_logged_database_is_locked_under_the_demos_load(demo_run: DemoRun) -> None:
    logs = sorted((demo_run.out / "federation").glob("*/serve.log"))
    assert len(logs) == len(demo_run.summary["nodes"])
    locked = {
        log.parent.name: [
            line[:300] for line in log.read_text(errors="replace").splitlines() if "database is locked" in line
        ]
        for log in logs
    }
    assert {name: lines for name, lines in locked.items() if lines} == {}
    failed = {log.parent.name: "outbox dispatch failed" in log.read_text(errors="replace") for log in logs}
    assert not any(failed.values()), failed
    delivered = 0
    for db in sorted((demo_run.out / "federation").glob("*/*.db")):
        engine = make_engine(f"sqlite:///{db}")
        try:
            counts = outbox_counts(engine)
        finally:
            engine.dispose()
        assert not any(by.get("dead") for by in counts.values()), (db.parent.name, counts)
        delivered += sum(by.get("sent", 0) for by in counts.values())
    assert delivered >= 150  # at least a backup copy per battery passport
