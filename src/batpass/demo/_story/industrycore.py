"""Demo step ``industrycore``: Tractus-X tools can traverse the federation (docs/dataspace.md
"Industry Core and discovery").

1. The Catena-X operator (``eu-certifier``, profile ``discovery``) writes every member's BPNL →
   DID in its BPN-DID directory (``POST /api/management/bpn-directory``, its admin key), the hub
   operators' too (the BPNLs it assigned them, :data:`OPERATOR_BPNLS`): the onboarding a
   Tractus-X portal does.
2. The car maker registers the twin of one battery (``POST /v1/connector/twins/batteries``,
   readers: the recycler) — battery pass, SerialPart, SingleLevelUsageAsBuilt and
   SingleLevelBomAsBuilt submodels — and its identifiers (``partInstanceId``,
   ``manufacturerPartId``) in the operator's BPN discovery, with its own DCP token.
3. The car maker releases its bill of material to the recycler (``PUT
   /v1/connector/industry-core/bom-releases/{bpnl}``): one tier of suppliers, the cell maker's
   lots; nobody else sees them.
4. Upstream on Catena-X, the Chinese refiner registers the twin of one lot it dispatched
   (``POST /v1/connector/twins/lots``) and its ``batchId`` in the BPN discovery, the mines the
   twins of the lots that went into it; both release their bills of material to the recycler, so
   a walker can cross from the refiner's node to the mines' (the mines' lots have no suppliers).

Writes ``story.industry_core`` (README "What the demo shows"): the battery, its twin and global
asset id, the BPNL it was released to, the operator's discovery finder, and the refiner's lot.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story
from batpass.demo._story.federation import OPERATOR_BPNLS
from batpass.trust import issue_self_issued_token

__all__ = ["OPERATOR", "READER", "run"]

OPERATOR = "eu-certifier"
CAR = "eu-carmaker"
READER = "eu-recycler"
REFINER, MINES = "cx-refining", "cx-mines"
_FINDER = "/api/v1.0/administration/connectors/discovery"
_BPN_DISCOVERY = "/api/v1.0/administration/connectors/bpnDiscovery/batch"


def _directory(story: Story) -> int:
    """The operator's BPN-DID directory: every Catena-X member and every hub operator."""
    entries = {
        str(r.node.config.bpnl): r.did
        for r in story.nodes.values()
        if "catena-x" in r.node.config.profiles and r.node.config.bpnl
    }
    for short, op in story.shared.get("ouranos.operators", {}).items():
        entries[OPERATOR_BPNLS[short]] = str(op["did"])
    for bpn, did in sorted(entries.items()):
        story.call("POST", OPERATOR, "/api/management/bpn-directory", json={"bpn": bpn, "did": did}, expect=(204,))
    return len(entries)


def _battery(story: Story) -> str:
    """A battery with a live passport whose cells the ledger holds (the traced one if it is)."""
    ids: dict[str, str] = story.shared["passport.ids"]
    gone = {story.shared.get("passport.recycled"), (story.shared.get("passport.repurposed") or {}).get("old")}
    traced = (story.story.get("trace") or {}).get("battery")
    candidates = [traced, *story.shared["ledger.batteries"]]
    for uri in candidates:
        if uri and uri in ids and uri not in gone:
            return str(uri)
    raise InvariantViolation("no battery with a live passport for the Industry Core twin", rule="demo.industrycore")


def _discoverable(story: Story, name: str, pairs: list[dict[str, str]]) -> None:
    """Register identifiers in the operator's BPN discovery with ``name``'s own DCP token."""
    node, operator = story.node(name), story.node(OPERATOR)
    token = issue_self_issued_token(node.node.identity, audience=operator.did, bpn=node.node.config.bpnl)
    story.call(
        "POST",
        OPERATOR,
        _BPN_DISCOVERY,
        admin=False,
        json=pairs,
        headers={"Authorization": f"Bearer {token}"},
        expect=(201,),
    )


