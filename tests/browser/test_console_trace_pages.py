"""The console's trace page in Debian's Chromium (Playwright), at a 390 px phone and a 1366 px
laptop, in English and Japanese: a viewer follows a passport's trace link and sees the tier graph,
the world map drawn from the vendored outlines with each country shaded by the trace API's own
share (and re-shaded when another element is chosen), and the material flow; an unknown battery
is a 404 page in the console's layout. No sideways scrolling; axe-core (vendored, run in the page)
finds no serious or critical violation. Screenshots go to ``test-artifacts/console-trace-*.png``.
The supplier nodes answer in-process (``tests/unit/web/trace_testkit.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from console_testkit import MIGRATIONS, PASSWORD
from passport_testkit import ADMIN_KEY
from trace_testkit import BATTERY, FAR, TraceNode, make_trace_console

from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TraceNode, dict[str, Any]]]:
    home = tmp_path_factory.mktemp("trace")
    engine = make_engine(f"sqlite:///{home / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    partners = make_engine(f"sqlite:///{home / 'partners.db'}")
    node = make_trace_console(engine, partners)
    for url in serve_in_thread(node.console.app):
        api = httpx.get(f"{url}/v1/trace/federated/{BATTERY}", headers={"X-Api-Key": ADMIN_KEY}, timeout=30)
        assert api.status_code == 200, api.text
        yield url, node, api.json()
    engine.dispose()
    partners.dispose()


def _check(page: Any, name: str, width: str) -> None:
    """No sideways scrolling, no serious or critical axe finding, and a screenshot."""
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width}"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert violations == [], f"{name} at {width}: {violations}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-trace-{name}-{WIDTHS[width][0]}.png"), full_page=True)


def _sign_in(page: Any, base: str, labels: tuple[str, str, str]) -> None:
    page.goto(base + "/console/login")
    page.get_by_label(labels[0]).fill("vera")  # the viewer role
    page.get_by_label(labels[1]).fill(PASSWORD)
    page.get_by_role("button", name=labels[2], exact=True).click()
    page.wait_for_url(base + "/console/")


def _shaded(page: Any) -> dict[str, float]:
    got: dict[str, float] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#trace-map path[data-share]')]
            .map(p => [p.getAttribute('data-country'), Number(p.getAttribute('data-share'))]))"""
    )
    return got


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_viewer_follows_a_passport_to_its_trace_map_and_flow(
    traced: tuple[str, TraceNode, dict[str, Any]], browser: Any, width: str
) -> None:
    base, _, api = traced
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB", bypass_csp=True)
    page = ctx.new_page()
    try:
        _sign_in(page, base, ("User name", "Password", "Sign in"))
        page.get_by_role("link", name="Passports", exact=True).click()
        page.wait_for_url(base + "/console/passports")
        page.get_by_role("link", name="Trace 04012345000009 / CON-0000").click()
        page.wait_for_url(lambda url: "/console/trace?subject=" in url)
        assert page.locator("h1").inner_text() == "Trace"
        assert page.locator("#tier-graph svg .box.supplier").count() == 3
        assert page.locator("#tombstones li").all_inner_texts() == [
            "Tier 1: supplier unreachable",
            "Tier 2: supplier unreachable",
        ]
        assert FAR not in page.content()
        # the map: drawn from the vendored outlines, each country shaded by the API's own share
        page.locator("#trace-map[data-drawn]").wait_for(state="attached")
        assert int(page.locator("#trace-map").get_attribute("data-drawn") or 0) > 150
        assert _shaded(page) == api["shares_by_country"]["Co"]
        page.get_by_label("Element shown on the map").select_option("Li")
        page.locator('#trace-map[data-element="Li"]').wait_for(state="attached")
        assert _shaded(page) == api["shares_by_country"]["Li"]
        assert page.locator("#flows tbody tr").count() >= 4
        _check(page, "battery", width)
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_in_japanese_the_trace_and_an_unknown_battery(
    traced: tuple[str, TraceNode, dict[str, Any]], browser: Any, width: str
) -> None:
    base, _, _api = traced
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="ja-JP", bypass_csp=True)
    page = ctx.new_page()
    try:
        _sign_in(page, base, ("ユーザー名", "パスワード", "ログイン"))
        page.get_by_role("link", name="トレース", exact=True).click()
        page.wait_for_url(base + "/console/trace")
        page.get_by_label("バッテリー（GS1 デジタルリンク URI）またはロット ID").fill(BATTERY)
        page.get_by_role("button", name="トレース", exact=True).click()
        page.locator("#trace-map[data-drawn]").wait_for(state="attached")
        assert page.locator("html").get_attribute("lang") == "ja"
        assert page.locator("#graph-h").inner_text() == "ティア"
        _check(page, "battery-ja", width)
        page.goto(base + "/console/trace?subject=LOT-THAT-IS-NOT-HERE")
        assert page.locator("h1").inner_text() == "バッテリーまたはロットが見つかりません"
        _check(page, "unknown-ja", width)
    finally:
        ctx.close()
