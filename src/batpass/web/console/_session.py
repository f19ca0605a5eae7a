"""Who is signed in to the console, and the rules every console request follows.

- The session id travels in the ``batpass_console`` cookie: ``HttpOnly``, ``SameSite=Lax``,
  ``Path=/console``, and ``Secure`` whenever the request came over HTTPS. The store keeps only its
  hash (``batpass.accounts``).
- Every POST carries a CSRF token in the form's ``csrf`` field: the session's own token once
  signed in; on the sign-in form, a random token also set in a short-lived cookie (double
  submit). A POST without the right token changes nothing and gets a 403 page.
- A page asked for without a live session (none, expired, idle too long) redirects to the
  sign-in page, saying why, and back to the page after signing in.
- A user without the role a page or action needs gets a 403 page naming the role; nothing changes.
- A form field holding text no store can hold (NUL, which PostgreSQL text refuses) gets a 400 page
  naming the field before anything reads the form further; nothing changes, the audit log included.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from batpass.accounts import AccountService, Role, Session
from batpass.core.errors import InvalidInput
from batpass.core.unicode import check_scalar_text
from batpass.http import NodeContext
from batpass.web._i18n import N_, gettext_for
from batpass.web._landing import CONTENT_SECURITY_POLICY
from batpass.web._pages import render

__all__ = [
    "BASE",
    "COOKIE",
    "LOGIN_COOKIE",
    "ROLE_NAMES",
    "ConsoleRefusal",
    "SignedIn",
    "console_page",
    "login_redirect",
    "read_form",
    "safe_next",
    "session_cookie",
]

BASE = "/console"
COOKIE = "batpass_console"
LOGIN_COOKIE = "batpass_console_login"
_STATIC = Path(__file__).parents[1] / "static"

ROLE_NAMES = {Role.VIEWER: N_("viewer"), Role.OPERATOR: N_("operator"), Role.ADMIN: N_("administrator")}


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The request's live session and its id (the cookie's value)."""

    token: str
    session: Session

    @property
    def role(self) -> Role:
        return self.session.user.role


class ConsoleRefusal(Exception):
    """A request the console answers with a page instead of acting: a redirect to sign in, or a
    403 page (missing CSRF token, missing role)."""

    def __init__(self, response: HTMLResponse | RedirectResponse) -> None:
        super().__init__("console refusal")
        self.response = response


@lru_cache(maxsize=1)
def _console_css() -> Markup:
    return Markup((_STATIC / "console.css").read_text(encoding="utf-8"))


def console_page(template: str, status: int = 200, **values: object) -> HTMLResponse:
    """A console page in the request's language; never cached, never framed."""
    html = render(template, base=BASE, console_css=_console_css(), **values)
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path on this node, never another host."""
    if not value:
        return BASE + "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(BASE + "/") or value.startswith("//"):
        return BASE + "/"
    return value


def login_redirect(request: Request, *, reason: str) -> RedirectResponse:
    """To the sign-in page with ``reason`` (``expired``, ``required``), back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        here = BASE + "/"
    target = f"{BASE}/login?reason={reason}&next={quote(safe_next(here), safe='')}"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path=BASE)
    return response


def session_cookie(response: HTMLResponse | RedirectResponse, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=BASE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def login_token(request: Request) -> str:
    """The sign-in form's CSRF token: the one already in the browser's cookie, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def signed_in(request: Request, ctx: NodeContext) -> SignedIn:
    """The live session of the request, else a redirect to sign in (``ConsoleRefusal``)."""
    token = request.cookies.get(COOKIE)
    session = ctx.service(AccountService).session(token)
    if token is None or session is None:
        raise ConsoleRefusal(login_redirect(request, reason="expired" if token else "required"))
    return SignedIn(token, session)


def refuse(status: int, title: str, text: str, who: SignedIn | None = None) -> ConsoleRefusal:
    _ = gettext_for()
    return ConsoleRefusal(
        console_page("console/refused.html", status, title=_(title), message=text, me=who, csrf=_csrf(who))
    )


def _csrf(who: SignedIn | None) -> str:
    return who.session.csrf if who is not None else ""


def need_role(who: SignedIn, role: Role, ctx: NodeContext, *, action: str, target: str) -> None:
    """Refuse (403 page, written to the audit log) unless ``who`` holds ``role``."""
    if who.role.allows(role):
        return
    ctx.service(AccountService).record(who.session.user.name, action, target, "forbidden")
    _ = gettext_for()
    text = _("This needs the %(role)s role; you are signed in as %(mine)s. Nothing was changed.") % {
        "role": _(ROLE_NAMES[role]),
        "mine": _(ROLE_NAMES[who.role]),
    }
    raise refuse(403, N_("Not allowed with your role"), text, who)


async def read_form(request: Request, who: SignedIn | None = None) -> dict[str, str]:
    """The posted form's text fields; a field holding text no store can hold is refused with a
    400 page naming it (before the CSRF check, which would write the field's text to the audit
    log). The same rule as the JSON routes' (``batpass.core.unicode``)."""
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        check_scalar_text(fields, field="form")
    except InvalidInput as exc:
        _ = gettext_for()
        name = (exc.field or "form").removeprefix("form.")
        text = _("The field “%(field)s” holds a character that cannot be stored (%(rule)s). Nothing was changed.") % {
            "field": name,
            "rule": exc.rule or "",
        }
        raise refuse(400, N_("The form could not be accepted"), text, who) from None
    return fields


def check_csrf(who: SignedIn, presented: str | None, ctx: NodeContext, *, action: str, target: str) -> None:
    """Refuse (403 page, written to the audit log) a POST without the session's CSRF token."""
    if AccountService.csrf_ok(who.session, presented):
        return
    ctx.service(AccountService).record(who.session.user.name, action, target, "csrf-refused")
    _ = gettext_for()
    raise refuse(
        403,
        N_("The form could not be accepted"),
        _("The form did not carry this session's security token (it may be from an old page). Nothing was changed."),
        who,
    )
