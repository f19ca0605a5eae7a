"""The console's partners view (``/console/partners``): who this node works with and what it
lets through —

- the participants it knows (its register: legal name, country, DID, BPNL, corporate number);
- its PACT partners (the footprint connectors it calls: base URL, token endpoint, client id —
  never a secret);
- on an Ouranos hub, each hosted operator with its releases to Catena-X partners through the
  bridge (partner BPNL, scope, since when): a hub user scoped to one operator sees that
  operator's only;
- on a bridge, the identity crosswalk it keeps (corporate number ⇄ BPNL ⇄ DID, plant ⇄ BPNS,
  part ⇄ twin), each entry with who asserted it and whether it is still in force.

Read only for every role; reads the capabilities through their services.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from batpass.bridge import CrosswalkService
from batpass.footprint import PactService
from batpass.http import Ctx
from batpass.ouranos import OuranosHub, Principal
from batpass.participants import ParticipantService
from batpass.web._i18n import N_, gettext_for
from batpass.web._page_blocks import country_name
from batpass.web.console._scope import in_scope
from batpass.web.console._session import BASE, ConsoleRefusal, console_page, signed_in
from batpass.web.console._views import common, when

__all__ = ["SCOPE_NAMES", "router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

#: what an operator releases to a Catena-X partner through the bridge (docs/bridge.md)
SCOPE_NAMES = {
    "upstream-summary": N_("upstream summary"),
    "downstream-recall": N_("downstream recall"),
    "cfp": N_("carbon footprint (CFP)"),
    "certificates": N_("certificates"),
    "sites": N_("site register"),
}


def _hub(ctx: Ctx, scope_ok: Any) -> list[dict[str, Any]]:
    _ = gettext_for()
    hub = ctx.services.get(OuranosHub)
    if hub is None:
        return []
    out = []
    for op in hub.operators():
        if not scope_ok(op.did):
            continue
        releases = hub.releases.bridge_releases(Principal(op.operator_id, ""))
        out.append(
            {
                "name": op.operator_name,
                "open_id": op.open_operator_id,
                "did": op.did,
                "releases": [
                    {
                        "partner": r.partner_bpnl,
                        "scope": _(SCOPE_NAMES.get(r.scope, r.scope)),
                        "at": when(r.released_at),
                    }
                    for r in releases
                ],
            }
        )
    return out


def _crosswalk(ctx: Ctx) -> list[dict[str, Any]]:
    _ = gettext_for()
    crosswalk = ctx.services.get(CrosswalkService)
    if crosswalk is None:
        return []
    return [
        {
            "kind": e.entry.kind.value,
            "slots": "; ".join(f"{k}: {v}" for k, v in e.entry.slots().items()),
            "by": str(e.entry.asserted_by),
            "at": when(e.entry.asserted_at),
            "state": _("in force") if e.superseded_by is None else _("superseded"),
        }
        for e in crosswalk.list()
    ]


@router.get("/partners", response_model=None)
def partners(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    register = ctx.services.get(ParticipantService)
    pact = ctx.services.get(PactService)
    participants = [
        {
            "name": p.legal_name,
            "country": country_name(p.country),
            "did": str(p.did),
            "bpnl": str(p.bpnl or ""),
            "corporate_number": str(p.corporate_number or ""),
        }
        for p in (register.list() if register is not None else [])
    ]
    peers = [
        {
            "name": p.name or "",
            "base_url": p.base_url,
            "token_url": p.token_url,
            "client_id": p.client_id,
            "at": when(p.updated_at),
        }
        for p in (pact.peers() if pact is not None else [])
    ]
    return console_page(
        "console/partners.html",
        **common(who, "partners"),
        participants=participants,
        peers=peers,
        operators=_hub(ctx, lambda did: in_scope(who, did)),
        hub=ctx.services.get(OuranosHub) is not None,
        crosswalk=_crosswalk(ctx),
        bridge=ctx.services.get(CrosswalkService) is not None,
    )
