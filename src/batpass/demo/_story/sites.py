"""Demo step ``sites``: the mines node registers the scenario's mines in its site register
(operator, ISO 3166-2 region, coordinates, minerals, certifications) and loads the synthetic CAHRA
sample, which flags the artisanal cobalt site in Lualaba (CD-LU) for enhanced due diligence — a
screening signal, not a verdict. Runs before ``ledger``, so the traces report that site's cobalt
as the high-risk share.

On the Ouranos side, the hub's operators register Japanese processing sites in their own
registers and release them (:mod:`batpass.demo._ouranos_sites`): the refiner to its buyer on the
hub, the cell maker to the car maker through the bridge; readers without a release are refused.

Writes ``story.sites`` (``registered``, ``certified``, ``high_risk``, ``cahra_dataset`` and
``ouranos``: ``registered``, ``read_under_release``, ``refused``; README "What the demo shows").
Talks to the nodes over HTTPS only.
"""

from __future__ import annotations

from batpass.demo._ouranos_sites import share_operator_sites
from batpass.demo._sites import register_mine_sites
from batpass.demo._story._context import Story

__all__ = ["MINES", "run"]

#: the node that records the mining companies (``ledger.HOSTS``)
MINES = "cx-mines"


def run(story: Story) -> None:
    story.story["sites"] = s = register_mine_sites(story.client, story.node(MINES))
    ops = story.shared.get("ouranos.operators", {})
    # a smaller federation (deploy/compose.yaml) may run no bridge or fewer operators
    if {"jp-refiner", "jp-cathode", "jp-cellmaker"} <= set(ops) and {"eu-carmaker", "bridge"} <= set(story.nodes):
        recycler = story.nodes.get("eu-recycler")
        s["ouranos"] = share_operator_sites(story.ouranos, ops, story.client, story.node("eu-carmaker"), recycler)
    story.console.print(
        f"site register at {MINES}: {s['registered']} mines, {s['certified']} certified,"
        f" {s['high_risk']} flagged for enhanced due diligence ({s['cahra_dataset']})"
    )
    if "ouranos" in s:
        o = s["ouranos"]
        story.console.print(
            f"hub operators' site registers: {o['registered']} sites, {o['read_under_release']} read under"
            f" the operators' releases (on the hub and through the bridge), {o['refused']} reads refused"
            " without a release"
        )
