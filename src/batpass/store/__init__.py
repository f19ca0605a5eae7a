"""Storage infrastructure shared by every capability: engines, metadata, unit of work,
migrations and the outbox. It knows no capability."""

from batpass.store.engine import is_sqlite, make_engine, normalise_url
from batpass.store.metadata import UTCDateTime, metadata
from batpass.store.migrations import MIGRATIONS_DIR, check_schema_version, current_revisions, pending_heads, upgrade
from batpass.store.outbox import (
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
    "OutboxBacklog",
    "OutboxMessage",
    "UTCDateTime",
    "UnitOfWork",
    "check_schema_version",
    "current_revisions",
    "enqueue",
    "inbox_table",
    "is_sqlite",
    "make_engine",
    "metadata",
    "normalise_url",
    "outbox_backlog",
    "outbox_counts",
    "outbox_table",
    "pending_heads",
    "remember_delivery",
    "set_wakeup",
    "upgrade",
]
