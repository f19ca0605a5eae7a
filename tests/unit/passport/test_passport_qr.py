"""QR code: the resolver URL, error correction H, SVG and PNG."""

from __future__ import annotations

import random
import string

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


def _random_text(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice(string.ascii_letters + string.digits + "/-._~") for _ in range(length))


def test_the_symbol_is_segnos_with_the_mask_segno_selects() -> None:
    """The mask is chosen by our row-wise scoring, the symbol made by segno: the same mask and
    modules as segno.make_qr, over many links and symbol versions (every mask chosen)."""
    from batpass.passport._qr import _make

    rnd = random.Random(20261207)
    texts = [_random_text(rnd, n) for n in (0, 1, 3, 7, 10, 20, 40, 63, 64, 80, 120, 200, 400, 800, 1200) * 4]
    texts += [f"https://localhost:{40000 + 97 * i}/01/04012345000016/21/RA{i:07d}" for i in range(60)]
    versions, masks = set(), set()
    for text in texts:
        _make.cache_clear()
        theirs = segno.make_qr(text, error="h", boost_error=False)
        ours = _make(text)
        assert (ours.version, ours.mask, ours.matrix) == (theirs.version, theirs.mask, theirs.matrix), text
        versions.add(theirs.version)
        masks.add(theirs.mask)
    assert masks == set(range(8)) and len(versions) >= 8


def test_the_penalty_scores_are_segnos() -> None:
    """N1–N4 as segno's ``mask_scores`` counts them, on random matrices of several sizes and
    densities, with finder-like patterns planted at and near the lines' edges (where N3 counts
    them with fewer than four light modules beside)."""
    from segno import encoder

    from batpass.passport._qr import penalties

    rnd = random.Random(7)
    for n in range(300):
        size = rnd.choice([21, 25, 45, 57, 101])
        density = rnd.choice([0.05, 0.3, 0.5, 0.7, 0.95])
        rows = [bytearray(1 if rnd.random() < density else 0 for _ in range(size)) for _ in range(size)]
        if n % 3 == 0:
            for r in rnd.sample(range(size), 5):
                at = rnd.choice([0, 1, 2, 3, size - 7, size - 8, size - 10, size // 2])
                rows[r][at : at + 7] = bytes((1, 0, 1, 1, 1, 0, 1))
        assert penalties([bytes(r) for r in rows]) == encoder.mask_scores(tuple(rows), size, size)
