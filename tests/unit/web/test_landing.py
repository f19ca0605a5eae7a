"""The node's front door (``/``) and search: who runs the node, the search box and QR entry, every
accepted way of writing an identifier landing on the passport page, and the reason (with the
search box again) for an invalid or unknown one. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web_testkit import MIGRATIONS, OPERATOR, OPERATOR_NAME, build_passport, make_passports, make_public_app

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.web import parse_query

BAT = BatteryId("04012345000009", "SN-0100")
HTML = {"Accept": "text/html"}


@pytest.fixture
def client(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[Any]:
    svc = make_passports(make_store(MIGRATIONS))
    passport = build_passport(svc, BAT)
    with TestClient(make_public_app(svc), base_url="https://id.nordcell.example") as c:
        c.passport_urn = passport.urn  # type: ignore[attr-defined]
        yield c


def test_the_front_door_says_who_runs_the_node_and_offers_search_and_qr(client: Any) -> None:
    r = client.get("/", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert f'<dd id="legal-name">{OPERATOR_NAME}</dd>' in page and "Germany" in page
    assert "Catena-X (the European automotive data space)" in page
    # the identifiers are there on demand (a closed disclosure), the DID first
    ids = page[page.index('<details id="identifiers">') :]
    assert OPERATOR in ids and "BPNL00000003AYRE" in ids and "529900T8BM49AURSDO55" in ids
    assert '<form class="search" action="/search" method="get" role="search"' in page
    assert '<label for="q">' in page and 'id="qr-file"' in page and 'accept="image/*"' in page
    # scripts only from the node itself, and the policy says so
    assert re.findall(r'<script src="([^"]+)"', page) == [
        "/static/pages/vendor/jsqr/jsQR.js",
        "/static/pages/landing.js",
    ]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for asset in re.findall(r'<script src="([^"]+)"', page):
        got = client.get(asset)
        assert got.status_code == 200 and "javascript" in got.headers["content-type"], asset


@pytest.mark.parametrize(
    "query",
    [
        "https://resolver.elsewhere.example/01/04012345000009/21/SN-0100",  # the QR code's content
        "https://id.nordcell.example/01/04012345000009/21/SN-0100?linkType=all",
        "/01/04012345000009/21/SN-0100",
        "010401234500000921SN-0100",  # the battery identifier (GS1 element string)
        "(01)04012345000009(21)SN-0100",
        "  04012345000009 SN-0100 ",  # GTIN and serial number
        "4012345000009 SN-0100",  # a GTIN-13 is the same GTIN
    ],
)
def test_every_way_of_writing_the_battery_lands_on_its_passport(client: Any, query: str) -> None:
    r = client.get("/search", params={"q": query}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == BAT.path
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and 'data-field="rated_capacity"' in page.text


def test_a_passport_identifier_lands_on_the_passport(client: Any) -> None:
    for query in (client.passport_urn, client.passport_urn.removeprefix("urn:uuid:").upper()):
        r = client.get("/search", params={"q": query}, headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == BAT.path, query


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("04012345000008 SN-0100", 400, "The last digit of the GTIN is not its GS1 check digit."),
        ("hello battery", 400, "It is not a battery identifier, a GS1 Digital Link"),
        ("04012345000009 " + "X" * 21, 400, "It is not a battery identifier"),
        ("04012345000009 NOPE", 404, "No passport is registered on this node for the battery 04012345000009 NOPE."),
        (f"urn:uuid:{uuid.UUID(int=7)}", 404, f"No passport with the identifier urn:uuid:{uuid.UUID(int=7)}"),
        ("   ", 400, "Enter an identifier."),
    ],
)
def test_an_invalid_or_unknown_identifier_gets_the_reason_and_the_search_box(
    client: Any, query: str, status: int, reason: str
) -> None:
    r = client.get("/search", params={"q": query}, headers=HTML, follow_redirects=False)
    assert r.status_code == status and r.headers["content-type"].startswith("text/html")
    assert reason in r.text
    assert 'role="search"' in r.text and f'value="{query.strip()}"' in r.text


def test_the_query_is_escaped_on_the_reason_page(client: Any) -> None:
    r = client.get("/search", params={"q": '"><script>alert(1)</script>'}, headers=HTML)
    assert r.status_code == 400 and "<script>alert" not in r.text and "&lt;script&gt;" in r.text


def test_the_resolvers_own_pages_give_the_reason_and_the_search_box(client: Any) -> None:
    r = client.get("/01/04012345000009/21/NOPE", headers=HTML)
    assert r.status_code == 404 and "Battery not found" in r.text and 'role="search"' in r.text
    assert 'value="/01/04012345000009/21/NOPE"' in r.text
    bad = client.get("/01/04012345000008/21/NOPE", headers=HTML)
    assert bad.status_code == 400 and "This code is not a valid battery identifier." in bad.text
    assert "The last digit of the GTIN is not its GS1 check digit." in bad.text
    assert 'value="/01/04012345000008/21/NOPE"' in bad.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://x.example/01/04012345000009/21/A%2FB", BatteryId("04012345000009", "A/B")),
        ("(01) 04012345000009 (21) S-1", BatteryId("04012345000009", "S-1")),
        ("04012345000009,S-1", BatteryId("04012345000009", "S-1")),
        ("urn:uuid:0190f8b4-0000-7000-8000-000000000000", uuid.UUID("0190f8b4-0000-7000-8000-000000000000")),
    ],
)
def test_parse_query(text: str, expected: object) -> None:
    assert parse_query(text) == expected


def test_parse_query_names_the_broken_rule() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_query("04012345000008 S-1")
    assert err.value.rule == "the last digit is the GS1 mod-10 check digit"


def test_the_passport_page_speaks_the_readers_language(client: Any) -> None:
    ja = client.get(BAT.path, headers={**HTML, "Accept-Language": "ja-JP,ja;q=0.9"})
    assert '<html lang="ja">' in ja.text
    assert '<dt id="f-rated_capacity-l">定格容量</dt>' in ja.text and "主な情報" in ja.text
    en = client.get(BAT.path, headers={**HTML, "Accept-Language": "en-GB"})
    assert '<html lang="en">' in en.text and '<dt id="f-rated_capacity-l">Rated capacity</dt>' in en.text
    # the switch is remembered (a cookie) over the browser's preference
    switched = client.get(BAT.path, params={"lang": "en"}, headers={**HTML, "Accept-Language": "ja"})
    assert '<html lang="en">' in switched.text and "batpass_lang=en" in switched.headers["set-cookie"]
    # a cache keeps one copy per language (and the resolver's own Vary stays)
    assert switched.headers["vary"] == "Accept, Authorization, Accept-Language, Cookie"
    assert client.get(BAT.path, headers={"Accept": "application/json"}).headers["vary"] == "Accept, Authorization"
    again = client.get("/", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in again.text and "set-cookie" not in again.headers
    client.cookies.set("batpass_lang", "ja", domain="id.nordcell.example")
    missing = client.get("/01/04012345000009/21/NOPE", headers=HTML)
    assert missing.status_code == 404 and "電池が見つかりません" in missing.text


def test_end_of_life_documents_are_under_their_own_heading(client: Any) -> None:
    page = client.get(BAT.path, headers=HTML).text
    sections = dict(re.findall(r'<section id="([\w-]+)"(.*?)</section>', page, re.S))
    for key in ("separate_collection_info", "waste_prevention_info", "declaration_of_conformity"):
        assert f'data-field="{key}"' in sections["documents"], key
        assert f'data-field="{key}"' not in sections["performance"], key
    assert 'data-field="voltage_nominal"' in sections["performance"]


def test_roles_tiers_and_list_entries_are_named_in_the_readers_language(client: Any) -> None:
    authority = {**HTML, "Authorization": "Bearer tok-msa"}
    en = client.get(BAT.path, headers={**authority, "Accept-Language": "en"}).text
    assert "Shown for: market surveillance authority — access tiers authorities, legitimate interest, public." in en
    assert "CAS number: 21324-40-3" in en
    ja = client.get(BAT.path, headers={**authority, "Accept-Language": "ja"}).text
    assert "表示対象：市場監視当局 — アクセス区分 当局, 正当な利益, 一般公開" in ja
    assert "CAS 番号: 21324-40-3" in ja and "market_surveillance_authority" not in ja
