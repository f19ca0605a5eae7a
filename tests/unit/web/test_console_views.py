"""The console's footprint and compliance views show the API's figures and findings for a
passport, and a hub user scoped to one operator sees only that operator's passports (the list,
the views and a direct URL to another operator's passport: 404)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import ConsoleNode
from fastapi.testclient import TestClient
from markupsafe import escape
from passport_testkit import ADMIN_KEY
from sqlalchemy import Engine
from test_console_routes import sign_in
from views_testkit import PACK, VIEW_MIGRATIONS, make_views_console
from web_testkit import ORIGINAL, REPURPOSED, WASTE

from batpass.passport import PassportFilter, find_passport_ids
from batpass.web._page_blocks import sig

MakeStore = Callable[[Sequence[Path]], Engine]


@pytest.fixture
def node(make_store: MakeStore, tmp_path: Path) -> ConsoleNode:
    return make_views_console(make_store(VIEW_MIGRATIONS), tmp_path / "ouranos")


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _pid(node: ConsoleNode, serial: str) -> str:
    (pid,), _total = find_passport_ids(node.passports.engine, PassportFilter(text=serial))
    return str(pid)


def _dd(html: str, key: str) -> str:
    m = re.search(rf'<dd data-footprint="{key}"[^>]*>(.*?)</dd>', html, re.S)
    assert m, key
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split())


def test_the_footprint_view_shows_the_figures_the_api_gives(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    pid = _pid(node, ORIGINAL.serial)
    page = browser.get(f"/console/footprint?passport={pid}")
    assert page.status_code == 200, page.text
    data = browser.get(f"/v1/passports/{pid}", headers={"X-Api-Key": ADMIN_KEY}).json()["data"]
    assert _dd(page.text, "carbon_footprint") == f"{sig(data['carbon_footprint']['value'])} kg CO₂e/kWh"
    assert _dd(page.text, "carbon_footprint_absolute") == f"{sig(data['carbon_footprint_absolute']['value'])} kg CO₂e"
    stages = dict(re.findall(r'<tr data-stage="([a-z_]+)"><th scope="row">[^<]+</th><td[^>]*>([^<]+)</td>', page.text))
    assert stages["raw_material_and_preprocessing"] == sig(
        data["carbon_footprint_stages"]["raw_material_and_preprocessing"]
    )
    assert stages["distribution"] == "not provided"
    assert "per_kwh_lifetime_energy" in page.text  # the stated basis
    # the document behind it: its format, figure per declared unit and the stated per-kWh basis
    doc = re.search(r'data-footprint-id="' + PACK["id"] + r'">(.*?)</article>', page.text, re.S)
    assert doc is not None
    assert "PACT v3" in doc.group(1) and "this battery" in doc.group(1) and "41.5 %" in doc.group(1)
    assert re.search(r'class="per-unit">6 294<', doc.group(1))
    assert "0.0549" in doc.group(1) and "114 735" in doc.group(1) and "kg CO₂e per 1 piece" in doc.group(1)
    assert "stage split not provided" not in doc.group(1)  # the extension gives the Annex II split


def test_the_compliance_view_shows_the_compliance_api_findings(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    pid = _pid(node, ORIGINAL.serial)
    for market in ("EU", "JP"):
        page = browser.get(f"/console/compliance?passport={pid}&at=2027-03-01&market={market}")
        assert page.status_code == 200, page.text
        api = browser.get(
            f"/v1/passports/{pid}/compliance?at=2027-03-01&market={market}", headers={"X-Api-Key": ADMIN_KEY}
        ).json()
        shown = re.findall(r'data-rule="([^"]+)" data-status="([^"]+)"', page.text)
        assert shown == [(f["rule"], f["status"]) for f in api["findings"]]
        assert len(shown) > 3
        assert all(str(escape(f["reference"])) in page.text for f in api["findings"] if f["reference"])
    r = browser.get(f"/console/compliance?passport={pid}&at=2027-13-01")
    assert r.status_code == 400 and "a date is written as YYYY-MM-DD" in r.text
    r = browser.get(f"/console/compliance?passport={pid}&market=US")
    assert r.status_code == 400 and "market: choose one of EU, JP" in r.text


def test_a_hub_user_sees_only_their_operators_passports(browser: TestClient, node: ConsoleNode) -> None:
    mine, theirs = _pid(node, REPURPOSED.serial), _pid(node, ORIGINAL.serial)
    sign_in(browser, "vera")
    assert browser.get(f"/console/passports/{theirs}").status_code == 200  # written to the audit log
    browser.cookies.clear()
    sign_in(browser, "rita")
    listed = browser.get("/console/passports")
    # the passports the recycler answers for: the repurposed battery, and the one it took as waste
    assert "2 passports found" in listed.text and REPURPOSED.serial in listed.text and WASTE.serial in listed.text
    assert ORIGINAL.serial not in listed.text
    assert browser.get(f"/console/passports/{mine}").status_code == 200
    for url in (
        f"/console/passports/{theirs}",
        f"/console/footprint?passport={theirs}",
        f"/console/compliance?passport={theirs}",
    ):
        r = browser.get(url)
        assert r.status_code == 404 and "No passport with this identifier is held on this node." in r.text, url
    assert ORIGINAL.serial not in browser.get("/console/footprint").text
    dashboard = browser.get("/console/").text
    assert re.search(r'id="count-passports">2<', dashboard)
    activity = re.search(r'<table id="activity".*?</table>', dashboard, re.S)
    assert activity is not None and "rita" in activity.group(0)
    assert "vera" not in activity.group(0) and theirs not in activity.group(0)  # the node's people's reads
    # the node's own people see every passport
    browser.cookies.clear()
    sign_in(browser, "vera")
    assert browser.get(f"/console/passports/{theirs}").status_code == 200
    assert "2 passports found" not in browser.get("/console/passports").text


def test_the_views_speak_japanese(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    pid = _pid(node, ORIGINAL.serial)
    ja = {"Accept-Language": "ja"}
    footprint = browser.get(f"/console/footprint?passport={pid}", headers=ja).text
    assert "のパスポートでの申告" in footprint and "PACT v3 形式" in footprint and "この電池" in footprint
    compliance = browser.get(f"/console/compliance?passport={pid}&at=2027-03-01", headers=ja).text
    assert "判定結果" in compliance and "欧州連合" in compliance
