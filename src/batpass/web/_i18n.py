"""The pages' languages: English (the message ids) and Japanese, from gettext catalogues.

The ``.po`` files under ``locale/`` are the sources, kept in the package; each is compiled in
memory once per process on first use (Babel's ``read_po`` and ``write_mo``), so a fresh clone's
editable install and the wheel need no build step and a request never parses a catalogue.

Which language a page speaks: ``?lang=`` (remembered in a cookie), else the cookie, else the
browser's ``Accept-Language``, else English. :class:`PageLocale` (an ASGI middleware) settles it
once per request and keeps it, with the request's path and query for the language links, in a
context variable the renderers read; the routes that call the renderers know nothing of it.

Must not know: any capability's data (the passport's field labels arrive as message ids).
"""

from __future__ import annotations

import gettext
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "COOKIE",
    "DEFAULT_LOCALE",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "PageLocale",
    "PageRequest",
    "current",
    "gettext_for",
    "language_links",
    "negotiate",
    "translations",
]

#: the languages the pages speak, the message ids' language first
LOCALES = ("en", "ja")
DEFAULT_LOCALE = "en"
#: the cookie remembering a reader's choice (``?lang=``)
COOKIE = "batpass_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
#: each language's name in itself, for the switch
_NAMES = {"en": "English", "ja": "日本語"}
_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a renderer needs to know of the request: the language, and the path and query the
    language links point at."""

    locale: str = DEFAULT_LOCALE
    path: str = "/"
    query: tuple[tuple[str, str], ...] = ()


#: outside a request (a page rendered by a script or a test): English
_OUTSIDE = PageRequest()
_CURRENT: ContextVar[PageRequest] = ContextVar("batpass_page_request", default=_OUTSIDE)


def N_(message: str) -> str:
    return message


def current() -> PageRequest:
    return _CURRENT.get()


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The catalogue of ``locale``, compiled once per process (English: the message ids)."""
    if locale not in LOCALES or locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(locale: str | None = None) -> Callable[[str], str]:
    """``gettext`` of ``locale`` (default: the current request's language)."""
    return translations(locale or current().locale).gettext


def negotiate(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: an explicit ``?lang=``, the remembered choice, the browser's
    preference (RFC 9110 12.5.4 weights; ``ja-JP`` matches ``ja``), else English."""
    for chosen in (query, cookie):
        if chosen in LOCALES:
            return chosen
    best, best_q = DEFAULT_LOCALE, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LOCALES:
            continue
        weight = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > best_q:
            best, best_q = lang, weight
    return best


def language_links(req: PageRequest) -> list[tuple[str, str, str, bool]]:
    """(code, name, href, is_current) for each language: this page with ``?lang=`` set."""
    rest = [(k, v) for k, v in req.query if k != "lang"]
    # the path as a path on this node: re-encoded, and never "//host/..." (a link to elsewhere)
    path = "/" + quote(req.path.lstrip("/"), safe="/:@-._~!$&'()*+,;=")
    return [
        (code, _NAMES[code], f"{path}?{urlencode([*rest, ('lang', code)])}", code == req.locale) for code in LOCALES
    ]


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class PageLocale:
    """ASGI middleware: settles each request's page language (see the module docstring) and
    remembers an explicit ``?lang=`` in a cookie."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # pages answer GETs; the console's forms answer their POSTs with pages too
        page = scope.get("method") in ("GET", "HEAD") or str(scope.get("path", "")).startswith("/console/")
        if scope["type"] != "http" or not page:
            await self.app(scope, receive, send)
            return
        query = tuple(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        asked = dict(query).get("lang")
        cookie_header = accept = None
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookie_header = value.decode("latin-1")
            elif name == b"accept-language":
                accept = value.decode("latin-1")
        remembered = None
        if cookie_header and COOKIE in cookie_header:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie_header)
            except CookieError:  # a malformed Cookie header is ignored, as browsers do
                jar = SimpleCookie()
            morsel = jar.get(COOKIE)
            remembered = morsel.value if morsel is not None else None
        locale = negotiate(query=asked, cookie=remembered, accept_language=accept)
        token = _CURRENT.set(PageRequest(locale, scope.get("path", "/"), query))
        remember = asked in LOCALES and asked != remembered
        try:
            await self.app(scope, receive, _page_headers(send, locale if remember else None))
        finally:
            _CURRENT.reset(token)


def _page_headers(send: Send, remember: str | None) -> Send:
    """``send`` adding to a page ``Vary: Accept-Language, Cookie`` (what chose its language) and,
    for an explicit choice, the cookie that remembers it."""
    cookie = f"{COOKIE}={remember}; Path=/; Max-Age={_YEAR}; SameSite=Lax".encode("latin-1") if remember else None

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                vary = [v for k, v in headers if k == b"vary"]
                headers = [(k, v) for k, v in headers if k != b"vary"]
                headers.append((b"vary", b", ".join([*vary, b"Accept-Language, Cookie"])))
            if cookie is not None:
                headers.append((b"set-cookie", cookie))
            message["headers"] = headers
        await send(message)

    return wrapped
