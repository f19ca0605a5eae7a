"""The GS1 Digital Link linkset: ``?linkType=all`` and ``Accept: application/linkset+json``
answer RFC 9264 JSON whose every link resolves on the node; ``?linkType=<type>`` redirects; the
page and the JSON announce the linkset."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, make_app, make_summary

from batpass.core.ids import BatteryId
from batpass.passport import PassportService

BAT = BatteryId("04012345000009", "SN-0200")
BASE = "https://id.nordcell.example"


@pytest.fixture
def client(service: PassportService) -> Any:
    with TestClient(make_app(service), base_url=BASE) as c:
        r = c.post(
            "/v1/passports",
            json={
                "static": yaml.safe_load(EXAMPLE.read_text()),
                "battery": BAT.path,
                "item": ITEM,
                "summary": make_summary(BAT),
            },
            headers={"X-Api-Key": ADMIN_KEY},
        )
        assert r.status_code == 201, r.text
        yield c


@pytest.mark.parametrize(("query", "accept"), [("?linkType=all", "application/json"), ("", "application/linkset+json")])
def test_the_linkset_lists_links_that_resolve(client: Any, query: str, accept: str) -> None:
    r = client.get(BAT.path + query, headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/linkset+json")
    (links,) = r.json()["linkset"]  # RFC 9264: one link context object for the battery
    assert links["anchor"].endswith(BAT.path)
    rels = {k for k in links if k != "anchor"}
    assert {"https://gs1.org/voc/defaultLink", "https://gs1.org/voc/pip", "describedby", "version-history"} <= rels
    for rel in rels:
        for link in links[rel]:
            assert set(link) >= {"href", "type", "title"}
            path = urlsplit(link["href"]).path
            got = client.get(path, headers={"Accept": link["type"]})
            assert got.status_code == 200, (rel, link["href"], got.text[:200])
            assert got.headers["content-type"].startswith(link["type"]), (rel, link["href"])


def test_a_link_type_redirects_and_an_unknown_one_is_the_default(client: Any) -> None:
    r = client.get(BAT.path + "?linkType=version-history", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith("/history")
    page = client.get(BAT.path + "?linkType=gs1:pip", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    other = client.get(BAT.path + "?linkType=gs1:nutritionInfo", headers={"Accept": "text/html"})
    assert other.status_code == 200 and other.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_every_answer_announces_the_linkset(client: Any, accept: str) -> None:
    r = client.get(BAT.path, headers={"Accept": accept})
    assert r.status_code == 200
    assert f'<{BASE}{BAT.path}?linkType=all>; rel="linkset"; type="application/linkset+json"' in r.headers["link"]
