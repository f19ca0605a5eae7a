"""The console's trust view (``/console/trust``): the trust lists the node follows (ecosystem,
operator, sequence, when issued and until when valid, each trusted issuer with its credential types
and period), the node's mutual-recognition rules, the credentials it holds (its wallet: only those
that verify now) and those it issued, with their status (active or revoked).

An administrator may revoke a credential the node issued (a form: the session's CSRF token, the
admin role, written to the audit log as ``credential.revoke``); viewers and operators read only.
A hub user scoped to one operator sees the credentials held by or issued to that operator only.
Reads ``batpass.trust`` through ``TrustService`` alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from batpass.accounts import AccountService, Role
from batpass.core.clock import utc_now
from batpass.core.errors import BatpassError
from batpass.http import Ctx
from batpass.trust import TrustService
from batpass.web._i18n import gettext_for
from batpass.web.console._scope import in_scope
from batpass.web.console._session import (
    BASE,
    ConsoleRefusal,
    SignedIn,
    check_csrf,
    console_page,
    need_role,
    read_form,
    signed_in,
)
from batpass.web.console._views import common, when

__all__ = ["router"]

router = APIRouter(prefix=BASE, include_in_schema=False)


def _at(value: str | None) -> str:
    return when(dt.datetime.fromisoformat(value)) if value else ""


def _lists(trust: TrustService) -> list[dict[str, Any]]:
    _ = gettext_for()
    now = utc_now()
    out = []
    for tl in trust.trust_lists():
        valid = tl.next_update is None or tl.next_update >= now
        out.append(
            {
                "ecosystem": tl.ecosystem,
                "operator": tl.operator,
                "sequence": tl.sequence,
                "issued": when(tl.issued_at),
                "until": when(tl.next_update) if tl.next_update else _("no date set"),
                "state": _("current") if valid else _("past its next update"),
                "issuers": [
                    {
                        "name": e.name,
                        "did": e.did,
                        "types": ", ".join(sorted(e.credential_types)),
                        "period": " – ".join(
                            [when(e.valid_from) if e.valid_from else "…", when(e.valid_until) if e.valid_until else "…"]
                        ),
                        "now": e.in_period(now),
                    }
                    for e in tl.issuers
                ],
            }
        )
    return out


def _rules(trust: TrustService) -> tuple[str, list[dict[str, str]]]:
    policy = trust.registry.policy
    if policy is None:
        return "", []
    rules = [
        {
            "id": r.id,
            "from": r.from_ecosystem,
            "type": r.credential_type,
            "as": r.accepted_as,
            "where": ", ".join(f"{k} = {v}" for k, v in r.where.items()),
            "label": r.label,
        }
        for r in policy.rules
    ]
    return policy.ecosystem, rules


def _page(who: SignedIn, ctx: Ctx, *, status: int = 200, error: str = "", done: str = "") -> HTMLResponse:
    _ = gettext_for()
    trust = ctx.services.get(TrustService)
    lists: list[dict[str, Any]] = []
    rules: list[dict[str, str]] = []
    held: list[dict[str, Any]] = []
    issued: list[dict[str, Any]] = []
    ecosystem = ""
    if trust is not None:
        lists = _lists(trust)
        ecosystem, rules = _rules(trust)
        held = [
            {**h, "stored": _at(h.get("storedAt")), "status": _("verifies now")}
            for h in trust.wallet()
            if in_scope(who, str(h.get("subject") or ""))
        ]
        issued = [
            {**c, "issued": _at(c.get("issuedAt")), "status": _("revoked") if c["revoked"] else _("active")}
            for c in trust.issued()
            if in_scope(who, str(c.get("holder") or ""))
        ]
    return console_page(
        "console/trust.html",
        status,
        **common(who, "trust"),
        lists=lists,
        ecosystem=ecosystem,
        rules=rules,
        held=held,
        issued=issued,
        can_revoke=who.role.allows(Role.ADMIN),
        error=error,
        done=done,
    )


@router.get("/trust", response_model=None)
def trust_view(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    _ = gettext_for()
    done = (
        _("Revoked: verifiers see it once their cached status list ages out.")
        if "revoked" in request.query_params
        else ""
    )
    return _page(who, ctx, done=done)


@router.post("/trust/revoke", response_model=None)
async def revoke(request: Request, ctx: Ctx) -> Response:
    """Revoke a credential this node issued (admin role; CSRF token; audited)."""
    _ = gettext_for()
    try:
        who = signed_in(request, ctx)
        form = await read_form(request, who)
        cid = str(form.get("credential") or "")
        check_csrf(who, str(form.get("csrf") or ""), ctx, action="credential.revoke", target=cid)
        need_role(who, Role.ADMIN, ctx, action="credential.revoke", target=cid)
    except ConsoleRefusal as refusal:
        return refusal.response
    accounts = ctx.service(AccountService)
    trust = ctx.services.get(TrustService)
    issued = {c["id"]: c for c in trust.issued()} if trust is not None else {}
    if trust is None or cid not in issued or not in_scope(who, str(issued[cid].get("holder") or "")):
        accounts.record(who.session.user.name, "credential.revoke", cid, "not-found")
        return _page(who, ctx, status=404, error=_("This node issued no such credential."))
    if issued[cid]["revoked"]:
        return _page(who, ctx, status=409, error=_("This credential is revoked already; nothing was changed."))
    try:
        trust.revoke(cid)
    except BatpassError as exc:
        accounts.record(who.session.user.name, "credential.revoke", cid, "refused", note=str(exc))
        return _page(who, ctx, status=409, error=str(exc))
    accounts.record(who.session.user.name, "credential.revoke", cid, "ok", note=str(issued[cid]["type"]))
    return RedirectResponse(f"{BASE}/trust?revoked=1", status_code=303)
