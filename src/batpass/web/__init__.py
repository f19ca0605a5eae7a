"""Server-rendered pages: the public passport page (reached by scanning the QR code) and the
tiered view for readers with roles; the landing page with search and QR entry (``/``); the node's
API documentation from vendored assets. English and Japanese, from gettext catalogues.

The pages receive only the view already cut to the reader's tiers (:class:`PassportPages`
implements ``batpass.passport.PageRenderer``), so a field outside them cannot reach the page
source. No external CDN: the stylesheet is bundled and inlined.
"""

from batpass.web._api_docs import mount_api_docs
from batpass.web._i18n import LOCALES, PageLocale
from batpass.web._landing import mount_public_pages, parse_query
from batpass.web._pages import PageRow, PageSection, PassportPage, render_message_page, render_passport_page
from batpass.web._passport_page import PassportPages, build_page, format_value, legal_names

__all__ = [
    "LOCALES",
    "PageLocale",
    "PageRow",
    "PageSection",
    "PassportPage",
    "PassportPages",
    "build_page",
    "format_value",
    "legal_names",
    "mount_api_docs",
    "mount_public_pages",
    "parse_query",
    "render_message_page",
    "render_passport_page",
]
