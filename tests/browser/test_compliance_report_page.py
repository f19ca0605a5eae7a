"""The compliance report (``batpass comply`` writes it; the demo links it) read on a phone and a
laptop: it fits the screen without sideways scrolling, its charts are drawn and labelled, and
axe-core finds no serious or critical violation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from browser_testkit import ARTIFACTS

from batpass.cli._compliance import subject_from_json
from batpass.compliance import evaluate, render_report_html

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
AT = dt.date(2031, 8, 18)
MODEL = {
    "model_id": "EV-PACK-77",
    "category": "ev",
    "capacity_kwh": "77",
    "footprint": {
        "kg_co2e_per_kwh": "61.5",
        "stages": {"raw_material": "40.1", "production": "19.4", "distribution": "2.0", "end_of_life": None},
    },
    "recycled": {
        "cobalt": {"pre_consumer": "0.10", "post_consumer": "0.08"},
        "lithium": {"pre_consumer": "0.02", "post_consumer": "0.02"},
        "nickel": {"pre_consumer": "0.05", "post_consumer": "0.03"},
        "lead": {"pre_consumer": "0.5", "post_consumer": "0.4"},
    },
}


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_report_fits_the_screen_and_passes_axe(browser: Any, width: str, tmp_path: Path) -> None:
    subject = subject_from_json(MODEL)
    report = tmp_path / "report.html"
    report.write_text(render_report_html(subject, AT, evaluate(subject, AT)), encoding="utf-8")
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB")
    page = ctx.new_page()
    try:
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the report scrolls sideways by {overflow} px at {w} px"
        drawn = page.evaluate("[...document.querySelectorAll('canvas')].map(c => c.width > 0 && c.height > 0)")
        assert drawn and all(drawn)
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
        )
        assert violations == [], violations
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"compliance-report-{w}.png"), full_page=True)
    finally:
        ctx.close()
