"""A passport's lifecycle action as an operator meets it in Debian's Chromium (Playwright), at a
390 px phone and a 1366 px laptop: the folded "Record dynamic data" form, a value the rules refuse
(the form comes back open, the field marked and described by the error naming the field and the
rule, nothing recorded), then a valid value (the passport's page with the notice, a new version).
No sideways scrolling; axe-core finds no serious or critical violation on either page.
Screenshots go to ``test-artifacts/console-action-*.png`` (``-form-``: the refused form alone).
Every wait is for a condition."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from console_testkit import BATTERIES, MIGRATIONS, ConsoleNode, make_console
from test_console_pages import EN, WIDTHS, _check, _sign_in

from batpass.passport import PassportFilter, find_passport_ids
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleNode]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('console-actions') / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    node = make_console(engine, lots=10)
    for url in serve_in_thread(node.app):
        yield url, node
    engine.dispose()


@pytest.mark.parametrize(("width", "battery"), [("phone", BATTERIES[0]), ("laptop", BATTERIES[1])])
def test_an_operator_records_dynamic_data_after_a_refused_value(
    console: tuple[str, ConsoleNode], browser: Any, width: str, battery: Any
) -> None:
    base, node = console
    (pid,), _total = find_passport_ids(node.passports.engine, PassportFilter(text=battery.serial))
    before = node.passports.get(pid).version
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB", bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(base + "/console/login")
        _sign_in(page, base, "otto", EN)
        page.goto(f"{base}/console/passports/{pid}")
        page.locator("#actions").wait_for()
        page.locator("#act-dynamic summary").click()
        soh = page.locator("#dynamic-state_of_health")
        soh.fill("140")
        page.locator("#act-dynamic").get_by_role("button", name="Record dynamic data").click()
        error = page.locator("#dynamic-error")
        error.wait_for()
        assert "state_of_health" in error.inner_text() and "Annex VII" in error.inner_text()
        assert soh.get_attribute("aria-invalid") == "true" and soh.input_value() == "140"
        assert "dynamic-error" in (soh.get_attribute("aria-describedby") or "")
        assert node.passports.get(pid).version == before  # nothing recorded
        _check(page, "action-refused", width)
        page.locator("#act-dynamic").screenshot(path=str(ARTIFACTS / f"console-action-form-{w}.png"))

        soh.fill("93.5")
        page.locator("#act-dynamic").get_by_role("button", name="Record dynamic data").click()
        page.locator("#done").filter(has_text="Saved: the dynamic data is recorded as a new version.").wait_for()
        assert page.locator('[data-field="state_of_health"]').inner_text().strip() == "93.5 %"
        _check(page, "action-done", width)
        assert node.passports.get(pid).version == before + 1
        assert any(e.action == "passport.dynamic" and e.user == "otto" for e in node.accounts.audit_log(limit=50))
    finally:
        ctx.close()
