"""The failover as a person meets it, in Debian's Chromium (Playwright): the QR URL on the resolver,
the operator's node down (nothing listens on its port), the page comes from the backup node's
signed copy with a visible notice naming who holds it — in English and in Japanese, at 390 and
1366 px without sideways scrolling, with no serious or critical axe-core finding. Screenshots go
to ``test-artifacts/failover-*.png``.

The three parts are real apps served over HTTP on loopback (the resolver role, the backup node's
passport app holding the copies, no operator); the same over HTTPS between real nodes:
tests/integration/test_resolver_failover.py."""

from __future__ import annotations

import datetime as dt
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "passport"))
from browser_testkit import ARTIFACTS, serve_in_thread
from passport_testkit import IdentityKeys, make_app
from web_testkit import MIGRATIONS, build_passport, make_passports

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.federation import DigitalLinkResolver, ResolverRoute, ResolverRoutes
from batpass.participants import Participant, ParticipantService
from batpass.passport import BatteryResolver, PassportRules, PassportService
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.trust import NodeIdentity, generate_keypair
from batpass.web import PassportPages, mount_public_pages

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BAT = BatteryId("04012345000009", "WEB-0201")
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
HOLDER = "Kreislauf Recycling GmbH"
NOTICE = {
    "en": f"Served from the backup copy held by {HOLDER}.",
    "ja": f"{HOLDER}が保管するバックアップコピーから表示しています。",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _migrated(path: Path) -> Any:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    return engine


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("failover")
    operator = make_passports(_migrated(tmp / "operator.db"))
    p = build_passport(operator, BAT)
    clock = FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    rules = PassportRules.from_ruleset(load_ruleset())
    backup_did = "did:web:recycler.example"
    backup = PassportService(
        _migrated(tmp / "backup.db"),
        NodeIdentity(backup_did, [generate_keypair("Ed25519", "key-ed25519-1")]),
        rules=rules,
        resolver_base="https://resolver.example",
        backup_url="https://recycler.example",
        clock=clock,
        key_resolver=IdentityKeys(operator.identity),
    )
    for v in operator.versions(p.passport_id):
        backup.accept_backup({"jws": v.jws})
    ParticipantService(backup.engine).register(
        Participant(legal_name=HOLDER, country="DE", did=backup_did), is_self=True
    )
    backup_app = make_app(backup)
    backup_app.state.ctx.did = backup_did
    backup_app.state.ctx.services[ParticipantService] = ParticipantService(backup.engine)
    mount_public_pages(backup_app)
    served = serve_in_thread(backup_app)
    backup_url = next(served)
    # the resolver's own node: no passports, a route to an operator nobody answers for
    own = PassportService(
        _migrated(tmp / "resolver.db"),
        NodeIdentity("did:web:resolver.example", [generate_keypair("Ed25519", "key-ed25519-1")]),
        rules=rules,
        resolver_base="https://resolver.example",
        backup_url="https://resolver.example",
        clock=clock,
    )
    route = ResolverRoute("0401234", f"http://127.0.0.1:{_free_port()}", backup_url)
    res_app = make_app(own)
    # no keep-alive: the servers stop with no connection left open between their threads
    client = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
    res_app.state.ctx.services[BatteryResolver] = DigitalLinkResolver(ResolverRoutes([route]), client, PassportPages())
    mount_public_pages(res_app)
    try:
        yield from serve_in_thread(res_app)
    finally:
        next(served, None)


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", sorted(NOTICE))
def test_the_qr_url_shows_the_backup_copy_marked(resolver: str, browser: Any, lang: str, width: str) -> None:
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="ja-JP" if lang == "ja" else "en-GB")
    page = ctx.new_page()
    try:
        resp = page.goto(resolver + BAT.path)
        assert resp is not None and resp.status == 200
        notice = page.locator("#served-from")
        assert notice.is_visible() and NOTICE[lang] in notice.inner_text()
        assert page.locator("h1").inner_text().strip()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"scrolls sideways by {overflow} px at {w}"
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
        )
        assert violations == [], violations
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failover-backup-copy-{lang}-{w}.png"), full_page=True)
    finally:
        ctx.close()
