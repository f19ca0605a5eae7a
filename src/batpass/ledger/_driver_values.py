"""What the ledger's record path hands the database driver for a column's values, built once per
connection: the column type's own bind processing (with a faster writer of SQLite's timestamp
text, taken only where it writes the same), and the values ``sqlite3`` binds without its adapter
protocol (a NULL, a BLOB). Knows the store's column types, not the ledger's tables."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table

from batpass.store import UTCDateTime

__all__ = ["bind_processor", "blob_value", "identity", "null_value"]


def identity(value: Any) -> Any:
    return value


def bind_processor(conn: Connection, table: Table, column: str) -> Callable[[Any], Any]:
    """What the driver receives for a value of ``table.column`` (the column type's own bind
    processing on this dialect), for callers that build row tuples for :func:`insert_values`."""
    dialect = conn.dialect
    proc = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    if proc is None:
        return identity
    if not isinstance(table.c[column].type, UTCDateTime):
        return proc
    fast = _datetime_text(proc)
    if all(proc(v) == fast(v) for v in _DATETIME_PROBES):
        # SQLite's DATETIME text of the UTC time, written with one format tuple instead of a dict
        # per value (a timestamp per recorded event); taken only where it writes what the
        # column type's own processing does
        return fast
    return proc


_DATETIME_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
#: values the fast writer must write as the column type's processor does before it is used
_DATETIME_PROBES = (
    _dt.datetime.fromisoformat("2026-01-05T00:07:00Z"),
    _dt.datetime(2026, 1, 5, 0, 7, tzinfo=_dt.timezone(_dt.timedelta(0))),
    _dt.datetime(987, 12, 31, 23, 59, 59, 999_999, tzinfo=_dt.timezone(_dt.timedelta(hours=-5, minutes=-30))),
    _dt.datetime(2031, 7, 9, 8, 6, 5, 4, tzinfo=_dt.timezone(_dt.timedelta(hours=14))),
)
_UTC = _dt.UTC


def _datetime_text(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An aware datetime as SQLite's DATETIME text of its UTC time; anything else (None, a naive
    datetime, which ``proc`` refuses) as ``proc`` writes it."""

    def bind(value: Any) -> Any:
        if type(value) is not _dt.datetime or value.tzinfo is None:
            return proc(value)
        if value.tzinfo is not _UTC:
            value = value.astimezone(_UTC)
        return _DATETIME_FORMAT % (
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
        )

    return bind


_NAN = float("nan")
_SQLITE_NULL: list[Any] = []


def null_value(conn: Connection) -> Any:
    """What the record path puts in its row tuples for a NULL (:func:`insert_values`).

    ``None`` everywhere but SQLite, where it is a NaN: ``sqlite3`` binds an exact ``int``,
    ``float``, ``str`` or ``bytearray`` directly, but sends every other value, ``None``
    included, through its adapter protocol, whose look-up of ``__adapt__`` on its protocol type
    raises and clears an ``AttributeError`` (~0.3 µs a value; a new lot has up to five NULL
    columns), while SQLite stores a bound NaN as NULL (``sqlite3VdbeMemSetDouble``). Taken only
    after this SQLite library is seen to do so (a NaN bound in an in-memory database reads back
    NULL), else ``None``."""
    if conn.dialect.name != "sqlite":
        return None
    if not _SQLITE_NULL:
        import sqlite3

        probe = sqlite3.connect(":memory:")
        try:
            probe.execute("CREATE TABLE t (r REAL, s TEXT)")
            probe.execute("INSERT INTO t VALUES (?, ?)", (_NAN, _NAN))
            is_null = probe.execute("SELECT typeof(r), typeof(s) FROM t").fetchone() == ("null", "null")
        finally:
            probe.close()
        _SQLITE_NULL.append(_NAN if is_null else None)
    return _SQLITE_NULL[0]


def blob_value(conn: Connection) -> Callable[[bytes], Any]:
    """What the record path puts in its row tuples for a BLOB: on SQLite the bytes as a
    ``bytearray``, which ``sqlite3`` binds as the same BLOB without its adapter protocol (see
    :func:`null_value`; ``bytes`` is not among the types it binds directly); elsewhere the bytes."""
    return bytearray if conn.dialect.name == "sqlite" else identity
