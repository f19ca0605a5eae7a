"""QR code (ISO/IEC 18004) of a battery's resolver URL, as SVG and PNG (segno).

Error correction level H (about 30 % of the symbol recoverable): the code is printed or engraved
on a battery, where scratches, dirt and heat damage are expected (Art. 13(6)). The code encodes
the GS1 Digital Link URI on the resolver base, never the passport's own UUID, so it keeps
resolving when the passport is replaced (second life) or ends (recycling).
"""

from __future__ import annotations

import copy
import io
import itertools
import re
import struct
import zlib
from functools import lru_cache
from typing import Any

import segno
from segno import encoder as _segno_encoder

#: segno's encoder (segno==1.6.6 is pinned): its layout functions, used as segno uses them
_encoder: Any = _segno_encoder

__all__ = ["ERROR_CORRECTION", "qr_png", "qr_svg"]

ERROR_CORRECTION = "h"


@lru_cache(maxsize=1024)
def _make(url: str) -> segno.QRCode:
    """The encoded symbol, shared by the SVG and the PNG: segno's own, with the data mask ISO/IEC
    18004 7.8.3 selects (the lowest penalty, the first of equals) chosen by :func:`best_mask`,
    which scores the eight masks as segno does but a row at a time (segno scores module by
    module: a version 7 symbol took 4.8 ms of CPU, now 3.0). The symbol is segno's with that mask:
    its mask-0 symbol with the data modules masked again (mask 0 off, the chosen one on) and the
    format information of the chosen mask written by segno's own layout function, which is what
    segno makes for that mask (it encoded the link a second time: 2.4 ms of CPU)."""
    first = segno.make_qr(url, error=ERROR_CORRECTION, boost_error=False, mask=0)
    mask = best_mask(first.matrix)
    if mask == 0:
        return first
    size = len(first.matrix)
    _, patterns, region = _layout(size)
    matrix = tuple(
        bytearray((int.from_bytes(row, "big") ^ ((p0 ^ pm) & reg)).to_bytes(size, "big"))
        for row, p0, pm, reg in zip(first.matrix, patterns[0], patterns[mask], region, strict=True)
    )
    _encoder.add_format_info(matrix, first._version, first._error, mask)
    code = copy.copy(first)
    code.matrix, code.mask = matrix, mask
    return code


@lru_cache(maxsize=64)
def _layout(size: int) -> tuple[tuple[bytes, ...], tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """For a QR symbol of ``size`` modules: the rows of its function patterns as segno lays them
    out before masking (the data region there is 2), each mask's pattern over the data region
    (rows as base-256 integers, one byte a module) and the data region itself (0xff a data
    module). The dark module is laid out as 0 there, no data module."""
    fm = _encoder.make_matrix(size, size)
    _encoder.add_finder_patterns(fm, size, size)
    _encoder.add_alignment_patterns(fm, size, size)
    region = tuple(int.from_bytes(bytes(0xFF if v > 1 else 0 for v in row), "big") for row in fm)
    patterns = tuple(
        tuple(int.from_bytes(bytes(fm[i][j] > 1 and fn(i, j) for j in range(size)), "big") for i in range(size))
        for fn in _encoder.get_data_mask_functions(False)
    )
    return tuple(bytes(row) for row in fm), patterns, region


def best_mask(symbol: tuple[bytearray, ...]) -> int:
    """The data mask ISO/IEC 18004 7.8.3 selects for the data of ``symbol`` (a QR code's final
    matrix with mask 0, 1 a dark module): segno's choice, the first mask of the lowest penalty."""
    size = len(symbol)
    template, patterns, region = _layout(size)
    # the matrix segno scores: function patterns as laid out (format and version areas still
    # empty), the data modules unmasked
    unmasked = [
        ((int.from_bytes(row, "big") & reg) ^ pat0) | (int.from_bytes(tpl, "big") & ~reg)
        for row, tpl, reg, pat0 in zip(symbol, template, region, patterns[0], strict=True)
    ]
    best, best_score = 0, None
    for mask, pattern in enumerate(patterns):
        rows = [(v ^ p).to_bytes(size, "big") for v, p in zip(unmasked, pattern, strict=True)]
        score = sum(penalties(rows))
        if best_score is None or score < best_score:
            best, best_score = mask, score
    return best


_RUNS = re.compile(rb"\x00{5,}|\x01{5,}")
_FINDER_LIKE = bytes((1, 0, 1, 1, 1, 0, 1))
#: between lines searched together: no run (N1) and four light modules (N3), so that a pattern at
#: a line's edge or with fewer than four modules beside it counts as within its line alone
_RUN_GAP = b"\x02"
_LIGHT_GAP = b"\x00" * 4


def penalties(rows: list[bytes]) -> tuple[int, int, int, int]:
    """The penalty scores N1–N4 of ISO/IEC 18004 7.8.3.1 (Table 11) of a square matrix (rows of
    0/1 bytes), as segno's ``mask_scores`` counts them."""
    size = len(rows)
    lines = (*rows, *(bytes(c) for c in zip(*rows, strict=True)))
    runs = _RUNS.findall(_RUN_GAP.join(lines))
    n1 = sum(map(len, runs)) - 2 * len(runs)
    ints = [int.from_bytes(r, "big") for r in rows]
    inner = int.from_bytes(b"\x00" + b"\x01" * (size - 1), "big")  # a 2x2 block ends at column 1 or later
    n2 = 0
    for above, row in itertools.pairwise(ints):
        differs = (row ^ (row >> 8)) | (above ^ (above >> 8)) | (row ^ above)
        n2 += 3 * (size - 1 - (differs & inner).bit_count())
    n3 = 40 * _finder_like(_LIGHT_GAP + _LIGHT_GAP.join(lines) + _LIGHT_GAP)
    dark = sum(r.count(1) for r in rows)
    n4 = 10 * int(abs(float(dark) / (size**2) * 100 - 50) / 5)
    return n1, n2, n3, n4


def _finder_like(text: bytes) -> int:
    """How many 1:1:3:1:1 patterns have four light modules before or after them (the lines
    apart by :data:`_LIGHT_GAP`), searched as segno searches each line: after one that counts,
    from its end; after one that does not, from its middle."""
    count = 0
    idx = text.find(_FINDER_LIKE)
    while idx != -1:
        if not any(text[idx - 4 : idx]) or not any(text[idx + 7 : idx + 11]):
            count += 1
            idx = text.find(_FINDER_LIKE, idx + 7)
        else:
            idx = text.find(_FINDER_LIKE, idx + 4)
    return count


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
