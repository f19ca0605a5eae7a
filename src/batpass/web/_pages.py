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

__all__ = ["PageRow", "PageSection", "PassportPage", "render", "render_message_page", "render_passport_page"]

_HERE = Path(__file__).parent


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


@lru_cache(maxsize=4)
def _env(locale: str) -> jinja2.Environment:
    """One environment per language, its catalogue installed once (no per-request lookup cost)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
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
    )


def render_message_page(title: str, message: str, *, status: int = 404, query: str = "") -> str:
    """A page with a message (its title and text already in the reader's language) and the
    search box, ``query`` filled in."""
    return render("message.html", title=title, message=message, status=status, query=query)
