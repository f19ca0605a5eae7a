"""Shipments reconciled across served nodes over HTTPS (docs/outflows.md "Reconciliation across
nodes"): a shipper, its customer and an authority, each its own process with its own database.
The shipper's notices, the customer's verdicts and both sides' reports travel signed through the
nodes' outboxes and their connectors (each node's ``batpass-reconciliation-inbox`` asset, under
a policy admitting the partners its config names); a short receipt and a missing one are alerted
at both ends and reported to the authority the nodes' config names, and the shipper never learns
the quantity received. A fourth node, not among the customer's partners, gets no agreement and
its notice changes nothing there; no node takes a message outside its connector."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from batpass.dataspace._sql import negotiations
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation
from batpass.store import outbox_table
from batpass.trust import client_ssl_context

pytestmark = pytest.mark.integration

SHIPPED = "2026-01-03T08:00:00Z"


def _event(eid: str, kind: str, owner: str, at: str, site: str, **extra: Any) -> dict[str, Any]:
    return {"id": eid, "kind": kind, "owner": owner, "at": at, "site": {"id": site, "country": "DE"}, **extra}


def _lot(lot: str, kg: float) -> dict[str, Any]:
    return {"lot": lot, "material": "lithium_carbonate", "quantity": {"value": kg, "unit": "kg"}}


def _shipment(
    eid: str, owner: str, site: str, taken: tuple[str, float], lot: str, to: str, document: str
) -> dict[str, Any]:
    """``owner`` ships ``taken`` (lot, kg) from ``site`` as ``lot`` to the customer ``to``'s plant."""
    return _event(
        eid,
        "shipment",
        owner,
        SHIPPED,
        site,
        inputs=[{"lot": taken[0], "quantity": {"value": taken[1], "unit": "kg"}}],
        outputs=[_lot(lot, taken[1])],
        shipment={
            "to_site": {"id": "CAM-DE-1", "country": "DE"},
            "destination_country": "DE",
            "to_owner": to,
            "document": document,
        },
    )


def _record(c: httpx.Client, node: RunningNode, events: list[dict[str, Any]]) -> None:
    r = c.post(node.base_url + "/v1/ledger/events", json=events, headers=node.admin_headers())
    assert r.status_code == 200, r.text


def _reconcile(c: httpx.Client, node: RunningNode) -> dict[str, int]:
    """Run ``node``'s reconciliation pass; what it changed."""
    r = c.post(node.base_url + "/v1/ledger/reconciliation", headers=node.admin_headers())
    assert r.status_code == 200, r.text
    changed: dict[str, int] = r.json()["changed"]
    return changed


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningNode, RunningNode, RunningNode, RunningNode]]:
    home = tmp_path_factory.mktemp("reconcile")
    specs = [
        NodeSpec("shipper", ("catena-x",), legal_name="Refiner GmbH", country="DE", bpnl="BPNL00000000S01F"),
        NodeSpec("customer", ("catena-x",), legal_name="Cathode GmbH", country="DE", bpnl="BPNL00000000C01F"),
        NodeSpec("authority", ("catena-x",), legal_name="Authority", country="DE", bpnl="BPNL00000000A01F"),
        NodeSpec("stranger", ("catena-x",), legal_name="Stranger GmbH", country="DE", bpnl="BPNL00000000X01F"),
    ]
    # each inbox admits the partners its node trades with, and the authority
    partners = {
        "shipper": ["BPNL00000000C01F", "BPNL00000000A01F"],
        "customer": ["BPNL00000000S01F", "BPNL00000000A01F"],
        "authority": ["BPNL00000000S01F", "BPNL00000000C01F"],
        "stranger": ["BPNL00000000C01F"],
    }

    def configure(runs: list[RunningNode]) -> None:
        operator_config(2)(runs)  # the authority's node signs the Catena-X trust list here
        authority = runs[2].did  # a config value: the node the alerts are reported to
        for r in runs:
            settings: dict[str, Any] = {"window_days": 30, "partners": partners[r.name]}
            if r.name != "authority":
                settings["authority"] = authority
            r.node.config.extra["reconciliation"] = settings

    with federation(home, specs, configure=configure) as (shipper, customer, authority, stranger):
        # every node a member (the stranger too: what keeps it out is the customer's policy)
        catenax_memberships(home, authority, [shipper, customer, authority, stranger])
        yield shipper, customer, authority, stranger


