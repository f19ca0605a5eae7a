"""What the accounts tests share: a fast Argon2id hasher (the same algorithm, test-sized cost) and
a clock the tests move."""

from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from sqlalchemy import Engine

from batpass.accounts import AccountService
from batpass.core.clock import FixedClock

__all__ = ["PASSWORD", "START", "fast_service"]

START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


def fast_service(engine: Engine, clock: FixedClock | None = None) -> tuple[AccountService, FixedClock]:
    clock = clock or FixedClock(START)
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return AccountService(engine, clock=clock, hasher=hasher), clock
