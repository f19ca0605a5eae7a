"""The console's compliance view (``/console/compliance``): the findings for one passport of the
node (in the user's scope) at a chosen date and market (EU or JP), each with its rule, article and
source, status, values and the evidence it was judged on — with, for a certificate from the other
ecosystem, the recognition rule that admitted it — and the recognition rules the market's side
applied.

The findings are the compliance API's (``GET /v1/passports/{id}/compliance``): the same
``ComplianceService.passport`` evaluation and the same ``Evaluation.report()`` data, so the page
and the API cannot disagree. Bad input (a date that is not a date, an unknown market) is said on
the page (HTTP 400), never a stack trace.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from batpass.accounts import AccountService
from batpass.compliance import MARKETS, ComplianceService, RemotePassports
from batpass.core.clock import utc_now
from batpass.core.errors import BatpassError
from batpass.footprint import PactService
from batpass.http import Ctx, NodeContext
from batpass.ledger import LedgerService
from batpass.passport import PassportService
from batpass.trust import TrustService
from batpass.web._i18n import N_, gettext_for
from batpass.web.console._scope import scoped_choices, scoped_passport
from batpass.web.console._session import BASE, ConsoleRefusal, console_page, signed_in
from batpass.web.console._views import common

__all__ = ["STATUS_NAMES", "compliance_service", "router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

STATUS_NAMES = {
    "pass": N_("pass"),
    "fail": N_("fail"),
    "not yet required": N_("not yet required"),
    "not yet determinable": N_("not yet determinable"),
    "not set": N_("not set"),
    "information": N_("information"),
}
MARKET_NAMES = {"EU": N_("European Union"), "JP": N_("Japan")}
PURPOSE_NAMES = {
    "passport": N_("the passport"),
    "footprint": N_("the declared footprint"),
    "verified_footprint": N_("a verified footprint"),
    "recycled_content": N_("the ledger's recycled content"),
    "due_diligence": N_("due diligence"),
    "recycling_figures": N_("recycling figures"),
}


def compliance_service(ctx: NodeContext) -> ComplianceService:
    """The node's compliance evaluation, wired as the compliance API wires it."""
    return ComplianceService(
        owner=ctx.did,
        passports=ctx.services.get(PassportService),
        ledger=ctx.services.get(LedgerService),
        trust=ctx.services.get(TrustService),
        pact=ctx.services.get(PactService),
        local_bases=(ctx.base_url, ctx.resolver_base),
        remote=ctx.services.get(RemotePassports),
    )


def _evidence(e: dict[str, Any]) -> str:
    _ = gettext_for()
    text = _(PURPOSE_NAMES.get(str(e.get("purpose")), str(e.get("purpose"))))
    if e.get("credential_type"):
        text += f": {e['credential_type']} ({e.get('ecosystem') or '?'})"
    text += f" — {e.get('source', '')}"
    if e.get("recognition"):
        text += " — " + _("admitted by recognition rule %(rule)s") % {"rule": e["recognition"]}
    return text


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    _ = gettext_for()
    status = str(f["status"])
    return {
        "rule": f["rule"],
        "status": status,
        "status_name": _(STATUS_NAMES.get(status, status)),
        "text": f.get("text") or "",
        "reference": f.get("reference") or "",
        "detail": f.get("detail") or "",
        "figures": [(str(k), str(v)) for k, v in (f.get("values") or {}).items()],
        "evidence": [_evidence(e) for e in f.get("evidence") or ()],
    }


@router.get("/compliance", response_model=None)
async def compliance(request: Request, ctx: Ctx) -> Response:
    _ = gettext_for()
    q = request.query_params
    try:
        who = signed_in(request, ctx)
        choices = scoped_choices(who, ctx)
        wanted = q.get("passport", "") or (choices[0][0] if choices else "")
        found = scoped_passport(who, ctx, wanted) if wanted else None
    except ConsoleRefusal as refusal:
        return refusal.response
    market = q.get("market", "EU") or "EU"
    at_text = q.get("at", "") or utc_now().date().isoformat()
    error, report = "", None
    try:
        at = dt.date.fromisoformat(at_text)
    except ValueError:
        at, error = None, _("at: a date is written as YYYY-MM-DD.")
    if market not in MARKETS:
        error = _("market: choose one of %(markets)s.") % {"markets": ", ".join(sorted(MARKETS))}
    if found is not None and at is not None and not error:
        pid = str(found[1].passport_id)
        try:
            report = (await compliance_service(ctx).passport(pid, at, market=market)).report()
        except BatpassError as exc:
            error = str(exc)
        ctx.service(AccountService).record(
            who.session.user.name, "passport.compliance", pid, "ok" if report else "refused", note=f"{market} {at_text}"
        )
    findings = [_finding(f) for f in report["findings"]] if report else []
    summary = [(_(STATUS_NAMES.get(k, k)), n) for k, n in report["summary"].items() if n] if report is not None else []
    return console_page(
        "console/compliance.html",
        400 if error else 200,
        **common(who, "compliance"),
        choices=choices,
        chosen=str(found[1].passport_id) if found else "",
        markets=[(m, _(MARKET_NAMES.get(m, m))) for m in sorted(MARKETS)],
        market=market,
        at=at_text,
        error=error,
        report=report,
        summary=summary,
        findings=findings,
        recognition=(report or {}).get("recognition"),
        refused=(report or {}).get("refused") or [],
    )
