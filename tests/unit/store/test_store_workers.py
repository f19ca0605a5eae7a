"""Several workers on one database (docs/workers.md), on SQLite and PostgreSQL.

Outbox delivery is at least once and applied once by its idempotency key: two dispatchers, each
with its own engine (as two worker processes have), race over one outbox while a writer keeps
enqueueing; a real HTTP receiver (``receiver``, tests/conftest.py) counts the deliveries of each
key. On PostgreSQL: one worker leads the background jobs (an advisory lock) and another takes
over when it dies, and a committed message is heard by every listening worker
(``LISTEN``/``NOTIFY``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import Engine, insert, select, text

from batpass.core.clock import FixedClock
from batpass.store import (
    OUTBOX_CHANNEL,
    Leadership,
    Listener,
    OutboxDispatcher,
    UnitOfWork,
    enqueue,
    exclusive,
    make_engine,
    node_schema,
    outbox_table,
)

MESSAGES = 120


def _second_engine(engine: Engine) -> Engine:
    """Another worker's engine on the same database (its own pool and connections)."""
    if engine.dialect.name == "sqlite":
        return make_engine(engine.url.render_as_string(hide_password=False))
    return make_engine(engine.url.render_as_string(hide_password=False), schema=node_schema(engine))


def _statuses(engine: Engine) -> collections.Counter[str]:
    with engine.connect() as conn:
        return collections.Counter(conn.execute(select(outbox_table.c.status)).scalars())


def test_two_dispatchers_racing_deliver_each_message_once(
    engine: Engine, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    other = _second_engine(engine)
    caplog.set_level(logging.WARNING)

    def write_all() -> None:
        # many small transactions, as requests handled by several workers write them
        for n in range(MESSAGES):
            with UnitOfWork(engine if n % 2 else other) as uow:
                enqueue(uow, kind="ping", destination=receiver.url, body={"n": n}, idempotency_key=f"k-{n}")
                uow.commit()

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            first, second = OutboxDispatcher(engine, client, batch=7), OutboxDispatcher(other, client, batch=7)
            await first.start()
            await second.start()
            try:
                await anyio.to_thread.run_sync(write_all)
                for _ in range(600):
                    if first.sent + second.sent >= MESSAGES:
                        break
                    first.wake()
                    second.wake()
                    await asyncio.sleep(0.05)
            finally:
                await first.stop()
                await second.stop()
            # which dispatcher sends what is the scheduler's choice (one may win every claim on a
            # busy machine); what must hold is that together they sent each message once
            assert first.sent + second.sent == MESSAGES, (first.sent, second.sent)

    try:
        asyncio.run(main())
    finally:
        other.dispose()
    keys = {f"k-{n}" for n in range(MESSAGES)}
    assert set(receiver.applied) == keys
    assert {k: n for k, n in receiver.deliveries.items() if n != 1} == {}
    assert _statuses(engine) == {"sent": MESSAGES}
    locked = [r.getMessage() for r in caplog.records if "locked" in (r.getMessage() + str(r.exc_info)).lower()]
    assert locked == []
    assert not [r for r in caplog.records if r.name == "batpass.outbox"]


def test_a_claim_left_by_a_dead_worker_is_delivered_after_its_lease(engine: Engine, receiver: Any) -> None:
    """At least once: a worker that claimed a message and died before sending it (its lease
    moved the message ahead) leaves it to another worker once the lease has run out."""
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    with UnitOfWork(engine) as uow:
        enqueue(uow, kind="ping", destination=receiver.url, body={}, idempotency_key="k-orphan", now=now)
        uow.commit()

    async def main() -> tuple[int, int, int]:
        async with httpx.AsyncClient() as client:
            dead = OutboxDispatcher(engine, client, clock=FixedClock(now))
            claimed = await anyio.to_thread.run_sync(dead._claim_due)  # claims, then "dies"
            during = OutboxDispatcher(engine, client, clock=FixedClock(now + dt.timedelta(seconds=10)))
            await during.dispatch_due()  # still leased: nothing to send
            after = OutboxDispatcher(engine, client, clock=FixedClock(now + dt.timedelta(seconds=31)))
            await after.dispatch_due()
            return len(claimed), during.sent, after.sent

    assert asyncio.run(main()) == (1, 0, 1)
    assert receiver.deliveries == {"k-orphan": 1}
    assert _statuses(engine) == {"sent": 1}


def test_a_claim_needs_a_write_transaction(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's FOR UPDATE takes its row locks in any transaction")
    from batpass.store import claim

    with UnitOfWork(engine, write=False) as uow, pytest.raises(RuntimeError, match="writes"):
        claim(uow, select(outbox_table))


def _pg_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves one worker: it leads alone and has no LISTEN/NOTIFY")


def test_one_worker_leads_and_another_takes_over_when_it_dies(engine: Engine) -> None:
    _pg_only(engine)
    other = _second_engine(engine)
    events: list[str] = []

    def leadership(name: str, eng: Engine) -> Leadership:
        async def lead() -> None:
            events.append(f"{name} leads")

        async def step_down() -> None:
            events.append(f"{name} steps down")

        return Leadership(eng, "jobs", lead=lead, step_down=step_down, retry_s=0.05)

    async def until(cond: Any) -> None:
        for _ in range(200):
            if cond():
                return
            await asyncio.sleep(0.05)

    async def main() -> None:
        a, b = leadership("a", engine), leadership("b", other)
        await a.start()
        await until(lambda: a.leading)
        await b.start()
        await asyncio.sleep(0.5)  # b tries ten times meanwhile
        assert (a.leading, b.leading) == (True, False)
        await a.stop()  # the leader goes away: its session, and so its lock, ends
        await until(lambda: b.leading)
        assert b.leading
        await b.stop()

    try:
        asyncio.run(main())
    finally:
        other.dispose()
    assert events == ["a leads", "a steps down", "b leads", "b steps down"]


def test_a_leader_whose_connection_is_killed_steps_down_and_another_leads(engine: Engine) -> None:
    """A worker that dies (here: its session is terminated) releases the lock with its session."""
    _pg_only(engine)
    other = _second_engine(engine)
    leading: dict[str, bool] = {}

    def leadership(name: str, eng: Engine) -> Leadership:
        async def lead() -> None:
            leading[name] = True

        async def step_down() -> None:
            leading[name] = False

        return Leadership(eng, "jobs-kill", lead=lead, step_down=step_down, retry_s=0.05)

    async def main() -> None:
        a, b = leadership("a", engine), leadership("b", other)
        await a.start()
        for _ in range(200):
            if a.leading:
                break
            await asyncio.sleep(0.05)
        await b.start()
        await asyncio.sleep(0.3)
        assert leading == {"a": True}
        # kill the session holding the advisory lock, as a crashed worker's would end
        with engine.connect() as conn:
            killed = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid = hashtext(:schema)::oid AND objid = hashtext('jobs-kill')::oid"
                    ),
                    {"schema": node_schema(engine)},
                )
                .scalars()
                .all()
            )
            conn.commit()
        assert killed == [True]
        for _ in range(200):
            if b.leading:
                break
            await asyncio.sleep(0.05)
        assert b.leading and leading["b"] is True
        await a.stop()
        await b.stop()

    try:
        asyncio.run(main())
    finally:
        other.dispose()


