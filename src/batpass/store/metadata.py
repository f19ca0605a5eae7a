"""The shared SQLAlchemy metadata every capability defines its tables on.

``store/`` knows no capability: each capability declares its tables on :data:`metadata` in its
own private ``_sql.py`` and ships its own Alembic migration branch (see :mod:`.migrations`).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect

from batpass.core.errors import IntegrityViolation

__all__ = ["UUID_LEN", "UTCDateTime", "metadata", "read_stored_json"]

#: the rule an unreadable stored value breaks (SQLite stores any value in any column)
_UNREADABLE_RULE = "store.value (a stored value reads as its column's type)"

#: naming convention so migrations name constraints the same way on SQLite and PostgreSQL
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: UUIDs are stored as their canonical 36-character text on both stores
UUID_LEN = 36


class UTCDateTime(TypeDecorator[_dt.datetime]):
    """Timezone-aware UTC timestamps on both stores (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: _dt.datetime | None, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        return value.astimezone(_dt.UTC)

    def process_result_value(self, value: _dt.datetime | None, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """A stored text that is no timestamp (SQLite keeps whatever was written) is damage: an
        :class:`IntegrityViolation`, which the caller names and refuses, never a ``ValueError``
        escaping as a server error."""
        parse = super().result_processor(dialect, coltype)
        if parse is None:
            return None

        def read(value: Any) -> Any:
            try:
                return parse(value)
            except (ValueError, TypeError) as exc:
                raise _unreadable("timestamp", value) from exc

        return read


def _unreadable(kind: str, value: Any) -> IntegrityViolation:
    """The error for a stored value that does not read as its column's type; the table and key
    are the reader's to add (it knows which row it read)."""
    return IntegrityViolation(f"a stored {kind} does not read as one: {str(value)[:60]!r}", rule=_UNREADABLE_RULE)


def read_stored_json(text: str | bytes) -> Any:
    """SQLite's JSON columns hold text: text that does not decode is damage (see :class:`UTCDateTime`)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _unreadable("JSON value", text) from exc


def uuid_column_type() -> String:
    return String(UUID_LEN)
