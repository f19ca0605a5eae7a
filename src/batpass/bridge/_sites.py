"""Hub operators' site registers across the bridge (Japan → Europe, docs/bridge.md "Site
registers"): a Catena-X partner pulls the bridge's ``batpass-site-register`` asset with
``?operator=<the operator's DID>``; the bridge's connector verified the partner (DID and BPNL
from the agreement), :class:`HubSites` asks the hub (``POST /v1/ouranos/bridge/sites``, a DCP
self-issued token of the bridge addressed to the hub), and the hub answers the operator's
register only under the operator's release of the scope ``sites`` to that BPNL
(:meth:`~batpass.ouranos._sites.OperatorSites.bridge_sites`); otherwise the partner's pull is
refused (403) and no site crosses.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from batpass.bridge._link import HubLink
from batpass.core.errors import Forbidden, NotFound, UpstreamUnavailable
from batpass.ouranos import OuranosHub, released_json

__all__ = ["HubSites", "hub_sites_answer"]


class HubSites:
    """The bridge's reader of hub operators' released registers (the exchange's
    ``OperatorRegisters`` port of the site-register asset)."""

    def __init__(self, hub: HubLink) -> None:
        self.hub = hub

    async def sites(
        self, operator_did: str, *, consumer_did: str, consumer_bpnl: str | None, site: str | None
    ) -> dict[str, Any]:
        body = {"operator_did": operator_did, "consumer_did": consumer_did, "consumer_bpnl": consumer_bpnl}
        resp = await self.hub.post("/v1/ouranos/bridge/sites", body)
        if resp.status_code == 403:
            raise Forbidden(
                f"the operator has not released its sites to {consumer_bpnl or 'you'}",
                rule="Japan → Europe: only what the hub operator released crosses the bridge",
            )
        if resp.status_code == 404:
            raise NotFound(f"{operator_did} is no operator of the hub", field="operator", rule="hub operators")
        if resp.status_code != 200:
            raise UpstreamUnavailable(f"the hub answered {resp.status_code}", rule="bridge → hub")
        answer: dict[str, Any] = resp.json()
        if site is None:
            return answer
        hit = next((s for s in answer.get("sites", ()) if s.get("siteId") == site), None)
        if hit is None:
            raise NotFound(f"no site {site} in this register", field="site", rule="site register")
        return dict(hit)


async def hub_sites_answer(hub: OuranosHub, operator_did: str, consumer_bpnl: str | None) -> dict[str, Any]:
    """The hub's answer to its bridge: the operator's register if released to the BPNL."""
    op_id = await anyio.to_thread.run_sync(hub.operator_id_of, operator_did)
    if op_id is None:
        raise NotFound(f"{operator_did} is not an operator of this hub", field="operator_did")
    sites = await anyio.to_thread.run_sync(hub.sites.bridge_sites, op_id, consumer_bpnl)
    return {"operator": operator_did, "sites": [released_json(s) for s in sites]}