def test_every_listening_worker_hears_a_committed_message_of_its_node(engine: Engine) -> None:
    _pg_only(engine)
    other = _second_engine(engine)
    schema = node_schema(engine)
    heard: dict[str, list[str]] = {"a": [], "b": []}

    async def main() -> None:
        # the channel is the database's: other tests' nodes (another xdist worker) notify on it
        # too, and a node's workers take only their schema's notes (node/app.py), as here
        def ours(name: str) -> Callable[[str], None]:
            return lambda note: heard[name].append(note) if note == schema else None

        a = Listener(engine, OUTBOX_CHANNEL, ours("a"), retry_s=0.05)
        b = Listener(other, OUTBOX_CHANNEL, ours("b"), retry_s=0.05)
        await a.start()
        await b.start()
        assert a.listening and b.listening
        try:

            def write(commit: bool) -> None:
                with UnitOfWork(other) as uow:
                    enqueue(uow, kind="ping", destination="https://b.example/x", body={}, idempotency_key=str(commit))
                    if commit:
                        uow.commit()

            await anyio.to_thread.run_sync(write, False)  # rolled back: nobody hears it
            await anyio.to_thread.run_sync(write, True)
            for _ in range(600):  # up to 30 s: on a loaded machine 4 s was seen to be too short
                if heard["a"] and heard["b"]:
                    break
                await asyncio.sleep(0.05)
        finally:
            await a.stop()
            await b.stop()

    try:
        asyncio.run(main())
    finally:
        other.dispose()
    assert heard == {"a": [schema], "b": [schema]}


def test_a_leader_whose_jobs_fail_to_start_stands_again(engine: Engine) -> None:
    """Jobs that fail to start (the database hiccups) stop, the lock is given up, and the worker
    stands for election again instead of leaving the node without its jobs."""
    _pg_only(engine)
    events: list[str] = []

    async def lead() -> None:
        events.append("lead")
        if len(events) == 1:
            raise RuntimeError("the jobs could not start")

    async def step_down() -> None:
        events.append("step down")

    async def main() -> None:
        a = Leadership(engine, "jobs-fail", lead=lead, step_down=step_down, retry_s=0.05)
        await a.start()
        for _ in range(200):
            if events.count("lead") == 2:
                break
            await asyncio.sleep(0.05)
        assert a.leading
        await a.stop()

    asyncio.run(main())
    assert events == ["lead", "step down", "lead", "step down"]


def test_start_up_writes_run_one_worker_at_a_time(engine: Engine) -> None:
    """Workers start together; each writes its start-up rows (the offers it installs) if they are
    missing. Inside ``exclusive`` the second one waits and finds them written, where without it
    both would insert and one would fail to start."""
    _pg_only(engine)
    other = _second_engine(engine)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def start_up(eng: Engine) -> None:
        start.wait()
        try:
            with exclusive(eng, "start-up"), UnitOfWork(eng) as uow:
                if uow.conn.execute(select(outbox_table.c.id).where(outbox_table.c.id == "offer")).first() is None:
                    time.sleep(0.3)  # widen the window between the check and the insert
                    uow.conn.execute(insert(outbox_table).values(_row("offer")))
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_up, args=(eng,)) for eng in (engine, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.dispose()
    assert errors == []
    assert _statuses(engine) == {"pending": 1}


def _row(msg_id: str) -> dict[str, Any]:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    return {
        "id": msg_id,
        "kind": "ping",
        "destination": "https://b.example/x",
        "method": "POST",
        "headers": {},
        "body": None,
        "idempotency_key": msg_id,
        "status": "pending",
        "attempts": 0,
        "max_attempts": 1,
        "next_attempt_at": now,
        "created_at": now,
    }
