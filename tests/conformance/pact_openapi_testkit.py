"""Schemathesis over a PACT OpenAPI document against the node's ``/pact`` routes, in process on
SQLite: the served app (conformance footprints stored, a client's bearer token) and the run of
every operation with the response checks, counting what was answered."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import schemathesis
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


def under_pact(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its paths (relative to the API base) under ``/pact``, where the node
    serves them, and no servers."""
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    out["paths"] = {f"/pact{k}": v for k, v in out["paths"].items()}
    out.pop("servers", None)
    return out


@contextmanager
def pact_served(
    tmp: Path, docs: Sequence[Mapping[str, Any]], *, more: Callable[[PactService], object] = lambda _s: None
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The PACT app on a new SQLite store holding ``docs`` (and what ``more`` stores), and the
    headers of a client's bearer token."""
    engine = make_engine(f"sqlite:///{tmp / 'pact.db'}")
    upgrade(engine, [STORE_DIR, MIGRATIONS_DIR])
    service = PactService(engine, base_url=BASE)
    for doc in docs:
        service.store_document(doc)
    more(service)
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
        yield client, {"Authorization": f"Bearer {token}"}
    engine.dispose()


def conformance_run(doc: dict[str, Any], client: TestClient, headers: dict[str, str], ids: list[str]) -> Counter[str]:
    """Every operation of ``doc``, ``MAX_EXAMPLES`` cases each (path ids drawn from ``ids`` half
    of the time), each response checked with ``CHECKS``; the counts of what was answered."""
    stats: Counter[str] = Counter()
    schema = schemathesis.openapi.from_dict(doc)
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
            stats["total"] += 1
            stats["2xx"] += 200 <= response.status_code < 300
            stats[f"{case.method} {case.path} {response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS)

        run()
    print(dict(stats))
    return stats
