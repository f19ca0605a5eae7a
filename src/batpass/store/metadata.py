"""The shared SQLAlchemy metadata every capability defines its tables on.

``store/`` knows no capability: each capability declares its tables on :data:`metadata` in its
own private ``_sql.py`` and ships its own Alembic migration branch (see :mod:`.migrations`).
"""

from __future__ import annotations

import datetime as _dt

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect

__all__ = ["UUID_LEN", "UTCDateTime", "metadata"]

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


def uuid_column_type() -> String:
    return String(UUID_LEN)
