"""Demo step ``reconciliation``: every shipment to another owner is reconciled with the receipts
at that owner's node (docs/outflows.md "Reconciliation across nodes").

Each node that recorded events reconciles (``POST /v1/ledger/reconciliation``): its notices go
signed through its outbox and the receivers' connectors (their reconciliation inbox asset; the
bridge's for the hub's operators) to the receivers' nodes, which judge their receipts and send back only
ok, short or diverted. Once the verdicts are in, each node reconciles again: a shipment past its
30-day window on the shipper's ledger clock with no verdict is missing — here the cobalt
hydroxide the Katanga mine shipped to the Zhejiang refiner, which no receipt acknowledges
(:attr:`batpass.scenario.Scenario.unacknowledged_shipment`; the mine's next extraction, weeks
later, moved its ledger on) — alerted at the mines' node and, told by it, at the refiners' node.

Writes ``story.reconciliation`` (README "What the demo shows"): ``{"shipments", "acknowledged",
"short", "diverted", "unacknowledged", "alerts", "blocked"}`` — the shipments to another owner
the federation's shippers reconciled, by outcome (those not yet due are the rest), the
reconciliation alerts raised at either end, and the shipments ``block`` mode refused
(``story.prevention``). Talks to the nodes over HTTPS only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story
from batpass.demo._story.ledger import _owners

__all__ = ["run"]

#: how long the verdicts may take to come back through the outboxes
WAIT_S = 180.0


def run(story: Story) -> None:
    sc = story.scenario
    hosts: Mapping[str, str] = story.shared["ledger.hosts"]
    _, node_of = _owners(story, hosts)
    nodes = sorted(set(node_of.values()))
    for name in nodes:  # notices of every shipment to another owner
        story.call("POST", name, "/v1/ledger/reconciliation")
    # the receivers judge on arrival; wait until every shipment to a federation member has its
    # verdict, but the one no receipt acknowledges
    unacknowledged = sc.unacknowledged_shipment if sc is not None else None

    # a shipper's row only moves from pending to a verdict: an owner found with none pending is
    # not read again while the others' verdicts come in (each read is a node's whole view)
    asked = dict(node_of)

    def waiting() -> list[str]:
        left = [
            s
            for s in _rows(story, asked, "shipper")
            if s["outcome"] == "pending" and s["to_owner"] in node_of and s["shipment"] != unacknowledged
        ]
        keep = {s["shipper"] for s in left}
        for did in [d for d in asked if d not in keep]:
            del asked[did]
        return [s["shipment"] for s in left]

    _until(waiting, "the receivers' verdicts")
    for name in nodes:  # past the window with no verdict: missing, told to the receiver
        story.call("POST", name, "/v1/ledger/reconciliation")
    if unacknowledged is not None:
        # only the receiver's node is asked while its "missing" comes in
        to = {s["to_owner"] for s in _rows(story, node_of, "shipper") if s["shipment"] == unacknowledged}
        receiver = {d: n for d, n in node_of.items() if d in to} or node_of
        _until(
            lambda: [] if _missing_at_receiver(story, receiver, unacknowledged) else [unacknowledged],
            "the receiver's missing",
        )
    both = _rows(story, node_of, "shipper", "receiver")  # one read of every owner's view for both roles
    shipped = [s for s in both if s["role"] == "shipper"]
    by = {o: sum(1 for s in shipped if s["outcome"] == o) for o in ("ok", "short", "diverted", "missing")}
    story.story["reconciliation"] = {
        "shipments": len(shipped),
        "acknowledged": by["ok"],
        "short": by["short"],
        "diverted": by["diverted"],
        "unacknowledged": by["missing"],
        "alerts": sum(1 for s in both if s["alert"]),
        "blocked": len(story.story.get("prevention", {}).get("blocked", [])),
    }
    r = story.story["reconciliation"]
    story.console.print(
        f"reconciled {r['shipments']} shipments to other owners: {r['acknowledged']} acknowledged, "
        f"{r['short']} short, {r['diverted']} diverted, {r['unacknowledged']} unacknowledged "
        f"({r['alerts']} alerts at shipper and receiver), {r['blocked']} refused by block mode"
    )


def _rows(story: Story, node_of: Mapping[str, str], *roles: str) -> list[dict[str, Any]]:
    """Every owner's reconciliation rows of these roles, read from its node."""
    out: list[dict[str, Any]] = []
    for did, name in sorted(node_of.items()):
        view = story.call("GET", name, "/v1/ledger/reconciliation", params={"owner": did}).json()
        out.extend(s for s in view["shipments"] if s["role"] in roles)
    return out


def _missing_at_receiver(story: Story, node_of: Mapping[str, str], shipment: str) -> bool:
    return any(s["shipment"] == shipment and s["outcome"] == "missing" for s in _rows(story, node_of, "receiver"))


def _until(pending: Any, what: str) -> None:
    end = time.monotonic() + WAIT_S
    while left := pending():
        if time.monotonic() > end:
            raise InvariantViolation(
                f"reconciliation: {len(left)} shipment(s) still waiting for {what}, e.g. {left[:3]}",
                rule="demo.reconciliation",
            )
        time.sleep(0.5)
