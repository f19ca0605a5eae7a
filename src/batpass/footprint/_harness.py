"""A PACT host on its own, in-process: the router, its error shapes and a minimal node context
around one :class:`PactService` (the node's composition root builds the real thing). Used by the
PACT tests and conformance runs."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from batpass.core.errors import BatpassError, InvalidInput
from batpass.footprint.routes import ERROR_SHAPES, router
from batpass.footprint.service import PactService
from batpass.http import NodeContext, problem_response

ADMIN_KEY = "pact-admin-key-for-tests"


def build_app(service: PactService, *, base_url: str) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    ctx = NodeContext(
        name="pact", did="did:web:pact.test", base_url=base_url, resolver_base=base_url, profiles=("catenax",),
        engine=service.engine, admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(), production=False,
        client=cast(Any, None), sync_client=cast(Any, None), identity=None, settings=None,
    )
    ctx.services[PactService] = service
    app.state.ctx = ctx
    shapes = sorted(ERROR_SHAPES.items(), key=lambda p: -len(p[0]))

    def shaped(request: Request, err: BatpassError) -> Response:
        for prefix, fn in shapes:
            if request.url.path.startswith(prefix):
                return fn(err)
        return problem_response(err, instance=request.url.path)

    @app.exception_handler(BatpassError)
    async def _err(request: Request, exc: BatpassError) -> Response:
        return shaped(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _val(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")) or None
        msg = str(first.get("msg", "invalid request"))
        return shaped(request, InvalidInput(msg, field=field, rule="request schema"))

    return app
