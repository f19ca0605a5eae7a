"""The API documentation pages load nothing from outside the node, and the vendored assets are
the files their provenance names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from batpass.core.settings import Settings
from batpass.node import create_app, init_node

VENDOR = Path(__file__).parents[3] / "src" / "batpass" / "web" / "static" / "vendor"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home")
    node, _ = init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One", bpnl="BPNL00000003AYRE")
    node.close()
    with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_use_only_the_nodes_own_assets(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""", html.text)
    refs = [a or b for a, b in urls]
    assert refs, "the page names its assets"
    assert not [r for r in refs if re.match(r"^(https?:)?//", r)], refs
    assert "validatorUrl" not in html.text or '"validatorUrl": null' in html.text
    for ref in refs:
        if ref.startswith("/static/"):
            got = client.get(ref)
            assert got.status_code == 200 and len(got.content) > 500, ref


def test_the_vendored_files_are_those_recorded() -> None:
    rows = re.findall(r"^\| `([^`]+)`.*\| `([0-9a-f]{64})` \|$", (VENDOR / "PROVENANCE.md").read_text(), re.M)
    assert len(rows) == 7
    for name, digest in rows:
        path = VENDOR / name.split(" ")[0]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    for licence in (
        "swagger-ui/LICENSE",
        "swagger-ui/NOTICE",
        "redoc/LICENSE",
        "jsqr/LICENSE",
        "world-atlas/LICENSE",
        "topojson-client/LICENSE",
    ):
        assert (VENDOR / licence).stat().st_size > 50


def test_production_can_switch_the_docs_off(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", api_docs=False)
    node, _ = init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One", bpnl="BPNL00000003AYRE")
    node.close()
    with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/static/api-docs/redoc/redoc.standalone.js"):
            assert c.get(path).status_code == 404, path
