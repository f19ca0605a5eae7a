"""Server-rendered pages: the public passport page (reached by scanning the QR code) and the
tiered view for readers with roles.

Knows no capability: callers (``passport.routes``) hand it a :class:`PassportPage` built only
from the fields the reader may see, so a field outside the reader's tiers cannot reach the
page source. No external CDN: the stylesheet is bundled and inlined.
"""

from batpass.web._pages import PageRow, PageSection, PassportPage, render_message_page, render_passport_page

__all__ = ["PageRow", "PageSection", "PassportPage", "render_message_page", "render_passport_page"]
