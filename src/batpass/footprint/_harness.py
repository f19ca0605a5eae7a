"""A PACT host on its own, in-process: the router, its error shapes and a minimal node context
around one :class:`PactService` (the node's composition root builds the real thing). Used by the
PACT tests and conformance runs."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from fastapi import Depends, FastAPI

from batpass.footprint.routes import ERROR_SHAPES, router
from batpass.footprint.service import PactService
from batpass.http import NodeContext, install_error_handlers, require_json

ADMIN_KEY = "pact-admin-key-for-tests"


def build_app(service: PactService, *, base_url: str) -> FastAPI:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    ctx = NodeContext(
        name="pact",
        did="did:web:pact.test",
        base_url=base_url,
        resolver_base=base_url,
        profiles=("catenax",),
        engine=service.engine,
        admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        production=False,
        client=cast(Any, None),
        sync_client=cast(Any, None),
        identity=None,
        settings=None,
    )
    ctx.services[PactService] = service
    app.state.ctx = ctx
    install_error_handlers(app, ERROR_SHAPES)
    return app
