"""The console lists a shipment its receiver did not acknowledge as it lists outflows (the one
alert model, docs/console.md): kind, rule and evidence, in English and Japanese, and an operator
acts on it like on any alert."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import MIGRATIONS, PASSWORD, ConsoleNode, make_console
from fastapi.testclient import TestClient
from ledger_testkit import OWNER, identity
from sqlalchemy import Engine

from batpass.accounts import AlertState
from batpass.ledger import LedgerService, Reconciliation

MakeStore = Callable[[Sequence[Path]], Engine]
BUYER = "did:web:buyer.example"


@pytest.fixture
def node(make_store: MakeStore) -> ConsoleNode:
    node = make_console(make_store(MIGRATIONS))
    # the buyer's partition on the same node: the shipment is reconciled without a message
    ledger = LedgerService(node.ledger.engine, identity(OWNER), identities={BUYER: identity(BUYER)}.get)
    site = {"id": "P-JP", "country": "JP"}
    ledger.record(
        [
            {
                "id": "rc-1",
                "kind": "extraction",
                "owner": OWNER,
                "at": "2026-02-01T00:00:00Z",
                "site": site,
                "outputs": [{"lot": "RC-L", "material": "lithium_carbonate", "quantity": {"value": 40, "unit": "kg"}}],
            },
            {
                "id": "rc-2",
                "kind": "shipment",
                "owner": OWNER,
                "at": "2026-02-02T00:00:00Z",
                "site": site,
                "inputs": [{"lot": "RC-L", "quantity": {"value": 40, "unit": "kg"}}],
                "outputs": [{"lot": "RC-D", "material": "lithium_carbonate", "quantity": {"value": 40, "unit": "kg"}}],
                "shipment": {
                    "to_site": {"id": "W-1", "country": "JP"},
                    "destination_country": "JP",
                    "document": "BL-RC-2",
                    "to_owner": BUYER,
                },
            },
            {
                "id": "rc-3",
                "kind": "receipt",
                "owner": BUYER,
                "at": "2026-02-03T00:00:00Z",
                "site": {"id": "W-9", "country": "JP"},
                "outputs": [{"lot": "RC-R", "material": "lithium_carbonate", "quantity": {"value": 40, "unit": "kg"}}],
                "receipt": {"from_owner": OWNER, "from_lot": "RC-D", "document": "BL-RC-2"},
            },
        ]
    )
    recon = Reconciliation(ledger)
    recon.run()
    node.app.state.ctx.services[Reconciliation] = recon
    return node


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _sign_in(client: TestClient, name: str) -> str:
    page = client.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/console/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 303
    return client.get("/console/alerts").text


def test_a_diverted_shipment_is_an_alert_at_both_ends_that_an_operator_resolves(
    browser: TestClient, node: ConsoleNode
) -> None:
    page = _sign_in(browser, "otto")
    assert page.count("Shipment not acknowledged by its receiver") == 2  # the shipper's and the buyer's
    assert "received by another owner or at another site" in page and "BL-RC-2" in page
    keys = [k for k in re.findall(r'name="alert" value="([^"]+)"', page) if k.startswith("reconciliation:")]
    assert len(keys) == 2
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = browser.post(
        "/console/alerts", data={"csrf": token.group(1), "alert": keys[0], "state": "resolved", "note": "found it"}
    )
    assert r.status_code == 303
    assert node.accounts.alert_states()[keys[0]][:3] == (AlertState.RESOLVED, "found it", "otto")
    ja = browser.get("/console/alerts?lang=ja").text
    assert "受領者に受領確認されていない出荷" in ja and "別の所有者または別の拠点で受領" in ja
