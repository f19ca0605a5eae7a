"""Channels opened on first contact, across six real nodes over HTTPS that do not negotiate
ahead (``federation_prenegotiate: false``; docs/dataspace.md "Channels opened on first
contact"): nothing is open until a customer contacts a node; then that node opens its own
supplier channels without any trace from it, the contacts travel up tier by tier, a supplier
outside the dataspace fails alone, and a trace that follows negotiates each channel once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from batpass.demo._dataspace_setup import SupplyChain, supply_chain_federation

pytestmark = pytest.mark.integration

OUTSIDE = "supplier's DID does not resolve (outside the dataspace)"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupplyChain]:
    with supply_chain_federation(tmp_path_factory.mktemp("fedcontact"), prenegotiate=False) as c:
        yield c


def _status(chain: SupplyChain) -> dict[str, dict[str, Any]]:
    with chain.client() as c:
        return {
            role: c.get(r.base_url + "/v1/federation/channels", headers=r.admin_headers()).json()
            for role, r in chain.nodes.items()
        }


def _negotiations(run: Any) -> list[tuple[str, int]]:
    """This node's consumer negotiations per provider."""
    con = sqlite3.connect(Path(run.node.home) / "node.db")
    try:
        rows = con.execute(
            "SELECT counterparty_did, count(*) FROM dsp_negotiations WHERE role = 'consumer' GROUP BY counterparty_did"
        ).fetchall()
        return sorted((str(p), int(n)) for p, n in rows)
    finally:
        con.close()


def _suppliers_ready(status: dict[str, Any]) -> bool:
    kept = [x for x in status["channels"] if x["role"] == "supplier" and x.get("reason") != OUTSIDE]
    return bool(kept) and all(x["state"] == "ready" for x in kept)


def test_a_customers_catalog_request_opens_the_supplier_channels_of_every_tier_above(chain: SupplyChain) -> None:
    before = _status(chain)
    assert all(s["ready"] == 0 and s["contacts"] == 0 and not s["running"] for s in before.values()), before
    assert all(_negotiations(r) == [] for r in chain.nodes.values())
    pack, cells = chain.nodes["pack"], chain.nodes["cells"]
    # the pack node asks the cell node for its catalog (its management API): no trace anywhere
    with chain.client() as c:
        body = {"counterPartyAddress": cells.base_url + "/api/dsp/2025-1", "counterPartyId": cells.did}
        r = c.post(pack.base_url + "/management/v3/catalog/request", json=body, headers=pack.admin_headers())
    assert r.status_code == 200, r.text  # its foil supplier, outside the dataspace, fails apart
    deadline = time.monotonic() + 90
    above = ("cells", "cathode", "precursor", "refining")
    while True:
        status = _status(chain)
        if all(_suppliers_ready(status[role]) for role in above):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert [x["state"] for x in status["cells"]["channels"] if x.get("reason") == OUTSIDE] == ["failed"]
    # contacts go up, the way an upstream question goes: nobody opened a customer channel, and
    # the pack node (contacted by no one) opened nothing
    assert all(x["state"] != "ready" for s in status.values() for x in s["channels"] if x["role"] == "customer")
    assert status["pack"]["ready"] == 0 and status["pack"]["contacts"] == 0
    assert status["cells"]["contacts"] >= 1


def test_a_trace_after_the_contacts_negotiates_each_channel_once(chain: SupplyChain) -> None:
    pack = chain.nodes["pack"]
    with chain.client() as c:
        battery = chain.scenario.battery_ids[0]
        r = c.get(pack.base_url + "/v1/trace/federated/" + quote(battery, safe=""), headers=pack.admin_headers())
    assert r.status_code == 200, r.text
    assert r.json()["mines_reached"] == 7
    for run in chain.nodes.values():
        assert all(n == 1 for _, n in _negotiations(run)), (run.name, _negotiations(run))
    assert [p for p, _ in _negotiations(pack)] == [chain.nodes["cells"].did]
