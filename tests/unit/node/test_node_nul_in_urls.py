"""A NUL (``%00``) in a URL's path or query: PostgreSQL text cannot hold it, so a read that looks
it up in the store must not pass it on (psycopg refuses to send it: a 500). Every route of every
node kind, on PostgreSQL, answers such a request with a problem (4xx), never a 500, and where the
caller may use the route, a 400 naming the parameter and the rule. Before: 35 of the catena-x
node's 123 requests were 500s."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from node_kinds_testkit import PROFILES, node_app

from batpass.core.settings import Settings
from batpass.core.unicode import NUL_TEXT_RULE
from store_testkit import PG_URL, drop_schema, scratch_schema

METHODS = ("get", "delete", "post", "put", "patch")


def _requests(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(method, url, query) for each operation: every path parameter holding NUL, then (with
    plain path parameters) each declared query parameter holding NUL."""
    out: list[tuple[str, str, dict[str, str]]] = []
    for path, ops in spec["paths"].items():
        for method in (m for m in ops if m in METHODS):
            if "{" in path:
                out.append((method, re.sub(r"\{[^}]+\}", "x%00y", path), {}))
            plain = re.sub(r"\{[^}]+\}", "x", path)
            for p in ops[method].get("parameters", []):
                if p.get("in") == "query":
                    out.append((method, plain, {p["name"]: "x\x00y"}))
    return out


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_nul_in_a_path_or_query_is_never_a_500_on_postgresql(tmp_path: Path, kind: str) -> None:
    schema = scratch_schema("nul")
    settings = Settings(home=tmp_path / "home", db_url=PG_URL, db_schema=schema, startup_audit=False)
    try:
        app, base_url, key = node_app(kind, settings)
        failed: list[str] = []
        named = 0
        with TestClient(app, base_url=base_url, raise_server_exceptions=False) as client:
            todo = _requests(app.openapi())
            for method, url, query in todo:
                r = client.request(
                    method.upper(),
                    url,
                    params=query,
                    headers={"X-Api-Key": key, "Content-Type": "application/json"},
                    content=b"{}" if method in ("post", "put", "patch") else None,
                )
                if r.status_code >= 500:
                    failed.append(f"{method.upper()} {url} {query}: {r.status_code}")
                elif r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"):
                    problem = r.json()
                    name = next(iter(query), None)
                    named += problem["rule"] == NUL_TEXT_RULE and (name is None or problem["field"] == name)
        assert len(todo) > 30 and failed == []
        assert named > len(todo) // 2  # the rest: other credentials first, or the service off
    finally:
        drop_schema(schema)
