"""The console as a person meets it, in Debian's Chromium (Playwright): sign in, the dashboard,
the passports with a filter, one passport's detail, the alerts (an operator resolving one with a
note), at a 390 px phone and a 1366 px laptop, in English and Japanese, without sideways
scrolling; axe-core (vendored, run in the page) finds no serious or critical violation.
"Open a passport" with an address no node answers says why. Screenshots go to
``test-artifacts/console-*.png``. Every wait is for a condition."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from console_testkit import MIGRATIONS, PASSWORD, ConsoleNode, make_console

from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleNode]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    node = make_console(engine, lots=12)
    node.app.state.ctx.client = httpx.AsyncClient(timeout=5)  # reaches other nodes (open a passport)
    for url in serve_in_thread(node.app):
        yield url, node
    engine.dispose()


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
    page.screenshot(path=str(ARTIFACTS / f"console-{name}-{WIDTHS[width][0]}.png"), full_page=True)


def _sign_in(page: Any, base: str, user: str, labels: dict[str, str]) -> None:
    page.get_by_label(labels["user"]).fill(user)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"], exact=True).click()
    page.wait_for_url(base + "/console/")


EN = {"user": "User name", "password": "Password", "sign_in": "Sign in"}
JA = {"user": "ユーザー名", "password": "パスワード", "sign_in": "ログイン"}


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_sign_in_dashboard_passports_detail_alerts(console: tuple[str, ConsoleNode], browser: Any, width: str) -> None:
    base, node = console
    w, h = WIDTHS[width]
    # bypass_csp: axe is injected as an inline script, which the pages' policy refuses
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB", bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(base + "/console/alerts")
        page.wait_for_url(lambda url: "/console/login" in url)
        assert page.locator("#notice").inner_text() == "Sign in to use the console."
        _check(page, "login", width)
        page.get_by_label("User name").fill("otto")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.locator("#error").filter(has_text="The user name or the password is wrong.").wait_for()
        _check(page, "login-refused", width)
        _sign_in(page, base, "otto", EN)
        assert page.locator("#count-passports").inner_text() == "3"
        _check(page, "dashboard", width)

        page.get_by_role("link", name="Passports", exact=True).click()
        page.wait_for_url(base + "/console/passports")
        page.get_by_label("Status").select_option("waste")
        page.get_by_role("button", name="Filter").click()
        page.locator("#found").filter(has_text="1 passports found").wait_for()
        _check(page, "passports", width)
        page.locator("#passports a").first.click()
        page.locator("#versions").wait_for()
        assert page.locator('[data-field="rated_capacity"]').inner_text().strip() == "202 Ah"
        _check(page, "passport", width)

        page.get_by_role("link", name="Alerts", exact=True).click()
        page.wait_for_url(base + "/console/alerts")
        first = page.locator("article.alert.open").first
        first.get_by_label("Note").fill(f"checked at {width}")
        first.get_by_role("button", name="Acknowledge").click()
        page.locator("#done").filter(has_text="Saved: the alert is acknowledged.").wait_for()
        _check(page, "alerts", width)
        assert any(e.note == f"checked at {width}" and e.user == "otto" for e in node.accounts.audit_log(limit=200))
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_in_japanese_a_viewer_reads_but_is_offered_no_action(
    console: tuple[str, ConsoleNode], browser: Any, width: str
) -> None:
    base, _ = console
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="ja-JP", bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(base + "/console/login")
        assert page.locator("html").get_attribute("lang") == "ja"
        _sign_in(page, base, "vera", JA)
        assert page.locator("h1").inner_text() == "ダッシュボード"
        _check(page, "dashboard-ja", width)
        page.get_by_role("link", name="アラート", exact=True).click()
        page.wait_for_url(base + "/console/alerts")
        assert page.locator("article.alert").count() > 0 and page.locator("article.alert form").count() == 0
        _check(page, "alerts-ja-viewer", width)
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_open_a_passport_says_why_a_node_did_not_answer(
    console: tuple[str, ConsoleNode], browser: Any, width: str
) -> None:
    base, node = console
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB", bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(base + "/console/login")
        _sign_in(page, base, "vera", EN)
        page.get_by_role("link", name="Open a passport", exact=True).click()
        page.wait_for_url(base + "/console/open")
        _check(page, "open", width)
        url = "https://127.0.0.1:1/01/04012345000009/21/X"  # nothing listens on port 1
        page.get_by_label("Address of the passport (GS1 Digital Link or passport URL)").fill(url)
        page.get_by_role("button", name="Open", exact=True).click()
        page.locator("#error").filter(has_text="Node unreachable:").wait_for()
        _check(page, "open-unreachable", width)
        assert any(e.action == "passport.open-remote" and e.user == "vera" for e in node.accounts.audit_log(limit=200))
    finally:
        ctx.close()
