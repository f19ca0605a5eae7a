"""The outbox dispatcher on each store: sent on commit, retried with back-off, refusals kept."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from batpass.core.logs import REQUEST_ID
from batpass.store import OutboxDispatcher, UnitOfWork, _dispatch, backoff_seconds, enqueue, outbox_table


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox_table)).mappings()]


def _run(engine: Engine, handler: Any, work: Any) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            d = OutboxDispatcher(engine, client)
            await d.start()
            try:
                return await work(d)
            finally:
                await d.stop()

    return asyncio.run(main())


def test_sent_right_after_commit_with_idempotency_key(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # the fallback timer set beyond the wait, so only the commit's wake-up can send in time
    # (a bound of 1 s against the 2 s timer failed on a loaded machine)
    monkeypatch.setattr(_dispatch, "IDLE_WAIT_S", 60.0)
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(202, json={"ok": True})

    async def work(d: OutboxDispatcher) -> float:
        t0 = time.perf_counter()
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="ping", destination="https://b.example/v1/x", body={"n": 1}, idempotency_key="k-1")
            uow.commit()
        while d.sent == 0 and time.perf_counter() - t0 < 30:
            await asyncio.sleep(0.005)
        return time.perf_counter() - t0

    elapsed = _run(engine, handler, work)
    assert len(seen) == 1
    assert seen[0].headers["Idempotency-Key"] == "k-1"
    assert seen[0].read() == b'{"n": 1}'
    # woken by the commit, not by the fallback timer
    assert elapsed < 30
    (row,) = _rows(engine)
    assert row["status"] == "sent" and row["response_status"] == 202


def test_retries_with_back_off_then_succeeds(engine: Engine) -> None:
    calls: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(time.perf_counter())
        return httpx.Response(503) if len(calls) < 3 else httpx.Response(200, json={})

    async def work(d: OutboxDispatcher) -> None:
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="ping", destination="https://b.example/v1/x", body={})
            uow.commit()
        t0 = time.perf_counter()
        while d.sent == 0 and time.perf_counter() - t0 < 10:
            await asyncio.sleep(0.01)

    _run(engine, handler, work)
    assert len(calls) == 3
    (row,) = _rows(engine)
    assert row["status"] == "sent" and row["attempts"] == 3


def test_client_errors_are_final_and_kept(engine: Engine) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "bad"})

    async def work(d: OutboxDispatcher) -> None:
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="ping", destination="https://b.example/v1/x", body={})
            uow.commit()
        t0 = time.perf_counter()
        while d.failed == 0 and time.perf_counter() - t0 < 5:
            await asyncio.sleep(0.01)

    _run(engine, handler, work)
    (row,) = _rows(engine)
    assert row["status"] == "dead" and row["attempts"] == 1 and row["response_body"] == {"error": "bad"}


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_seconds(1, rng=lambda: 1.0) == 0.5
    assert backoff_seconds(3, rng=lambda: 1.0) == 2.0
    assert backoff_seconds(30, rng=lambda: 1.0) == 60.0
    assert backoff_seconds(3, rng=lambda: 0.0) == 1.0


def test_a_failing_header_hook_is_a_failed_attempt(engine: Engine) -> None:
    from batpass.core.errors import UpstreamUnavailable

    calls: list[int] = []

    def hook(row: dict[str, Any]) -> dict[str, str]:
        calls.append(1)
        raise UpstreamUnavailable("partner token endpoint down")

    def handler(req: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing is sent without the header")

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            d = OutboxDispatcher(engine, client, sign_headers=hook)
            await d.start()
            try:
                with UnitOfWork(engine) as uow:
                    enqueue(uow, kind="pact.event", destination="https://b.example/3/events", body={}, max_attempts=1)
                    uow.commit()
                t0 = time.perf_counter()
                while d.failed == 0 and time.perf_counter() - t0 < 5:
                    await asyncio.sleep(0.01)
            finally:
                await d.stop()

    asyncio.run(main())
    (row,) = _rows(engine)
    assert calls and row["status"] == "dead" and "token endpoint down" in row["last_error"]


def test_a_refused_message_is_final_unless_it_asks_to_be_retried(engine: Engine) -> None:
    """A 4xx is final (dead) for an ordinary message; one enqueued with ``retry_refused`` (a
    passport's backup copy) is retried with back-off, and both keep the receiver's cause."""
    calls: dict[str, int] = {}

    def handler(req: httpx.Request) -> httpx.Response:
        calls[req.url.path] = calls.get(req.url.path, 0) + 1
        return httpx.Response(413, json={"detail": "the request body is over this route's limit of 1024 bytes"})

    async def work(d: OutboxDispatcher) -> None:
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="once", destination="https://b.example/once", body={}, idempotency_key="k-once")
            enqueue(
                uow,
                kind="passport.backup",
                destination="https://b.example/copy",
                body={},
                idempotency_key="k-copy",
                retry_refused=True,
            )
            uow.commit()
        t0 = time.perf_counter()
        while calls.get("/copy", 0) < 2 and time.perf_counter() - t0 < 10:
            await asyncio.sleep(0.01)

    _run(engine, handler, work)
    rows = {r["idempotency_key"]: r for r in _rows(engine)}
    once, copy = rows["k-once"], rows["k-copy"]
    assert once["status"] == "dead" and once["attempts"] == 1 and calls["/once"] == 1
    assert copy["status"] == "pending" and copy["attempts"] >= 2 and calls["/copy"] >= 2
    for row in (once, copy):
        assert row["last_error"] == "HTTP 413: the request body is over this route's limit of 1024 bytes"


def test_a_message_written_during_a_request_carries_its_request_id(engine: Engine) -> None:
    """The dispatcher sends later, outside the request: the id travels in the stored headers."""
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(202, json={})

    async def work(d: OutboxDispatcher) -> None:
        token = REQUEST_ID.set("req-outbox-1")
        try:
            with UnitOfWork(engine) as uow:
                enqueue(uow, kind="ping", destination="https://b.example/v1/x", body={}, idempotency_key="k-a")
                uow.commit()
        finally:
            REQUEST_ID.reset(token)
        with UnitOfWork(engine) as uow:  # outside a request: none
            enqueue(uow, kind="ping", destination="https://b.example/v1/y", body={}, idempotency_key="k-b")
            uow.commit()
        t0 = time.perf_counter()
        while d.sent < 2 and time.perf_counter() - t0 < 5:
            await asyncio.sleep(0.005)

    _run(engine, handler, work)
    assert sorted((r.url.path, r.headers.get("x-request-id")) for r in seen) == [
        ("/v1/x", "req-outbox-1"),
        ("/v1/y", None),
    ]


def test_sends_finishing_together_are_each_recorded_in_one_write(engine: Engine) -> None:
    """A kind's own sender (a connector's data plane) runs beside the loop; sends that finish
    together have their results written together — each row with its own outcome."""
    from sqlalchemy import event

    release = asyncio.Event()
    started: list[str] = []

    async def sender(row: dict[str, Any]) -> httpx.Response:
        started.append(row["idempotency_key"])
        await release.wait()
        n = int(row["body"]["n"])
        return httpx.Response(200, json={"n": n}) if n % 2 else httpx.Response(404, json={"detail": f"no {n}"})

    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
            d = OutboxDispatcher(engine, client, senders={"courier": sender})
            await d.start()
            try:
                with UnitOfWork(engine) as uow:
                    for n in range(6):
                        enqueue(uow, kind="courier", destination="https://b.example/in", body={"n": n})
                    uow.commit()
                t0 = time.perf_counter()
                while len(started) < 6 and time.perf_counter() - t0 < 10:
                    await asyncio.sleep(0.01)
                commits.clear()
                release.set()
                while d.sent + d.failed < 6 and time.perf_counter() - t0 < 20:
                    await asyncio.sleep(0.01)
                await d.drain()
            finally:
                await d.stop()

    asyncio.run(main())
    by_n = {r["body"]["n"]: r for r in _rows(engine)}
    for n, row in by_n.items():
        if n % 2:
            assert row["status"] == "sent" and row["response_body"] == {"n": n}
        else:
            assert row["status"] == "dead" and row["last_error"] == f"HTTP 404: no {n}"
        assert row["attempts"] == 1
    assert len(by_n) == 6 and len(commits) < 6
