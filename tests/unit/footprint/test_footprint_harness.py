"""The PACT host's own app (``batpass.footprint._harness``, used by the PACT tests and the PACT
conformance runs) answers bad bodies as the node does: it installs the node's app-wide
:func:`~batpass.http.require_json`, so a lone surrogate escape (RFC 8259 §8.2) in any member of
a JSON body — one the body model does not declare included — is a 400 problem naming the member,
and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from footprint_testkit import FOOTPRINT
from sqlalchemy import Engine, Table, func, select

from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint._harness import ADMIN_KEY, build_app
from batpass.footprint._sql import pact_clients, pact_footprints, pact_peers

BASE_URL = "https://pact.example:8443"
ADMIN = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/json"}
LONE = "\ud800"


@pytest.fixture
def host(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[tuple[PactService, TestClient]]:
    svc = PactService(make_store([MIGRATIONS_DIR]), base_url=BASE_URL)
    with TestClient(build_app(svc, base_url=BASE_URL), base_url=BASE_URL) as http:
        yield svc, http


def _post_raw(http: TestClient, path: str, body: Any) -> Any:
    """``body`` as JSON with its escapes kept (``\\ud800`` stays an escape on the wire)."""
    return http.post(path, content=json.dumps(body), headers=ADMIN)


def _rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("path", "body", "field", "table"),
    [
        ("/v1/footprints/pact/footprints", {**FOOTPRINT, "comment": LONE}, "comment", pact_footprints),
        (
            "/v1/footprints/pact/footprints",
            {**FOOTPRINT, "pcf": {**FOOTPRINT["pcf"], "note": "x" + LONE}},
            "pcf.note",
            pact_footprints,
        ),
        ("/v1/footprints/pact/clients", {"name": "partner", "note": LONE}, "note", pact_clients),
        (
            "/v1/footprints/pact/peers",
            {"base_url": "https://b.example/pact", "client_id": "c" + LONE, "client_secret": "s"},
            "client_id",
            pact_peers,
        ),
    ],
    ids=["footprint-undeclared", "footprint-nested-undeclared", "client-undeclared", "peer-declared"],
)
def test_a_lone_surrogate_is_refused_naming_the_member_and_nothing_is_stored(
    host: tuple[PactService, TestClient], path: str, body: dict[str, Any], field: str, table: Table
) -> None:
    """Before: the harness ran without ``require_json``; an undeclared member's text was taken
    (201) and a declared one was refused under pydantic's own rule (``string_unicode``)."""
    svc, http = host
    r = _post_raw(http, path, body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["field"], r.json()["rule"]) == (field, SCALAR_TEXT_RULE)
    assert _rows(svc.engine, table) == 0


def test_the_same_bodies_without_it_are_taken(host: tuple[PactService, TestClient]) -> None:
    """The refusals above are about the surrogate alone: the bodies are otherwise good."""
    svc, http = host
    assert _post_raw(http, "/v1/footprints/pact/footprints", {**FOOTPRINT, "comment": "ok"}).status_code == 201
    assert _post_raw(http, "/v1/footprints/pact/clients", {"name": "partner", "note": "ok"}).status_code == 201
    peer = {"base_url": "https://b.example/pact", "client_id": "c", "client_secret": "s"}
    assert _post_raw(http, "/v1/footprints/pact/peers", peer).status_code == 201
    assert [_rows(svc.engine, t) for t in (pact_footprints, pact_clients, pact_peers)] == [1, 1, 1]


def test_a_body_in_another_media_type_is_refused(host: tuple[PactService, TestClient]) -> None:
    """The node's other body checks come with it: a JSON route's body sent as text is a 415."""
    svc, http = host
    r = http.post(
        "/v1/footprints/pact/clients",
        content=json.dumps({"name": "partner"}),
        headers={"X-Api-Key": ADMIN_KEY, "Content-Type": "text/plain"},
    )
    assert r.status_code == 415, r.text
    assert r.json()["field"] == "content-type"
    assert _rows(svc.engine, pact_clients) == 0
