"""QR code (ISO/IEC 18004) of a battery's resolver URL, as SVG and PNG (segno).

Error correction level H (about 30 % of the symbol recoverable): the code is printed or engraved
on a battery, where scratches, dirt and heat damage are expected (Art. 13(6)). The code encodes
the GS1 Digital Link URI on the resolver base, never the passport's own UUID, so it keeps
resolving when the passport is replaced (second life) or ends (recycling).
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno

__all__ = ["ERROR_CORRECTION", "qr_png", "qr_svg"]

ERROR_CORRECTION = "h"


@lru_cache(maxsize=1024)
def _make(url: str) -> segno.QRCode:
    """The encoded symbol (mask selection is the costly part), shared by the SVG and the PNG."""
    return segno.make_qr(url, error=ERROR_CORRECTION, boost_error=False)


@lru_cache(maxsize=4096)
def qr_svg(url: str, *, scale: int = 4, title: str | None = None) -> str:
    """An SVG document (no XML declaration, so it can be inlined in a page)."""
    buf = io.BytesIO()
    _make(url).save(
        buf,
        kind="svg",
        scale=scale,
        border=4,
        xmldecl=False,
        svgns=True,
        title=title or f"QR code: {url}",
        desc=url,
        svgclass="qr",
        lineclass=None,
    )
    return buf.getvalue().decode("utf-8")


@lru_cache(maxsize=1024)
def qr_png(url: str, *, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    _make(url).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
