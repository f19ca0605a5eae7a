"""A node served by two worker processes on PostgreSQL (``batpass serve --workers 2``,
docs/workers.md): one worker runs the background jobs (the outbox dispatcher among them), elected
by an advisory lock; a message committed by another process reaches that dispatcher through
``LISTEN``/``NOTIFY`` and is delivered once; when the leading worker dies, another one takes the
jobs over and delivery goes on."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from batpass.demo.harness import NodeSpec, RunningNode, federation
from batpass.store import UnitOfWork, enqueue, make_engine

pytestmark = pytest.mark.integration

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LEADS = re.compile(r"worker pid (\d+) now runs the background jobs")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RunningNode, str]]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    spec = NodeSpec(
        "maker",
        ("catena-x",),
        legal_name="Maker AG",
        bpnl="BPNL00000003AYRE",
        db_url=PG_URL,
        db_schema=schema,
        workers=2,
        extra_env={"BATPASS_LOG_LEVEL": "info", "BATPASS_LOG_FORMAT": "text"},
    )
    try:
        with federation(tmp_path, [spec]) as runs:
            yield runs[0], schema
    finally:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _leaders(run: RunningNode) -> list[int]:
    assert run.log_path is not None
    return [int(m.group(1)) for m in LEADS.finditer(run.log_path.read_text(errors="replace"))]


def _until(cond: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.05)


def _send(schema: str, url: str, key: str) -> None:
    """Write a message as another process (a CLI command) would: in the node's schema, not
    through any worker."""
    engine = make_engine(PG_URL, schema=schema)
    try:
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="ping", destination=url, body={"key": key}, idempotency_key=key)
            uow.commit()
    finally:
        engine.dispose()


def test_one_worker_runs_the_jobs_and_another_takes_over_when_it_dies(
    served: tuple[RunningNode, str], receiver: Any
) -> None:
    run, schema = served
    workers = run.worker_pids()
    assert len(workers) == 2
    _until(lambda: len(_leaders(run)) >= 1)
    (leader,) = _leaders(run)  # one worker leads, the other stands by
    assert leader in workers

    _send(schema, receiver.url, "before")
    _until(lambda: receiver.deliveries["before"] >= 1)
    assert receiver.deliveries == {"before": 1}

    os.kill(leader, signal.SIGKILL)  # its session ends, and with it the advisory lock
    _until(lambda: len(_leaders(run)) >= 2)
    assert len(_leaders(run)) == 2, run.log_path.read_text(errors="replace")[-4000:] if run.log_path else ""
    first, second = _leaders(run)
    assert first == leader and second != leader

    _send(schema, receiver.url, "after")
    _until(lambda: receiver.deliveries["after"] >= 1)
    assert receiver.deliveries == {"before": 1, "after": 1}
