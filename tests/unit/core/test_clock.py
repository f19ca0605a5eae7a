"""One clock (batpass.core.clock): every wall-clock reading under src/batpass goes through it —
a service's injected ``Clock`` or, where no object carries one, ``utc_now()``. An ``ast`` walk keeps
``datetime.now(``, ``datetime.utcnow(``, ``datetime.today(`` and ``date.today(`` out of every other
module. Durations (``time.monotonic()``, ``time.perf_counter()``) are not wall-clock readings."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from batpass.core.clock import Clock, FixedClock, SystemClock, utc_now

SRC = Path(__file__).resolve().parents[3] / "src" / "batpass"
#: the one module allowed to read the wall clock
CLOCK = "core/clock.py"
#: ``"<path under src/batpass>:<line>"`` → why it may still read the wall clock itself (none today)
EXCEPTIONS: dict[str, str] = {}

_READS = {"datetime": {"now", "utcnow", "today"}, "date": {"today"}}


def _reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, spelling) of every wall-clock read: ``datetime``/``date`` reached through any alias
    (``import datetime as dt``, ``from datetime import datetime as D``, ``datetime.datetime``)."""
    modules: set[str] = set()  # names bound to the datetime module
    classes: dict[str, str] = {}  # names bound to datetime.datetime or datetime.date → which
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "datetime"}
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            classes |= {a.asname or a.name: a.name for a in node.names if a.name in _READS}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        cls: str | None = None
        if isinstance(owner, ast.Name):
            cls = classes.get(owner.id)
        elif isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id in modules:
            cls = owner.attr if owner.attr in _READS else None
        if cls is not None and node.func.attr in _READS[cls]:
            yield node.lineno, f"{ast.unparse(owner)}.{node.func.attr}("


def _violations() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == CLOCK:
            continue
        for line, spelling in _reads(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            found[f"{rel}:{line}"] = spelling
    return found


def test_only_the_core_clock_reads_the_wall_clock() -> None:
    unexcused = {k: v for k, v in _violations().items() if k not in EXCEPTIONS}
    assert unexcused == {}, (
        "read the time through an injected batpass.core.clock.Clock (services, use cases) or "
        "batpass.core.clock.utc_now() (pure helpers), not directly:\n"
        + "\n".join(f"  {k}: {v}" for k, v in sorted(unexcused.items()))
    )


def test_every_exception_is_still_needed_and_says_why() -> None:
    found = _violations()
    assert all(len(reason.split()) >= 5 for reason in EXCEPTIONS.values())
    assert sorted(k for k in EXCEPTIONS if k not in found) == []


def test_the_walk_sees_every_spelling() -> None:
    source = """
import datetime
import datetime as dt
from datetime import date, datetime as D
import time

dt.datetime.now(dt.UTC)
datetime.datetime.utcnow()
D.now()
D.today()
date.today()
dt.date.today()
time.monotonic()
dt.datetime.fromisoformat("2027-01-01")
clock.now()
"""
    assert [s for _, s in _reads(ast.parse(source))] == [
        "dt.datetime.now(",
        "datetime.datetime.utcnow(",
        "D.now(",
        "D.today(",
        "date.today(",
        "dt.date.today(",
    ]


def test_the_system_clock_reads_aware_utc() -> None:
    before = dt.datetime.now(dt.UTC)
    clock: Clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is dt.UTC and before <= now <= utc_now()
    assert utc_now().tzinfo is dt.UTC


def test_a_fixed_clock_says_what_it_was_told() -> None:
    at = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
    clock: Clock = FixedClock(at)
    assert clock.now() == at and clock.now() == at
    assert isinstance(clock, FixedClock)
    clock.advance(dt.timedelta(minutes=5))
    assert clock.now() == at + dt.timedelta(minutes=5)
    clock.set(dt.datetime(2027, 3, 1, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    assert clock.now() == at and clock.now().tzinfo is dt.UTC  # the same instant, in UTC


def test_a_fixed_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(dt.datetime(2027, 3, 1))
    clock = FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="naive"):
        clock.set(dt.datetime(2027, 3, 2))


def test_the_passport_clock_is_the_core_clock() -> None:
    from batpass.passport import SystemClock as PassportSystemClock
    from batpass.passport.ports import Clock as PassportClock

    assert PassportClock is Clock and PassportSystemClock is SystemClock
