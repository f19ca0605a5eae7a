"""The console's pages (``/console/``): sign-in and sign-out, the dashboard, the passports (list
with search and filters; detail with its versions) and the alerts (acknowledge or resolve with a
note, operator role). Every page speaks the reader's language; every write and every restricted
read is written to the audit log with the user (docs/console.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from batpass.accounts import AccountService, AlertState, Role, SignInRefused
from batpass.core.errors import BatpassError
from batpass.http import Ctx
from batpass.ledger import LedgerService
from batpass.passport import (
    Category,
    PassportFilter,
    PassportService,
    Status,
    count_passports,
    find_passport_ids,
    passport_models,
)
from batpass.web._i18n import N_, gettext_for
from batpass.web._pages import STATUS_NAMES
from batpass.web.console._alerts import KINDS, RULE_NAMES, STATE_NAMES, alerts_for
from batpass.web.console._scope import scope_of
from batpass.web.console._session import (
    BASE,
    COOKIE,
    LOGIN_COOKIE,
    ROLE_NAMES,
    ConsoleRefusal,
    SignedIn,
    check_csrf,
    console_page,
    login_token,
    need_role,
    read_form,
    safe_next,
    session_cookie,
    signed_in,
)

__all__ = ["CATEGORY_NAMES", "common", "router", "when"]

router = APIRouter(prefix=BASE, include_in_schema=False)

_REASONS = {
    "expired": N_("Your session has ended. Sign in again to continue."),
    "required": N_("Sign in to use the console."),
    "signed-out": N_("You are signed out."),
}
CATEGORY_NAMES = {
    "ev": N_("electric vehicle battery"),
    "lmt": N_("light means of transport battery"),
    "industrial": N_("industrial battery"),
    "stationary": N_("stationary energy storage battery"),
}
PAGE_SIZE = 25


def common(who: SignedIn, active: str) -> dict[str, Any]:
    return {
        "me": who,
        "csrf": who.session.csrf,
        "active": active,
        "role_name": gettext_for()(ROLE_NAMES[who.role]),
    }


def when(at: dt.datetime | None) -> str:
    return "" if at is None else at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- sign-in ---------------------------------------------------------------------------------------


def _login_page(request: Request, *, status: int = 200, error: str = "", name: str = "") -> HTMLResponse:
    _ = gettext_for()
    token = login_token(request)
    reason = request.query_params.get("reason", "")
    page = console_page(
        "console/login.html",
        status,
        me=None,
        csrf=token,
        notice=_(_REASONS[reason]) if reason in _REASONS else "",
        error=error,
        name=name,
        next=safe_next(request.query_params.get("next")),
    )
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        path=BASE,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=request.url.scheme == "https",
    )
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login", response_model=None)
async def login(request: Request, ctx: Ctx) -> Response:
    """Sign in: a session cookie and on to the page asked for; or the form again with the reason
    (nothing else changes)."""
    _ = gettext_for()
    try:
        form = await read_form(request)
    except ConsoleRefusal as refusal:
        return refusal.response
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or cookie != str(form.get("csrf") or ""):
        return _login_page(request, status=403, error=_("The sign-in form had expired. Please try again."), name=name)
    accounts = ctx.service(AccountService)
    try:
        token, _session = accounts.sign_in(name, password)
    except SignInRefused as exc:
        text = (
            _("Too many failed attempts for this user name. Wait 15 minutes and try again.")
            if exc.locked
            else _("The user name or the password is wrong.")
        )
        return _login_page(request, status=401, error=text, name=name)
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    session_cookie(response, request, token)
    response.delete_cookie(LOGIN_COOKIE, path=BASE)
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
        form = await read_form(request, who)
        check_csrf(who, str(form.get("csrf") or ""), ctx, action="sign-out", target=who.session.user.name)
    except ConsoleRefusal as refusal:
        return refusal.response
    ctx.service(AccountService).sign_out(who.token)
    response = RedirectResponse(f"{BASE}/login?reason=signed-out", status_code=303)
    response.delete_cookie(COOKIE, path=BASE)
    return response


# --- dashboard -------------------------------------------------------------------------------------


@router.get("/", response_model=None)
def dashboard(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    _ = gettext_for()
    passports = ctx.services.get(PassportService)
    by_status = count_passports(ctx.engine, operator=scope_of(who)) if passports is not None else {}
    ledger = ctx.services.get(LedgerService)
    lots = ledger.count_lots(who.session.user.operator) if ledger is not None else 0
    alerts = alerts_for(ctx, who.session.user.operator)
    statuses = [(_(STATUS_NAMES.get(s, N_("ended") if s == "ended" else s)), n) for s, n in sorted(by_status.items())]
    accounts = ctx.service(AccountService)
    scope = scope_of(who)
    # a hub user reads the activity of their operator's people only (another's names its passports)
    colleagues = {u.name for u in accounts.users() if u.operator == scope} if scope else None
    activity = [
        (when(e.at), e.user or "—", e.action, e.target, e.outcome)
        for e in accounts.audit_log(limit=10 if colleagues is None else 200)
        if colleagues is None or e.user in colleagues
    ][:10]
    return console_page(
        "console/dashboard.html",
        **common(who, "dashboard"),
        passports=sum(by_status.values()),
        statuses=statuses,
        lots=lots,
        open_alerts=sum(a.state is AlertState.OPEN for a in alerts),
        acknowledged=sum(a.state is AlertState.ACKNOWLEDGED for a in alerts),
        activity=activity,
    )


# --- passports -------------------------------------------------------------------------------------


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(field) from None


@router.get("/passports", response_model=None)
def passports(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    _ = gettext_for()
    q = request.query_params
    svc = ctx.services.get(PassportService)
    error = ""
    try:
        wanted = PassportFilter(
            text=q.get("q", "").strip()[:64],
            model=q.get("model", ""),
            status=q.get("status", "") if q.get("status", "") in {s.value for s in Status} else "",
            category=q.get("category", "") if q.get("category", "") in {c.value for c in Category} else "",
            changed_from=_date(q.get("from", ""), "from"),
            changed_to=_date(q.get("to", ""), "to"),
            operator=scope_of(who),
        )
    except ValueError:
        wanted, error = PassportFilter(operator=scope_of(who)), _("A date is written as YYYY-MM-DD.")
    try:
        page_no = max(1, min(int(q.get("page", "1")), 10_000))
    except ValueError:
        page_no = 1
    rows: list[dict[str, Any]] = []
    total = 0
    if svc is not None:
        ids, total = find_passport_ids(ctx.engine, wanted, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        for pid in ids:
            p = svc.get(pid)
            rows.append(
                {
                    "id": str(p.passport_id),
                    "battery": f"{p.battery_id.gtin} / {p.battery_id.serial}",
                    "model": str(p.values.get("model_name", p.model_id)),
                    "category": _(CATEGORY_NAMES.get(p.category.value, p.category.value)),
                    "status": _("ended") if p.ended else _(STATUS_NAMES.get(p.status.value, p.status.value)),
                    "version": p.version,
                    "trace": p.digital_link,  # the battery's id in the ledger (its trace page)
                }
            )
    return console_page(
        "console/passports.html",
        400 if error else 200,
        **common(who, "passports"),
        rows=rows,
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // PAGE_SIZE)),
        wanted=wanted,
        error=error,
        models=passport_models(ctx.engine, operator=scope_of(who)) if svc is not None else [],
        statuses=[(s.value, _(STATUS_NAMES[s.value])) for s in Status],
        categories=[(c.value, _(CATEGORY_NAMES.get(c.value, c.value))) for c in Category],
        query=[(k, v) for k, v in q.items() if k != "page"],
    )


# --- alerts ----------------------------------------------------------------------------------------


@router.get("/alerts", response_model=None)
def alerts(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
    except ConsoleRefusal as refusal:
        return refusal.response
    done = request.query_params.get("saved", "")
    if done in (AlertState.ACKNOWLEDGED.value, AlertState.RESOLVED.value):
        return _alerts_page(who, ctx, done=_saved(AlertState(done)))
    return _alerts_page(who, ctx)


def _saved(state: AlertState) -> str:
    _ = gettext_for()
    return _("Saved: the alert is %(state)s.") % {"state": _(STATE_NAMES[state])}


def _alerts_page(who: SignedIn, ctx: Ctx, *, status: int = 200, error: str = "", done: str = "") -> HTMLResponse:
    _ = gettext_for()
    found = alerts_for(ctx, who.session.user.operator)
    shown = [
        {
            "key": a.key,
            "kind": _(KINDS[a.kind]),
            "rule": _(RULE_NAMES.get(a.rule, a.rule)),
            "rule_id": a.rule,
            "owner": a.owner,
            "evidence": a.evidence,
            "summary": a.summary,
            "state": a.state.value,
            "state_name": _(STATE_NAMES[a.state]),
            "note": a.note,
            "by": a.by,
            "at": when(a.at),
        }
        for a in found
    ]
    return console_page(
        "console/alerts.html",
        status,
        **common(who, "alerts"),
        alerts=shown,
        can_act=who.role.allows(Role.OPERATOR),
        error=error,
        done=done,
    )


@router.post("/alerts", response_model=None)
async def set_alert_state(request: Request, ctx: Ctx) -> Response:
    """Acknowledge or resolve an alert with a note (operator role; CSRF token; audited)."""
    _ = gettext_for()
    try:
        who = signed_in(request, ctx)
        form = await read_form(request, who)
        key, note = str(form.get("alert") or ""), str(form.get("note") or "").strip()
        check_csrf(who, str(form.get("csrf") or ""), ctx, action="alert.state", target=key)
        need_role(who, Role.OPERATOR, ctx, action="alert.state", target=key)
    except ConsoleRefusal as refusal:
        return refusal.response
    state = str(form.get("state") or "")
    if state not in (AlertState.ACKNOWLEDGED.value, AlertState.RESOLVED.value):
        return _alerts_page(who, ctx, status=400, error=_("Choose acknowledge or resolve."))
    if key not in {a.key for a in alerts_for(ctx, who.session.user.operator)}:
        return _alerts_page(who, ctx, status=404, error=_("There is no such alert on this node."))
    if not note:
        return _alerts_page(who, ctx, status=400, error=_("Write a note: what was found or done."))
    try:
        ctx.service(AccountService).set_alert_state(who.session.user.name, key, AlertState(state), note)
    except BatpassError:
        return _alerts_page(who, ctx, status=409, error=_("This alert is resolved already; nothing was changed."))
    # after a POST, a redirect (a reload does not send the form again)
    return RedirectResponse(f"{BASE}/alerts?saved={state}", status_code=303)
