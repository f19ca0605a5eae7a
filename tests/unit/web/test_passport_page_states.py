"""The passport page as a person reads it, for each state of a battery's life (issue 20): the
footprint with both bases at a sensible precision (the same figures the API gives), its stages
with "not provided", the substances table and symbols, operators by legal name, mined origin and
recycled content apart, each life told truthfully, the version history page; English and Japanese."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient
from web_testkit import (
    CADMIUM,
    ENDED,
    MIGRATIONS,
    OPERATOR,
    OPERATOR_NAME,
    ORIGINAL,
    RECYCLER,
    RECYCLER_NAME,
    REMAN,
    REPURPOSED,
    WASTE,
    G,
    make_lives,
    make_passports,
    make_public_app,
)

from batpass.core.ids import BatteryId
from batpass.passport import footprint_per_capacity
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.web._page_blocks import sig

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/node.db")
    upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
    app = make_public_app(make_lives(make_passports(engine)))
    with TestClient(app, base_url="https://id.nordcell.example") as c:
        yield c
    engine.dispose()


def _page(client: TestClient, battery: BatteryId, lang: str = "en") -> str:
    r = client.get(battery.path, headers={**HTML, "Accept-Language": lang})
    assert r.status_code == 200, r.text
    return r.text


def _text(html: str, attr: str, key: str) -> str:
    m = re.search(rf'<dd {attr}="{key}"[^>]*>(.*?)</dd>', html, re.S)
    assert m, key
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split())


def test_the_footprint_is_given_per_kwh_of_lifetime_energy_and_of_capacity(client: TestClient) -> None:
    html = _page(client, ORIGINAL)
    assert _text(html, "data-field", "carbon_footprint") == "0.0549 kg CO₂e/kWh"
    assert _text(html, "data-field", "carbon_footprint_capacity") == "83.9 kg CO₂e/kWh"
    assert _text(html, "data-footprint", "carbon_footprint_absolute") == "6 294 kg CO₂e"
    assert "Per kWh of total energy the battery provides over its service life" in html
    assert "0.0548573" not in html.replace('data-value="0.0548573"', "")
    # the same figures the API gives: its data points, through the same function
    data = client.get(ORIGINAL.path, headers={"Accept": "application/json"}).json()["data"]
    assert sig(data["carbon_footprint"]["value"]) == "0.0549"
    assert sig(footprint_per_capacity(data) or 0) == "83.9"


def test_stages_are_a_table_with_not_provided_and_a_chart_from_the_one_library(client: TestClient) -> None:
    html = _page(client, ORIGINAL)
    rows = dict(
        re.findall(r'<tr data-stage="([a-z_]+)"[^>]*>\s*<th scope="row">[^<]+</th>\s*<td[^>]*>([^<]+)</td>', html)
    )
    assert rows == {
        "raw_material_and_preprocessing": "0.0401",
        "main_production": "0.0148",
        "distribution": "not provided",
        "end_of_life": "not provided",
    }
    assert '<canvas id="stage-chart" role="img"' in html and "Distribution: not provided" in html
    src = re.search(r'<script src="([^"]+chart[^"]+)"', html)
    assert src is not None
    served = client.get(src.group(1))
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
    vendored = (files("batpass.compliance") / "_data" / "vendor" / "chart.umd.js").read_bytes()
    assert served.content == vendored  # the compliance report's copy, not a second one
    assert client.get("/static/pages/passport.js").status_code == 200


def test_substances_are_a_table_with_the_symbols_the_battery_bears(client: TestClient) -> None:
    html = _page(client, ORIGINAL)
    table = re.search(r'<table id="substance-table">(.*?)</table>', html, re.S)
    assert table is not None
    assert '<th scope="col">CAS number</th>' in table.group(1) and "21324-40-3" in table.group(1)
    assert "name: lithium" not in html and "cas:" not in html  # no raw "key: value" text
    assert 'src="/static/pages/symbols/separate-collection.svg" alt="A crossed-out wheeled bin"' in html
    assert "symbols/cd.svg" not in html and "symbols/pb.svg" not in html  # 0 % cadmium and lead
    marked = _page(client, CADMIUM)
    assert 'src="/static/pages/symbols/cd.svg" alt="The chemical symbol Cd"' in marked
    assert "symbols/pb.svg" not in marked
    for name in ("separate-collection", "cd", "pb"):
        svg = client.get(f"/static/pages/symbols/{name}.svg")
        assert svg.status_code == 200 and svg.text.startswith("<svg") and "<title" in svg.text


def test_operators_by_legal_name_with_the_did_on_demand(client: TestClient) -> None:
    html = _page(client, ORIGINAL)
    operator = _text(html, "data-operator", "1")
    assert operator.startswith(OPERATOR_NAME) and f"Identifier (DID) {OPERATOR}" in operator
    assert f">{OPERATOR}<" not in html.replace(f"<code>{OPERATOR}</code>", "")  # only inside <details>


def test_mined_origin_and_recycled_content_are_apart(client: TestClient) -> None:
    html = _page(client, ORIGINAL)
    origin = re.search(r'<section id="origin".*?</section>', html, re.S)
    recycled = re.search(r'<section id="recycled".*?</section>', html, re.S)
    assert origin is not None and recycled is not None
    assert "Chile 60.0 %" in origin.group(0) and "consumer" not in origin.group(0)
    assert "post-consumer" in recycled.group(0) and "Chile" not in recycled.group(0)
    assert "by mass balance (not the Art. 8 basis)" in recycled.group(0)


def test_a_repurposed_battery_shows_its_new_category_model_and_use(client: TestClient) -> None:
    html = _page(client, REPURPOSED)
    assert re.search(r"<h1>HomeStore 60</h1>", html)
    assert "Stationary energy storage (industrial) battery" in html and "Electric vehicle (EV) battery" not in html
    assert _text(html, "data-field", "intended_use") == "Home storage with rooftop solar"
    assert _text(html, "data-operator", "1").startswith(RECYCLER_NAME)
    assert 'id="footprint"' not in html  # the EV model's footprint is not this model's
    assert "Previous passport" in html


def test_a_remanufactured_battery_shows_its_restored_capacity(client: TestClient) -> None:
    html = _page(client, REMAN)
    assert _text(html, "data-field", "restored_capacity") == ("190 Ah (94 % of the original rated capacity, 202 Ah)")
    assert "Status: remanufactured" in html


def test_a_waste_battery_names_its_waste_operator(client: TestClient) -> None:
    html = _page(client, WASTE)
    assert "Status: waste" in html
    assert _text(html, "data-operator", "2").startswith(f"{RECYCLER_NAME} Identifier (DID) {RECYCLER}")
    assert "Responsible for the waste battery" in html


def test_a_recycled_battery_says_who_recycled_it_when_and_what_was_recovered(client: TestClient) -> None:
    html = _page(client, ENDED)
    assert "Ended — battery recycled" in html
    labels = re.findall(r"<dt>([^<]+)</dt>\s*<dd data-operator=\"\d\">([^<]+)", html)
    assert ("Recycled by", RECYCLER_NAME) in [(lab, name.strip()) for lab, name in labels]
    assert _text(html, "data-field", "recycled_on") == "2027-03-01"
    assert _text(html, "data-field", "recovered_materials") == "cobalt: 4.20 kg lithium: 5.10 kg"


def test_japanese_page(client: TestClient) -> None:
    html = _page(client, ORIGINAL, "ja")
    assert '<html lang="ja">' in html
    assert "容量1 kWhあたりのカーボンフットプリント" in html and "83.9" in html
    assert "プレコンシューマー" in html and "マスバランス方式" in html
    assert "提供なし" in html and "チリ" in html  # not provided; Chile by name
    ended = _page(client, ENDED, "ja")
    assert "リサイクル事業者" in ended and "コバルト: 4.20 kg" in ended


def test_the_version_history_page(client: TestClient) -> None:
    html = _page(client, ENDED)
    assert f'href="{ENDED.path}/history"' in html
    r = client.get(f"{ENDED.path}/history", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    pid = client.get(ENDED.path, headers={"Accept": "application/json"}).json()["passportId"]
    versions = client.get(f"/v1/passports/{pid}/history").json()["versions"]
    changes = re.findall(r'<dd data-change="(\d+)">([^<]+)</dd>', r.text)
    assert changes == [
        ("3", "Battery recycled; passport ended and archived"),
        ("2", "Became waste; responsibility passed on"),
        ("1", "Passport built"),
    ]
    digests = re.findall(r'<code class="digest">([0-9a-f]{64})</code>', r.text)
    assert digests == [v["digest"] for v in reversed(versions)]
    assert "2027-03-01 00:00 UTC" in r.text and OPERATOR_NAME in r.text
    assert client.get(f"/01/{G}/21/NOPE/history", headers=HTML).status_code == 404
    assert "版の履歴" in client.get(f"{ENDED.path}/history", headers={**HTML, "Accept-Language": "ja"}).text
