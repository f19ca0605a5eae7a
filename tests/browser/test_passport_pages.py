"""Browser test of the passport pages in Debian's Chromium (Playwright, never a downloaded browser).

Opens the public page (anonymous) and the tiered page (market surveillance authority, through the
test RoleVerifier, sent as ``Authorization: Bearer``), checks restricted fields are absent / present
in the page, checks the QR code and labels, and saves screenshots under ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "passport"))
from browser_testkit import ARTIFACTS, serve_in_thread
from passport_testkit import EXAMPLE, ITEM, OPERATOR, make_app, make_service, make_summary

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.passport import MIGRATIONS_DIR, PassportRules, load_static_product_data
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.trust import NodeIdentity, generate_keypair

pytestmark = pytest.mark.browser

BAT = BatteryId("04012345000009", "WEB-0001")
RESTRICTED = ("EVP75-MOD-01", "UN 38.3")  # part number (legitimate interest), test report (authorities)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('web') / 'passport.db'}")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    identity = NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")])
    svc = make_service(
        engine, identity, PassportRules.from_ruleset(load_ruleset()), FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    )
    p = svc.build(load_static_product_data(EXAMPLE), BAT, item=ITEM, summary=decode_summary(make_summary(BAT)))
    svc.mark_waste(p.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    ended = BatteryId("04012345000009", "WEB-0002")
    q = svc.build(load_static_product_data(EXAMPLE), ended, item=ITEM, summary=decode_summary(make_summary(ended)))
    svc.mark_waste(q.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    svc.recycle(q.passport_id, recycler="did:web:recycler.example", actor=OPERATOR)
    yield from serve_in_thread(make_app(svc))
    engine.dispose()


def _open(browser: Any, url: str, headers: dict[str, str] | None = None) -> Any:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, extra_http_headers=headers or {})
    page = ctx.new_page()
    resp = page.goto(url)
    assert resp is not None and resp.status == 200
    return ctx, page


def test_public_page_on_a_phone(server: str, browser: Any) -> None:
    ctx, page = _open(browser, server + BAT.path)
    try:
        html = page.content()
        assert page.locator("h1").inner_text().startswith("NordCell EVP 75")
        assert "Status: waste" in page.locator("#status").inner_text()
        assert page.locator('[data-field="rated_capacity"]').inner_text().strip() == "202 Ah"
        assert page.locator("svg.qr").count() == 1
        assert all(r not in html for r in RESTRICTED)
        assert page.locator("#authorities").count() == 0 and page.locator("#restricted").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "passport-public.png"), full_page=True)
    finally:
        ctx.close()


def test_tiered_page_for_an_authority(server: str, browser: Any) -> None:
    ctx, page = _open(browser, server + BAT.path, {"Authorization": "Bearer tok-msa"})
    try:
        html = page.content()
        assert all(r in html for r in RESTRICTED)
        assert page.locator("#authorities h2").inner_text().startswith("Test reports")
        assert page.locator("#dynamic").count() == 0  # dynamic data: legitimate interest only
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "passport-authority.png"), full_page=True)
    finally:
        ctx.close()


def test_ended_page(server: str, browser: Any) -> None:
    ctx, page = _open(browser, server + "/01/04012345000009/21/WEB-0002")
    try:
        assert "Ended" in page.locator("#status").inner_text()
        assert page.get_by_role("status").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / "passport-ended.png"), full_page=True)
    finally:
        ctx.close()
