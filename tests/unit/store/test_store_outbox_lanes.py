"""The outbox dispatcher's lanes, on each store: one slow receiver holds back only its own messages.

Each destination (scheme, host, port) is a lane sending its messages one at a time in the order
they fell due; other destinations and the next claim do not wait for it. The receivers here are
``httpx.MockTransport`` handlers that block on events, so each test decides when a send ends:
nothing is judged by elapsed time (the timeouts only bound a failing run).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from batpass.core.clock import FixedClock, utc_now
from batpass.store import OutboxDispatcher, UnitOfWork, _dispatch, enqueue, outbox_table

BOUND_S = 30.0  # how long a failing run waits before it fails

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def _rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["idempotency_key"]: dict(r) for r in conn.execute(select(outbox_table)).mappings()}


def _enqueue(engine: Engine, *messages: tuple[str, str]) -> None:
    """``(idempotency key, destination)`` pairs, written in one transaction in this order."""
    with UnitOfWork(engine) as uow:
        for key, destination in messages:
            enqueue(uow, kind="ping", destination=destination, body={"key": key}, idempotency_key=key)
        uow.commit()


def _run(engine: Engine, handler: Handler, work: Callable[[OutboxDispatcher], Awaitable[None]]) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            d = OutboxDispatcher(engine, client)
            await d.start()
            try:
                await work(d)
            finally:
                await d.stop()

    asyncio.run(main())


def test_a_slow_receiver_does_not_hold_back_another_destinations_message(engine: Engine) -> None:
    """A callback written while a send to another node waits on that node leaves at once: the
    slow send is still unanswered when the other destination has received its message."""
    slow_started, slow_release, fast_received = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(req: httpx.Request) -> httpx.Response:
        if req.url.host == "slow.example":
            slow_started.set()
            await slow_release.wait()
        else:
            fast_received.set()
        return httpx.Response(202, json={})

    async def work(d: OutboxDispatcher) -> None:
        _enqueue(engine, ("k-slow", "https://slow.example/v1/in"))
        await asyncio.wait_for(slow_started.wait(), BOUND_S)
        _enqueue(engine, ("k-fast", "https://fast.example/v1/in"))  # claimed while the slow send waits
        await asyncio.wait_for(fast_received.wait(), BOUND_S)
        assert not slow_release.is_set()
        # the fast message is recorded while the slow one is still unanswered
        await asyncio.wait_for(_until(lambda: d.sent == 1), BOUND_S)
        assert _rows(engine)["k-slow"]["status"] == "pending"
        slow_release.set()
        await d.drain()

    _run(engine, handler, work)
    rows = _rows(engine)
    assert {k: (r["status"], r["attempts"]) for k, r in rows.items()} == {"k-slow": ("sent", 1), "k-fast": ("sent", 1)}
    assert rows["k-fast"]["sent_at"] <= rows["k-slow"]["sent_at"]


def test_one_destinations_messages_leave_one_at_a_time_in_order(engine: Engine) -> None:
    """Messages to one node are never in flight together and arrive in the order they were
    written, while another node's messages go beside them."""
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    arrived: dict[str, list[str]] = {}

    async def handler(req: httpx.Request) -> httpx.Response:
        host = req.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        most[host] = max(most.get(host, 0), in_flight[host])
        arrived.setdefault(host, []).append(req.headers["Idempotency-Key"])
        for _ in range(5):  # let any other send of this destination start meanwhile
            await asyncio.sleep(0)
        in_flight[host] -= 1
        return httpx.Response(202, json={})

    keys = [(f"k-{n}", f"https://{'a' if n % 3 else 'b'}.example:8443/v1/in/{n}") for n in range(12)]

    async def work(d: OutboxDispatcher) -> None:
        _enqueue(engine, *keys)
        await asyncio.wait_for(_until(lambda: d.sent == len(keys)), BOUND_S)
        await d.drain()

    _run(engine, handler, work)
    assert most == {"a.example": 1, "b.example": 1}
    for host in ("a", "b"):
        assert arrived[f"{host}.example"] == [k for k, dest in keys if dest.startswith(f"https://{host}.")]
    assert {r["status"] for r in _rows(engine).values()} == {"sent"}


def test_a_stop_leaves_a_lanes_unsent_messages_to_their_lease(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopping while a lane waits on its receiver beyond the grace records nothing for its
    messages (no attempt counted, none dead); after the lease another dispatcher sends them, in
    their order."""
    monkeypatch.setattr(_dispatch, "STOP_GRACE_S", 0.1)  # the receiver never answers: no need to wait
    started = asyncio.Event()

    async def stuck(req: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    keys = [(f"k-{n}", "https://slow.example/v1/in") for n in range(3)]

    async def work(d: OutboxDispatcher) -> None:
        _enqueue(engine, *keys)
        await asyncio.wait_for(started.wait(), BOUND_S)

    _run(engine, stuck, work)
    rows = _rows(engine)
    assert {k: (r["status"], r["attempts"]) for k, r in rows.items()} == {k: ("pending", 0) for k, _ in keys}

    arrived: list[str] = []

    async def answers(req: httpx.Request) -> httpx.Response:
        arrived.append(req.headers["Idempotency-Key"])
        return httpx.Response(202, json={})

    async def after_lease() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answers)) as client:
            later = FixedClock(utc_now() + _dispatch.LEASE + dt.timedelta(seconds=1))
            d = OutboxDispatcher(engine, client, clock=later)
            await d.dispatch_due()
            return d.sent

    assert asyncio.run(after_lease()) == 3
    assert arrived == [k for k, _ in keys]
    assert {r["status"] for r in _rows(engine).values()} == {"sent"}


def test_claims_pause_at_the_held_limit_and_resume_as_sends_end(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No more than ``HELD`` claimed messages wait in lanes (the rest stay unclaimed, free for
    another worker); each recorded send lets the loop claim again, until all are sent."""
    monkeypatch.setattr(_dispatch, "HELD", 2)
    monkeypatch.setattr(_dispatch, "IDLE_WAIT_S", 60.0)  # only a released message may wake the loop
    release = asyncio.Event()
    first_started = asyncio.Event()
    arrived: list[str] = []

    async def handler(req: httpx.Request) -> httpx.Response:
        arrived.append(req.headers["Idempotency-Key"])
        first_started.set()
        await release.wait()
        return httpx.Response(202, json={})

    keys = [(f"k-{n}", "https://slow.example/v1/in") for n in range(5)]

    async def work(d: OutboxDispatcher) -> None:
        _enqueue(engine, *keys)
        await asyncio.wait_for(first_started.wait(), BOUND_S)
        rows = _rows(engine)
        leased = [k for k, r in rows.items() if r["next_attempt_at"] > r["created_at"] + dt.timedelta(seconds=1)]
        assert sorted(leased) == ["k-0", "k-1"]
        release.set()
        await asyncio.wait_for(_until(lambda: d.sent == len(keys)), BOUND_S)
        await d.drain()

    _run(engine, handler, work)
    assert arrived == [k for k, _ in keys]


async def _until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.005)
