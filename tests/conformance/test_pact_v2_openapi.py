"""Schemathesis against the ``/pact/2`` routes with the PACT v2.3 OpenAPI (2.3.3, the official
conformance tool's ``src/schemas/openapi_v2_3.yaml``, vendored in ``pact_conformance/``),
in-process on SQLite: no server errors, and every response conforms (status code, content type,
body schema, headers). The footprints are the v3 conformance fixtures, served converted, and one
given as v2."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
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
from batpass.footprint._pact_v2_api import PactV2Api
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
    text = (Path(__file__).resolve().parent / "pact_conformance" / "src" / "schemas" / "openapi_v2_3.yaml").read_text()
    doc: dict[str, Any] = yaml.safe_load(text)
    # The one departure, and why: the v2.3 document's Error enum has "NotFound" for 404 (its own
    # comment reads "404 NoSuchFootprint"), while the v2 Technical Specifications' error code for an
    # unknown footprint is NoSuchFootprint, which the official tool's mandatory v2 TC8 requires
    # (it accepts NoSuchFootprint or BadRequest, not NotFound). batpass answers NoSuchFootprint.
    doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"].append("NoSuchFootprint")
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
    from test_pact_v2_cases import V2  # a footprint given as v2
    from test_pact_v3_cases import DOCS  # the conformance fixtures: same footprints

    for doc in DOCS:
        service.store_document(doc)
    PactV2Api(service).store_v2_document(V2)
    DOCS = [*DOCS, V2]
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


def test_pact_v2_openapi_conformance(pact_client: tuple[TestClient, dict[str, str], list[str]]) -> None:
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
    # a quarter, not v3's third: most random ``$filter`` strings fall outside the OData subset and
    # are refused (400), by design
    assert STATS["2xx"] >= STATS["total"] // 4, dict(STATS)
    assert STATS["GET /pact/2/footprints/{id} 200"] >= 1 and STATS["GET /pact/2/footprints 200"] >= 1, dict(STATS)
