"""The passport page of a battery in each state of its life, in Debian's Chromium (Playwright):
English and Japanese, at 390 px and 1366 px with no sideways scrolling, the footprint chart drawn
by the project's one chart library (a stage not provided labelled so), keyboard access to the
operators' DIDs, and axe-core (vendored, run in the page) with no serious or critical violation.
Screenshots go to ``test-artifacts/passport-<state>-<lang>-<width>.png``. Every wait is for a
condition."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from web_testkit import (
    CADMIUM,
    ENDED,
    MIGRATIONS,
    ORIGINAL,
    RECYCLER_NAME,
    REMAN,
    REPURPOSED,
    WASTE,
    make_lives,
    make_passports,
    make_public_app,
)

from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {390: 844, 1366: 768}
STATES = {
    "original": ORIGINAL,
    "cadmium": CADMIUM,
    "repurposed": REPURPOSED,
    "remanufactured": REMAN,
    "waste": WASTE,
    "recycled": ENDED,
}
#: what each page must say, by language: (selector, text it contains)
SAYS = {
    ("original", "en"): ('[data-field="carbon_footprint_capacity"]', "83.9 kg CO₂e/kWh"),
    ("original", "ja"): ("#f-carbon_footprint_capacity-l", "容量1 kWhあたり"),
    ("cadmium", "en"): ("#substances", "Contains cadmium above the limit that requires the mark"),
    ("cadmium", "ja"): ("#substances", "カドミウム"),
    ("repurposed", "en"): ("header", "Stationary energy storage"),
    ("repurposed", "ja"): ('[data-field="intended_use"]', "Home storage with rooftop solar"),
    ("remanufactured", "en"): ('[data-field="restored_capacity"]', "94 % of the original rated capacity"),
    ("remanufactured", "ja"): ('[data-field="restored_capacity"]', "元の定格容量"),
    ("waste", "en"): ("#life", RECYCLER_NAME),
    ("waste", "ja"): ("#life", "廃電池の責任者"),
    ("recycled", "en"): ('[data-field="recovered_materials"]', "cobalt: 4.20 kg"),
    ("recycled", "ja"): ('[data-field="recovered_materials"]', "コバルト: 4.20 kg"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('lives') / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    yield from serve_in_thread(make_public_app(make_lives(make_passports(engine))))
    engine.dispose()


def _check_page(page: Any, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert violations == [], f"{name}: {violations}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("state", list(STATES))
def test_each_life_in_each_language_and_width(server: str, browser: Any, state: str, lang: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": WIDTHS[width]}, locale=lang)
    page = ctx.new_page()
    try:
        resp = page.goto(f"{server}{STATES[state].path}?lang={lang}")
        assert resp is not None and resp.status == 200
        assert page.locator("html").get_attribute("lang") == lang
        selector, text = SAYS[(state, lang)]
        assert text in page.locator(selector).inner_text()
        if page.locator("#stage-table").count():
            # the chart is drawn (Chart.js loaded from the node) and the table stays for all readers
            page.wait_for_selector('#stage-chart[data-drawn="true"]')
            assert page.locator("#stage-chart-box").is_visible()
            assert page.locator('#stage-table tr[data-stage="distribution"] td').first.inner_text() in (
                "not provided",
                "提供なし",
            )
        # the symbols are the project's drawings, served by the node and shown
        images = page.locator("#substances img")
        assert images.count() == (2 if state == "cadmium" else 1)
        assert page.evaluate("[...document.querySelectorAll('#substances img')].every(i => i.naturalWidth > 0)")
        _check_page(page, f"passport-{state}-{lang}-{width}")
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_version_history_page(server: str, browser: Any, lang: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": WIDTHS[width]}, locale=lang)
    page = ctx.new_page()
    try:
        page.goto(f"{server}{ENDED.path}?lang={lang}")
        page.locator(".history-link a").click()
        page.wait_for_url(f"{server}{ENDED.path}/history")
        assert page.locator("ol.versions > li").count() == 3
        _check_page(page, f"passport-history-{lang}-{width}")
    finally:
        ctx.close()


def test_the_keyboard_opens_an_operators_did(server: str, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        page.goto(server + WASTE.path)
        summary = page.locator("#life details.did summary").first
        for _ in range(40):  # tab through the page until the first "Identifier (DID)" has the focus
            page.keyboard.press("Tab")
            if summary.evaluate("el => el === document.activeElement"):
                break
        assert summary.evaluate("el => el === document.activeElement")
        page.keyboard.press("Enter")
        page.locator("#life details.did code").first.wait_for(state="visible")
        assert page.locator("#life details.did code").first.inner_text().startswith("did:web:")
    finally:
        ctx.close()
