"""QR code: the resolver URL, error correction H, SVG and PNG."""

from __future__ import annotations

import segno

from batpass.passport._qr import ERROR_CORRECTION, qr_png, qr_svg

URL = "https://id.nordcell.example/01/04012345000009/21/SN-0001"


def test_error_correction_high_for_printing() -> None:
    assert ERROR_CORRECTION == "h"
    assert segno.make_qr(URL, error=ERROR_CORRECTION, boost_error=False).error == "H"


def test_svg_carries_url_as_text_alternative() -> None:
    svg = qr_svg(URL)
    assert svg.startswith("<svg") and f"<desc>{URL}</desc>" in svg and "<title>" in svg


def test_png() -> None:
    png = qr_png(URL)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 300


def test_svg_and_png_share_one_encoding_of_the_url() -> None:
    import struct

    from batpass.passport._qr import _make

    url = URL.replace("SN-0001", "SN-0002")
    _make.cache_clear()
    qr_svg.__wrapped__(url)
    png = qr_png.__wrapped__(url)
    assert _make.cache_info().misses == 1 and _make.cache_info().hits == 1
    width, height = struct.unpack(">II", png[16:24])
    symbol = segno.make_qr(url, error="h", boost_error=False)
    assert width == height == (symbol.symbol_size(scale=1, border=0)[0] + 8) * 8


def test_the_png_is_byte_for_byte_segnos_so_it_reads_as_the_same_link() -> None:
    """The PNG is written a module row at a time; the bytes are segno's own writer's (greyscale,
    1 bit, the same filters and deflate level), for short and long links and any scale."""
    import io

    from batpass.passport._qr import png_of

    for url in (URL, URL + "X" * 150, "https://a.example/01/04012345000009/21/1"):
        symbol = segno.make_qr(url, error="h", boost_error=False)
        for scale in (1, 3, 8):
            buf = io.BytesIO()
            symbol.save(buf, kind="png", scale=scale, border=4)
            assert png_of(symbol.matrix, scale=scale, border=4) == buf.getvalue(), (url, scale)
    buf = io.BytesIO()
    segno.make_qr(URL, error="h", boost_error=False).save(buf, kind="png", scale=8, border=4)
    assert qr_png.__wrapped__(URL) == buf.getvalue()
