"""The console's footprint, compliance, trust and partners views as people meet them, in
Debian's Chromium (Playwright), at a 390 px phone and a 1366 px laptop, without sideways
scrolling, axe-core (vendored, run in the page) finding no serious or critical violation:

- an administrator picks a passport's footprint and its compliance in the Japanese market, reads
  the trust lists and revokes an issued credential, and reads the partners;
- a viewer reads the trust view with no action offered, in Japanese;
- a hub user scoped to one operator sees only that operator's releases and passports.

Screenshots go to ``test-artifacts/console-*.png``. Every wait is for a condition."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from console_testkit import PASSWORD, ConsoleNode
from views_testkit import VIEW_MIGRATIONS, make_views_console
from web_testkit import ORIGINAL

from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
EN = {"user": "User name", "password": "Password", "sign_in": "Sign in"}
JA = {"user": "ユーザー名", "password": "パスワード", "sign_in": "ログイン"}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleNode]]:
    folder = tmp_path_factory.mktemp("views")
    engine = make_engine(f"sqlite:///{folder / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *VIEW_MIGRATIONS])
    node = make_views_console(engine, folder / "ouranos")
    for url in serve_in_thread(node.app):
        yield url, node
    engine.dispose()


def _check(page: Any, name: str, width: str) -> None:
    """No sideways scrolling, no serious or critical axe finding, and a screenshot."""
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right + window.scrollX > document.documentElement.clientWidth + 1)
            .slice(-3).map(e => `${e.tagName}.${e.className}: ${e.textContent.slice(0, 40)}`)"""
    )
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width}: {wide}"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert violations == [], f"{name} at {width}: {violations}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}-{WIDTHS[width][0]}.png"), full_page=True)


def _open(browser: Any, base: str, width: str, user: str, *, locale: str = "en-GB") -> tuple[Any, Any]:
    w, h = WIDTHS[width]
    # bypass_csp: axe is injected as an inline script, which the pages' policy refuses
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale=locale, bypass_csp=True)
    page = ctx.new_page()
    labels = JA if locale.startswith("ja") else EN
    page.goto(base + "/console/login")
    page.get_by_label(labels["user"]).fill(user)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"], exact=True).click()
    page.wait_for_url(base + "/console/")
    return ctx, page


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_an_admin_reads_footprint_compliance_trust_and_partners(
    console: tuple[str, ConsoleNode], browser: Any, width: str
) -> None:
    base, node = console
    ctx, page = _open(browser, base, width, "ada")
    try:
        page.get_by_role("link", name="Footprint", exact=True).click()
        page.wait_for_url(lambda url: "/console/footprint" in url)
        page.get_by_label("Passport", exact=True).select_option(
            label=f"{ORIGINAL.gtin} / {ORIGINAL.serial} — NordCell-EVP-75"
        )
        page.get_by_role("button", name="Show", exact=True).click()
        page.locator("#declared-h").filter(has_text=ORIGINAL.serial).wait_for()
        assert page.locator('[data-footprint="carbon_footprint"]').inner_text().strip() == "0.0549 kg CO₂e/kWh"
        assert page.locator("#held article .source").first.inner_text() == "PACT v3"
        _check(page, "footprint", width)

        page.get_by_role("link", name="Compliance", exact=True).click()
        page.wait_for_url(lambda url: "/console/compliance" in url)
        page.get_by_label("Market", exact=True).select_option("JP")
        page.get_by_label("At the date", exact=True).fill("2027-03-01")
        page.get_by_role("button", name="Show", exact=True).click()
        page.wait_for_url(lambda url: "market=JP" in url)
        assert page.locator("article.finding").count() > 3
        assert "jp@" in page.locator("#rulesets").inner_text()
        page.locator("article.finding details").first.locator("summary").click()
        _check(page, "compliance", width)

        page.get_by_role("link", name="Trust", exact=True).click()
        page.wait_for_url(base + "/console/trust")
        assert page.locator("article.trust-list").count() == 2
        _check(page, "trust", width)
        active = page.locator('tr[data-revoked="no"]')
        before = active.count()
        active.first.get_by_role("button").click()
        page.locator("#done").wait_for()
        assert page.locator('tr[data-revoked="no"]').count() == before - 1
        assert any(e.action == "credential.revoke" and e.user == "ada" for e in node.accounts.audit_log(limit=50))

        page.get_by_role("link", name="Partners", exact=True).click()
        page.wait_for_url(base + "/console/partners")
        assert page.locator("article.operator").count() == 2
        _check(page, "partners", width)
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_viewer_reads_trust_in_japanese_with_no_action(
    console: tuple[str, ConsoleNode], browser: Any, width: str
) -> None:
    base, _ = console
    ctx, page = _open(browser, base, width, "vera", locale="ja-JP")
    try:
        page.get_by_role("link", name="トラスト", exact=True).click()
        page.wait_for_url(base + "/console/trust")
        assert page.locator("h1").inner_text() == "トラスト"
        assert page.locator("#issued form").count() == 0
        _check(page, "trust-ja-viewer", width)
        page.get_by_role("link", name="フットプリント", exact=True).click()
        page.wait_for_url(base + "/console/footprint")
        _check(page, "footprint-ja", width)
    finally:
        ctx.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_hub_user_sees_only_their_operator(console: tuple[str, ConsoleNode], browser: Any, width: str) -> None:
    base, _ = console
    ctx, page = _open(browser, base, width, "kei")
    try:
        page.get_by_role("link", name="Partners", exact=True).click()
        page.wait_for_url(base + "/console/partners")
        assert page.locator("article.operator").count() == 1
        assert "Cell KK" in page.locator("article.operator").inner_text()
        _check(page, "partners-hub-user", width)
        page.get_by_role("link", name="Passports", exact=True).click()
        page.locator("#found").filter(has_text="0 passports found").wait_for()
    finally:
        ctx.close()
