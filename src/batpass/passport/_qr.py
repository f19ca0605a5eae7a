"""QR code (ISO/IEC 18004) of a battery's resolver URL, as SVG and PNG (segno).

Error correction level H (about 30 % of the symbol recoverable): the code is printed or engraved
on a battery, where scratches, dirt and heat damage are expected (Art. 13(6)). The code encodes
the GS1 Digital Link URI on the resolver base, never the passport's own UUID, so it keeps
resolving when the passport is replaced (second life) or ends (recycling).
"""

from __future__ import annotations

import io
import struct
import zlib
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
    """A PNG image, byte for byte segno's (``save(kind="png", scale=scale, border=4)``: greyscale,
    1 bit per pixel, each module row then ``scale - 1`` rows filtered "Up", deflate level 9),
    written a row of modules at a time instead of segno's pixel at a time (a tenth of the CPU)."""
    return png_of(_make(url).matrix, scale=scale, border=4)


def png_of(matrix: tuple[bytearray, ...], *, scale: int, border: int) -> bytes:
    """The PNG of a QR ``matrix`` (rows of 0 light / 1 dark modules) as segno writes it with its
    default colours (dark black, light white; a white pixel is bit 1)."""
    size = len(matrix)
    width = (size + 2 * border) * scale
    nbytes = (width + 7) // 8
    pad = "0" * (nbytes * 8 - width)
    light, dark, quiet = "1" * scale, "0" * scale, "1" * (border * scale)

    def scanline(bits: str) -> bytes:
        return b"\0" + int(bits + pad, 2).to_bytes(nbytes, "big")

    edge = scanline("1" * width) * (border * scale)
    same_as_above = (b"\2" + bytes(nbytes)) * (scale - 1)
    idat = bytearray(edge)
    for row in matrix:
        idat += scanline(quiet + "".join(dark if v else light for v in row) + quiet)
        idat += same_as_above
    idat += edge

    def chunk(name: bytes, data: bytes) -> bytes:
        head = name + data
        return struct.pack(">I", len(data)) + head + struct.pack(">I", zlib.crc32(head))

    return b"".join(
        (
            b"\211PNG\r\n\032\n",
            chunk(b"IHDR", struct.pack(">2I5B", width, width, 1, 0, 0, 0, 0)),
            chunk(b"IDAT", zlib.compress(bytes(idat), 9)),
            chunk(b"IEND", b""),
        )
    )
