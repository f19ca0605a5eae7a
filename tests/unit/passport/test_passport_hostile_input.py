"""Hostile input on the passport's write routes (issue 17): typed bodies refuse wrong types and
non-finite or unphysical numbers with a problem naming the field and the rule, before anything
is signed, and the stored passport stays as it was. The passport's own validation refuses the
same values, so the command line is covered too."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, make_app, make_summary

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.passport import PassportService
from batpass.passport.service import load_static_product_data

BAT = BatteryId("04012345000009", "SN-0200")
ADMIN = {"X-Api-Key": ADMIN_KEY}


@pytest.fixture
def client(service: PassportService) -> Any:
    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        static = yaml.safe_load(EXAMPLE.read_text())
        r = c.post(
            "/v1/passports",
            json={"static": static, "battery": BAT.path, "item": ITEM, "summary": make_summary(BAT)},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        c.pid = r.json()["passportId"]  # type: ignore[attr-defined]
        c.static = static  # type: ignore[attr-defined]
        yield c


def _problem(r: Any, status: int, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["field"] == field and body["rule"], body
    return body


def _version(client: Any) -> int:
    history = client.get(f"/v1/passports/{client.pid}/history", headers=ADMIN).json()["versions"]
    return len(history)


@pytest.mark.parametrize("valid_until", [20270101, "2027-01-01T00:00:00Z", 1.5, ["2027-01-01"]])
def test_a_mandate_with_valid_until_not_a_date_is_400(client: Any, valid_until: object) -> None:
    """Before: a number answered 500 (TypeError), a datetime 500 (ValueError)."""
    before = _version(client)
    body = {"mandatee": "did:web:reman.example", "scope": ["dynamic"], "document": "urn:doc:1"}
    r = client.post(f"/v1/passports/{client.pid}/mandates", json={**body, "validUntil": valid_until}, headers=ADMIN)
    _problem(r, 400, "validUntil")
    assert _version(client) == before
    ok = client.post(f"/v1/passports/{client.pid}/mandates", json={**body, "validUntil": "2027-01-01"}, headers=ADMIN)
    assert ok.status_code == 201, ok.text


def test_a_mandate_with_a_bad_body_and_no_credentials_is_401(client: Any) -> None:
    r = client.post(f"/v1/passports/{client.pid}/mandates", json={"validUntil": 5})
    assert r.status_code == 401 and r.json()["status"] == 401


@pytest.mark.parametrize(
    ("cell_soh", "field"),
    [(97, "cellSoh"), ("97", "cellSoh"), ([97.0, "x"], "cellSoh.1"), ([97.0, 101.0], "cellSoh.1")],
)
def test_second_life_with_cell_soh_not_a_list_of_percentages_is_400(client: Any, cell_soh: object, field: str) -> None:
    """Before: ``cellSoh: 97`` answered 500 (TypeError: 'int' object is not iterable)."""
    body = {
        "status": "remanufactured",
        "newBattery": BatteryId("04012345000009", "SN-0201").path,
        "newOperator": "did:web:reman.example",
        "restoredCapacityAh": 195.0,
        "cellSoh": cell_soh,
    }
    _problem(client.post(f"/v1/passports/{client.pid}/second-life", json=body, headers=ADMIN), 400, field)
    assert (
        client.get(BatteryId("04012345000009", "SN-0201").path, headers={"Accept": "application/json"}).status_code
        == 404
    )


def test_non_finite_numbers_in_a_body_are_400(client: Any) -> None:
    raw = '{"status": "remanufactured", "newBattery": "x", "newOperator": "did:web:r", "restoredCapacityAh": NaN}'
    r = client.post(
        f"/v1/passports/{client.pid}/second-life",
        content=raw,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    _problem(r, 400, "restoredCapacityAh")
    before = _version(client)
    raw = '{"values": {"state_of_health": {"value": Infinity, "unit": "%"}}}'
    r = client.post(
        f"/v1/passports/{client.pid}/dynamic", content=raw, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert "state_of_health.value" in _problem(r, 400, "values")["detail"]
    assert _version(client) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [("rated_capacity", -202.0), ("rated_capacity", 0), ("weight", 1e300), ("rated_energy", -1)],
)
def test_a_negative_or_unphysical_quantity_is_refused_before_anything_is_signed(
    client: Any, service: PassportService, key: str, value: float
) -> None:
    static = copy.deepcopy(client.static)
    static["values"][key]["value"] = value
    other = BatteryId("04012345000009", "SN-0202")
    r = client.post("/v1/passports", json={"static": static, "battery": other.path, "item": ITEM}, headers=ADMIN)
    body = _problem(r, 400, key)
    assert "> 0" in body["rule"] or " to " in body["rule"]
    assert service.find_by_battery(other) is None
    # the passport's own validation (what the command line uses) refuses it as well
    with pytest.raises(InvalidInput) as exc:
        load_static_product_data(static)
    assert exc.value.field == key


def test_a_dynamic_percentage_above_100_is_refused(client: Any) -> None:
    r = client.post(
        f"/v1/passports/{client.pid}/dynamic",
        json={"values": {"state_of_health": {"value": 250, "unit": "%"}}},
        headers=ADMIN,
    )
    _problem(r, 400, "state_of_health")


def test_wrong_types_and_oversized_text_name_the_field(client: Any) -> None:
    _problem(client.post("/v1/passports", json={"static": {}, "battery": 12}, headers=ADMIN), 400, "battery")
    _problem(client.post("/v1/passports", json={"battery": BAT.path}, headers=ADMIN), 400, "static")
    r = client.post(f"/v1/passports/{client.pid}/status", json={"status": "x" * 5000}, headers=ADMIN)
    assert _problem(r, 400, "status")["rule"] == "string_too_long"
    r = client.patch(f"/v1/passports/{client.pid}", json={"values": [1, 2]}, headers=ADMIN)
    _problem(r, 400, "values")


def test_passport_text_over_4_kib_and_non_finite_record_values_are_refused(client: Any) -> None:
    before = _version(client)
    r = client.patch(f"/v1/passports/{client.pid}", json={"values": {"manufacturer_name": "x" * 5000}}, headers=ADMIN)
    assert "4096" in _problem(r, 400, "manufacturer_name")["detail"]
    r = client.patch(
        f"/v1/passports/{client.pid}", json={"values": {"part_numbers": [{"part": "y" * 5000}]}}, headers=ADMIN
    )
    _problem(r, 400, "part_numbers")
    assert _version(client) == before
