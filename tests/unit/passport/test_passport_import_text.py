"""An imported document (``POST /v1/passports:import``, JSON formats) that spells a lone surrogate
as an escape (``"\\ud800"``) is refused where the document is decoded: a 400 naming the document
and the member and the rule (RFC 8259 §8.2), and no passport is stored — not a 500 from the store,
nor a passport holding text no encoder can write."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, ITEM, make_app, make_service, make_summary

from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ledger import decode_summary
from batpass.passport import MIGRATIONS_DIR, PassportRules, PassportService
from batpass.passport._export_catenax import to_catenax
from batpass.passport.service import StaticProductData

BAT = BatteryId("04012345000009", "IMP-9")
LONE = "\ud800"


@pytest.fixture
def exported(service: PassportService, static: StaticProductData) -> dict[str, Any]:
    p = service.build(static, BAT, item=ITEM, summary=decode_summary(make_summary(BAT)))
    return to_catenax(p, issued=dt.date(2027, 3, 1))


@pytest.fixture
def importer(make_store: Any, identity: Any, rules: PassportRules) -> PassportService:
    clock = FixedClock(dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC))
    return make_service(make_store([MIGRATIONS_DIR]), identity, rules, clock)


def _texts(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _texts(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _texts(v, (*path, i))]
    return [path] if isinstance(value, str) else []


def test_an_imported_document_with_a_lone_surrogate_is_refused_and_nothing_is_stored(
    exported: dict[str, Any], importer: PassportService
) -> None:
    """Before: the Catena-X importer read the document with ``json.loads`` and kept such text."""
    admin = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/json"}
    paths = _texts(exported)
    wrong = []
    with TestClient(make_app(importer), base_url="https://id.nordcell.example") as c:
        for path in paths[:: max(1, len(paths) // 12)]:
            doc = json.loads(json.dumps(exported))
            node = doc
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] += LONE
            r = c.post("/v1/passports:import?format=catenax", content=json.dumps(doc), headers=admin)
            answer = r.json() if r.headers["content-type"].endswith("json") else {}
            where = "document.json." + ".".join(map(str, path))
            if not (r.status_code == 400 and answer.get("rule") == SCALAR_TEXT_RULE and answer.get("field") == where):
                wrong.append(f"{where}: {r.status_code} {answer.get('field')} {answer.get('rule')}")
        assert importer.find_by_battery(BAT) is None
        good = c.post("/v1/passports:import?format=catenax", content=json.dumps(exported), headers=admin)
        assert good.status_code == 201, good.text  # the same document without it is imported
    assert wrong == []
