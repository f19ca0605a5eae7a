"""Schemathesis against the ``/pact`` router with the PACT v3 OpenAPI (3.0.4, bundled in
``footprint/_data``), in-process on SQLite: no server errors, and every response conforms
(status code, content type, body schema, headers). The document's paths are relative to the API
base; the node serves them under ``/pact``."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from pact_openapi_testkit import conformance_run, pact_served, under_pact


def _document() -> dict[str, Any]:
    text = resources.files("batpass.footprint").joinpath("_data/pact-openapi-3.0.4.yaml").read_text()
    doc: dict[str, Any] = yaml.safe_load(text)
    return under_pact(doc)


@pytest.fixture(scope="module")
def pact_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], list[str]]]:
    from test_pact_v3_cases import DOCS  # the conformance fixtures: same footprints

    with pact_served(tmp_path_factory.mktemp("pact"), DOCS) as (client, headers):
        yield client, headers, [d["id"] for d in DOCS]


def test_pact_v3_openapi_conformance(pact_client: tuple[TestClient, dict[str, str], list[str]]) -> None:
    client, headers, ids = pact_client
    stats = conformance_run(_document(), client, headers, ids)
    assert stats["2xx"] >= stats["total"] // 3, dict(stats)
