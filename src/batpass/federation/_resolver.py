"""The resolver role: a node that answers GS1 Digital Links of batteries operated on other nodes,
so a battery's QR code keeps resolving when its operator's node is down (docs/resolver.md).

For a battery whose GTIN has a route (config ``extra.resolver.routes``: GTIN prefix → operator
node, backup node), the request — path, query (``linkType``), ``Accept``, ``Accept-Language`` and
the language cookie — is asked of the operator's node with a deadline (2 s by default) over the
federation's HTTPS. Its answer is passed on as it is, a 404 included (the operator says the
battery has no passport: no failover). When it does not answer within the deadline, cannot be
reached or answers 5xx, the same request goes to the backup node's Digital Link path, which
answers from the signed copy it holds — checked against the operator's key before it is served —
marked ``Batpass-Served-From: backup-copy`` and with a visible notice on the page
(``batpass.passport.routes``). When neither serves the passport the answer is a 503 with the
reason, as a problem detail or a page.

The choice is :func:`choose` (unit-tested with every outcome); :class:`DigitalLinkResolver`
wires it to the node's HTTPS client and pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from batpass.core.errors import BatpassError, ConfigurationError
from batpass.core.ids import BatteryId
from batpass.passport import PageRenderer

__all__ = [
    "DEFAULT_DEADLINE_S",
    "SERVED_FROM_HEADER",
    "Choice",
    "DigitalLinkResolver",
    "ResolverRoute",
    "ResolverRoutes",
    "ResolverUnavailable",
    "choose",
]

#: how long the operator's node (then the backup node) has to answer
DEFAULT_DEADLINE_S = 2.0
#: the header a backup node marks its answers from a held copy with (batpass.passport.routes)
SERVED_FROM_HEADER = "Batpass-Served-From"

#: request headers passed on to the operator's and the backup node (a reader's presentation is
#: addressed to the resolver's DID, so ``Authorization`` is not: tiered reads go to the operator)
_FORWARD = ("accept", "accept-language")
#: answer headers passed back to the reader
_ANSWER = (
    "content-type",
    "content-language",
    "link",
    "vary",
    "cache-control",
    "location",
    "content-security-policy",
    SERVED_FROM_HEADER.lower(),
)
_LANG_COOKIE = "batpass_lang"


class ResolverUnavailable(BatpassError):
    """Neither the operator's node nor its backup node served the passport (503, with why)."""

    kind = "unavailable"
    status = 503
    title = "The battery's passport cannot be served now"


@dataclass(frozen=True, slots=True)
class ResolverRoute:
    """Who operates the GTINs under ``gtin_prefix`` (their node's base URL) and which node holds
    the signed backup copies of their passports (its base URL; None: none known)."""

    gtin_prefix: str
    operator: str
    backup: str | None = None


