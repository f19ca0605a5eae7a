"""A hub on its own, in-process: the router, the published error shapes and a minimal node
context around one :class:`OuranosHub`. Used by the hub's tests, conformance runs and benchmarks
(the node's composition root builds the real thing in ``batpass.node``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

from fastapi import Depends, FastAPI

from batpass.http import NodeContext, install_error_handlers, require_json
from batpass.ouranos.routes import ERROR_SHAPES, router
from batpass.ouranos.service import OuranosHub

ADMIN_KEY = "hub-admin-key-for-tests"


def build_app(hub: OuranosHub, *, base_url: str) -> FastAPI:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    ctx = NodeContext(
        name="hub",
        did=hub.identity.did,
        base_url=base_url,
        resolver_base=base_url,
        profiles=("ouranos",),
        engine=hub.engine,
        admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        production=False,
        client=cast(Any, None),
        sync_client=cast(Any, None),
        identity=hub.identity,
        settings=None,
    )
    ctx.services[OuranosHub] = hub
    app.state.ctx = ctx
    install_error_handlers(app, ERROR_SHAPES)
    return app


@dataclass(frozen=True)
class SeededOperator:
    operator_id: str
    open_operator_id: str
    plant_id: str
    account_id: str
    password: str


def seed_operator(
    hub: OuranosHub, n: int, *, operator_id: str | None = None, plant_id: str | None = None
) -> SeededOperator:
    """One hosted operator with a plant and a login (deterministic names per ``n``)."""
    open_id = f"{1234567890123 + n}"
    op = hub.onboard_operator(
        open_operator_id=open_id, operator_name=f"Operator {n}", operator_address=f"Tokyo {n}", operator_id=operator_id
    )
    plant = hub.add_plant(
        op.operator_id,
        open_plant_id=f"{open_id}{n:06d}",
        plant_name=f"Plant {n}",
        plant_address=f"Osaka {n}",
        plant_id=plant_id,
    )
    account, password = f"user{n}@example.com", f"Passw0rd!{n}"
    hub.add_account(op.operator_id, account, password)
    return SeededOperator(op.operator_id, open_id, plant.plant_id, account, password)
