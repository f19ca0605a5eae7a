"""Rendering of passport pages with Jinja2 (autoescaped; templates and CSS bundled).

Accessibility: one ``h1``, sections with headings, description lists pairing each label with its
value, units written out next to numbers, the QR code with a text alternative, status conveyed
in words (never by colour alone), colours with contrast >= 4.5:1 (WCAG 2.1 AA), ``lang``
attribute, viewport meta for phones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from batpass.web._i18n import N_, current, language_links, translations

__all__ = [
    "CHART_JS",
    "Footprint",
    "HistoryRow",
    "Operator",
    "PageRow",
    "PageSection",
    "PassportPage",
    "StageRow",
    "Substances",
    "Symbol",
    "render",
    "render_history_page",
    "render_message_page",
    "render_passport_page",
]

_HERE = Path(__file__).parent
#: where the node serves the project's one chart library (the compliance report's vendored Chart.js)
CHART_JS = "/static/chart/chart.umd.js"


@dataclass(frozen=True, slots=True)
class PageRow:
    key: str
    label: str
    value: str
    unit: str = ""
    items: tuple[str, ...] = ()
    href: str | None = None


@dataclass(frozen=True, slots=True)
class PageSection:
    id: str
    title: str
    rows: tuple[PageRow, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class StageRow:
    """One Annex II life-cycle stage: its value in kg CO2e per kWh of lifetime energy (None: not
    provided) as a number for the chart and as text for the table, and its share of the total."""

    key: str
    label: str
    value: float | None
    shown: str
    share: str = ""


@dataclass(frozen=True, slots=True)
class Footprint:
    """The carbon footprint block: the figures with their bases, and the stages."""

    rows: tuple[PageRow, ...]
    stages: tuple[StageRow, ...] = ()
    unit: str = ""
    summary: str = ""  # the chart's text alternative


@dataclass(frozen=True, slots=True)
class Symbol:
    """A label or mark the battery bears, drawn by the project (``static/symbols``)."""

    src: str
    alt: str
    caption: str


@dataclass(frozen=True, slots=True)
class Substances:
    """The hazardous substances as a table, and the symbols the battery bears."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    symbols: tuple[Symbol, ...] = ()


@dataclass(frozen=True, slots=True)
class Operator:
    """A party by legal name (its DID shown on demand)."""

    role: str
    name: str
    did: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    version: int
    date: str
    operator: str
    did: str
    change: str
    fields: str
    digest: str


@dataclass(frozen=True, slots=True)
class PassportPage:
    title: str
    subtitle: str
    status: str
    ended: bool
    passport_id: str
    battery_url: str
    qr_svg: str
    sections: tuple[PageSection, ...]
    tiers: tuple[str, ...]
    roles: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = field(default=())  # (label, href)
    json_href: str = ""
    lifecycle: tuple[PageRow, ...] = ()
    operators: tuple[Operator, ...] = ()
    footprint: Footprint | None = None
    substances: Substances | None = None
    history_href: str = ""
    assets: str = ""  # where the page's script and symbols are served (empty: no chart script)


@lru_cache(maxsize=4)
def _env(locale: str) -> jinja2.Environment:
    """One environment per language, its catalogue installed once (no per-request lookup cost)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,  # the templates are package files: no stat of each on every include
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, **values: object) -> str:
    """``template`` in the current request's language, with the language links and the CSS."""
    req = current()
    return (
        _env(req.locale)
        .get_template(template)
        .render(lang=req.locale, languages=language_links(req), css=_css(), **values)
    )


#: the battery status values (Annex XIII (4)(b)) as the page says them
STATUS_NAMES = {
    "original": N_("original"),
    "re-used": N_("re-used"),
    "repurposed": N_("repurposed"),
    "remanufactured": N_("remanufactured"),
    "waste": N_("waste"),
}


#: the readers' roles (``batpass.passport.ROLE_TIERS``) and the access tiers (Annex XIII (1)-(4))
ROLE_NAMES = {
    "legitimate_interest": N_("person with a legitimate interest"),
    "notified_body": N_("notified body"),
    "market_surveillance_authority": N_("market surveillance authority"),
    "commission": N_("European Commission"),
}
TIER_NAMES = {
    "public": N_("public"),
    "legitimate_interest": N_("legitimate interest"),
    "authorities": N_("authorities"),
    "dynamic": N_("dynamic data"),
}


@lru_cache(maxsize=4)
def _statuses(locale: str) -> dict[str, str]:
    _ = translations(locale).gettext
    return {value: _(name) for value, name in STATUS_NAMES.items()}


def _names(names: dict[str, str], values: tuple[str, ...]) -> str:
    _ = translations(current().locale).gettext
    return ", ".join(_(names[v]) if v in names else v for v in values)


@lru_cache(maxsize=1)
def _css() -> Markup:
    return Markup((_HERE / "static" / "passport.css").read_text(encoding="utf-8"))


def render_passport_page(page: PassportPage, *, served_from: Mapping[str, Any] | None = None) -> str:
    """The HTML of a passport page (public or tiered, as the page's sections say); ``served_from``
    marks a page served from a backup node's copy (``_served_from.html``)."""
    return render(
        "passport.html",
        served_from=served_from,
        p=page,
        qr=Markup(page.qr_svg),
        statuses=_statuses(current().locale),
        roles=_names(ROLE_NAMES, page.roles),
        tiers=_names(TIER_NAMES, page.tiers),
        chart_js=CHART_JS,
    )


def render_message_page(title: str, message: str, *, status: int = 404, query: str = "") -> str:
    """A page with a message (its title and text already in the reader's language) and the
    search box, ``query`` filled in."""
    return render("message.html", title=title, message=message, status=status, query=query)


def render_history_page(page: PassportPage, rows: tuple[HistoryRow, ...]) -> str:
    """The version history of a passport as a page: date, operator, change, digest per version."""
    return render("history.html", p=page, rows=rows)
