"""``GET /v1/passports/{id}/exports``: several exports of a passport in one answer, each the body its
own route serves, byte for byte, audited as those routes audit, refused as they refuse."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, make_app, make_summary
from sqlalchemy import text

from batpass.core.ids import BatteryId
from batpass.passport import PassportService

BAT = BatteryId("04012345000009", "SN-0777")
ADMIN = {"X-Api-Key": ADMIN_KEY}
#: bundle format -> the route that serves it alone (below /v1/passports/{id})
ROUTES = {
    "catenax": "/export/catenax",
    "batterypass": "/export/batterypass",
    "aas": "/export/aas",
    "qr.svg": "/qr.svg",
    "qr.png": "/qr.png",
}


@pytest.fixture
def client(service: PassportService) -> Any:
    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        body = {"static": yaml.safe_load(EXAMPLE.read_text()), "battery": BAT.path, "item": ITEM}
        r = c.post("/v1/passports", json=dict(body, summary=make_summary(BAT)), headers=ADMIN)
        assert r.status_code == 201, r.text
        # a second version: the Catena-X export dates itself by the first and the last
        r = c.post(
            f"/v1/passports/{r.json()['passportId']}/dynamic", json={"values": {"full_cycles": 3}}, headers=ADMIN
        )
        assert r.status_code == 200, r.text
        c.pid = r.json()["passportId"]  # type: ignore[attr-defined]
        yield c


def _bodies(answer: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    out = {}
    for fmt, e in answer["exports"].items():
        raw = base64.b64decode(e["body"]) if e["encoding"] == "base64" else e["body"].encode("utf-8")
        out[fmt] = (e["mediaType"], raw)
    return out


@pytest.mark.parametrize("headers", [ADMIN, {"Authorization": "Bearer tok-li"}, {}], ids=["admin", "li", "anonymous"])
def test_each_export_is_its_own_routes_body(client: Any, headers: dict[str, str]) -> None:
    r = client.get(f"/v1/passports/{client.pid}/exports", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["passportId"] == client.pid
    got = _bodies(r.json())
    assert list(got) == list(ROUTES)
    for fmt, suffix in ROUTES.items():
        alone = client.get(f"/v1/passports/{client.pid}{suffix}", headers=headers)
        assert alone.status_code == 200, (fmt, alone.text)
        assert got[fmt] == (alone.headers["content-type"].split(";")[0], alone.content), fmt


def test_formats_and_version_choose_what_is_answered(client: Any) -> None:
    r = client.get(f"/v1/passports/{client.pid}/exports?formats=qr.png,batterypass&version=1.2.0", headers=ADMIN)
    assert r.status_code == 200, r.text
    got = _bodies(r.json())
    assert list(got) == ["qr.png", "batterypass"]
    older = client.get(f"/v1/passports/{client.pid}/export/batterypass?version=1.2.0", headers=ADMIN).content
    newer = client.get(f"/v1/passports/{client.pid}/export/batterypass", headers=ADMIN).content
    assert got["batterypass"][1] == older != newer


def test_restricted_exports_are_audited_as_their_routes_audit(client: Any) -> None:
    def channels() -> list[str]:
        return [e["channel"] for e in client.get(f"/v1/passports/{client.pid}/audit", headers=ADMIN).json()["entries"]]

    before = channels()
    client.get(f"/v1/passports/{client.pid}/exports")  # public tier only: not audited
    assert channels() == before
    client.get(f"/v1/passports/{client.pid}/exports", headers=ADMIN)
    client.get(f"/v1/passports/{client.pid}/exports?formats=qr.svg", headers=ADMIN)  # a QR code is public data
    bundled = channels()[len(before) :]
    for suffix in ("catenax", "batterypass", "aas"):
        client.get(f"/v1/passports/{client.pid}/export/{suffix}", headers=ADMIN)
    assert bundled == ["export:catenax", "export:batterypass", "export:aas"] == channels()[len(before) + 3 :]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("formats=catenax,pdf", "formats"),
        ("formats=", "formats"),
        ("formats=qr.svg&version=1.2.0", "version"),
    ],
)
def test_a_bad_choice_is_a_problem_naming_the_field(client: Any, query: str, field: str) -> None:
    r = client.get(f"/v1/passports/{client.pid}/exports?{query}", headers=ADMIN)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field and r.json()["rule"] == "passport exports"


def test_a_broken_passport_is_refused_as_by_each_route(client: Any, service: PassportService) -> None:
    with service.engine.begin() as conn:
        record = conn.execute(text("SELECT record FROM passport_passports")).scalar_one()
        record = json.loads(record) if isinstance(record, str) else record
        record["values"]["rated_capacity"]["value"] = 999.0
        conn.execute(text("UPDATE passport_passports SET record = :r"), {"r": json.dumps(record)})
    bundle = client.get(f"/v1/passports/{client.pid}/exports", headers=ADMIN)
    alone = client.get(f"/v1/passports/{client.pid}/qr.png", headers=ADMIN)
    assert bundle.status_code == alone.status_code >= 500
    assert bundle.json()["table"] == alone.json()["table"] == "passport_passports"
    assert "exports" not in bundle.json()
