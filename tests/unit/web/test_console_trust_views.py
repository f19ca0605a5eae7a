"""The console's trust and partners views: the trust lists with operator and validity, the
recognition rules, the credentials issued with their status (an administrator revokes one with
the session's CSRF token, audited; a viewer cannot), the participants, PACT partners and, on a
hub, each operator's releases to Catena-X — a user scoped to one operator sees that operator's."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import MIGRATIONS, PASSWORD, ConsoleNode, make_console
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_console_routes import _form_token, sign_in
from web_testkit import RECYCLER

sys.path.insert(0, str(Path(__file__).parents[1] / "trust"))
from trust_http import load_lists, role_subject
from trust_world import CX_BASE, make_world

from batpass.footprint import MIGRATIONS_DIR as FOOTPRINT_MIGRATIONS
from batpass.footprint import PactService
from batpass.ouranos import MIGRATIONS_DIR as OURANOS_MIGRATIONS
from batpass.ouranos import OuranosHub, Principal
from batpass.trust import MIGRATIONS_DIR as TRUST_MIGRATIONS
from batpass.trust import TrustService, did_document

MakeStore = Callable[[Sequence[Path]], Engine]
PARTNER_BPNL = "BPNL00000003AYRE"


@pytest.fixture
def node(make_store: MakeStore, tmp_path: Path) -> ConsoleNode:
    engine = make_store((*MIGRATIONS, FOOTPRINT_MIGRATIONS, TRUST_MIGRATIONS, OURANOS_MIGRATIONS))
    n = make_console(engine, lots=10)
    world = make_world()
    trust = TrustService(
        engine,
        world.cx,
        base_url=CX_BASE,
        ecosystem="catena-x",
        operators={"catena-x": world.cx.did, "ouranos": world.jp.did},
    )
    trust.resolver.pin(did_document(world.jp))
    load_lists(trust, world)
    trust.issue("AccessRoleCredential", role_subject(world))
    trust.issue("AccessRoleCredential", {**role_subject(world, "legitimate_interest"), "id": RECYCLER})
    pact = PactService(engine, base_url="https://id.nordcell.example")
    pact.register_peer(
        "https://partner.example:8443/pact", client_id="cid-7", client_secret="never shown", name="Partner AG"
    )
    hub = OuranosHub(engine, world.cx, hub_home=tmp_path / "ouranos", base_url="https://hub.example:9443")
    ops = [
        hub.onboard_operator(open_operator_id=oid, operator_name=name, operator_address="Tokyo")
        for oid, name in (("1111111111111", "Cell KK"), ("2222222222222", "Cathode KK"))
    ]
    hub.releases.put_bridge_release(Principal(ops[0].operator_id, "a"), PARTNER_BPNL, ["cfp"])
    hub.releases.put_bridge_release(Principal(ops[1].operator_id, "b"), PARTNER_BPNL, ["upstream-summary"])
    services = n.app.state.ctx.services
    services[TrustService], services[PactService], services[OuranosHub] = trust, pact, hub
    n.accounts.add_user("kei", "viewer", PASSWORD, operator=ops[0].did)
    n.accounts.add_user("rita", "admin", PASSWORD, operator=RECYCLER)
    return n


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