def _upstream(story: Story, reader_bpnl: str) -> dict[str, Any] | None:
    """The refiner's first dispatched lot and the mines' lots it was made of, as twins."""
    if REFINER not in story.nodes or MINES not in story.nodes or story.scenario is None:
        return None
    refiner, mines = story.node(REFINER).did, story.node(MINES).did
    events = story.scenario.events
    made_by = {o["lot"]: e for e in events if e["owner"] == refiner for o in e.get("outputs", [])}
    shipped = next((e for e in events if e["owner"] == refiner and e["kind"] == "shipment" and e.get("inputs")), None)
    if shipped is None:
        return None
    lot = str(shipped["outputs"][0]["lot"])
    supplier_lots: list[str] = []
    todo, seen = [i["lot"] for i in shipped["inputs"]], set()
    while todo:  # the refiner's own graph down to its receipts from the mines
        cur = todo.pop()
        ev = made_by.get(cur)
        if ev is None or cur in seen:
            continue
        seen.add(cur)
        receipt = ev.get("receipt") or {}
        if ev["kind"] == "receipt" and receipt.get("from_owner") == mines:
            supplier_lots.append(str(receipt["from_lot"]))
        todo.extend(i["lot"] for i in ev.get("inputs", []))
    for name, lots in ((REFINER, [lot]), (MINES, sorted(set(supplier_lots)))):
        for one in lots:
            body = {"lot": one, "readers": [reader_bpnl]}
            story.call("POST", name, "/v1/connector/twins/lots", json=body, expect=(201,))
        story.call("PUT", name, f"/v1/connector/industry-core/bom-releases/{quote(reader_bpnl)}", expect=(200,))
    _discoverable(story, REFINER, [{"type": "batchId", "key": lot}])
    return {"node": REFINER, "lot": lot, "supplier_lots": len(set(supplier_lots))}


def run(story: Story) -> None:
    if OPERATOR not in story.nodes or "discovery" not in story.node(OPERATOR).node.config.profiles:
        return  # a smaller federation (deploy/compose.yaml) runs no discovery services
    if CAR not in story.nodes or READER not in story.nodes or "passport.ids" not in story.shared:
        return  # no passports (a story run without the passport step): nothing to make traversable
    members = _directory(story)
    reader, operator = story.node(READER), story.node(OPERATOR)
    reader_bpnl = str(reader.node.config.bpnl)
    battery = _battery(story)
    twin: dict[str, Any] = story.call(
        "POST", CAR, "/v1/connector/twins/batteries", json={"battery": battery, "readers": [reader_bpnl]}, expect=(201,)
    ).json()
    ids = {s["name"]: s["value"] for s in twin["specificAssetIds"]}
    _discoverable(story, CAR, [{"type": k, "key": ids[k]} for k in ("partInstanceId", "manufacturerPartId")])
    story.call("PUT", CAR, f"/v1/connector/industry-core/bom-releases/{quote(reader_bpnl)}", expect=(200,))
    upstream = _upstream(story, reader_bpnl)
    story.story["industry_core"] = {
        "battery": battery,
        "twin": twin["id"],
        "globalAssetId": twin["globalAssetId"],
        "partInstanceId": ids["partInstanceId"],
        "manufacturerPartId": ids["manufacturerPartId"],
        "readers": [reader_bpnl],
        "bom_released_to": [reader_bpnl],
        "discovery_finder": operator.base_url + _FINDER,
        "bpn_directory": operator.base_url + "/api/directory/bpn-directory",
        "directory_entries": members,
        "upstream_lot": upstream,
    }
    t = Table(title="Industry Core twin and discovery (Tractus-X tools can traverse)")
    for col in ("battery", "submodels", "readable by", "bill of material released to", "directory entries"):
        t.add_column(col)
    t.add_row(battery, str(len(twin["submodelDescriptors"])), reader.name, reader.name, str(members))
    story.console.print(t)
