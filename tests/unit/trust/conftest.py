"""Fixtures of the trust unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine
from trust_world import CX_BASE, World, make_world

from batpass.trust import MIGRATIONS_DIR, TrustService, did_document


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def trust_store(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    return make_store([MIGRATIONS_DIR])


@pytest.fixture
def service(trust_store: Engine, world: World) -> TrustService:
    """The Catena-X certifier's node service (it issues and publishes its status lists)."""
    svc = TrustService(
        trust_store,
        world.cx,
        base_url=CX_BASE,
        ecosystem="catena-x",
        operators={"catena-x": world.cx.did, "ouranos": world.jp.did},
    )
    svc.resolver.pin(did_document(world.jp))
    svc.resolver.pin(did_document(world.other))
    return svc
