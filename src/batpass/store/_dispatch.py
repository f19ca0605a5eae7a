"""The outbox dispatcher: sends node-to-node messages as soon as their transaction commits.

``batpass.store.enqueue`` writes a message in the use case's transaction and, on commit, wakes
this dispatcher through :func:`batpass.store.set_wakeup` — no polling delay (a node with several
workers on PostgreSQL also wakes it through ``LISTEN``/``NOTIFY``, docs/workers.md). A slow timer
still runs (messages written by another process, such as a CLI command, and retries that fall
due). Delivery is at least once: due rows are claimed in a write transaction
(:func:`batpass.store.claim`: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) that moves them a lease ahead, so several dispatchers on one database never send a
message twice at once, and a dispatcher that dies mid-send leaves its rows due again when the
lease runs out. Every request carries ``Idempotency-Key``, so the receiver applies a message once
however often it arrives. Failures back off exponentially with jitter; a 4xx answer other than
408/425/429 is final (the message is marked ``dead``) unless the message was enqueued with
``retry_refused`` (a passport's backup copy), as is running out of attempts. The cause — the
transport error, or the status with the receiver's problem detail — is kept in ``last_error``.

Claiming never waits for a send: each destination (a receiving node: scheme, host and port) has
its own lane, a task that sends that destination's claimed messages one at a time in the order
they were claimed (oldest due first), while other destinations' lanes and the next claim go on.
So a callback written while another send waits on a slow receiver (one querying the sender's
credentials on its first message, say) leaves at once for any other node, and a node's messages
to one receiver arrive in the order they fell due (a failed one is retried when its back-off
ends, after the ones behind it). At most :data:`HELD` claimed messages wait in lanes; claims
resume as they are recorded. Stopping lets the lanes finish for :data:`STOP_GRACE_S`, then cancels
them: what they held unsent is due again when its lease runs out, as after a crash between claim
and send.

A kind may have its own ``sender`` (``senders``): a message of that kind is handed to it instead
of being posted to its destination — a message that travels through a connector's data plane,
whose address and token are only known when it leaves (the same claim, lease and back-off). Such
a send runs beside the dispatcher's loop, not in its batch: opening a connector's channel waits
for protocol messages this same outbox sends (a contract negotiation's), which a batch waiting
for that send would hold back.

A kind may instead have a sender of several messages at once (``batch_senders``): the rows of
that kind claimed together are handed to it in one call (it may post those for one partner in
one request), beside the loop in one slot, and each row's result — an answer, or why there was
none — is recorded as that row's alone would be (the same back-off, final refusals, attempts).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from sqlalchemy import Engine, and_, select, update

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import BatpassError
from batpass.store._workers import claim
from batpass.store.outbox import outbox_table, set_wakeup
from batpass.store.uow import UnitOfWork

__all__ = ["OutboxDispatcher", "backoff_seconds"]

log = logging.getLogger("batpass.outbox")

#: a kind's sender of several messages: each row's answer, or why it got none, in order
BatchSender = Callable[[list[dict[str, Any]]], Awaitable[Sequence[httpx.Response | BaseException]]]

LEASE = dt.timedelta(seconds=30)
IDLE_WAIT_S = 2.0
RETRYABLE_4XX = {408, 425, 429}
#: sends by a kind's own sender running at once (each may hold a partner's connection)
BESIDE = 8
#: claimed messages waiting in the destinations' lanes at most; claims pause beyond it
HELD = 200
#: how long a stop waits for the loop, then for the lanes' sends under way
STOP_GRACE_S = 5.0


def backoff_seconds(
    attempts: int, *, base: float = 0.25, cap: float = 60.0, rng: Callable[[], float] = random.random
) -> float:
    """Exponential back-off with full jitter: ``uniform(0.5, 1) * min(cap, base * 2**attempts)``."""
    return float(min(cap, base * (2.0**attempts)) * (0.5 + 0.5 * rng()))


class OutboxDispatcher:
    def __init__(
        self,
        engine: Engine,
        client: httpx.AsyncClient,
        *,
        sign_headers: Callable[[dict[str, Any]], dict[str, str]] | None = None,
        senders: Mapping[str, Callable[[dict[str, Any]], Awaitable[httpx.Response]]] | None = None,
        batch_senders: Mapping[str, BatchSender] | None = None,
        batch: int = 50,
        clock: Clock = SystemClock(),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._client = client
        self._sign_headers = sign_headers
        self._senders = dict(senders or {})
        self._batch_senders = dict(batch_senders or {})
        self._inflight: dict[str, asyncio.Task[None]] = {}
        #: each destination's claimed messages not yet sent, in claim order, and the task sending them
        self._queues: dict[str, collections.deque[dict[str, Any]]] = {}
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._paused = False  # claims paused at HELD held messages, until one is released
        #: results of finished sends not yet written, and the task writing them
        self._results: list[tuple[dict[str, Any], int | None, Any, str | None, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._beside = asyncio.Semaphore(BESIDE)
        self._batch = batch
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.sent = 0
        self.failed = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False  # a worker that leads again restarts its dispatcher
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        set_wakeup(self.wake)
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        lanes = set(self._lanes.values())
        for task in set(self._inflight.values()) - lanes:
            task.cancel()
        self._stopping = True
        set_wakeup(None)
        if self._event is not None:
            self._event.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=STOP_GRACE_S)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        # the lanes finish (and record) the sends they hold within the grace; the rest is cancelled,
        # unrecorded, and due again when its lease runs out
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    def wake(self) -> None:
        """Thread-safe: called by the unit of work right after a commit that enqueued messages."""
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(event.set)

    # -- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._event is not None
        while not self._stopping:
            try:
                wait = await self._dispatch()
            except Exception:  # the loop must survive a database hiccup; it retries on the timer
                log.exception("outbox dispatch failed")
                wait = IDLE_WAIT_S
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=wait)
            self._event.clear()

    async def dispatch_due(self) -> float:
        """Send every due message once and wait for those sends; returns how long to wait before
        the next due one (the loop itself claims again without waiting for the sends)."""
        wait = await self._dispatch()
        await self.drain()
        return wait

    async def _dispatch(self) -> float:
        """Claim the due messages and start their sends; returns how long to wait before the next
        claim (none when the claim was full: more may be due)."""
        limit = min(self._batch, HELD - len(self._inflight))
        if limit <= 0:  # the lanes hold enough: a released message wakes the loop
            self._paused = True
            return IDLE_WAIT_S
        claimed = await anyio.to_thread.run_sync(self._claim_due, limit)
        if claimed:
            together: dict[str, list[dict[str, Any]]] = {}
            for row in claimed:
                if row["id"] in self._inflight:
                    continue
                if row["kind"] in self._batch_senders:  # sent with the others of its kind
                    together.setdefault(row["kind"], []).append(row)
                elif row["kind"] not in self._senders:
                    self._queue(row)
                else:  # its own sender, beside this loop
                    self._inflight[row["id"]] = asyncio.create_task(self._send_beside(row))
            for kind, rows in together.items():
                task = asyncio.create_task(self._send_together(kind, rows))
                self._inflight.update((row["id"], task) for row in rows)
            if len(claimed) >= limit:
                return 0.0
        return await anyio.to_thread.run_sync(self._next_due_in)

    def _queue(self, row: dict[str, Any]) -> None:
        """Put ``row`` at the end of its destination's lane, starting the lane if it is idle."""
        dest = _destination(row["destination"])
        self._queues.setdefault(dest, collections.deque()).append(row)
        lane = self._lanes.get(dest)
        if lane is None or lane.done():
            lane = self._lanes[dest] = asyncio.create_task(self._send_lane(dest), name=f"outbox-lane {dest}")
        self._inflight[row["id"]] = lane

    async def _send_lane(self, dest: str) -> None:
        """Send ``dest``'s messages one after another until its lane is empty."""
        queue = self._queues[dest]
        try:
            while queue:
                row = queue[0]
                try:
                    await self._send(row)
                except Exception:  # recorded as nothing: the row falls due again when its lease runs out
                    log.exception("outbox send of %s failed", row["kind"])
                finally:
                    queue.popleft()
                    self._release(row)
        finally:
            for row in queue:  # cancelled (a stop): left to their leases
                self._release(row)
            queue.clear()
            if self._lanes.get(dest) is asyncio.current_task():
                del self._lanes[dest]
                del self._queues[dest]

    def _claim_due(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Take the due messages (at most ``limit``, else the batch): in one write transaction,
        lock them (skipping those another dispatcher holds) and move them a lease ahead, so nobody
        else takes them meanwhile. Oldest due first, the order each destination's lane sends in."""
        now = self._clock.now()
        t = outbox_table
        due = (
            select(t)
            .where(and_(t.c.status == "pending", t.c.next_attempt_at <= now))
            .order_by(t.c.next_attempt_at, t.c.created_at, t.c.id)
            .limit(limit or self._batch)
        )
        with UnitOfWork(self._engine) as uow:
            rows = [dict(r) for r in claim(uow, due)]
            if rows:
                uow.conn.execute(
                    update(t).where(t.c.id.in_([r["id"] for r in rows])).values(next_attempt_at=now + LEASE)
                )
            uow.commit()
        return rows

    def _next_due_in(self) -> float:
        t = outbox_table
        with self._engine.connect() as conn:
            nxt = conn.execute(
                select(t.c.next_attempt_at).where(t.c.status == "pending").order_by(t.c.next_attempt_at).limit(1)
            ).scalar_one_or_none()
        if nxt is None:
            return IDLE_WAIT_S
        delta: float = (nxt - self._clock.now()).total_seconds()
        return max(0.0, min(IDLE_WAIT_S, delta))

    async def _send(self, row: dict[str, Any]) -> None:
        headers = dict(row["headers"] or {})
        headers["Idempotency-Key"] = row["idempotency_key"]
        status: int | None = None
        body: Any = None
        error: str | None = None
        try:
            sender = self._senders.get(row["kind"])
            if sender is not None:  # its own way out (a connector's data plane)
                resp = await sender(row)
            else:
                resp = await self._post(row, headers)
            status = resp.status_code
            try:
                body = resp.json()
            except ValueError:
                body = {"text": resp.text[:2000]}
        except (httpx.HTTPError, BatpassError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        await self._record_soon(row, status, body, error)

    async def _send_beside(self, row: dict[str, Any]) -> None:
        try:
            async with self._beside:
                await self._send(row)
        except Exception:  # recorded as nothing: the row falls due again when its lease runs out
            log.exception("outbox send of %s failed", row["kind"])
        finally:
            self._release(row)

    async def _send_together(self, kind: str, rows: list[dict[str, Any]]) -> None:
        try:
            async with self._beside:
                try:
                    sent: list[httpx.Response | BaseException] = [*await self._batch_senders[kind](rows)]
                except (httpx.HTTPError, BatpassError) as exc:
                    sent = [exc] * len(rows)
                if len(sent) != len(rows):
                    raise RuntimeError(f"the {kind} sender answered {len(sent)} of {len(rows)} messages")
                await asyncio.gather(*(self._record_sent(row, s) for row, s in zip(rows, sent, strict=True)))
        except Exception:  # recorded as nothing: the rows fall due again when their lease runs out
            log.exception("outbox send of %s failed", kind)
        finally:
            for row in rows:
                self._release(row)

    def _release(self, row: dict[str, Any]) -> None:
        """``row``'s send is over (recorded, or left to its lease); a paused loop claims again."""
        self._inflight.pop(row["id"], None)
        if self._paused and self._event is not None:
            self._paused = False
            self._event.set()

    async def _record_sent(self, row: dict[str, Any], sent: httpx.Response | BaseException) -> None:
        if not isinstance(sent, httpx.Response):
            await self._record_soon(row, None, None, f"{type(sent).__name__}: {sent}")
            return
        try:
            body = sent.json()
        except ValueError:
            body = {"text": sent.text[:2000]}
        await self._record_soon(row, sent.status_code, body, None)

    async def drain(self) -> None:
        """Wait for the sends under way (the lanes' and those beside the loop): a test's or a stop's."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def _post(self, row: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        if self._sign_headers is not None:
            # may fetch a partner's token: off the event loop, and a failure is a failed attempt
            headers.update(await anyio.to_thread.run_sync(self._sign_headers, row))
        if row["body"] is None:
            return await self._client.request(row["method"], row["destination"], headers=headers)
        headers.setdefault("Content-Type", "application/json")
        return await self._client.request(
            row["method"], row["destination"], headers=headers, content=json.dumps(row["body"]).encode()
        )

    async def _record_soon(self, row: dict[str, Any], status: int | None, body: Any, error: str | None) -> None:
        """Record one send's result, written with the results of the sends that finished meanwhile
        in one write transaction (on SQLite each write transaction queues for the one database
        lock, and a send that waits for it holds its slot among the :data:`BESIDE` sends)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((row, status, body, error, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="outbox-results")
        await done

    async def _flush(self) -> None:
        while self._results:
            batch, self._results = self._results, []
            try:
                await anyio.to_thread.run_sync(self._record_many, [r[:4] for r in batch])
            except BaseException as exc:  # each waiting send sees the failure (nothing recorded)
                for *_, done in batch:
                    if not done.done():
                        if isinstance(exc, Exception):
                            done.set_exception(exc)
                        else:
                            done.cancel()
                if not isinstance(exc, Exception):
                    raise
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _record_many(self, results: list[tuple[dict[str, Any], int | None, Any, str | None]]) -> None:
        with UnitOfWork(self._engine) as uow:
            for row, status, body, error in results:
                self._record_in(uow, row, status, body, error)
            uow.commit()

    def _record_in(
        self, uow: UnitOfWork, row: dict[str, Any], status: int | None, body: Any, error: str | None
    ) -> None:
        t = outbox_table
        now = self._clock.now()
        attempts = int(row["attempts"]) + 1
        values: dict[str, Any] = {"attempts": attempts, "response_status": status, "response_body": body}
        if status is not None and 200 <= status < 300:
            values.update(status="sent", sent_at=now, last_error=None)
            self.sent += 1
        else:
            refused = status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX
            final = refused and not row.get("retry_refused")
            if final or attempts >= int(row["max_attempts"]):
                values.update(status="dead", last_error=error or _refusal(status, body))
                self.failed += 1
            else:
                values.update(
                    next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts)),
                    last_error=error or _refusal(status, body),
                )
        uow.conn.execute(update(t).where(t.c.id == row["id"]).values(**values))


def _destination(url: str) -> str:
    """The receiving node of a message: its URL's scheme, host and port (one lane each)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _refusal(status: int | None, body: Any) -> str:
    """``HTTP 413: <the receiver's detail>`` — the cause a person can act on."""
    detail = body.get("detail") or body.get("message") or body.get("text") if isinstance(body, dict) else None
    return f"HTTP {status}" + (f": {str(detail)[:500]}" if detail else "")
