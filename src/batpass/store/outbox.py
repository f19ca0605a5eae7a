"""The outbox: messages to other nodes, written in the same transaction as the change.

A use case calls :func:`enqueue` inside its unit of work; the row becomes visible only when the
use case commits, and the commit wakes the dispatcher (:mod:`._dispatch`) at once through the hook
registered here, so there is no polling delay. On PostgreSQL the transaction also sends
``NOTIFY batpass_outbox`` (payload: the node's schema), which PostgreSQL delivers on commit to
every worker of the node, so the worker that runs the dispatcher hears a message written by
another one at once (docs/workers.md). Each message carries an idempotency key that the
receiver records in its ``inbox`` table (:func:`remember_delivery`), so a retried delivery is
applied once.

This module knows no capability and no HTTP client; the dispatcher (:mod:`._dispatch`) sends.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    case,
    false,
    func,
    insert,
    select,
)

from batpass.core.clock import utc_now
from batpass.core.ids import new_uuid7
from batpass.core.logs import REQUEST_ID
from batpass.store.metadata import UTCDateTime, metadata
from batpass.store.uow import UnitOfWork

__all__ = [
    "OUTBOX_CHANNEL",
    "OutboxBacklog",
    "OutboxMessage",
    "enqueue",
    "inbox_table",
    "outbox_backlog",
    "outbox_table",
    "remember_delivery",
    "set_wakeup",
]

outbox_table = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("destination", Text, nullable=False),
    Column("method", String(8), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", JSON, nullable=True),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    # a refusal (a 4xx) is retried with back-off like a failure, not final (store_0002)
    Column("retry_refused", Boolean, nullable=False, server_default=false()),
    Column("status", String(16), nullable=False),  # pending | sent | dead
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("response_status", Integer, nullable=True),
    Column("response_body", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
)
Index("ix_outbox_due", outbox_table.c.status, outbox_table.c.next_attempt_at)

inbox_table = Table(
    "inbox",
    metadata,
    Column("idempotency_key", String(128), primary_key=True),
    Column("sender", Text, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("result", JSON, nullable=True),
)

#: the PostgreSQL notification channel of committed outbox messages (payload: the node's schema)
OUTBOX_CHANNEL = "batpass_outbox"

_wakeup_lock = threading.Lock()
_wakeups: list[Callable[[], None]] = []


def set_wakeup(fn: Callable[[], None] | None) -> None:
    """Register (or clear, with ``None``) the function that wakes this process's dispatcher."""
    with _wakeup_lock:
        _wakeups.clear()
        if fn is not None:
            _wakeups.append(fn)


def _wake() -> None:
    with _wakeup_lock:
        fns = list(_wakeups)
    for fn in fns:
        fn()


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    kind: str
    destination: str
    method: str
    headers: Mapping[str, str]
    body: Any
    idempotency_key: str
    attempts: int
    max_attempts: int


def enqueue(
    uow: UnitOfWork,
    *,
    kind: str,
    destination: str,
    body: Any,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    max_attempts: int = 8,
    retry_refused: bool = False,
    now: dt.datetime | None = None,
) -> str:
    """Write a message in the caller's transaction; it is sent once the transaction commits.

    Returns the message id. Re-enqueueing an idempotency key that exists is a no-op returning the
    stored message's id, so a replayed use case sends nothing twice. A message written while an
    HTTP request is handled carries that request's id (``X-Request-Id``) to the receiver.
    """
    if not destination.startswith(("https://", "http://")):
        raise ValueError(f"outbox destination must be an absolute URL, got {destination!r}")
    key = idempotency_key or str(new_uuid7())
    existing = uow.conn.execute(
        select(outbox_table.c.id).where(outbox_table.c.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is not None:
        return str(existing)
    ts = now or utc_now()
    msg_id = str(new_uuid7())
    sent_headers = dict(headers or {})
    rid = REQUEST_ID.get()
    if rid is not None and not any(h.lower() == "x-request-id" for h in sent_headers):
        sent_headers["X-Request-Id"] = rid
    uow.conn.execute(
        insert(outbox_table).values(
            id=msg_id,
            kind=kind,
            destination=destination,
            method=method.upper(),
            headers=sent_headers,
            body=body,
            idempotency_key=key,
            retry_refused=retry_refused,
            status="pending",
            attempts=0,
            max_attempts=max_attempts,
            next_attempt_at=ts,
            created_at=ts,
        )
    )
    if uow.conn.dialect.name == "postgresql":
        # delivered to every listening worker when (and only if) this transaction commits
        uow.conn.execute(select(func.pg_notify(OUTBOX_CHANNEL, func.current_schema())))
    uow.after_commit(_wake)
    return msg_id


def remember_delivery(
    uow: UnitOfWork, idempotency_key: str, *, sender: str | None, result: Any = None
) -> tuple[bool, Any]:
    """Record a received message's key. Returns ``(first_time, stored_result)``.

    A receiver calls this in the transaction that applies the message; on a retry it gets
    ``first_time=False`` and the result it answered the first time.
    """
    row = uow.conn.execute(select(inbox_table.c.result).where(inbox_table.c.idempotency_key == idempotency_key)).first()
    if row is not None:
        return False, row[0]
    uow.conn.execute(
        insert(inbox_table).values(
            idempotency_key=idempotency_key,
            sender=sender,
            received_at=utc_now(),
            result=result,
        )
    )
    return True, result


def outbox_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Messages by kind and status (``pending``, ``sent``, ``dead``): what ``batpass info`` shows,
    so a copy given up on (``dead``) is never a silent loss."""
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        q = select(outbox_table.c.kind, outbox_table.c.status, func.count()).group_by(
            outbox_table.c.kind, outbox_table.c.status
        )
        for kind, status, n in conn.execute(q):
            out.setdefault(kind, {})[status] = int(n)
    return out


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The undelivered messages of one kind: waiting (``pending``; ``retrying`` of them after a
    failed attempt), given up on (``dead``), and when the oldest waiting one was written."""

    kind: str
    pending: int
    retrying: int
    dead: int
    oldest_pending_at: dt.datetime | None


def outbox_backlog(engine: Engine) -> list[OutboxBacklog]:
    """Undelivered messages by kind (sent ones are not read: the status index skips them). Read at
    each metrics scrape, so every worker sharing the database reports the same backlog."""
    t = outbox_table
    q = (
        select(
            t.c.kind,
            t.c.status,
            func.count(),
            func.sum(case((t.c.last_error.is_not(None), 1), else_=0)),
            func.min(t.c.created_at),
        )
        .where(t.c.status.in_(("pending", "dead")))
        .group_by(t.c.kind, t.c.status)
    )
    kinds: dict[str, OutboxBacklog] = {}
    with engine.connect() as conn:
        for kind, status, n, failing, oldest in conn.execute(q):
            was = kinds.get(kind) or OutboxBacklog(kind, 0, 0, 0, None)
            if status == "pending":
                kinds[kind] = OutboxBacklog(kind, int(n), int(failing or 0), was.dead, oldest)
            else:
                kinds[kind] = OutboxBacklog(kind, was.pending, was.retrying, int(n), was.oldest_pending_at)
    return sorted(kinds.values(), key=lambda b: b.kind)
