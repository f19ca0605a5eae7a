"""The console's rules as a browser meets them (over HTTPS to the test server): signing in and
out, the session cookie's flags, CSRF on every POST, an expired session, a role refused — each a
clear page with nothing changed — and the audit log naming the user."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import BATTERIES, MIGRATIONS, PASSWORD, ConsoleNode, make_console
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from batpass.accounts import MAX_FAILURES, AlertState

MakeStore = Callable[[Sequence[Path]], Engine]


@pytest.fixture
def node(make_store: MakeStore) -> ConsoleNode:
    return make_console(make_store(MIGRATIONS))


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _form_token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None, "no CSRF token in the page"
    return m.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, *, next_: str = "") -> object:
    page = client.get("/console/login")
    return client.post(
        "/console/login", data={"name": name, "password": password, "csrf": _form_token(page.text), "next": next_}
    )


def test_a_page_without_a_session_leads_to_sign_in_and_back(browser: TestClient) -> None:
    r = browser.get("/console/passports?status=waste")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?reason=required")
    login = browser.get(r.headers["location"])
    assert "Sign in to use the console." in login.text
    r = sign_in(browser, "vera", next_="/console/passports?status=waste")
    assert r.status_code == 303 and r.headers["location"] == "/console/passports?status=waste"  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "batpass_console=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=lax" in cookie and "Path=/console" in cookie
    page = browser.get("/console/passports?status=waste")
    assert page.status_code == 200 and "1 passports found" in page.text


def test_the_sign_in_never_sends_you_to_another_site(browser: TestClient) -> None:
    r = sign_in(browser, "vera", next_="https://evil.example/console/")
    assert r.headers["location"] == "/console/"  # type: ignore[attr-defined]
    r = sign_in(browser, "vera", next_="//evil.example/console/")
    assert r.headers["location"] == "/console/"  # type: ignore[attr-defined]


def test_a_wrong_password_is_a_clear_page_and_no_session(browser: TestClient, node: ConsoleNode) -> None:
    r = sign_in(browser, "vera", "not the password")
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert "The user name or the password is wrong." in r.text  # type: ignore[attr-defined]
    assert "batpass_console=" not in r.headers.get("set-cookie", "")  # type: ignore[attr-defined]
    assert browser.get("/console/").status_code == 303
    for _ in range(MAX_FAILURES):
        sign_in(browser, "otto", "guess guess guess")
    r = sign_in(browser, "otto")
    assert r.status_code == 401 and "Too many failed attempts" in r.text  # type: ignore[attr-defined]


def test_the_sign_in_form_needs_its_token(browser: TestClient, node: ConsoleNode) -> None:
    r = browser.post("/console/login", data={"name": "vera", "password": PASSWORD})
    assert r.status_code == 403 and "The sign-in form had expired" in r.text
    assert all(e.action != "sign-in" for e in node.accounts.audit_log())


def test_a_post_without_the_csrf_token_changes_nothing(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    key = next(a for a in _alert_keys(browser))
    for token in (None, "forged-token"):
        data = {"alert": key, "state": "resolved", "note": "forged"}
        if token:
            data["csrf"] = token
        r = browser.post("/console/alerts", data=data)
        assert r.status_code == 403 and "Nothing was changed." in r.text
    assert node.accounts.alert_states() == {}
    assert [e.outcome for e in node.accounts.audit_log(user="otto")][:2] == ["csrf-refused", "csrf-refused"]


def _alert_keys(client: TestClient) -> list[str]:
    return re.findall(r'name="alert" value="([^"]+)"', client.get("/console/alerts").text)


def test_an_operator_acknowledges_then_resolves_an_alert_and_the_audit_log_names_them(
    browser: TestClient, node: ConsoleNode
) -> None:
    sign_in(browser, "otto")
    page = browser.get("/console/alerts")
    assert (
        "Outflow of a strategic material" in page.text and "shipped abroad without an export authorisation" in page.text
    )
    first = node.ledger.outflows()[0]["evidence"]
    assert (
        f"{first['material']}, " in page.text
        and f"{first['from_country']} → {first['destination_country']}" in page.text
    )
    key = _alert_keys(browser)[0]
    token = _form_token(page.text)
    r = browser.post(
        "/console/alerts", data={"csrf": token, "alert": key, "state": "acknowledged", "note": "asked the shipper"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/alerts?saved=acknowledged"
    saved = browser.get(r.headers["location"])
    assert "Saved: the alert is acknowledged." in saved.text and "asked the shipper" in saved.text
    r = browser.post(
        "/console/alerts", data={"csrf": token, "alert": key, "state": "resolved", "note": "licence EX-7 found"}
    )
    assert r.status_code == 303
    assert node.accounts.alert_states()[key][:3] == (AlertState.RESOLVED, "licence EX-7 found", "otto")
    log = [(e.user, e.action, e.target, e.note) for e in node.accounts.audit_log(user="otto")][:2]
    assert log == [
        ("otto", "alert.resolved", key, "licence EX-7 found"),
        ("otto", "alert.acknowledged", key, "asked the shipper"),
    ]
    r = browser.post("/console/alerts", data={"csrf": token, "alert": key, "state": "acknowledged", "note": "again"})
    assert r.status_code == 409 and node.accounts.alert_states()[key][0] is AlertState.RESOLVED
    r = browser.post(
        "/console/alerts", data={"csrf": token, "alert": "outflow:nope:1", "state": "resolved", "note": "x"}
    )
    assert r.status_code == 404
    r = browser.post(
        "/console/alerts", data={"csrf": token, "alert": _alert_keys(browser)[0], "state": "resolved", "note": ""}
    )
    assert r.status_code == 400 and "Write a note" in r.text


def test_a_viewer_sees_alerts_but_may_not_act_on_them(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    key = _alert_keys(browser)[0]
    browser.cookies.clear()
    sign_in(browser, "vera")
    page = browser.get("/console/alerts")
    assert page.status_code == 200 and "Outflow of a strategic material" in page.text
    assert 'name="alert"' not in page.text  # no forms for a viewer
    r = browser.post(
        "/console/alerts", data={"csrf": _form_token(page.text), "alert": key, "state": "resolved", "note": "me too"}
    )
    assert r.status_code == 403 and "This needs the operator role; you are signed in as viewer." in r.text
    assert node.accounts.alert_states() == {}
    assert node.accounts.audit_log(user="vera")[0].outcome == "forbidden"


def test_an_idle_session_expires_and_the_form_leads_back_to_sign_in(browser: TestClient, node: ConsoleNode) -> None:
    import datetime as dt

    sign_in(browser, "otto")
    page = browser.get("/console/alerts")
    node.clock.advance(dt.timedelta(minutes=31))
    r = browser.post(
        "/console/alerts",
        data={
            "csrf": _form_token(page.text),
            "alert": _alert_keys_from(page.text)[0],
            "state": "resolved",
            "note": "x",
        },
    )
    assert r.status_code == 303 and "reason=expired" in r.headers["location"]
    assert "Your session has ended" in browser.get(r.headers["location"]).text
    assert node.accounts.alert_states() == {}


def _alert_keys_from(html: str) -> list[str]:
    return re.findall(r'name="alert" value="([^"]+)"', html)


def test_sign_out_needs_the_token_and_ends_the_session(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    page = browser.get("/console/")
    assert browser.post("/console/logout", data={}).status_code == 403
    assert browser.get("/console/").status_code == 200  # still signed in
    r = browser.post("/console/logout", data={"csrf": _form_token(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?reason=signed-out"
    assert browser.get("/console/").status_code == 303


def test_dashboard_counts_and_recent_activity(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "ada")
    page = browser.get("/console/")
    assert page.status_code == 200
    assert re.search(r'id="count-passports">3<', page.text)
    assert re.search(rf'id="count-lots">{node.ledger.count_lots()}<', page.text)
    assert re.search(rf'id="count-alerts">{len(node.ledger.outflows())}<', page.text)
    assert "sign-in" in page.text and "ada" in page.text


def test_passports_filter_and_detail_shows_fields_and_versions(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "vera")
    assert "3 passports found" in browser.get("/console/passports").text
    waste = browser.get("/console/passports?status=waste")
    assert "1 passports found" in waste.text and BATTERIES[2].serial in waste.text
    assert "0 passports found" in browser.get("/console/passports?category=lmt").text
    assert "1 passports found" in browser.get(f"/console/passports?q={BATTERIES[1].serial}").text
    bad = browser.get("/console/passports?from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    pid = re.search(r'href="/console/passports/([0-9a-f-]{36})"', waste.text).group(1)  # type: ignore[union-attr]
    detail = browser.get(f"/console/passports/{pid}")
    assert detail.status_code == 200
    assert 'data-field="rated_capacity"' in detail.text and "Versions" in detail.text
    assert "eyJ" not in detail.text  # fields, never token text
    assert node.accounts.audit_log(user="vera")[0].action == "passport.open"
    assert browser.get("/console/passports/not-a-uuid").status_code == 404


def test_pages_speak_japanese(browser: TestClient) -> None:
    sign_in(browser, "vera")
    page = browser.get("/console/?lang=ja")
    assert '<html lang="ja">' in page.text and "ダッシュボード" in page.text


def test_a_form_field_holding_nul_is_a_clear_page_and_changes_nothing(browser: TestClient, node: ConsoleNode) -> None:
    """A NUL (``%00``) in any form field: PostgreSQL text cannot hold it, so before the console
    checked its forms a sign-in name or an alert note holding one reached the store and answered
    a bare 500 there (SQLite kept it). Now each is a 400 page naming the field, on both stores."""
    page = browser.get("/console/login")
    r = browser.post(
        "/console/login", data={"name": "ot\x00to", "password": PASSWORD, "csrf": _form_token(page.text), "next": ""}
    )
    assert r.status_code == 400 and "name" in r.text and "batpass_console=" not in r.headers.get("set-cookie", "")
    sign_in(browser, "otto")
    page = browser.get("/console/alerts")
    key, token = _alert_keys(browser)[0], _form_token(page.text)
    before = list(node.accounts.audit_log(user="otto"))
    for data in (
        {"csrf": token, "alert": key, "state": "acknowledged", "note": "asked\x00the shipper"},
        {"csrf": token, "alert": key + "\x00", "state": "acknowledged", "note": "asked the shipper"},
        {"csrf": token + "\x00", "alert": key, "state": "acknowledged", "note": "asked the shipper"},
    ):
        r = browser.post("/console/alerts", data=data)
        assert r.status_code == 400 and "Nothing was changed." in r.text
    assert node.accounts.alert_states() == {}
    assert list(node.accounts.audit_log(user="otto")) == before
