"""Schemathesis against the ``/pact`` router with the PACT v3 OpenAPI (3.0.4, bundled in
``footprint/_data``), in-process on SQLite: no server errors, and every response conforms
(status code, content type, body schema, headers). The document's paths are relative to the API
base; the node serves them under ``/pact``."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint._harness import build_app
from batpass.store import MIGRATIONS_DIR as STORE_DIR
from batpass.store import make_engine, upgrade

BASE = "https://api.example.com"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 25
STATS: Counter[str] = Counter()


def _document() -> dict[str, Any]:
    text = resources.files("batpass.footprint").joinpath("_data/pact-openapi-3.0.4.yaml").read_text()
    doc: dict[str, Any] = yaml.safe_load(text)
    doc = copy.deepcopy(doc)
    doc["paths"] = {f"/pact{k}": v for k, v in doc["paths"].items()}
    doc.pop("servers", None)
    return doc


@pytest.fixture(scope="module")
def pact_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], list[str]]]:
    tmp: Path = tmp_path_factory.mktemp("pact")
    engine = make_engine(f"sqlite:///{tmp / 'pact.db'}")
    upgrade(engine, [STORE_DIR, MIGRATIONS_DIR])
    service = PactService(engine, base_url=BASE)
    from test_pact_v3_cases import DOCS  # the conformance fixtures: same footprints

    for doc in DOCS:
        service.store_document(doc)
    creds = service.create_client("schemathesis")
    with TestClient(build_app(service, base_url=BASE), base_url=BASE) as client:
        token = client.post(
            "/pact/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        ).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}, [d["id"] for d in DOCS]
    engine.dispose()


def test_pact_v3_openapi_conformance(pact_client: tuple[TestClient, dict[str, str], list[str]]) -> None:
    client, headers, ids = pact_client
    schema = schemathesis.openapi.from_dict(_document())
    schema.app = client.app
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            case = data.draw(operation.as_strategy())  # noqa: B023 (run() is called in this iteration)
            if case.path_parameters and "id" in case.path_parameters and data.draw(st.booleans()):
                case.path_parameters["id"] = data.draw(st.sampled_from(ids))  # known ids too, not only 404s
            response = case.call(headers=headers)
            STATS["total"] += 1
            STATS["2xx"] += 200 <= response.status_code < 300
            STATS[f"{case.method} {case.path} {response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS)

        run()
    print(dict(STATS))
    assert STATS["2xx"] >= STATS["total"] // 3, dict(STATS)
