"""Demo step ``federation``: the two data spaces learn who is who, and the hub's operators say
what may cross the bridge (docs/architecture.md "The node", ``bridge``, and "Confidentiality").

1. **Trust lists and memberships** (from :mod:`batpass.demo._story.trust`): ``eu-certifier``
   operates Catena-X and ``jp-certifier`` Ouranos; every Catena-X node (the bridge and the mine
   and refinery nodes included) receives its ``MembershipCredential`` and the framework-agreement
   credential, the hub and its operators their Ouranos memberships. The connectors' DCP checks
   need them before the first federated trace.
2. **Crosswalk.** For each operator it hosts, ``jp-hub`` asserts, signed with its key, corporate
   number (the Ouranos ``openOperatorId``) ⇄ BPNL ⇄ DID (``POST
   /v1/ouranos/admin/operators/{id}/crosswalk-entry``); the bridge stores the entries (``POST
   /v1/bridge/crosswalk``; it trusts the hub as an asserter of operators). The bridge acts for
   these operators only.
3. **Releases.** Each operator, logged in on the published API, consents on the hub (``PUT
   /v1/ouranos/bridge/releases``): the cell maker releases its upstream summary, recall answers,
   CFP and certificates to the car maker's BPNL; the cathode maker its recall answers to the
   recycler (who supplies it recovered salts). From then on the cell maker's DID document names
   the bridge's connector as its ``DataService``.

Each Catena-X node's entry in ``summary.json`` gets a ``pact`` client for the reader.
Hand-offs: ``story.shared["federation.lists"]`` and ``["federation.members"]`` (the trust step's
tables), ``["bridge.bpnls"]`` (operator short name → BPNL).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.demo._story import trust
from batpass.demo._story._context import Story

__all__ = ["BRIDGE", "OPERATOR_BPNLS", "run"]

HUB = "jp-hub"
BRIDGE = "bridge"
CAR = "eu-carmaker"
RECYCLER = "eu-recycler"
#: the hub operators' Catena-X identities (BPNLs assigned by the Catena-X operator)
OPERATOR_BPNLS = {
    "jp-refiner": "BPNL00000JPREF01",
    "jp-cathode": "BPNL0000JPCATH01",
    "jp-cellmaker": "BPNL0000JPCELL01",
}
#: who releases what to whom through the bridge: (operator, partner node, scopes)
RELEASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("jp-cellmaker", CAR, ("upstream-summary", "downstream-recall", "cfp", "certificates")),
    ("jp-cathode", RECYCLER, ("downstream-recall",)),
)

JSON = dict[str, Any]


def _pact_clients(story: Story) -> None:
    """Each Catena-X node (the bridge included) gives the demo's reader a PACT API client, listed
    under ``pact`` in its ``summary.json`` entry (README "What the demo shows")."""
    for entry in story.summary["nodes"]:
        if "catena-x" not in entry["profiles"]:
            continue
        c = story.call(
            "POST", entry["name"], "/v1/footprints/pact/clients", json={"name": "demo reader"}, expect=(201,)
        ).json()
        entry["pact"] = {
            "base_url": entry["base_url"] + "/pact",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
        }


def run(story: Story) -> None:
    _pact_clients(story)
    story.shared["federation.lists"] = trust.operate_trust_lists(story)
    story.shared["federation.members"] = trust.memberships(story)
    operators: dict[str, JSON] = story.shared["ouranos.operators"]
    entries = []
    for short, op in operators.items():
        bpnl = OPERATOR_BPNLS[short]
        signed = story.call(
            "POST",
            HUB,
            f"/v1/ouranos/admin/operators/{op['operatorId']}/crosswalk-entry",
            json={"bpnl": bpnl},
            expect=(201,),
        ).json()
        stored = story.call("POST", BRIDGE, "/v1/bridge/crosswalk", json=signed, expect=(201,)).json()
        entries.append((short, op["openOperatorId"], bpnl, op["did"], stored))
    story.shared["bridge.bpnls"] = dict(OPERATOR_BPNLS)

    released: list[tuple[str, str, str]] = []
    for short, partner, scopes in RELEASES:
        if partner not in story.nodes:  # a smaller federation (deploy/compose.yaml) runs no such partner
            continue
        with story.ouranos(short) as client:
            bpnl = str(story.node(partner).node.config.bpnl)
            out = client.release_to_catenax(bpnl, scopes)
            released.extend((short, partner, r["scope"]) for r in out["releases"] if r["partnerBpnl"] == bpnl)
    doc = story.call("GET", HUB, f"/operators/{operators['jp-cellmaker']['operatorId']}/did.json", admin=False).json()
    dsp = [s for s in doc.get("service", []) if s.get("type") == "DataService"]
    if not dsp or dsp[0].get("participantId") != story.node(BRIDGE).did:
        raise InvariantViolation(
            "the cell maker's DID document does not name the bridge's connector after its release",
            rule="demo.federation.data-service",
        )
    _show(story, entries, released, dsp[0])


def _show(
    story: Story, entries: list[tuple[str, str, str, str, JSON]], released: list[tuple[str, str, str]], dsp: JSON
) -> None:
    c = story.console
    t = Table(title="crosswalk on the bridge (asserted and signed by jp-hub)")
    for col in ("operator", "corporate number", "BPNL", "DID"):
        t.add_column(col)
    for short, corp, bpnl, did, _ in entries:
        t.add_row(short, corp, bpnl, did)
    c.print(t)
    r = Table(title="releases through the bridge (each operator's consent on the hub)")
    for col in ("operator", "to", "scope"):
        r.add_column(col)
    for short, partner, scope in released:
        r.add_row(short, partner, scope)
    c.print(r)
    c.print(f"jp-cellmaker's DataService → {dsp['serviceEndpoint']} (operated by the bridge)")
