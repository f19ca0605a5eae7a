"""Rendering of passport pages with Jinja2 (autoescaped; templates and CSS bundled).

Accessibility: one ``h1``, sections with headings, description lists pairing each label with its
value, units written out next to numbers, the QR code with a text alternative, status conveyed
in words (never by colour alone), colours with contrast >= 4.5:1 (WCAG 2.1 AA), ``lang``
attribute, viewport meta for phones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

__all__ = ["PageRow", "PageSection", "PassportPage", "render_message_page", "render_passport_page"]

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


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def _css() -> Markup:
    return Markup((_HERE / "static" / "passport.css").read_text(encoding="utf-8"))


def render_passport_page(page: PassportPage) -> str:
    """The HTML of a passport page (public or tiered, as the page's sections say)."""
    return _env().get_template("passport.html").render(p=page, css=_css(), qr=Markup(page.qr_svg))


def render_message_page(title: str, message: str, *, status: int = 404) -> str:
    return _env().get_template("message.html").render(title=title, message=message, status=status, css=_css())
