"""Open a passport on another node (``/console/open``, viewer role): the person gives its URL (a
GS1 Digital Link or ``…/v1/passports/{id}``); this node reads it with every access-role
credential it holds (``batpass.exchange.fetch_passport``, the fetch ``batpass comply --passport``
uses too) and shows the tiers the serving node opened as labelled fields, each tier saying which
credential opened it. Nobody types a token. A read that fails says why (not found, refused by
the serving node's operator, node unreachable) — never a stack trace. Every read, opened or not,
is written to the audit log with the user (``passport.open-remote``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from batpass.accounts import AccountService
from batpass.core.errors import BatpassError, Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from batpass.exchange import RemotePassport, fetch_passport
from batpass.http import Ctx
from batpass.passport import Tier
from batpass.trust import TrustService
from batpass.web._i18n import N_, gettext_for
from batpass.web._pages import STATUS_NAMES
from batpass.web._passport_page import page_sections
from batpass.web.console._session import (
    BASE,
    ROLE_NAMES,
    ConsoleRefusal,
    SignedIn,
    check_csrf,
    console_page,
    read_form,
    signed_in,
)

__all__ = ["router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

#: a tier as a reader knows it (Annex XIII)
TIER_NAMES = {
    Tier.PUBLIC.value: N_("Public"),
    Tier.LEGITIMATE_INTEREST.value: N_("Legitimate interest"),
    Tier.AUTHORITIES.value: N_("Authorities"),
    Tier.DYNAMIC.value: N_("Dynamic data"),
}
#: an access role as a reader knows it (docs/contracts.md)
ACCESS_ROLE_NAMES = {
    "legitimate_interest": N_("legitimate interest"),
    "notified_body": N_("notified body"),
    "market_surveillance_authority": N_("market surveillance authority"),
    "commission": N_("European Commission"),
}
#: why a read failed, as the page says it (and the audit log's outcome)
_FAILURES: tuple[tuple[type[BatpassError], str, str], ...] = (
    (NotFound, "not-found", N_("Not found: the node at this address holds no passport there.")),
    (
        Forbidden,
        "refused",
        N_("Refused: the serving node's operator did not accept this node's credentials for this passport."),
    ),
    (
        UpstreamUnavailable,
        "unreachable",
        N_("Node unreachable: the node at this address did not answer as a passport node does."),
    ),
    (InvalidInput, "invalid", N_("Give the passport's address as an https URL (its GS1 Digital Link or API URL).")),
)
MAX_URL = 2000


def _common(who: SignedIn) -> dict[str, Any]:
    return {
        "me": who,
        "csrf": who.session.csrf,
        "active": "open",
        "role_name": gettext_for()(ROLE_NAMES[who.role]),
    }


@router.get("/open", response_model=None)
def open_form(request: Request, ctx: Ctx) -> Response:
    """The form: a passport's URL (every signed-in role may open passports)."""
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    return console_page("console/open.html", **_common(who), url="", error="", got=None)


@router.post("/open", response_model=None)
async def open_remote(request: Request, ctx: Ctx) -> Response:
    """Read the passport at the form's URL with this node's credentials and show what opened."""
    _ = gettext_for()
    try:
        who = signed_in(request, ctx)
        form = await read_form(request, who)
        url = str(form.get("url") or "").strip()[:MAX_URL]
        check_csrf(who, str(form.get("csrf") or ""), ctx, action="passport.open-remote", target=url)
    except ConsoleRefusal as refusal:
        return refusal.response
    accounts = ctx.service(AccountService)
    user = who.session.user.name
    try:
        got = await fetch_passport(url, trust=ctx.services.get(TrustService), client=ctx.client)
    except BatpassError as exc:
        outcome, reason, status = "failed", N_("The passport could not be read."), 502
        for kind, name, text in _FAILURES:
            if isinstance(exc, kind):
                outcome, reason = name, text
                status = 400 if kind is InvalidInput else 200
                break
        accounts.record(user, "passport.open-remote", url, outcome, note=str(exc)[:500])
        return console_page(
            "console/open.html", status, **_common(who), url=url, error=_(reason), detail=str(exc), got=None
        )
    opened = "; ".join(
        f"{o.tier}"
        + (" by " + ", ".join(f"{h.credential_type} ({h.role}) of {h.issuer}" for h in o.by) if o.by else "")
        for o in got.opened
    )
    accounts.record(user, "passport.open-remote", url, "ok", note=f"tiers {opened}")
    return console_page("console/open.html", **_common(who), url=url, error="", got=_shown(got))


def _shown(got: RemotePassport) -> dict[str, Any]:
    _ = gettext_for()
    doc = got.document
    view = doc["data"]
    status = str(doc.get("status") or "")
    return {
        "title": str(view.get("model_name") or doc.get("batteryId") or got.url),
        "subtitle": str(view.get("manufacturer_name") or ""),
        "battery": str(doc.get("batteryId") or got.url),
        "passport_id": str(doc.get("passportId") or ""),
        "status": _("ended") if status == "ended" else _(STATUS_NAMES.get(status, status)),
        "version": doc.get("version"),
        "origin": got.origin,
        "audience": got.audience,
        "tiers": [
            {
                "id": o.tier,
                "name": _(TIER_NAMES.get(o.tier, o.tier)),
                "by": [
                    {
                        "type": h.credential_type,
                        "role": _(ACCESS_ROLE_NAMES.get(h.role, h.role)),
                        "issuer": h.issuer,
                    }
                    for h in o.by
                ],
            }
            for o in got.opened
        ],
        "presented": bool(got.presented),
        "sections": page_sections(view, [Tier(t) for t in got.tiers if t in {x.value for x in Tier}]),
    }
