"""Demo step ``sites``: the mines node registers the scenario's mines in its site register
(operator, ISO 3166-2 region, coordinates, minerals, certifications) and loads the synthetic CAHRA
sample, which flags the artisanal cobalt site in Lualaba (CD-LU) for enhanced due diligence — a
screening signal, not a verdict. Runs before ``ledger``, so the traces report that site's cobalt
as the high-risk share.

Writes ``story.sites`` (``registered``, ``certified``, ``high_risk``, ``cahra_dataset``;
README "What the demo shows"). Talks to the node over HTTPS only.
"""

from __future__ import annotations

from batpass.demo._sites import register_mine_sites
from batpass.demo._story._context import Story

__all__ = ["MINES", "run"]

#: the node that records the mining companies (``ledger.HOSTS``)
MINES = "cx-mines"


def run(story: Story) -> None:
    story.story["sites"] = register_mine_sites(story.client, story.node(MINES))
    s = story.story["sites"]
    story.console.print(
        f"site register at {MINES}: {s['registered']} mines, {s['certified']} certified,"
        f" {s['high_risk']} flagged for enhanced due diligence ({s['cahra_dataset']})"
    )
