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

Writes ``story.industry_core`` (README "What the demo shows"): the battery, its twin and global
asset id, the BPNL it was released to, and the operator's discovery finder.
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
_FINDER = "/api/v1.0/administration/connectors/discovery"
_BPN_DISCOVERY = "/api/v1.0/administration/connectors/bpnDiscovery/batch"


def _directory(story: Story) -> int:
    """The operator's BPN-DID directory: every Catena-X member and every hub operator."""
    entries = {
        str(r.node.config.bpnl): r.did
        for r in story.nodes.values()
        if "catena-x" in r.node.config.profiles and r.node.config.bpnl
    }
    for short, op in story.shared["ouranos.operators"].items():
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


def run(story: Story) -> None:
    if OPERATOR not in story.nodes or "discovery" not in story.node(OPERATOR).node.config.profiles:
        return  # a smaller federation (deploy/compose.yaml) runs no discovery services
    members = _directory(story)
    car, reader, operator = story.node(CAR), story.node(READER), story.node(OPERATOR)
    reader_bpnl = str(reader.node.config.bpnl)
    battery = _battery(story)
    twin: dict[str, Any] = story.call(
        "POST", CAR, "/v1/connector/twins/batteries", json={"battery": battery, "readers": [reader_bpnl]}, expect=(201,)
    ).json()
    ids = {s["name"]: s["value"] for s in twin["specificAssetIds"]}
    token = issue_self_issued_token(car.node.identity, audience=operator.did, bpn=car.node.config.bpnl)
    pairs = [{"type": k, "key": ids[k]} for k in ("partInstanceId", "manufacturerPartId")]
    story.call(
        "POST",
        OPERATOR,
        _BPN_DISCOVERY,
        admin=False,
        json=pairs,
        headers={"Authorization": f"Bearer {token}"},
        expect=(201,),
    )
    story.call("PUT", CAR, f"/v1/connector/industry-core/bom-releases/{quote(reader_bpnl)}", expect=(200,))
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
    }
    t = Table(title="Industry Core twin and discovery (Tractus-X tools can traverse)")
    for col in ("battery", "submodels", "readable by", "bill of material released to", "directory entries"):
        t.add_column(col)
    t.add_row(battery, str(len(twin["submodelDescriptors"])), reader.name, reader.name, str(members))
    story.console.print(t)