def _until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_short_and_missing_receipts_are_alerted_at_both_ends_and_reported(
    nodes: tuple[RunningNode, RunningNode, RunningNode, RunningNode],
) -> None:
    shipper, customer, authority, _ = nodes
    events = [
        _event("x1", "extraction", shipper.did, "2026-01-02T08:00:00Z", "REF-DE-1", outputs=[_lot("LC", 1500.0)]),
        _shipment("s1", shipper.did, "REF-DE-1", ("LC", 1000.0), "LC-1", customer.did, "BL-1"),
        _shipment("s2", shipper.did, "REF-DE-1", ("LC", 500.0), "LC-2", customer.did, "BL-2"),
    ]
    receipt = _event(
        "r1",
        "receipt",
        customer.did,
        "2026-01-05T08:00:00Z",
        "CAM-DE-1",
        outputs=[_lot("IN-1", 987.65)],
        receipt={"from_owner": shipper.did, "from_lot": "LC-1", "document": "BL-1"},
    )
    later = _event("x2", "extraction", shipper.did, "2026-02-03T08:00:01Z", "REF-DE-1", outputs=[_lot("LC9", 1.0)])
    with httpx.Client(verify=client_ssl_context(shipper.node.paths.ca_cert), timeout=60) as c:

        def get(node: RunningNode) -> dict[str, Any]:
            r = c.get(node.base_url + "/v1/ledger/reconciliation", headers=node.admin_headers())
            assert r.status_code == 200, r.text
            out: dict[str, Any] = r.json()
            return out

        def outcome(node: RunningNode, shipment: str) -> str | None:
            return next((s["outcome"] for s in get(node)["shipments"] if s["shipment"] == shipment), None)

        for node, evs in ((shipper, events), (customer, [receipt])):
            _record(c, node, evs)
        assert _reconcile(c, shipper) == {"pending": 2}
        # the customer judges the receipt it holds (1.2 % short) and tells the shipper only that
        _until("the short verdict", lambda: outcome(shipper, "s1") == "short")
        assert outcome(customer, "s1") == "short" and outcome(customer, "s2") == "pending"
        # 31 days on, on the shipper's ledger: the second shipment is missing, at both ends
        _record(c, shipper, [later])
        assert _reconcile(c, shipper) == {"missing": 1}
        _until("the customer's missing", lambda: outcome(customer, "s2") == "missing")

        for node in (shipper, customer):
            alerts = {s["shipment"]: s["alert"] for s in get(node)["shipments"]}
            assert alerts == {"s1": "reconciliation.short", "s2": "reconciliation.missing"}, node.name
        seen_by_shipper = json.dumps(get(shipper))
        assert "987.65" not in seen_by_shipper and "IN-1" not in seen_by_shipper

        # the authority's view: each side's report, signed by it, no quantity
        def reports() -> list[dict[str, Any]]:
            return list(get(authority)["shipments"])

        _until("four reports", lambda: len(reports()) == 4)
        got = {(s["shipment"], s["reported_by"], s["outcome"]) for s in reports()}
        assert got == {
            ("s1", customer.did, "short"),
            ("s1", shipper.did, "short"),
            ("s2", customer.did, "missing"),
            ("s2", shipper.did, "missing"),
        }
        assert "987.65" not in json.dumps(reports()) and "1000.0" not in json.dumps(reports())

        # the messages went through the connectors: the shipper holds an agreement for the
        # customer's and the authority's inboxes, and no node takes one outside its connector
        assert _agreed(shipper) >= {customer.did, authority.did}
        assert _agreed(customer) >= {shipper.did, authority.did}
        forged = c.post(customer.base_url + "/v1/ledger/reconciliation/messages", json={"jws": "e30.e30.AAAA"})
        assert forged.status_code in (404, 405)


def _agreed(node: RunningNode) -> set[str]:
    """The providers this node holds a finalized agreement with for their reconciliation inbox."""
    n = negotiations
    with node.node.engine.connect() as conn:
        rows = conn.execute(select(n.c.counterparty_did, n.c.offer, n.c.state).where(n.c.role == "consumer")).all()
    return {
        r.counterparty_did
        for r in rows
        if r.state == "FINALIZED" and "batpass-reconciliation-inbox" in json.dumps(r.offer)
    }


def test_a_node_not_among_the_partners_gets_no_agreement_and_changes_nothing(
    nodes: tuple[RunningNode, RunningNode, RunningNode, RunningNode],
) -> None:
    _, customer, _, stranger = nodes
    events = [
        _event("y1", "extraction", stranger.did, "2026-01-02T08:00:00Z", "X-DE-1", outputs=[_lot("XC", 100.0)]),
        _shipment("y2", stranger.did, "X-DE-1", ("XC", 100.0), "XC-1", customer.did, "BL-X"),
    ]
    with httpx.Client(verify=client_ssl_context(stranger.node.paths.ca_cert), timeout=60) as c:
        _record(c, stranger, events)
        assert _reconcile(c, stranger) == {"pending": 1}

        def notice() -> Any:
            with stranger.node.engine.connect() as conn:
                return conn.execute(select(outbox_table).where(outbox_table.c.kind == "ledger.reconciliation")).first()

        # the customer's connector offers its inbox to its partners only: given up, with the reason
        _until("the refused notice", lambda: (row := notice()) is not None and row.status == "dead")
        row = notice()
        assert row.response_status == 403 and row.attempts == 1
        r = c.get(customer.base_url + "/v1/ledger/reconciliation", headers=customer.admin_headers())
        assert r.status_code == 200 and "y2" not in {s["shipment"] for s in r.json()["shipments"]}
