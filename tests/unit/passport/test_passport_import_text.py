"""An imported document (``POST /v1/passports:import``, JSON formats) that spells a lone surrogate
as an escape (``"\\ud800"``) is refused where the document is decoded: a 400 naming the document
and the member and the rule (RFC 8259 §8.2), and no passport is stored — not a 500 from the store,
nor a passport holding text no encoder can write. So are an AAS environment (JSON, or the JSON
part of an ``.aasx`` package) and the JSON a Catena-X document carries as a record's text
``content`` (``contentType: application/json``)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from basyx.aas.adapter import aasx
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, ITEM, make_app, make_service, make_summary

from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ledger import decode_summary
from batpass.passport import MIGRATIONS_DIR, PassportRules, PassportService
from batpass.passport._export_aas import to_aas, to_aas_json
from batpass.passport._export_catenax import to_catenax
from batpass.passport.model import Passport
from batpass.passport.service import StaticProductData

BAT = BatteryId("04012345000009", "IMP-9")
LONE = "\ud800"


@pytest.fixture
def exported(built: Passport) -> dict[str, Any]:
    return to_catenax(built, issued=dt.date(2027, 3, 1))


@pytest.fixture
def built(service: PassportService, static: StaticProductData) -> Passport:
    return service.build(static, BAT, item=ITEM, summary=decode_summary(make_summary(BAT)))


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


def _spoil(doc: Any, path: tuple[Any, ...]) -> Any:
    """A copy of ``doc`` with a lone surrogate added to the text at ``path``."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] += LONE
    return doc


def _refused_as(r: Any, field: str) -> str | None:
    """None if ``r`` is the 400 problem naming ``field`` and the rule, else what it is."""
    answer = r.json() if r.headers["content-type"].endswith("json") else {}
    if r.status_code == 400 and answer.get("rule") == SCALAR_TEXT_RULE and answer.get("field") == field:
        return None
    return f"{field}: {r.status_code} {answer.get('field')} {answer.get('rule')}"


def test_an_aas_environment_with_a_lone_surrogate_is_refused_and_nothing_is_stored(
    built: Passport, importer: PassportService
) -> None:
    """Before: the AAS importer handed the text to basyx, which kept such text (or failed on it
    naming its own rule), and the store refused it with a 500."""
    admin = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/json"}
    env = json.loads(to_aas_json(built))
    paths = _texts(env)
    wrong = []
    with TestClient(make_app(importer), base_url="https://id.nordcell.example") as c:
        for path in paths[:: max(1, len(paths) // 12)]:
            r = c.post("/v1/passports:import?format=aas", content=json.dumps(_spoil(env, path)), headers=admin)
            wrong.append(_refused_as(r, "document.json." + ".".join(map(str, path))))
        assert importer.find_by_battery(BAT) is None
        good = c.post("/v1/passports:import?format=aas", content=json.dumps(env), headers=admin)
        assert good.status_code == 201, good.text
    assert [w for w in wrong if w] == []


def test_an_aasx_package_whose_json_part_has_a_lone_surrogate_is_refused(
    built: Passport, importer: PassportService, tmp_path: Path
) -> None:
    """An ``.aasx`` package may carry its environment as JSON: the same rule, naming the part."""
    path = tmp_path / "passport.aasx"
    with aasx.AASXWriter(str(path)) as writer:
        writer.write_aas(built.urn, to_aas(built), aasx.DictSupplementaryFileContainer(), write_json=True)  # type: ignore[no-untyped-call]
    with zipfile.ZipFile(path) as zin:
        parts = {i.filename: zin.read(i) for i in zin.infolist()}
    part = next(n for n in parts if n.endswith(".json"))
    env = json.loads(parts[part])
    where = next(p for p in _texts(env) if p[-1] == "value")
    spoilt = io.BytesIO()
    with zipfile.ZipFile(spoilt, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, json.dumps(_spoil(env, where)).encode() if name == part else data)
    admin = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/octet-stream"}
    with TestClient(make_app(importer), base_url="https://id.nordcell.example") as c:
        r = c.post("/v1/passports:import?format=aas", content=spoilt.getvalue(), headers=admin)
        assert _refused_as(r, f"document.aasx/{part.lstrip('/')}." + ".".join(map(str, where))) is None
        assert importer.find_by_battery(BAT) is None
        good = c.post("/v1/passports:import?format=aas", content=path.read_bytes(), headers=admin)
        assert good.status_code == 201, good.text


def test_json_content_of_a_catenax_record_with_a_lone_surrogate_is_refused(
    exported: dict[str, Any], importer: PassportService
) -> None:
    """A record whose ``contentType`` is ``application/json`` carries JSON as text; the importer
    parses it (``_import_catenax._record``). Before: with ``json.loads`` and no check, so the
    surrogate reached the store."""
    admin = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/json"}
    records = [
        p[:-1]
        for p in _texts(exported)
        if p[-1] == "content"
        and _at(exported, p[:-1]).get("contentType") == "application/json"
        and _texts(json.loads(_at(exported, p)))
    ]
    assert records
    wrong = []
    with TestClient(make_app(importer), base_url="https://id.nordcell.example") as c:
        for record in records[:: max(1, len(records) // 6)]:
            inner = json.loads(_at(exported, record)["content"])
            member = _texts(inner)[0]
            doc = json.loads(json.dumps(exported))
            _at(doc, record)["content"] = json.dumps(_spoil(inner, member))
            r = c.post("/v1/passports:import?format=catenax", content=json.dumps(doc), headers=admin)
            field = _dotted(record) + ".content." + ".".join(map(str, member))
            wrong.append(_refused_as(r, field))
        assert importer.find_by_battery(BAT) is None
    assert [w for w in wrong if w] == []


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _dotted(path: tuple[Any, ...]) -> str:
    """A path as the Catena-X importer names it (``sources[2]``)."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
