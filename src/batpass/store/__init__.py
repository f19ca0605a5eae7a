"""Storage infrastructure shared by every capability: engines, metadata, unit of work,
migrations, the outbox and its dispatcher, and what several workers of one node coordinate
through the database (claims, a leader for background jobs, notifications). It knows no
capability."""

from batpass.store._dispatch import OutboxDispatcher, backoff_seconds
from batpass.store._workers import Leadership, Listener, claim, exclusive, node_schema, serialise
from batpass.store.engine import is_sqlite, make_engine, normalise_url
from batpass.store.metadata import UTCDateTime, metadata
from batpass.store.migrations import MIGRATIONS_DIR, check_schema_version, current_revisions, pending_heads, upgrade
from batpass.store.outbox import (
    OUTBOX_CHANNEL,
    OutboxBacklog,
    OutboxMessage,
    enqueue,
    inbox_table,
    outbox_backlog,
    outbox_counts,
    outbox_table,
    remember_delivery,
    set_wakeup,
)
from batpass.store.uow import UnitOfWork

__all__ = [
    "MIGRATIONS_DIR",
    "OUTBOX_CHANNEL",
    "Leadership",
    "Listener",
    "OutboxBacklog",
    "OutboxDispatcher",
    "OutboxMessage",
    "UTCDateTime",
    "UnitOfWork",
    "backoff_seconds",
    "check_schema_version",
    "claim",
    "current_revisions",
    "enqueue",
    "exclusive",
    "inbox_table",
    "is_sqlite",
    "make_engine",
    "metadata",
    "node_schema",
    "normalise_url",
    "outbox_backlog",
    "outbox_counts",
    "outbox_table",
    "pending_heads",
    "remember_delivery",
    "serialise",
    "set_wakeup",
    "upgrade",
]
