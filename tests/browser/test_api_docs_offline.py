"""The node's API documentation renders in a browser with every request answered by the node
itself: Swagger UI lists the operations, ReDoc renders the document (nothing from a CDN)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from browser_testkit import ARTIFACTS, serve_in_thread

from batpass.core.settings import Settings
from batpass.node import create_app, init_node

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(home=tmp_path_factory.mktemp("docs") / "home")
    node, _ = init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One", bpnl="BPNL00000003AYRE")
    node.close()
    yield from serve_in_thread(create_app(settings, node_name="n1"), lifespan="on")


def _offline_page(browser: Any, base: str) -> tuple[Any, Any, list[str]]:
    """A page whose requests outside ``base`` are refused and recorded."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    outside: list[str] = []
    own = urlsplit(base).netloc

    def route(r: Any) -> None:
        if urlsplit(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    return ctx, ctx.new_page(), outside


def test_swagger_ui_lists_the_operations_offline(node_url: str, browser: Any) -> None:
    document = httpx.get(node_url + "/openapi.json").json()
    paths = {p.replace("/", "") for p in document["paths"]}
    ctx, page, outside = _offline_page(browser, node_url)
    try:
        assert page.goto(node_url + "/docs").status == 200
        page.wait_for_selector(".opblock", timeout=30_000)
        assert "batpass node" in page.locator(".title").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"))
        # Swagger UI renders the operations list as it is scrolled: scroll to the end, collecting;
        # at the end the last sections may still be rendering on a loaded machine, so collecting
        # goes on there until every operation is listed or 30 s have passed (the assertion below
        # judges what was shown)
        shown: set[str] = set()
        deadline = time.monotonic() + 30
        for _ in range(2000):
            shown.update(t.replace("\u200b", "") for t in page.locator("span.opblock-summary-path").all_inner_texts())
            at_end = page.evaluate("window.innerHeight + window.scrollY >= document.body.scrollHeight - 2")
            if at_end and ({x.replace("/", "") for x in shown} >= paths or time.monotonic() > deadline):
                break
            if at_end:
                page.wait_for_timeout(100)
            else:
                page.mouse.wheel(0, 700)
                page.wait_for_timeout(30)
    finally:
        ctx.close()
    assert outside == []
    assert {x.replace("/", "") for x in shown} == paths, "every operation of the document is listed"


def test_redoc_renders_the_document_offline(node_url: str, browser: Any) -> None:
    ctx, page, outside = _offline_page(browser, node_url)
    try:
        assert page.goto(node_url + "/redoc").status == 200
        page.wait_for_selector(".api-content h1", timeout=30_000)
        assert "batpass node" in page.locator(".api-content h1").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"))
    finally:
        ctx.close()
    assert outside == []


def test_the_assets_live_in_the_package() -> None:
    import batpass.web

    vendor = Path(batpass.web.__file__).parent / "static" / "vendor"
    assert (vendor / "swagger-ui" / "swagger-ui-bundle.js").is_file() and (
        vendor / "redoc" / "redoc.standalone.js"
    ).is_file()
