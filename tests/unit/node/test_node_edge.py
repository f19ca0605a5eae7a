"""The node's edge under hostile input (issue 17 item 2): a body over the limit is refused before
it is parsed (413), a JSON route's body in another media type is 415 and one nested too deep is
400, a wrong method is 405 with ``Allow``, and an exception no handler knew is answered as a 500
in the error shape of the API the route belongs to — never plain text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from batpass.core.settings import Settings
from batpass.node import create_app, init_node


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[FastAPI, str, str]]:
    settings = Settings(home=tmp_path / "home", startup_audit=False)
    node, key = init_node("n1", profiles=["catena-x", "ouranos"], settings=settings, bpnl="BPNL00000003AYRE")
    node.close()
    yield create_app(settings, node_name="n1"), node.base_url, key


def _problem(r: object) -> dict[str, object]:
    resp = r  # httpx.Response
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text  # type: ignore[attr-defined]
    body: dict[str, object] = resp.json()  # type: ignore[attr-defined]
    return body


def test_a_body_over_the_limit_is_413_before_it_is_parsed(app: tuple[FastAPI, str, str]) -> None:
    application, base, key = app
    with TestClient(application, base_url=base) as client:
        big = json.dumps({"name": "x" * (2 * 1024 * 1024)})
        r = client.post("/v1/participants", content=big, headers={"X-Api-Key": key, "Content-Type": "application/json"})
        assert r.status_code == 413 and _problem(r)["status"] == 413


def test_an_event_batch_may_be_larger_than_the_default_limit(app: tuple[FastAPI, str, str]) -> None:
    application, base, key = app
    with TestClient(application, base_url=base) as client:
        did = client.get("/health").json()["did"]
        event = {
            "id": "ev-1",
            "kind": "extraction",
            "owner": did,
            "at": "2026-01-01T00:00:00Z",
            "site": {"id": "M1", "country": "CL"},
            "outputs": [{"lot": "L1", "material": "lithium_brine_concentrate", "quantity": {"value": 1, "unit": "kg"}}],
        }
        padded = "[" + json.dumps(event) + " " * (1536 * 1024) + "]"  # 1.5 MiB: over the default, under 64 MiB
        r = client.post(
            "/v1/ledger/events", content=padded, headers={"X-Api-Key": key, "Content-Type": "application/json"}
        )
        assert r.status_code == 200, r.text


def test_a_json_route_refuses_another_media_type(app: tuple[FastAPI, str, str]) -> None:
    application, base, key = app
    with TestClient(application, base_url=base) as client:
        r = client.post(
            "/v1/compliance/evaluate",
            content='{"subject": {}}',
            headers={"X-Api-Key": key, "Content-Type": "text/plain"},
        )
        body = _problem(r)
        assert r.status_code == 415 and body["field"] == "content-type" and "application/json" in str(body["detail"])


def test_deep_nesting_is_refused_naming_the_rule(app: tuple[FastAPI, str, str]) -> None:
    application, base, key = app
    with TestClient(application, base_url=base) as client:
        deep: object = {}
        for _ in range(40):
            deep = {"a": deep}
        r = client.post("/v1/compliance/evaluate", json={"subject": deep}, headers={"X-Api-Key": key})
        body = _problem(r)
        assert r.status_code == 400 and "nesting" in str(body["rule"])
        hostile = "[" * 100_000 + "]" * 100_000
        r = client.post(
            "/v1/compliance/evaluate", content=hostile, headers={"X-Api-Key": key, "Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500, r.text[:200]


def test_a_wrong_method_is_405_with_allow(app: tuple[FastAPI, str, str]) -> None:
    application, base, _ = app
    with TestClient(application, base_url=base) as client:
        r = client.delete("/health")
        assert r.status_code == 405 and r.headers["allow"] == "GET" and _problem(r)["status"] == 405


@pytest.mark.allow_unexpected
@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/boom", "problem"),
        ("/api/dsp/2025-1/catalog/boom", "dsp"),
        ("/management/v3/boom", "edc"),
        ("/pact/3/boom", "pact"),
        ("/api/v1/datatransport/boom", "ouranos"),
        ("/api/v3/boom", "aas"),
    ],
)
def test_an_unexpected_exception_is_a_500_in_the_apis_own_shape(
    app: tuple[FastAPI, str, str], path: str, shape: str
) -> None:
    application, base, _ = app

    def boom() -> None:
        raise RuntimeError("a bug on purpose")

    application.add_api_route(path, boom, methods=["GET"])
    with TestClient(application, base_url=base, raise_server_exceptions=False) as client:
        r = client.get(path)
    assert r.status_code == 500 and r.headers["content-type"].split(";")[0].endswith("json"), r.text
    body = r.json()
    assert "a bug on purpose" not in r.text  # the exception's text stays in the log
    if shape == "problem":
        assert body["status"] == 500 and body["type"].endswith("/error")
    elif shape == "dsp":
        assert body["@type"] == "CatalogError"
    elif shape == "edc":
        assert isinstance(body, list) and body[0]["message"]
    elif shape == "pact":
        assert set(body) >= {"code", "message"}
    elif shape == "ouranos":
        assert set(body) >= {"code", "message", "detail"}
    else:
        assert "messages" in body
