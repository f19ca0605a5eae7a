"""The demo's ``reconciliation`` step (README "What the demo shows", docs/outflows.md
"Reconciliation across nodes"), checked through ``summary.json`` of the session's full demo run
and the nodes' own APIs: every shipment to another owner in the federation is acknowledged but
one, the Katanga mine's cobalt hydroxide that no receipt acknowledges, alerted at both ends."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_runner import DemoRun

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> tuple[Path, dict[str, Any]]:
    return demo_run.out, demo_run.summary


def test_story_reconciliation_has_the_public_shape(demo: tuple[Path, dict[str, Any]]) -> None:
    _, summary = demo
    rec = summary["story"]["reconciliation"]
    assert set(rec) == {"shipments", "acknowledged", "short", "diverted", "unacknowledged", "alerts", "blocked"}
    assert all(type(v) is int for v in rec.values())
    assert rec["unacknowledged"] == 1 and rec["short"] == 0 and rec["diverted"] == 0
    assert rec["alerts"] == 2  # the unacknowledged shipment, at the shipper and at the receiver
    assert rec["blocked"] == len(summary["story"]["prevention"]["blocked"]) == 1
    # the rest is acknowledged but the black mass to Korea, inside its window on the recycler's
    # ledger (its smelter is outside the federation)
    assert rec["shipments"] > 400 and rec["acknowledged"] == rec["shipments"] - 2
    # story.outflows keeps its shape
    assert all(set(f) == {"shipment", "rule", "evidence"} for f in summary["story"]["outflows"])


def test_the_unacknowledged_shipment_is_alerted_at_both_ends(demo: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo
    by_name = {n["name"]: n for n in summary["nodes"]}
    ca = ssl.create_default_context(cafile=str(out / summary["ca_cert"]))
    seen: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(verify=ca, timeout=30) as client:
        for name in ("cx-mines", "cx-refining"):
            node = by_name[name]
            r = client.get(node["base_url"] + "/v1/ledger/reconciliation", headers={"X-Api-Key": node["admin_key"]})
            assert r.status_code == 200, r.text
            seen[name] = [s for s in r.json()["shipments"] if s["alert"]]
    [shipper] = seen["cx-mines"]
    [receiver] = seen["cx-refining"]
    assert shipper["role"] == "shipper" and receiver["role"] == "receiver"
    assert shipper["shipment"] == receiver["shipment"]
    assert shipper["alert"] == receiver["alert"] == "reconciliation.missing"
    assert shipper["to_owner"] == by_name["cx-refining"]["did"] and shipper["shipper"] == by_name["cx-mines"]["did"]
    assert "shipped_kg" not in receiver  # a quantity is listed only in the shipper's own view
