"""HTTP: resolver content negotiation, tiers per role, audit, writes with the admin key, exports."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, OPERATOR, make_app, make_summary

from batpass.core.ids import BatteryId
from batpass.passport import PassportService

BAT = BatteryId("04012345000009", "SN-0100")
ADMIN = {"X-Api-Key": ADMIN_KEY}
RESTRICTED_CANARIES = ("EVP75-MOD-01", "UN 38.3", "NMC811)", "spares@nordcell.example")


@pytest.fixture
def client(service: PassportService) -> Any:
    import yaml

    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        static = yaml.safe_load(EXAMPLE.read_text())
        r = c.post(
            "/v1/passports",
            json={"static": static, "battery": BAT.path, "item": ITEM, "summary": make_summary(BAT)},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        c.pid = r.json()["passportId"]  # type: ignore[attr-defined]
        yield c


def test_resolver_json_public_only(client: Any) -> None:
    r = client.get(BAT.path, headers={"Accept": "application/json"})
    assert r.status_code == 200
    doc = r.json()
    assert doc["tiers"] == ["public"] and doc["status"] == "original"
    assert "composition_cathode" not in doc["data"] and "test_reports" not in doc["data"]
    assert all(c not in r.text for c in RESTRICTED_CANARIES)


def test_resolver_html_for_browsers(client: Any) -> None:
    r = client.get(BAT.path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<svg" in r.text and "202" in r.text and "Ah" in r.text
    assert all(c not in r.text for c in RESTRICTED_CANARIES)
    assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")  # no external resources


@pytest.mark.parametrize(
    ("token", "present", "absent"),
    [
        ("tok-li", ["composition_cathode"], ["test_reports"]),
        ("tok-msa", ["composition_cathode", "test_reports"], []),
        ("tok-none", [], ["composition_cathode", "test_reports"]),
    ],
)
def test_roles_open_their_tiers(client: Any, token: str, present: list[str], absent: list[str]) -> None:
    r = client.get(BAT.path, headers={"Accept": "application/json", "Authorization": f"Bearer {token}"})
    data = r.json()["data"]
    assert all(k in data for k in present) and all(k not in data for k in absent)
    audit = client.get(f"/v1/passports/{client.pid}/audit", headers=ADMIN).json()["entries"]
    assert len(audit) == (1 if present else 0)


def test_bad_token_is_401_without_data(client: Any) -> None:
    r = client.get(BAT.path, headers={"Accept": "application/json", "Authorization": "Bearer forged"})
    assert r.status_code == 401 and "composition" not in r.text


def test_unknown_battery_404_html_and_json(client: Any) -> None:
    r = client.get("/01/04012345000009/21/NOPE", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "Battery not found" in r.text
    r = client.get("/01/04012345000009/21/NOPE", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["rule"]


def test_writes_need_admin_and_errors_name_field(client: Any) -> None:
    pid = client.pid
    r = client.patch(f"/v1/passports/{pid}", json={"values": {"weight": {"value": 1, "unit": "g"}}})
    assert r.status_code == 401
    r = client.patch(f"/v1/passports/{pid}", json={"values": {"weight": {"value": 1, "unit": "g"}}}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "weight"
    r = client.post(
        f"/v1/passports/{pid}/status",
        json={"status": "waste", "wasteOperator": "did:web:recycler.example"},
        headers=ADMIN,
    )
    assert r.status_code == 200
    r = client.post(f"/v1/passports/{pid}/status", json={"status": "original"}, headers=ADMIN)
    assert r.status_code in (403, 422)
    hist = client.get(f"/v1/passports/{pid}/history").json()["versions"]
    assert [v["version"] for v in hist] == [1, 2]


def test_dynamic_write_and_tiered_history(client: Any) -> None:
    pid = client.pid
    r = client.post(
        f"/v1/passports/{pid}/dynamic",
        json={"values": {"state_of_health": {"value": 96.5, "unit": "%"}}},
        headers=ADMIN,
    )
    assert r.status_code == 200, r.text
    public = client.get(f"/v1/passports/{pid}/history").json()["versions"][1]["diff"]
    assert public == {}
    li = client.get(f"/v1/passports/{pid}/history", headers={"Authorization": "Bearer tok-li"}).json()["versions"][1][
        "diff"
    ]
    assert "state_of_health" in li


def test_second_life_and_recycling_over_http(client: Any) -> None:
    pid = client.pid
    new = BatteryId("04012345000009", "R-0100")
    r = client.post(
        f"/v1/passports/{pid}/second-life",
        json={"status": "repurposed", "newBattery": new.path, "newOperator": OPERATOR},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    doc = client.get(new.path, headers={"Accept": "application/json"}).json()
    assert doc["status"] == "repurposed" and doc["data"]["predecessors"] == [pid]
    page = client.get(BAT.path, headers={"Accept": "text/html"}).text
    assert "Next passport" in page
    client.post(f"/v1/passports/{pid}/status", json={"status": "waste", "wasteOperator": OPERATOR}, headers=ADMIN)
    r = client.post(f"/v1/passports/{pid}/recycle", json={"recycler": "did:web:recycler.example"}, headers=ADMIN)
    assert r.status_code == 200
    assert client.get(BAT.path, headers={"Accept": "application/json"}).json()["status"] == "ended"
    assert "Ended" in client.get(BAT.path, headers={"Accept": "text/html"}).text


def test_exports_and_qr(client: Any) -> None:
    pid = client.pid
    for fmt in ("catenax", "aas", "batterypass"):
        r = client.get(f"/v1/passports/{pid}/export/{fmt}", headers=ADMIN)
        assert r.status_code == 200, (fmt, r.text)
    public_aas = client.get(f"/v1/passports/{pid}/export/aas").text
    assert "compositionCathode" not in public_aas and "ratedCapacity" in public_aas
    assert client.get(f"/v1/passports/{pid}/qr.svg").headers["content-type"].startswith("image/svg+xml")
    assert client.get(f"/v1/passports/{pid}/qr.png").content[:8] == b"\x89PNG\r\n\x1a\n"


def test_backup_route(client: Any, service: PassportService) -> None:
    import uuid

    v1 = service.versions(uuid.UUID(client.pid.removeprefix("urn:uuid:")))[0]
    r = client.post("/v1/passports/backup", json={"jws": v1.jws}, headers={"Idempotency-Key": "abc"})
    assert r.status_code == 200 and r.json()["duplicate"] is False
    assert client.post("/v1/passports/backup", json={"jws": v1.jws}, headers={"Idempotency-Key": "abc"}).json()[
        "duplicate"
    ]


def test_backup_copies_read_back_by_the_backup_operator(client: Any, service: PassportService) -> None:
    import uuid

    pid = uuid.UUID(client.pid.removeprefix("urn:uuid:"))
    assert client.get(f"/v1/passports/backups/{pid}", headers=ADMIN).status_code == 404
    v1 = service.versions(pid)[0]
    assert client.post("/v1/passports/backup", json={"jws": v1.jws}).status_code == 200
    assert client.get(f"/v1/passports/backups/{pid}").status_code == 401
    body = client.get(f"/v1/passports/backups/urn:uuid:{pid}", headers=ADMIN).json()
    assert body["passportId"] == client.pid
    assert [(c["version"], c["digest"], c["jws"], c["issuer"]) for c in body["copies"]] == [
        (1, v1.digest, v1.jws, OPERATOR)
    ]


def test_build_takes_a_pack_footprint_over_http(service: PassportService) -> None:
    """The demo's footprint hand-off (total and Annex II stages, a stage not provided is null)
    goes into the passport through ``POST /v1/passports`` and out through the exports."""
    import yaml

    bat = BatteryId("04012345000009", "SN-FP-1")
    footprint = {
        "kg_co2e_per_kwh": 64.2,
        "stages": {
            "raw_material_and_preprocessing": 41.0,
            "main_production": 21.7,
            "distribution": 1.5,
            "end_of_life": None,
        },
    }
    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        static = yaml.safe_load(EXAMPLE.read_text())
        r = c.post(
            "/v1/passports",
            json={"static": static, "battery": bat.path, "item": ITEM, "footprint": footprint},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        pid = r.json()["passportId"]
        data = c.get(bat.path, headers={"Accept": "application/json"}).json()["data"]
        assert data["carbon_footprint"] == {"value": 64.2, "unit": "kgCO2e/kWh"}
        assert data["carbon_footprint_stages"] == {
            "raw_material_and_preprocessing": 41.0,
            "main_production": 21.7,
            "distribution": 1.5,
        }
        cx = c.get(f"/v1/passports/{pid}/export/catenax", headers=ADMIN).json()
        assert cx["sustainability"]["carbonFootprint"][0]["value"] == 64.2
        bp = c.get(f"/v1/passports/{pid}/export/batterypass", headers=ADMIN).json()
        stages = {s["lifecycleStage"] for s in bp["CarbonFootprint"]["carbonFootprintPerLifecycleStage"]}
        assert stages == {"RawMaterialExtraction", "MainProduction", "Distribution"}
