"""What several worker processes of one node need from the database they share.

``batpass serve --workers N`` starts N processes with nothing in common but the database, so every
piece of coordination goes through it (docs/workers.md):

- :func:`claim` — rows taken for work inside a write transaction: ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (a concurrent claim skips the rows another transaction holds, it neither waits nor
  takes them twice); on SQLite the transaction itself is the lock (``BEGIN IMMEDIATE``, taken by a
  :class:`~batpass.store.UnitOfWork` that writes), so a claim never upgrades a read snapshot into
  a write — the upgrade that failed at once with "database is locked" under load.
- :class:`Leadership` — the one worker that runs a node's background jobs, elected by a
  PostgreSQL session advisory lock on a connection of its own. When that worker dies its session
  ends, PostgreSQL releases the lock and another worker takes it at its next try. On SQLite (one
  worker only) the single worker leads.
- :func:`exclusive` — a block one worker at a time runs (a node's start-up writes, such as the
  offers it installs): a PostgreSQL session advisory lock, waited for. Workers start together,
  and two of them writing the same start-up rows at once would have one of them fail to start.
- :func:`serialise` — one transaction at a time per key (a sequence with no row to lock yet,
  such as the copies held of one passport): a transaction-scoped PostgreSQL advisory lock.
- :class:`Listener` — PostgreSQL ``LISTEN`` on one channel from a connection of its own, handing
  each notification's payload to a callback; ``NOTIFY`` is sent in the writer's transaction, so it
  is delivered only if (and when) that transaction commits.

Both connections are psycopg 3 async connections in autocommit mode that reconnect after a
failure. This module knows no capability and no job: callers say what to run and what a
notification means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, RowMapping, Select, text

from batpass.core.errors import ConfigurationError
from batpass.store.engine import is_sqlite
from batpass.store.uow import UnitOfWork

__all__ = ["Leadership", "Listener", "claim", "exclusive", "node_schema", "serialise"]

log = logging.getLogger("batpass.workers")


def claim(uow: UnitOfWork, query: Select[Any]) -> Sequence[RowMapping]:
    """The rows of ``query``, held by this transaction until it ends and skipped by every
    concurrent claim (``FOR UPDATE SKIP LOCKED``; SQLite's write transaction excludes other
    writers outright). The caller marks them taken (a lease) before it commits."""
    if is_sqlite(uow.conn.engine) and not uow.conn.info.get("write"):
        raise RuntimeError("a claim needs a unit of work that writes (BEGIN IMMEDIATE on SQLite)")
    return uow.conn.execute(query.with_for_update(skip_locked=True)).mappings().all()


@contextlib.contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Run the block in one worker of the node at a time: a PostgreSQL session advisory lock keyed
    by the node's schema and ``name``, waited for and released at the end. On SQLite (one worker;
    its write transactions already exclude one another) it does nothing."""
    if is_sqlite(engine):
        yield
        return
    key = "hashtext(current_schema()), hashtext(:name)"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"SELECT pg_advisory_lock({key})"), {"name": name})
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({key})"), {"name": name})


def serialise(uow: UnitOfWork, key: str) -> None:
    """Make concurrent transactions on ``key`` run one after the other: this one waits here until
    any other holding it ends (a PostgreSQL transaction advisory lock, keyed by the node's schema
    and ``key``). SQLite's write transaction already excludes every other writer."""
    if uow.conn.dialect.name == "postgresql":
        uow.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(:key))"), {"key": key})


def node_schema(engine: Engine) -> str:
    """The PostgreSQL schema the node's tables live in (its search path): what sets one node's
    lock and notifications apart from another node's in the same database."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def _conninfo(engine: Engine) -> str:
    if engine.dialect.name != "postgresql":
        raise ConfigurationError(
            f"coordinating workers needs PostgreSQL, not {engine.dialect.name}",
            rule="a SQLite node serves with one worker",
        )
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Runs ``lead`` while this worker holds the node's advisory lock ``name``.

    ``lead`` is started once the lock is taken; ``step_down`` is awaited when it is lost (the
    connection broke) and at :meth:`stop`. Until then the worker retries every ``retry_s``
    seconds, so a dead leader's jobs move to another worker within about that time.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        lead: Callable[[], Awaitable[None]],
        step_down: Callable[[], Awaitable[None]],
        retry_s: float = 1.0,
    ) -> None:
        self._engine = engine
        self._name = name
        self._lead = lead
        self._step_down = step_down
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self.leading = False

    async def start(self) -> None:
        if is_sqlite(self._engine):
            self.leading = True  # the only worker (serve refuses --workers N > 1 on SQLite)
            await self._lead()
            return
        self._task = asyncio.get_running_loop().create_task(self._elect(), name=f"leadership-{self._name}")

    async def stop(self) -> None:
        """Stop the jobs first, then give the lock up (closing the session releases it)."""
        if self.leading:
            self.leading = False
            await self._step_down()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _elect(self) -> None:
        import psycopg  # only a PostgreSQL node loads the async driver

        conninfo = _conninfo(self._engine)
        # one lock per node (its schema) and job name, in PostgreSQL's two-key advisory space
        try_lock = "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))"
        schema: str | None = None
        while True:
            try:
                if schema is None:
                    schema = await anyio.to_thread.run_sync(node_schema, self._engine)
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    while True:
                        row = await (await conn.execute(try_lock, (schema, self._name))).fetchone()
                        if row is not None and row[0]:
                            break
                        await asyncio.sleep(self._retry_s)
                    log.info("worker pid %d now runs the background jobs '%s'", os.getpid(), self._name)
                    self.leading = True
                    await self._lead()
                    while True:  # the lock lives as long as this session: watch it
                        await asyncio.sleep(self._retry_s)
                        await conn.execute("SELECT 1")
            except (psycopg.Error, OSError) as exc:
                log.warning("leadership '%s': connection lost (%s); standing for election again", self._name, exc)
            except Exception:  # a job that fails to start must not keep the lock from the others
                log.exception("leadership '%s': the jobs failed; giving the lock up", self._name)
            if self.leading:
                self.leading = False
                await self._step_down()
            await asyncio.sleep(self._retry_s)


class Listener:
    """Hands every notification on ``channel`` to ``on_notify(payload)`` (called on the loop)."""

    def __init__(self, engine: Engine, channel: str, on_notify: Callable[[str], None], *, retry_s: float = 1.0) -> None:
        self._conninfo = _conninfo(engine)
        self.channel = channel
        self._on_notify = on_notify
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def start(self, *, ready_s: float = 5.0) -> None:
        """Start listening; waits up to ``ready_s`` for the ``LISTEN`` to be in place."""
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"listen-{self.channel}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), ready_s)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listening.clear()

    async def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._listening.set()
                    async for note in conn.notifies():
                        self._on_notify(note.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("listening on %s: connection lost (%s); reconnecting", self.channel, type(exc).__name__)
            self._listening.clear()
            await asyncio.sleep(self._retry_s)
