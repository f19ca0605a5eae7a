"""The one wall clock: the only place batpass reads the current date and time.

A service or use case that stamps time takes a ``clock: Clock`` (keyword-only, default
:class:`SystemClock`), so a test can fix the time with :class:`FixedClock`; code with no object to
carry a clock (a pure helper's default, a log line) calls :func:`utc_now`. Every reading is a
timezone-aware UTC ``datetime``.

Durations are not wall-clock readings: they keep ``time.monotonic()`` / ``time.perf_counter()``.
Pure: no I/O, imports nothing of batpass.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock", "utc_now"]


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    __slots__ = ()

    def now(self) -> dt.datetime:
        return utc_now()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that says what it was told (tests, replays): :meth:`set` it or :meth:`advance` it."""

    __slots__ = ("_at",)

    def __init__(self, at: dt.datetime) -> None:
        self._at = _utc(at)

    def now(self) -> dt.datetime:
        return self._at

    def set(self, at: dt.datetime) -> None:
        self._at = _utc(at)

    def advance(self, by: dt.timedelta) -> None:
        self._at += by

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()})"


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a clock reads timezone-aware UTC: a naive datetime has no instant")
    return at.astimezone(dt.UTC)
