"""The page renderer: escaping, accessibility basics, no external resources, ended banner."""

from __future__ import annotations

import re

from batpass.web import PageRow, PageSection, PassportPage, render_message_page, render_passport_page


def _page(**kw: object) -> PassportPage:
    base: dict[str, object] = dict(
        title="Pack <script>alert(1)</script>",
        subtitle="Maker · EV battery",
        status="original",
        ended=False,
        passport_id="urn:uuid:0190f8b4-0000-7000-8000-000000000000",
        battery_url="https://id.example/01/04012345000009/21/S1",
        qr_svg='<svg xmlns="http://www.w3.org/2000/svg" class="qr"><title>QR</title></svg>',
        sections=(PageSection("key-facts", "Key facts", (PageRow("rated_capacity", "Rated capacity", "202", "Ah"),)),),
        tiers=("public",),
    )
    base.update(kw)
    return PassportPage(**base)  # type: ignore[arg-type]


def test_escapes_and_labels() -> None:
    html = render_passport_page(_page())
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert re.search(r'<dt id="f-rated_capacity-l">Rated capacity</dt>', html)
    assert 'aria-labelledby="f-rated_capacity-l"' in html and '<span class="unit">Ah</span>' in html
    assert html.count("<h1>") == 1


def test_no_external_resources() -> None:
    html = render_passport_page(_page())
    assert '<link rel="stylesheet"' not in html and "<script" not in html.replace("&lt;script", "")
    assert not re.search(r'(src|href)="https?://(?!id\.example)', html)


def test_ended_banner_and_status_in_words() -> None:
    html = render_passport_page(_page(ended=True, status="waste"))
    assert "Ended — battery recycled" in html and "has been recycled" in html
    assert "Status: original" in render_passport_page(_page())


def test_message_page() -> None:
    html = render_message_page("Battery not found", "No passport <here>")
    assert "No passport &lt;here&gt;" in html


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_palette_contrast_meets_wcag_aa() -> None:
    from pathlib import Path

    import batpass.web

    css = (Path(batpass.web.__file__).parent / "static" / "passport.css").read_text()
    colours = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6})", css))
    for fg in ("ink", "muted", "accent", "ok", "warn", "ended"):
        for bg in ("bg", "panel"):
            hi, lo = sorted((_luminance(colours[fg]), _luminance(colours[bg])), reverse=True)
            assert (hi + 0.05) / (lo + 0.05) >= 4.5, (fg, bg)
