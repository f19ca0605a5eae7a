"""A JSON body may spell a lone surrogate as an escape (``"\\ud800"``); ``json`` decodes it to a
``str`` neither store can write (their text is UTF-8) and no JSON encoder can echo. Every write
route with a JSON body refuses such a body with a 400 problem naming the member that holds it and
the rule (:data:`~batpass.core.unicode.SCALAR_TEXT_RULE`), before the route runs, and stores
nothing — whether the member is a typed field, a standard document inside the body or a member
the body model does not declare. NUL (``"\\u0000"``), which PostgreSQL text cannot hold, likewise
under :data:`~batpass.core.unicode.NUL_TEXT_RULE`."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from node_kinds_testkit import PROFILES, node_app
from sqlalchemy import MetaData, func, select

from batpass.core.settings import Settings
from batpass.core.unicode import NUL_TEXT_RULE, SCALAR_TEXT_RULE

WRITE = ("post", "put", "patch")
LONE = "\ud800"
#: text no store holds, and the rule its refusal names (NUL: PostgreSQL text cannot hold it)
HOSTILE = {"lone-surrogate": (LONE, SCALAR_TEXT_RULE), "nul": ("\x00", NUL_TEXT_RULE)}
#: write routes whose OpenAPI body is not a typed body (the route reads the bytes itself)
RAW = {"/v1/passports:import": "a document in a format the query names (or files), read by its importer"}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _example(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A body of the schema's shape, every text member a plain word (its type, not its format:
    the surrogate must be refused whatever else the body gets wrong)."""
    schema = _resolve(schema, spec)
    choice = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if choice:
        return _example(next(a for a in choice if _resolve(a, spec).get("type") != "null"), spec, depth + 1)
    kind = schema.get("type")
    if depth < 6 and (kind == "object" or "properties" in schema):
        return {name: _example(sub, spec, depth + 1) for name, sub in schema.get("properties", {}).items()}
    if depth < 6 and kind == "array":
        return [_example(schema.get("items", {}), spec, depth + 1)]
    return {"number": 1.0, "integer": 1, "boolean": True}.get(str(kind), "word")


def _text_members(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for name, sub in value.items():
            yield from _text_members(sub, (*path, name))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _text_members(sub, (*path, i))
    elif isinstance(value, str):
        yield path


def _spoiled(body: Any, bad: str) -> Iterator[tuple[str, Any]]:
    """(the member's dotted name, the body with ``bad`` in it): the first and the last text
    member, and a member the model does not declare."""
    members = list(_text_members(body))
    for path in dict.fromkeys((members[:1] + members[-1:]) if members else []):
        spoilt = copy.deepcopy(body)
        node = spoilt
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = "word" + bad
        yield ".".join(map(str, path)), spoilt
    if isinstance(body, dict):
        yield "undeclaredNote", {**body, "undeclaredNote": "note" + bad}


def _counts(app: FastAPI) -> dict[str, int]:
    engine = app.state.ctx.engine
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in meta.tables.items()
        }


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_a_lone_surrogate_in_any_write_body_is_a_400_naming_the_member_and_nothing_is_stored(
    tmp_path_factory: pytest.TempPathFactory, kind: str, hostile: str
) -> None:
    """Before: typed fields were refused with pydantic's ``string_unicode``, a standard document
    (a passport's ``static`` or ``summary``) as ``finite_number``; a plain-model field reached the
    database (``POST /v1/ouranos/admin/api-keys``, ``.../plants``: 500) and an undeclared member
    of an open body was accepted (``POST /v1/credentials/issue``: 201). NUL was taken by every
    route (stored on SQLite; on PostgreSQL a driver error, a 500)."""
    bad, rule = HOSTILE[hostile]
    settings = Settings(home=tmp_path_factory.mktemp("lone") / "home", startup_audit=False)
    app, base_url, key = node_app(kind, settings)
    wrong: list[str] = []
    refused = 0
    with TestClient(app, base_url=base_url, raise_server_exceptions=False) as client:
        before = _counts(app)
        spec = app.openapi()
        for path, ops in spec["paths"].items():
            url = re.sub(r"\{[^}]+\}", "x", path)
            for method in (m for m in ops if m in WRITE):
                content = ops[method].get("requestBody", {}).get("content", {})
                schema = next((c.get("schema", {}) for media, c in content.items() if "json" in media), None)
                if schema is None or path in RAW:
                    continue
                for member, body in _spoiled(_example(schema, spec), bad):
                    r = client.request(
                        method.upper(),
                        url,
                        content=json.dumps(body),
                        headers={"X-Api-Key": key, "Content-Type": "application/json"},
                    )
                    answer = r.json() if r.headers.get("content-type", "").endswith("json") else {}
                    if r.status_code in (401, 403) or (r.status_code == 404 and answer.get("rule") == "node profile"):
                        continue  # other credentials come first, or the service is off on this node
                    refused += 1
                    if not (
                        r.status_code == 400
                        and r.headers["content-type"].startswith("application/problem+json")
                        and answer.get("field") == member
                        and answer.get("rule") == rule
                    ):
                        shown = {k: answer.get(k) for k in ("field", "rule")} if isinstance(answer, dict) else answer
                        wrong.append(f"{method.upper()} {path} [{member}]: {r.status_code} {shown}")
        assert _counts(app) == before
    assert refused > 50 and wrong == []
