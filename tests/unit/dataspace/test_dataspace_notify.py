"""The consumer's process notifiers: a change is heard only once its transaction commits (never
after a rollback), from any thread (in-process), and by another worker sharing the PostgreSQL
database (``LISTEN``/``NOTIFY``)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import Engine, text

from batpass.core.errors import ConfigurationError
from batpass.dataspace import InProcessNotifier, PgNotifier, ProcessNotifier
from batpass.store import UnitOfWork, make_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _heard_after_commit_only(
    engine: Engine, sender: ProcessNotifier, listener: ProcessNotifier, *, twice: bool = False
) -> None:
    with listener.watch("urn:uuid:p-1") as watch, listener.watch("urn:uuid:p-2") as other:
        with UnitOfWork(engine) as uow:
            sender.changed(uow, "urn:uuid:p-1")
            assert not await watch.wait(0.2)  # not committed yet
            uow.commit()
        assert await watch.wait(5.0)
        assert not await other.wait(0.05)  # another process: not woken
        if twice:  # the storing worker hears its own change at once and again from PostgreSQL
            await watch.wait(2.0)
        assert not await watch.wait(0.05)  # heard, and done
        with UnitOfWork(engine) as uow:
            sender.changed(uow, "urn:uuid:p-1")  # rolled back: never heard
        assert not await watch.wait(0.3)


async def test_in_process_notifier_wakes_after_commit(engine: Engine) -> None:
    notifier = InProcessNotifier()
    await notifier.start()
    assert isinstance(notifier, ProcessNotifier)
    await _heard_after_commit_only(engine, notifier, notifier)
    await notifier.stop()
    assert notifier.watching() == 0  # a finished watch leaves nothing behind


async def test_in_process_notifier_is_heard_from_a_worker_thread() -> None:
    notifier = InProcessNotifier()
    with notifier.watch("urn:uuid:p-3") as watch:
        started = time.monotonic()
        await anyio.to_thread.run_sync(notifier.notify, "urn:uuid:p-3")
        assert await watch.wait(5.0)
        assert time.monotonic() - started < 1.0
        # a plain thread, while the loop waits
        timer = threading.Timer(0.05, notifier.notify, args=("urn:uuid:p-3",))
        timer.start()
        assert await watch.wait(5.0)
        timer.join()


async def test_a_notification_before_the_wait_is_not_lost() -> None:
    notifier = InProcessNotifier()
    with notifier.watch("urn:uuid:p-4") as watch:
        notifier.notify("urn:uuid:p-4")
        await asyncio.sleep(0)  # the event is set on the loop
        assert await watch.wait(0.01)


def test_listen_notify_needs_postgresql(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    with pytest.raises(ConfigurationError):
        PgNotifier(engine)
    engine.dispose()


@pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)
async def test_listen_notify_reaches_another_worker(engine: Engine) -> None:
    # two workers sharing the database: the change is stored by one, awaited by the other
    worker_a, worker_b = PgNotifier(engine), PgNotifier(engine)
    await worker_a.start()
    await worker_b.start()
    try:
        assert worker_a.listening and worker_b.listening
        assert isinstance(worker_b, ProcessNotifier)
        await _heard_after_commit_only(engine, worker_a, worker_b)
        # and the worker that stored it hears it too
        await _heard_after_commit_only(engine, worker_a, worker_a, twice=True)
    finally:
        await worker_a.stop()
        await worker_b.stop()
    assert not worker_b.listening


@pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)
async def test_listen_notify_reconnects_after_losing_its_connection(engine: Engine) -> None:
    channel = f"batpass_dsp_{uuid.uuid4().hex[:12]}"
    worker_a = PgNotifier(engine, channel=channel)
    worker_b = PgNotifier(engine, channel=channel, retry_s=0.05)
    await worker_a.start()
    await worker_b.start()
    try:
        with engine.connect() as conn:  # the listening connection dies (a restart, a network cut)
            killed = conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = :q"),
                {"q": f'LISTEN "{channel}"'},
            ).all()
        assert len(killed) == 2
        await asyncio.sleep(0.5)  # each notices, and connects again
        deadline = time.monotonic() + 10
        while not (worker_a.listening and worker_b.listening):
            assert time.monotonic() < deadline, "did not listen again"
            await asyncio.sleep(0.05)
        await _heard_after_commit_only(engine, worker_a, worker_b)
    finally:
        await worker_a.stop()
        await worker_b.stop()
