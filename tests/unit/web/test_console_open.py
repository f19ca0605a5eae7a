"""The console's "open a passport" page (``/console/open``) on a node that reaches other nodes
over a real HTTP client: every signed-in role may open; the form needs its CSRF token; a read
that fails says why in a sentence (never a stack trace) and is written to the audit log with the
user. (Opening a real partner's passport at its tiers runs on the demo's nodes:
``tests/integration/test_demo_console.py``.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import anyio
import httpx
import pytest
from console_testkit import MIGRATIONS, PASSWORD, ConsoleNode, make_console
from fastapi.testclient import TestClient
from sqlalchemy import Engine

MakeStore = Callable[[Sequence[Path]], Engine]


@pytest.fixture
def node(make_store: MakeStore) -> Iterator[ConsoleNode]:
    made = make_console(make_store(MIGRATIONS), lots=10)
    client = httpx.AsyncClient(timeout=5)
    made.app.state.ctx.client = client
    yield made
    anyio.run(client.aclose)


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def _sign_in(client: TestClient, name: str) -> None:
    page = client.get("/console/login")
    r = client.post("/console/login", data={"name": name, "password": PASSWORD, "csrf": _token(page.text)})
    assert r.status_code == 303


def test_a_viewer_opens_the_form_and_an_unreachable_node_is_named(browser: TestClient, node: ConsoleNode) -> None:
    _sign_in(browser, "vera")
    form = browser.get("/console/open")
    assert form.status_code == 200 and 'name="url"' in form.text and 'aria-current="page"' in form.text
    url = "https://127.0.0.1:1/01/04012345000009/21/X"  # nothing listens on port 1
    r = browser.post("/console/open", data={"url": url, "csrf": _token(form.text)})
    assert r.status_code == 200
    assert "Node unreachable:" in r.text and "Traceback" not in r.text and 'id="tiers"' not in r.text
    last = node.accounts.audit_log(user="vera")[0]
    assert (last.action, last.target, last.outcome) == ("passport.open-remote", url, "unreachable")


def test_an_address_that_is_not_https_is_refused_with_the_rule(browser: TestClient, node: ConsoleNode) -> None:
    _sign_in(browser, "vera")
    token = _token(browser.get("/console/open").text)
    r = browser.post("/console/open", data={"url": "http://example.org/01/1/21/2", "csrf": token})
    assert r.status_code == 400 and "https URL" in r.text
    assert node.accounts.audit_log(user="vera")[0].outcome == "invalid"


def test_the_form_needs_its_token_and_a_session(browser: TestClient, node: ConsoleNode) -> None:
    r = browser.post("/console/open", data={"url": "https://127.0.0.1:1/x"})
    assert r.status_code == 303 and "/console/login" in r.headers["location"]  # no session: sign in
    _sign_in(browser, "vera")
    r = browser.post("/console/open", data={"url": "https://127.0.0.1:1/x", "csrf": "forged"})
    assert r.status_code == 403 and "Nothing was changed." in r.text
    assert node.accounts.audit_log(user="vera")[0].outcome == "csrf-refused"


def test_the_page_speaks_japanese(browser: TestClient) -> None:
    _sign_in(browser, "vera")
    page = browser.get("/console/open", headers={"Accept-Language": "ja"})
    assert "パスポートを開く" in page.text
