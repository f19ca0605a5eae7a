"""The routers' state built at start (batpass.http.warm_routes): each included router once,
nested ones too, and requests answered the same afterwards."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from batpass.http import warm_routes


def _app() -> FastAPI:
    inner, outer = APIRouter(), APIRouter(prefix="/outer")

    @inner.get("/inner/{item}")
    def read(item: int, q: str = "x") -> dict[str, object]:
        return {"item": item, "q": q}

    @outer.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    return app


def test_every_included_router_is_built_and_answers_as_before() -> None:
    app = _app()
    assert warm_routes(app.router.routes) == 2  # the outer router and the one inside it
    assert warm_routes(app.router.routes) == 2  # idempotent: built once, read again
    with TestClient(app) as c:
        assert c.get("/outer/inner/3", params={"q": "y"}).json() == {"item": 3, "q": "y"}
        assert c.get("/outer/inner/x").status_code == 422
        assert c.get("/outer/ping").json() == {"ok": "yes"}


def test_an_app_without_included_routers_builds_nothing() -> None:
    app = FastAPI()

    @app.get("/alone")
    def alone() -> dict[str, str]:
        return {}

    assert warm_routes(app.router.routes) == 0
