"""The two :class:`~batpass.dataspace.ports.ProcessNotifier` implementations: how a consumer
awaiting a provider's callback (agreement, finalization, transfer start) hears that it came.

- :class:`InProcessNotifier` (one worker): asyncio events keyed by process id. The callback
  handler's unit of work sets them after it commits, through ``loop.call_soon_threadsafe`` on each
  waiter's own loop, because a handler may run in a worker thread (``anyio.to_thread``, a test
  client's portal) while the waiter sits on the server's loop.
- :class:`PgNotifier` (several workers sharing one PostgreSQL database): the handler's
  transaction also runs ``pg_notify('batpass_dsp', <process id>)``, which PostgreSQL delivers on
  commit to every connection that ``LISTEN``\\ s on the channel; each worker keeps one psycopg 3
  async connection listening and wakes its own waiters. It reconnects after a failure.

Neither carries the state itself: a waiter re-reads the stored process, and re-reads it every
250 ms anyway, so a notification lost to a reconnect or a crashed worker only delays an answer.
The payload is the process id (a ``urn:uuid``), well under PostgreSQL's 8000-byte limit; nodes
that share a database in separate schemas hear each other's ids, which wake nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from functools import partial

from sqlalchemy import Engine, func, select

from batpass.core.errors import ConfigurationError
from batpass.store import UnitOfWork

__all__ = ["CHANNEL", "InProcessNotifier", "PgNotifier"]

#: the PostgreSQL notification channel of the consumer's process changes
CHANNEL = "batpass_dsp"

log = logging.getLogger(__name__)


class _Waiter:
    """One watch: an event on the loop of the task that waits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Set the event from any thread, on the waiter's loop."""
        with contextlib.suppress(RuntimeError):  # the waiter's loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), max(timeout_s, 0.0))
        except TimeoutError:
            return False
        self._event.clear()
        return True


class InProcessNotifier:
    """Notifies waiters of the same process (one worker; thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[_Waiter]] = {}

    def changed(self, uow: UnitOfWork, process_id: str) -> None:
        uow.after_commit(partial(self.notify, process_id))

    def notify(self, process_id: str) -> None:
        """Wake the watchers of ``process_id`` now (from any thread)."""
        with self._lock:
            waiters = list(self._waiters.get(process_id, ()))
        for waiter in waiters:
            waiter.fire()

    @contextlib.contextmanager
    def watch(self, process_id: str) -> Iterator[_Waiter]:
        waiter = _Waiter(asyncio.get_running_loop())
        with self._lock:
            self._waiters.setdefault(process_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                left = self._waiters.get(process_id)
                if left is not None:
                    left.discard(waiter)
                    if not left:
                        del self._waiters[process_id]

    def watching(self) -> int:
        """How many processes are watched now (a finished watch leaves nothing behind)."""
        with self._lock:
            return len(self._waiters)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class PgNotifier:
    """Notifies waiters in every worker sharing one PostgreSQL database (``LISTEN``/``NOTIFY``).

    ``engine``: the node's PostgreSQL engine (its URL, without the driver, is the listening
    connection's); ``channel``: the notification channel; ``retry_s``: the pause before
    reconnecting a lost listening connection; ``ready_s``: how long :meth:`start` waits for the
    first ``LISTEN`` (after that it goes on: the waiters' re-reads cover the gap).
    """

    def __init__(self, engine: Engine, *, channel: str = CHANNEL, retry_s: float = 1.0, ready_s: float = 5.0) -> None:
        if engine.dialect.name != "postgresql":
            raise ConfigurationError(
                f"LISTEN/NOTIFY needs a PostgreSQL database, not {engine.dialect.name}",
                rule="a SQLite node uses the in-process notifier",
            )
        self.channel = channel
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._retry_s = retry_s
        self._ready_s = ready_s
        self._local = InProcessNotifier()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def changed(self, uow: UnitOfWork, process_id: str) -> None:
        # delivered by PostgreSQL when (and only if) this transaction commits
        uow.conn.execute(select(func.pg_notify(self.channel, process_id)))
        # this worker's own waiters need not wait for the round trip
        uow.after_commit(partial(self._local.notify, process_id))

    def watch(self, process_id: str) -> contextlib.AbstractContextManager[_Waiter]:
        return self._local.watch(process_id)

    @property
    def listening(self) -> bool:
        """Whether the listening connection is up (``LISTEN`` done)."""
        return self._listening.is_set()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="dsp-notifier")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), self._ready_s)
        if not self.listening:
            log.warning("DSP notifications: not listening on %s yet; waiters re-read every 250 ms", self.channel)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._listening.clear()

    async def _listen(self) -> None:
        import psycopg  # only a PostgreSQL node needs the async driver loaded
        from psycopg import sql

        while True:
            try:
                # a stop that comes while connecting must still close the connection it opens
                connecting = asyncio.ensure_future(psycopg.AsyncConnection.connect(self._conninfo, autocommit=True))
                try:
                    conn = await asyncio.shield(connecting)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await (await connecting).close()
                    raise
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._listening.set()
                    async for note in conn.notifies():
                        self._local.notify(note.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("DSP notifications: listening connection lost (%s); reconnecting", type(exc).__name__)
            self._listening.clear()
            await asyncio.sleep(self._retry_s)
