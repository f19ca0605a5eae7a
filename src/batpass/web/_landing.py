"""The node's front door: ``/`` says who runs the node and offers a search box and a QR entry;
``/search`` takes what a person types or scans and lands on the battery's passport page.

Accepted in the search box: the battery identifier (GS1 element string ``01{gtin}21{serial}``,
also written ``(01)…(21)…``), a GS1 Digital Link URI (any resolver host: the QR code's content), a
GTIN and a serial number separated by a space, and a passport identifier (``urn:uuid:…`` or the
bare UUID). An identifier that does not parse, or that no passport here carries, gets a page with
the reason and the search box again (HTTP 400 / 404). The QR code is decoded in the browser by
the vendored jsQR (``static/vendor/jsqr``, provenance in ``static/vendor/PROVENANCE.md``), from
the camera where the browser offers one, else from a photo; nothing loads from elsewhere.

Must not know: the passport's storage (it asks :class:`batpass.passport.PassportService`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from babel import Locale
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.http import Ctx, NodeContext
from batpass.participants import ParticipantService
from batpass.passport import BatteryResolver, PassportService
from batpass.web._i18n import N_, PageLocale, current, gettext_for
from batpass.web._pages import CHART_JS, render, render_message_page

__all__ = ["ASSETS", "CONTENT_SECURITY_POLICY", "invalid_reason", "mount_public_pages", "parse_query", "router"]

#: where the pages' own scripts (and the vendored jsQR) are served
ASSETS = "/static/pages"
#: the landing page loads only from the node; the camera's stream and a chosen photo are blobs
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_STATIC = Path(__file__).parent / "static"
_PROFILES = {
    "catena-x": N_("Catena-X (the European automotive data space)"),
    "ouranos": N_("Ouranos Ecosystem (Japan's data-sharing framework)"),
    "bridge": N_("Bridge between Catena-X and the Ouranos Ecosystem"),
    "resolver": N_("Battery QR code resolver (answers from a backup copy when an operator's node is down)"),
}
#: what a person is told when an identifier breaks a rule of batpass.core.ids
_REASONS = {
    "8, 12, 13 or 14 digits": N_("A GTIN has 8, 12, 13 or 14 digits."),
    "the last digit is the GS1 mod-10 check digit": N_("The last digit of the GTIN is not its GS1 check digit."),
    "1 to 20 characters of GS1 character set 82 (GS1 General Specifications 7.11)": N_(
        "A serial number has 1 to 20 characters: letters, digits and a few symbols (GS1 character set 82)."
    ),
}
_NOT_AN_ID = N_(
    "It is not a battery identifier, a GS1 Digital Link, a GTIN with a serial number or a passport identifier."
)
_HRI = re.compile(r"\(01\)\s*([0-9]{8,14})\s*\(21\)\s*(\S{1,20})")
_GTIN_AND_SERIAL = re.compile(r"([0-9]{8,14})[\s,;]+(\S{1,20})")
_UUID = re.compile(r"(?:urn:uuid:)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})")

router = APIRouter(include_in_schema=False)


def parse_query(text: str) -> BatteryId | uuid.UUID:
    """What a person typed or scanned: a battery or a passport identifier.

    Raises ``InvalidInput`` (its ``rule`` names the broken rule) for anything else."""
    q = text.strip()
    if m := _UUID.fullmatch(q):
        return uuid.UUID(m.group(1))
    if m := _HRI.fullmatch(q):
        return BatteryId(m.group(1), m.group(2))
    if m := _GTIN_AND_SERIAL.fullmatch(q):
        return BatteryId(m.group(1), m.group(2))
    return BatteryId.parse(q)


def invalid_reason(text: str) -> str | None:
    """Why ``text`` is not an identifier the search takes, in the reader's language (None: it is)."""
    try:
        parse_query(text)
    except InvalidInput as exc:
        return gettext_for()(_REASONS.get(exc.rule or "", _NOT_AN_ID))
    return None


@dataclass(frozen=True, slots=True)
class _Operator:
    legal_name: str
    country: str
    profiles: tuple[str, ...]
    identifiers: tuple[tuple[str, str], ...]


