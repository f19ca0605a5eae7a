"""A node's console for the web tests: the public side of ``web_testkit`` (passports, the pages'
language choice) plus the accounts (a fast Argon2id hasher and a clock the tests move) and a
ledger holding outflow alerts (the scenario's shipments recorded without their authorisations).
One user of each role, each with :data:`PASSWORD`."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))
from ledger_testkit import OWNER, identity
from web_testkit import MIGRATIONS as PUBLIC_MIGRATIONS
from web_testkit import build_passport, make_passports, make_public_app

from batpass.accounts import MIGRATIONS_DIR as ACCOUNTS_MIGRATIONS
from batpass.accounts import AccountService
from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.scenario import generate
from batpass.web.console import mount_console

__all__ = ["BATTERIES", "MIGRATIONS", "PASSWORD", "START", "ConsoleNode", "make_console"]

MIGRATIONS = (*PUBLIC_MIGRATIONS, ACCOUNTS_MIGRATIONS, LEDGER_MIGRATIONS)
PASSWORD = "correct horse battery"
START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
BATTERIES = [BatteryId("04012345000009", f"CON-{i:04d}") for i in range(3)]


class ConsoleNode:
    def __init__(self, app: Any, accounts: AccountService, clock: FixedClock, passports: Any, ledger: Any) -> None:
        self.app, self.accounts, self.clock, self.passports, self.ledger = app, accounts, clock, passports, ledger


def make_console(engine: Engine, *, lots: int = 20) -> ConsoleNode:
    """The console app on ``engine`` (migrated with :data:`MIGRATIONS`)."""
    passports = make_passports(engine)
    built = [build_passport(passports, b) for b in BATTERIES]
    passports.mark_waste(built[2].passport_id, waste_operator=passports.operator, actor=passports.operator)
    ledger = LedgerService(engine, identity(OWNER))
    ledger.record(generate(lots=lots, owner=OWNER, seed=3).events)
    clock = FixedClock(START)
    accounts = AccountService(engine, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name, role in (("vera", "viewer"), ("otto", "operator"), ("ada", "admin")):
        accounts.add_user(name, role, PASSWORD)
    app = make_public_app(passports)
    ctx = app.state.ctx
    ctx.services[AccountService] = accounts
    ctx.services[LedgerService] = ledger
    mount_console(app)
    return ConsoleNode(app, accounts, clock, passports, ledger)