class ResolverRoutes:
    """The routes of config ``extra.resolver.routes`` (the longest matching prefix wins)."""

    def __init__(self, routes: list[ResolverRoute], *, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self.routes = sorted(routes, key=lambda r: -len(r.gtin_prefix))
        self.deadline_s = deadline_s

    def route_for(self, gtin: str) -> ResolverRoute | None:
        return next((r for r in self.routes if gtin.startswith(r.gtin_prefix)), None)

    @classmethod
    def from_config(cls, extra: Mapping[str, Any]) -> ResolverRoutes:
        """``{"resolver": {"routes": [{"gtinPrefix", "operator", "backup"}], "deadlineSeconds": 2}}``;
        anything else is refused naming the field (the node does not start)."""
        raw = extra.get("resolver", {})
        if not isinstance(raw, Mapping):
            raise ConfigurationError("config extra.resolver is not an object", rule="docs/resolver.md")
        deadline = raw.get("deadlineSeconds", DEFAULT_DEADLINE_S)
        if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not 0 < deadline <= 30:
            raise ConfigurationError(
                f"config extra.resolver.deadlineSeconds {deadline!r} is not a number of seconds in (0, 30]",
                rule="docs/resolver.md",
            )
        routes: list[ResolverRoute] = []
        entries = raw.get("routes", [])
        if not isinstance(entries, list):
            raise ConfigurationError("config extra.resolver.routes is not a list", rule="docs/resolver.md")
        for i, entry in enumerate(entries):
            where = f"config extra.resolver.routes[{i}]"
            if not isinstance(entry, Mapping):
                raise ConfigurationError(f"{where} is not an object", rule="docs/resolver.md")
            prefix, operator, backup = entry.get("gtinPrefix"), entry.get("operator"), entry.get("backup")
            if not isinstance(prefix, str) or not prefix.isdigit() or not 1 <= len(prefix) <= 14:
                raise ConfigurationError(f"{where}.gtinPrefix is not 1 to 14 digits", rule="docs/resolver.md")
            for name, url in (("operator", operator), ("backup", backup)):
                if (url is not None or name == "operator") and not (
                    isinstance(url, str) and url.startswith("https://")
                ):
                    raise ConfigurationError(f"{where}.{name} is not an https:// URL", rule="docs/resolver.md")
            routes.append(
                ResolverRoute(
                    gtin_prefix=prefix,
                    operator=str(operator).rstrip("/"),
                    backup=str(backup).rstrip("/") if backup else None,
                )
            )
        return cls(routes, deadline_s=float(deadline))


@dataclass(frozen=True, slots=True)
class Choice:
    """What the resolver answers: an upstream ``answer`` as it is (from the ``operator`` or the
    ``backup``), or ``unavailable`` with the ``reason``."""

    source: Literal["operator", "backup", "unavailable"]
    answer: httpx.Response | None = None
    reason: str = ""


#: one request to a node: the response, or why there is none (a deadline, a refused connection)
Ask = Callable[[str], Awaitable[httpx.Response | str]]


def _failed(answer: httpx.Response | str) -> str | None:
    """Why an operator's answer calls for the backup copy (None: it is the answer)."""
    if isinstance(answer, str):
        return answer
    if answer.status_code >= 500:
        return f"it answered {answer.status_code}"
    return None


def _problem_detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


async def choose(route: ResolverRoute, path: str, ask: Ask) -> Choice:
    """Ask the operator's node for ``path`` (path and query), and the backup node when the
    operator's does not answer in time, cannot be reached or fails (5xx). Any other answer of the
    operator — a 404 included — is the answer. The backup node's answer counts only when it
    served the passport (2xx or a redirect); its 404 (no copy held), its 503 (its copy did not
    verify and is refused) or its silence make the answer unavailable, with the reasons."""
    first = await ask(route.operator + path)
    why = _failed(first)
    if why is None:
        assert isinstance(first, httpx.Response)
        return Choice("operator", first)
    why = f"the operator's node {route.operator} did not serve it: {why}"
    if route.backup is None:
        return Choice("unavailable", reason=f"{why}; no backup node is known for this GTIN")
    second = await ask(route.backup + path)
    if isinstance(second, str):
        return Choice("unavailable", reason=f"{why}; the backup node {route.backup} did not answer either: {second}")
    if second.status_code < 400:
        return Choice("backup", second)
    if second.status_code == 404:
        return Choice("unavailable", reason=f"{why}; the backup node {route.backup} holds no copy of this passport")
    detail = _problem_detail(second)
    return Choice(
        "unavailable",
        reason=f"{why}; the backup node {route.backup} refused to serve its copy"
        f" ({second.status_code}{': ' + detail if detail else ''})",
    )


def asker(client: httpx.AsyncClient, headers: Mapping[str, str], deadline_s: float) -> Ask:
    """One GET with ``headers`` through ``client``, within ``deadline_s`` in all (connect, send
    and read together: a node that accepts the connection and never answers — stopped, hung —
    counts as silent)."""

    async def ask(url: str) -> httpx.Response | str:
        try:
            with anyio.fail_after(deadline_s):
                return await client.get(url, headers=dict(headers), follow_redirects=False)
        except TimeoutError:
            return f"no answer within {deadline_s:g} s"
        except httpx.TimeoutException:
            return f"no answer within {deadline_s:g} s"
        except httpx.TransportError as exc:
            return f"cannot be reached ({type(exc).__name__})"

    return ask


def _wants_html(accept: str) -> bool:
    """A browser's request (``text/html`` before any ``application/json``), as the resolver
    route decides."""
    html, json = accept.find("text/html"), accept.find("application/json")
    return html != -1 and (json == -1 or html < json)


class DigitalLinkResolver:
    """passport's ``BatteryResolver`` for a node with the ``resolver`` role."""

    def __init__(self, routes: ResolverRoutes, client: httpx.AsyncClient, pages: PageRenderer) -> None:
        self.routes = routes
        self._client = client
        self._pages = pages

    def handles(self, battery: BatteryId) -> bool:
        return self.routes.route_for(str(battery.gtin)) is not None

    async def answer(self, battery: BatteryId, request: Request) -> Response | None:
        route = self.routes.route_for(str(battery.gtin))
        if route is None:
            return None
        headers = {k: v for k in _FORWARD if (v := request.headers.get(k))}
        lang = request.cookies.get(_LANG_COOKIE)
        if lang and lang.isalpha() and len(lang) <= 8:
            headers["cookie"] = f"{_LANG_COOKIE}={lang}"
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        choice = await choose(route, path, asker(self._client, headers, self.routes.deadline_s))
        if choice.answer is not None:
            kept = {k: v for k, v in choice.answer.headers.items() if k.lower() in _ANSWER}
            # the node that served it (RFC 9110 Content-Location): a reader holding credentials
            # presents them there, addressed to that node, since the resolver forwards none
            kept["Content-Location"] = str(choice.answer.request.url)
            return Response(choice.answer.content, status_code=choice.answer.status_code, headers=kept)
        if _wants_html(request.headers.get("accept", "")):
            page = self._pages.message_page(
                "Passport not available right now",
                "The operator's node did not answer and no verified backup copy of this passport could be served."
                " Please try again later.",
            )
            return HTMLResponse(page, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "60"})
        raise ResolverUnavailable(f"battery {battery}: {choice.reason}", rule="docs/resolver.md")
