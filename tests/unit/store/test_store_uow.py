from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from batpass.store import UnitOfWork, enqueue, outbox_table, remember_delivery


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())


def test_rolls_back_by_default(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        enqueue(uow, kind="t", destination="https://b.example/x", body={"a": 1})
    assert _count(engine) == 0


def test_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        enqueue(uow, kind="t", destination="https://b.example/x", body={"a": 1})
        raise RuntimeError("boom")
    assert _count(engine) == 0


def test_commit_persists_and_wakes_after_commit_only(engine: Engine) -> None:
    calls: list[str] = []
    with UnitOfWork(engine) as uow:
        enqueue(uow, kind="t", destination="https://b.example/x", body={"a": 1})
        uow.after_commit(lambda: calls.append("woken"))
        assert calls == []
        uow.commit()
        assert calls == ["woken"]
    assert _count(engine) == 1


def test_enqueue_is_idempotent_per_key(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        a = enqueue(uow, kind="t", destination="https://b.example/x", body={}, idempotency_key="k1")
        b = enqueue(uow, kind="t", destination="https://b.example/x", body={}, idempotency_key="k1")
        uow.commit()
    assert a == b
    assert _count(engine) == 1


def test_enqueue_refuses_relative_destinations(engine: Engine) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(ValueError, match="absolute URL"):
        enqueue(uow, kind="t", destination="/v1/x", body={})


def test_remember_delivery_applies_once(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        first, _ = remember_delivery(uow, "key-1", sender="did:web:a", result={"ok": 1})
        uow.commit()
    with UnitOfWork(engine) as uow:
        again, stored = remember_delivery(uow, "key-1", sender="did:web:a", result={"ok": 2})
        uow.commit()
    assert first is True
    assert again is False and stored == {"ok": 1}


def test_each_store_is_isolated(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    a, b = make_store([]), make_store([])
    with UnitOfWork(a) as uow:
        enqueue(uow, kind="t", destination="https://b.example/x", body={})
        uow.commit()
    assert _count(a) == 1 and _count(b) == 0


def test_a_unique_key_taken_first_is_a_conflict_and_nothing_is_written(engine: Engine) -> None:
    """The loser of a check-then-insert race (simulated by inserting the same key twice) gets
    Conflict, never a driver error, and its transaction leaves nothing behind."""
    import datetime as dt

    from sqlalchemy import insert

    from batpass.core.errors import Conflict

    now = dt.datetime.now(dt.UTC)
    row = {
        "id": "same-id",
        "kind": "t",
        "destination": "https://b.example/x",
        "method": "POST",
        "headers": {},
        "body": {"a": 1},
        "idempotency_key": "k-1",
        "status": "pending",
        "attempts": 0,
        "max_attempts": 1,
        "next_attempt_at": now,
        "created_at": now,
    }
    with UnitOfWork(engine) as uow:
        uow.conn.execute(insert(outbox_table).values(**row))
        uow.commit()
    with pytest.raises(Conflict) as caught, UnitOfWork(engine) as uow:
        enqueue(uow, kind="t", destination="https://b.example/y", body={"b": 2})
        uow.conn.execute(insert(outbox_table).values(**row))
        uow.commit()
    assert caught.value.status == 409 and "concurrent writer" in str(caught.value)
    assert _count(engine) == 1


def test_a_reading_unit_of_work_sees_one_snapshot(engine: Engine) -> None:
    """A self-audit reads the event log, then the rows derived from it; a writer (another worker)
    committing in between must not make the two reads disagree. A reading unit of work sees one
    snapshot, on SQLite and on PostgreSQL."""

    def count(uow: UnitOfWork) -> int:
        return int(uow.conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())

    with UnitOfWork(engine, write=False) as reader:
        before = count(reader)
        with UnitOfWork(engine) as writer:
            enqueue(writer, kind="ping", destination="https://b.example/x", body={})
            writer.commit()
        assert count(reader) == before
    with UnitOfWork(engine, write=False) as later:
        assert count(later) == before + 1
