"""Fixtures for the passport tests: ruleset, identity, static data, clock, a service per store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from passport_testkit import (  # noqa: F401  (re-exported for the test modules)
    ADMIN_KEY,
    BACKUP,
    EXAMPLE,
    ITEM,
    OPERATOR,
    RESOLVER,
    make_app,
    make_service,
    make_summary,
)
from sqlalchemy import Engine

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.passport import MIGRATIONS_DIR, PassportRules, PassportService, load_static_product_data
from batpass.passport.service import StaticProductData
from batpass.trust import NodeIdentity, generate_keypair


@pytest.fixture(scope="session")
def rules() -> PassportRules:
    return PassportRules.from_ruleset(load_ruleset())


@pytest.fixture(scope="session")
def static() -> StaticProductData:
    return load_static_product_data(EXAMPLE)


@pytest.fixture(scope="session")
def identity() -> NodeIdentity:
    return NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")])


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def service(
    make_store: Callable[[Sequence[Path]], Engine], identity: NodeIdentity, rules: PassportRules, clock: FixedClock
) -> PassportService:
    return make_service(make_store([MIGRATIONS_DIR]), identity, rules, clock)
