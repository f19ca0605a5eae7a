"""The console's trust and partners views: the trust lists with operator and validity, the
recognition rules, the credentials issued with their status (an administrator revokes one with
the session's CSRF token, audited; a viewer cannot), the participants, PACT partners and, on a
hub, each operator's releases to Catena-X — a user scoped to one operator sees that operator's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import ConsoleNode
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_console_routes import _form_token, sign_in
from views_testkit import PARTNER_BPNL, VIEW_MIGRATIONS, make_views_console
from web_testkit import RECYCLER

from batpass.trust import TrustService

MakeStore = Callable[[Sequence[Path]], Engine]


@pytest.fixture
def node(make_store: MakeStore, tmp_path: Path) -> ConsoleNode:
    return make_views_console(make_store(VIEW_MIGRATIONS), tmp_path / "ouranos")


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def test_the_trust_view_shows_lists_rules_and_issued_credentials(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    page = browser.get("/console/trust")
    assert page.status_code == 200
    trust = node.app.state.ctx.services[TrustService]
    for tl in trust.trust_lists():
        assert f'data-ecosystem="{tl.ecosystem}"' in page.text and tl.operator in page.text
    assert 'data-rule="ouranos-cfp-as-cx-pcf"' in page.text and "an Ouranos-certified CFP counts" in page.text
    issued = trust.issued()
    assert len(re.findall(r'data-issued="[^"]+" data-revoked="no"', page.text)) == len(issued) == 2
    assert "Revoke" not in page.text  # a viewer reads only


def test_an_admin_revokes_an_issued_credential_with_the_form(browser: TestClient, node: ConsoleNode) -> None:
    trust = node.app.state.ctx.services[TrustService]
    cid = trust.issued()[0]["id"]
    sign_in(browser, "vera")
    token = _form_token(browser.get("/console/trust").text)
    r = browser.post("/console/trust/revoke", data={"csrf": token, "credential": cid})
    assert r.status_code == 403 and "This needs the administrator role" in r.text
    assert not trust.issued()[0]["revoked"]
    browser.cookies.clear()
    sign_in(browser, "ada")
    r = browser.post("/console/trust/revoke", data={"csrf": "forged", "credential": cid})
    assert r.status_code == 403 and not trust.issued()[0]["revoked"]
    token = _form_token(browser.get("/console/trust").text)
    r = browser.post("/console/trust/revoke", data={"csrf": token, "credential": cid})
    assert r.status_code == 303 and trust.issued()[0]["revoked"]
    page = browser.get(r.headers["location"])
    assert f'data-issued="{cid}" data-revoked="yes"' in page.text and "Revoked:" in page.text
    again = browser.post("/console/trust/revoke", data={"csrf": token, "credential": cid})
    assert again.status_code == 409
    log = [(e.user, e.action, e.target, e.outcome) for e in node.accounts.audit_log(limit=10)]
    assert ("ada", "credential.revoke", cid, "ok") in log and ("vera", "credential.revoke", cid, "forbidden") in log


def test_a_scoped_admin_sees_and_revokes_only_their_operators_credentials(
    browser: TestClient, node: ConsoleNode
) -> None:
    trust = node.app.state.ctx.services[TrustService]
    theirs = next(c["id"] for c in trust.issued() if c["holder"] != RECYCLER)
    sign_in(browser, "rita")
    page = browser.get("/console/trust")
    assert len(re.findall(r"data-issued=", page.text)) == 1 and theirs not in page.text
    r = browser.post("/console/trust/revoke", data={"csrf": _form_token(page.text), "credential": theirs})
    assert r.status_code == 404 and not next(c for c in trust.issued() if c["id"] == theirs)["revoked"]


def test_the_partners_view_and_a_hub_users_releases(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    page = browser.get("/console/partners").text
    assert "Partner AG" in page and "cid-7" in page and "never shown" not in page
    assert 'data-participant="did:web:nordcell.example"' in page and "NordCell Batteries GmbH" in page
    assert "Cell KK" in page and "Cathode KK" in page and page.count(f'data-release="{PARTNER_BPNL}"') == 2
    browser.cookies.clear()
    sign_in(browser, "kei")
    page = browser.get("/console/partners").text
    assert "Cell KK" in page and "Cathode KK" not in page and page.count(f'data-release="{PARTNER_BPNL}"') == 1
    assert "carbon footprint (CFP)" in page