def _operator(ctx: NodeContext) -> _Operator:
    _ = gettext_for()
    participants = ctx.services.get(ParticipantService)
    me = participants.me() if participants is not None else None
    ids: list[tuple[str, str]] = [(_("Decentralised identifier (DID)"), ctx.did)]
    country = ""
    if me is not None:
        country = Locale.parse(current().locale).territories.get(me.country, me.country)
        for label, value in (
            (_("Business Partner Number (BPNL, Catena-X)"), me.bpnl),
            (_("Japanese corporate number"), me.corporate_number),
            (_("Legal Entity Identifier (LEI)"), me.lei),
        ):
            if value:
                ids.append((label, str(value)))
    return _Operator(
        legal_name=me.legal_name if me is not None else ctx.name,
        country=country,
        profiles=tuple(_(_PROFILES.get(p, p)) for p in ctx.profiles),
        identifiers=tuple(ids),
    )


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@router.get("/", response_class=HTMLResponse)
def landing(ctx: Ctx) -> HTMLResponse:
    """Who runs this node, the search box and the QR entry."""
    return _page(render("landing.html", operator=_operator(ctx), query="", assets=ASSETS))


@router.get("/search", response_model=None)
def search(ctx: Ctx, q: str = "") -> Response:
    """The passport page of what was typed or scanned (303), or why there is none."""
    _ = gettext_for()
    q = q.strip()
    if not q:
        return _page(render_message_page(_("Nothing to search for"), _("Enter an identifier.")), 400)
    try:
        wanted = parse_query(q)
    except InvalidInput as exc:
        reason = _(_REASONS.get(exc.rule or "", _NOT_AN_ID))
        title = _("Not a battery or passport identifier")
        return _page(
            render_message_page(title, _("%(query)s: %(reason)s") % {"query": q, "reason": reason}, query=q), 400
        )
    svc = ctx.services.get(PassportService)
    passport = None
    if svc is not None and isinstance(wanted, uuid.UUID):
        try:
            passport = svc.get(wanted)
        except NotFound:
            passport = None
    elif svc is not None and isinstance(wanted, BatteryId):
        passport = svc.find_by_battery(wanted)
        if passport is None and _answered_here(ctx, svc, wanted):
            return RedirectResponse(wanted.path, status_code=303)
    if passport is None:
        text = (
            _("No passport with the identifier %(query)s is held on this node.")
            if isinstance(wanted, uuid.UUID)
            else _("No passport is registered on this node for the battery %(query)s.")
        )
        return _page(render_message_page(_("Battery not found"), text % {"query": q}, query=q), 404)
    return RedirectResponse(passport.battery_id.path, status_code=303)


def _answered_here(ctx: NodeContext, svc: PassportService, battery: BatteryId) -> bool:
    """Whether this node's Digital Link answers for a battery it does not operate: its resolver
    role routes the GTIN, or it holds a backup copy of the passport (a copy that does not stand
    counts too: the Digital Link then says why it is not served)."""
    resolver: BatteryResolver | None = ctx.services.get(BatteryResolver)
    if resolver is not None and resolver.handles(battery):
        return True
    try:
        return svc.held_copy(battery) is not None
    except BatpassError:
        return True


@lru_cache(maxsize=1)
def _chart_js() -> bytes:
    """The compliance report's vendored Chart.js (one chart library for the whole project;
    licence and provenance beside it in ``batpass.compliance``'s data)."""
    return (files("batpass.compliance") / "_data" / "vendor" / "chart.umd.js").read_bytes()


@router.get(CHART_JS)
def chart_js() -> Response:
    """Chart.js for the passport page's footprint chart, served from the node itself."""
    return Response(_chart_js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def mount_public_pages(app: FastAPI) -> None:
    """The landing page, the search, their assets and the pages' language choice (every page)."""
    app.mount(ASSETS, StaticFiles(directory=_STATIC), name="page-assets")
    app.include_router(router)
    app.add_middleware(PageLocale)
