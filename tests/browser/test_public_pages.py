"""The public side as a person meets it, in Debian's Chromium (Playwright): the front door's search,
a QR photo and the camera (Chromium's fake device playing a QR code) land on the passport,
English and Japanese, the keyboard alone reaches everything,
every public page fits a 390 px phone and a 1366 px laptop without sideways scrolling, and axe-core
(vendored under ``vendor/axe-core``, run in the page) finds no serious or critical violation.
Screenshots of each page and width go to ``test-artifacts/``. Every wait is for a condition."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import segno

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "web"))
from browser_testkit import ARTIFACTS, serve_in_thread
from web_testkit import MIGRATIONS, OPERATOR, OPERATOR_NAME, build_passport, make_passports, make_public_app

from batpass.core.ids import BatteryId
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BAT = BatteryId("04012345000009", "WEB-0101")
ENDED = BatteryId("04012345000009", "WEB-0102")
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('public') / 'node.db'}")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    svc = make_passports(engine)
    build_passport(svc, BAT)
    ended = build_passport(svc, ENDED)
    svc.mark_waste(ended.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    svc.recycle(ended.passport_id, recycler="did:web:recycler.example", actor=OPERATOR)
    yield from serve_in_thread(make_public_app(svc))
    engine.dispose()


def _page(browser: Any, *, width: str = "phone", locale: str = "en-GB", **options: Any) -> tuple[Any, Any]:
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h}, locale=locale, **options)
    return ctx, ctx.new_page()


def test_search_lands_on_the_passport(server: str, browser: Any) -> None:
    ctx, page = _page(browser)
    try:
        assert page.goto(server + "/").status == 200
        page.get_by_label("Battery identifier, GS1 Digital Link").fill("(01)04012345000009(21)WEB-0101")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(server + BAT.path)
        assert page.locator("h1").inner_text().startswith("NordCell EVP 75")
        assert page.locator('[data-field="rated_capacity"]').inner_text().strip() == "202 Ah"
    finally:
        ctx.close()


def test_a_photo_of_the_qr_code_lands_on_the_passport(server: str, browser: Any, tmp_path: Path) -> None:
    photo = tmp_path / "label.png"
    # the code as printed on the battery: its Digital Link on the resolver (another host)
    segno.make(BAT.digital_link("https://id.nordcell.example"), error="m").save(str(photo), scale=8, border=4)
    ctx, page = _page(browser)
    try:
        page.goto(server + "/")
        upload = page.get_by_label("Read the QR code from a photo")
        upload.wait_for(state="visible")  # the reader is offered once jsQR has loaded
        upload.set_input_files(str(photo))
        page.wait_for_url(server + BAT.path)
        assert page.locator("svg.qr").count() == 1
    finally:
        ctx.close()


def _camera_feed(path: Path, text: str, *, width: int = 640, height: int = 480) -> None:
    """A Y4M video (what Chromium's fake camera plays) of the QR code of ``text`` on white."""
    rows = list(segno.make(text, error="m").matrix_iter(scale=6, border=4))
    top, left = (height - len(rows)) // 2, (width - len(rows[0])) // 2
    luma = bytearray(b"\xff" * (width * height))
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                luma[(top + y) * width + left + x] = 0
    chroma = b"\x80" * (width * height // 2)  # 4:2:0, both planes grey
    frame = b"FRAME\n" + bytes(luma) + chroma
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * 5)


def test_the_camera_reads_the_qr_code_and_lands_on_the_passport(server: str, browser: Any, tmp_path: Path) -> None:
    feed = tmp_path / "camera.y4m"
    _camera_feed(feed, BAT.digital_link("https://id.nordcell.example"))
    # a browser of its own: the camera is a launch option (Chromium's fake device playing the feed)
    args = ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream"]
    args.append(f"--use-file-for-fake-video-capture={feed}")
    with_camera = browser.browser_type.launch(executable_path=shutil.which("chromium"), args=args)
    try:
        ctx = with_camera.new_context(viewport={"width": 390, "height": 844}, permissions=["camera"])
        page = ctx.new_page()
        page.goto(server + "/")
        page.get_by_role("button", name="Scan with the camera").click()
        page.wait_for_url(server + BAT.path)
        assert page.locator("svg.qr").count() == 1
    finally:
        with_camera.close()


def test_a_picture_without_a_qr_code_says_so(server: str, browser: Any, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    segno.make("x").save(str(blank), scale=1, border=0, dark="white")  # a white square
    ctx, page = _page(browser)
    try:
        page.goto(server + "/")
        upload = page.get_by_label("Read the QR code from a photo")
        upload.wait_for(state="visible")
        upload.set_input_files(str(blank))
        status = page.locator("#scan-status")
        status.filter(has_text="No QR code was found").wait_for()
        assert page.url == server + "/"
    finally:
        ctx.close()


def test_japanese_by_browser_preference_and_english_by_the_switch(server: str, browser: Any) -> None:
    ctx, page = _page(browser, locale="ja-JP")
    try:
        page.goto(server + BAT.path)
        assert page.locator("html").get_attribute("lang") == "ja"
        assert page.locator("#f-rated_capacity-l").inner_text() == "定格容量"
        assert page.locator("#key-facts h2").inner_text() == "主な情報"
        assert "電気自動車（EV）用電池" in page.locator("header").inner_text()
        page.get_by_role("link", name="English").click()
        page.wait_for_url(re.compile(r".*lang=en$"))
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("#f-rated_capacity-l").inner_text() == "Rated capacity"
        # the choice is remembered over the browser's preference
        page.goto(server + "/")
        assert page.locator("h1").inner_text() == "Battery passports"
        page.get_by_role("link", name="日本語").click()
        page.wait_for_url(re.compile(r".*lang=ja$"))
        assert page.locator("h1").inner_text() == "バッテリーパスポート"
        assert page.locator("#legal-name").inner_text() == OPERATOR_NAME
        assert page.get_by_role("button", name="検索").is_visible()
    finally:
        ctx.close()


def test_the_keyboard_alone_finds_a_battery(server: str, browser: Any) -> None:
    ctx, page = _page(browser)
    try:
        page.goto(server + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to the search"
        page.keyboard.press("Enter")  # the skip link moves the focus to the search box
        page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
        page.keyboard.type("04012345000009 WEB-0101")
        page.keyboard.press("Enter")
        page.wait_for_url(server + BAT.path)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to passport data"
    finally:
        ctx.close()


PAGES = {
    "landing": ("/", {}),
    "landing-ja": ("/?lang=ja", {}),
    "not-found": ("/search?q=04012345000009+NOPE", {}),
    "invalid": ("/search?q=hello", {}),
    "resolver-invalid": ("/01/04012345000008/21/WEB-0101", {}),
    "passport": (BAT.path, {}),
    "passport-ja": (BAT.path + "?lang=ja", {}),
    "passport-authority": (BAT.path, {"Authorization": "Bearer tok-msa"}),
    "passport-ended": (ENDED.path, {}),
}


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", sorted(PAGES))
def test_public_pages_fit_and_pass_axe(server: str, browser: Any, name: str, width: str) -> None:
    path, headers = PAGES[name]
    # bypass_csp: axe is injected as an inline script, which the landing page's policy refuses
    ctx, page = _page(browser, width=width, bypass_csp=True, extra_http_headers=headers)
    try:
        page.goto(server + path)
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
        page.screenshot(path=str(ARTIFACTS / f"public-{name}-{WIDTHS[width][0]}.png"), full_page=True)
    finally:
        ctx.close()


def test_the_vendored_axe_is_the_one_recorded() -> None:
    provenance = (AXE.parent / "PROVENANCE.md").read_text()
    digest = re.search(r"^\| `axe.min.js`.*\| `([0-9a-f]{64})` \|$", provenance, re.M)
    assert digest is not None and hashlib.sha256(AXE.read_bytes()).hexdigest() == digest.group(1)
    assert (AXE.parent / "LICENSE").read_text().startswith("Mozilla Public License")
