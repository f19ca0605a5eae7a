"""The console's trace page (``/console/trace?subject=ID``, any signed-in role): a battery (its
GS1 Digital Link URI) or a lot of this node, traced upstream.

- The federated trace (``batpass.federation.FederatedTrace.trace``: the node asks its direct
  suppliers through its own connector; no token reaches the browser) as a tier graph (SVG drawn
  by the server, with a table beside it), the origins by element on a world map (the vendored
  world-atlas outlines drawn in the browser with topojson-client, ``static/trace-map.js``) with
  the same figures as a list, and the node's own ledger as a Sankey diagram of its lots
  (``LedgerService.trace``), with the direct suppliers it received from on the left.
- An unknown battery or lot: a 404 page in the console's layout. A partner that does not answer:
  its branch is a tombstone (tier and reason), the rest of the trace stands. A node without the
  federated trace shows its own ledger only, and says so.
- Each trace opened is written to the audit log with the user.

What may be shown is decided in ``_trace_view`` (docs/console.md "Trace").
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from batpass.accounts import AccountService
from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.federation import FederatedTrace
from batpass.http import Ctx
from batpass.ledger import LedgerService
from batpass.web._i18n import N_, current, gettext_for
from batpass.web._landing import ASSETS
from batpass.web.console._session import BASE, ConsoleRefusal, console_page, refuse, signed_in
from batpass.web.console._trace_view import map_data, material_flow, origins, tier_graph
from batpass.web.console._views import common

__all__ = ["DEADLINE_MS", "router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

#: how long the page waits for the partners (a branch still running then is a tombstone)
DEADLINE_MS = 8000.0
#: the longest subject the page accepts (a GS1 Digital Link URI or a lot id)
MAX_SUBJECT = 2048
_STATIC = Path(__file__).parents[1] / "static"


@lru_cache(maxsize=1)
def _trace_css() -> Markup:
    return Markup((_STATIC / "trace.css").read_text(encoding="utf-8"))


def _material(name: str) -> str:
    return name.replace("_", " ")


def _candidates(subject: str, ctx: Ctx) -> list[str]:
    """The subject as given, then — for a GS1 Digital Link — the same battery under this node's
    own resolver bases (a passport's link names the resolver a reader should use, the ledger
    the base its battery was recorded with; both name the same GTIN and serial)."""
    try:
        battery = BatteryId.from_digital_link(subject)
    except BatpassError:
        return [subject]
    bases = (b for b in (ctx.resolver_base, ctx.base_url) if b)
    return list(dict.fromkeys([subject, *(battery.digital_link(b) for b in bases)]))


async def _traced(ledger: LedgerService, owner: str, subject: str, ctx: Ctx) -> tuple[str, dict[str, Any]]:
    """The ledger's upstream trace of the first candidate it knows (NotFound if none)."""
    missing: NotFound | None = None
    for candidate in _candidates(subject, ctx):
        try:
            return candidate, await run_in_threadpool(ledger.trace, owner, candidate)
        except NotFound as exc:
            missing = exc
    assert missing is not None
    raise missing


@router.get("/trace", response_model=None)
async def trace_page(request: Request, ctx: Ctx, subject: str = "") -> Response:
    try:  # the session's store read in a worker thread, as every store read of this page
        who = await run_in_threadpool(signed_in, request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    _ = gettext_for()
    subject = subject.strip()
    page = {**common(who, "trace"), "subject": subject, "trace_css": _trace_css(), "assets": ASSETS}
    if not subject:
        return console_page("console/trace.html", **page, found=False)
    if len(subject) > MAX_SUBJECT:
        text = _("Field %(field)s: at most %(n)s characters (a GS1 Digital Link URI or a lot id).") % {
            "field": "subject",
            "n": MAX_SUBJECT,
        }
        return console_page("console/trace.html", 400, **page, found=False, error=text)
    ledger = ctx.services.get(LedgerService)
    fed = ctx.services.get(FederatedTrace)
    operator = who.session.user.operator
    owner = operator or (fed.owner if fed is not None else ctx.did)
    accounts = ctx.service(AccountService)
    try:
        if ledger is None:
            raise NotFound("this node keeps no ledger", field="subject")
        subject, local = await _traced(ledger, owner, subject, ctx)
    except (NotFound, InvalidInput):
        await run_in_threadpool(accounts.record, who.session.user.name, "trace.open", subject[:200], "not-found")
        return refuse(
            404,
            N_("Battery or lot not found"),
            _("No battery or lot with this identifier is in this node's ledger."),
            who,
        ).response
    boundary = [str(b["lot"]) for b in local.get("boundaries", [])]
    received = await run_in_threadpool(ledger.suppliers_of, owner, boundary)
    answer: dict[str, Any] | None = None
    failure = ""
    if fed is not None and fed.owner == owner:
        try:
            answer = await fed.trace(subject, deadline_ms=DEADLINE_MS)
        except BatpassError:
            failure = _("The federated trace could not be computed; this node's own ledger is shown.")
    await run_in_threadpool(accounts.record, who.session.user.name, "trace.open", subject[:200], "ok")
    locale = Locale.parse(current().locale)
    lots = {str(lot["id"]): str(lot["material"]) for lot in local.get("lots", [])}
    relations: dict[str, list[str]] = {}
    for r in received:
        have = relations.setdefault(r.supplier, [])
        name = _material(lots.get(str(r.lot), ""))
        if name and name not in have:
            have.append(name)
    root = local["root"]
    graph = (
        tier_graph(answer, relations, material=_material(str(root["material"])), anonymous=_("a supplier"))
        if answer is not None
        else None
    )
    found = origins(answer, lambda code: str(locale.territories.get(code, code))) if answer is not None else ()
    flow = material_flow(
        local,
        {str(r.lot): r.supplier for r in received},
        material_name=_material,
        lots_label=lambda n: _("%(n)s lots") % {"n": n} if n != 1 else _("1 lot"),
        notes={str(u["did"]): _("no answer") for u in (answer or {}).get("unreachable_suppliers", [])},
    )
    return console_page(
        "console/trace.html",
        **page,
        found=True,
        root=root,
        material=_material(str(root["material"])),
        graph=graph,
        origins=found,
        # inside a <script> element: no "<" may end it early
        map_json=Markup(json.dumps(map_data(found), sort_keys=True).replace("<", "\\u003c")),
        flow=flow,
        federated=fed is not None,
        failure=failure,
        local_hops=local.get("hops", 0),
    )
