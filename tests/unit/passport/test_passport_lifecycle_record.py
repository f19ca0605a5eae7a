"""What each life of a battery records, so its passport tells it truthfully (issue 20): a repurposed
battery's new category, model and use (not the old model's footprint); a remanufactured battery's
restored capacity; who recycled a battery, when, and what was recovered; the waste operator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, OPERATOR, make_app, make_summary

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.passport import Category, PassportService, Quantity, Status, Tier, WrongCategory
from batpass.passport.model import visible_view
from batpass.passport.service import StaticProductData

BAT = BatteryId("04012345000009", "SN-0301")
NEW = BatteryId("04012345000009", "SN-0301R")
RECYCLER = "did:web:recycler.example"
FOOTPRINT = {"kg_co2e_per_kwh": 0.0548, "stages": {"raw_material": 0.04, "main_production": 0.0148}}


def _build(service: PassportService, static: StaticProductData, battery: BatteryId = BAT) -> Any:
    return service.build(static, battery, item=ITEM, summary=decode_summary(make_summary(battery)), footprint=FOOTPRINT)


def test_a_repurposed_battery_takes_its_new_category_model_and_use(
    service: PassportService, static: StaticProductData
) -> None:
    old = _build(service, static)
    assert old.values["carbon_footprint"] == Quantity(0.0548, "kgCO2e/kWh")
    new = service.second_life(
        [old.passport_id],
        status="repurposed",
        new_battery=NEW,
        new_operator=RECYCLER,
        actor=OPERATOR,
        category="stationary",
        use="Home energy storage with rooftop solar",
        values={"model_name": "HomeStore 60"},
    )
    view = visible_view(service.get(new.passport_id), [Tier.PUBLIC])
    assert view["category"] == "stationary" and view["model_name"] == "HomeStore 60"
    assert view["intended_use"] == "Home energy storage with rooftop solar"
    # the old model's footprint declaration is not the new model's (Art. 7(1): per battery model)
    assert "carbon_footprint" not in view and "carbon_footprint_stages" not in view
    # the original passport keeps its own
    assert service.get(old.passport_id).category is Category.EV
    assert "carbon_footprint" in service.get(old.passport_id).values


def test_a_repurposed_battery_in_the_same_model_keeps_the_footprint(
    service: PassportService, static: StaticProductData
) -> None:
    old = _build(service, static)
    new = service.second_life(
        [old.passport_id], status="repurposed", new_battery=NEW, new_operator=RECYCLER, actor=OPERATOR
    )
    assert new.category is Category.EV and "carbon_footprint" in new.values and "intended_use" not in new.values


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"status": "re-used", "use": "spare pack"}, "use"),
        ({"status": "remanufactured", "category": "stationary"}, "category"),
        ({"status": "repurposed", "category": "toaster"}, "category"),
        ({"status": "repurposed", "use": ""}, "intended_use"),
    ],
)
def test_a_new_category_or_use_is_refused_naming_the_field(
    service: PassportService, static: StaticProductData, kw: dict[str, Any], field: str
) -> None:
    old = _build(service, static)
    with pytest.raises(InvalidInput) as ei:
        service.second_life([old.passport_id], new_battery=NEW, new_operator=RECYCLER, actor=OPERATOR, **kw)
    assert ei.value.field == field
    assert service.find_by_battery(NEW) is None


def test_a_new_category_outside_the_passport_scope_is_refused(
    service: PassportService, static: StaticProductData
) -> None:
    old = _build(service, static)
    with pytest.raises(WrongCategory):  # an industrial battery of 1 kWh takes no passport
        service.second_life(
            [old.passport_id],
            status="repurposed",
            new_battery=NEW,
            new_operator=RECYCLER,
            actor=OPERATOR,
            category="industrial",
            values={"rated_energy": {"value": 1.0, "unit": "kWh"}},
        )
    assert service.find_by_battery(NEW) is None


def test_a_remanufactured_battery_records_its_restored_capacity(
    service: PassportService, static: StaticProductData
) -> None:
    old = _build(service, static)
    new = service.second_life(
        [old.passport_id],
        status="remanufactured",
        new_battery=NEW,
        new_operator=RECYCLER,
        actor=OPERATOR,
        restored_capacity_ah=190.0,
        cell_soh=[96.0, 97.5],
    )
    assert new.status is Status.REMANUFACTURED
    assert visible_view(service.get(new.passport_id), [Tier.PUBLIC])["restored_capacity"] == {
        "value": 190.0,
        "unit": "Ah",
    }


def test_recycling_records_who_when_and_what_was_recovered(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    service.mark_waste(p.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    waste = visible_view(service.get(p.passport_id), [Tier.PUBLIC])
    assert waste["status"] == "waste" and waste["waste_operator"] == OPERATOR
    ended = service.recycle(
        p.passport_id,
        recycler=RECYCLER,
        actor=OPERATOR,
        recovered=[{"material": "cobalt", "mass_kg": 8.5}, {"material": "lithium", "mass_kg": 3}],
    )
    view = visible_view(service.get(p.passport_id), [Tier.PUBLIC])
    assert ended.ended and view["recycler"] == RECYCLER and view["waste_operator"] == OPERATOR
    assert view["recycled_on"] == dt.date(2027, 3, 1).isoformat()  # the service's clock
    assert view["recovered_materials"] == [
        {"material": "cobalt", "mass_kg": 8.5},
        {"material": "lithium", "mass_kg": 3.0},
    ]
    assert service.verify_chain(p.passport_id) == 3  # the signed chain holds the record


@pytest.mark.parametrize(
    ("recovered", "field"),
    [
        ([{"material": "cobalt", "mass_kg": -1}], "recovered[0].mass_kg"),
        ([{"material": "cobalt", "mass_kg": 1}, {"material": "Cobalt", "mass_kg": 2}], "recovered[1].material"),
        ([{"material": " ", "mass_kg": 1}], "recovered[0].material"),
        ([{"material": "cobalt"}], "recovered[0]"),
    ],
)
def test_bad_recovered_materials_are_refused_and_nothing_changes(
    service: PassportService, static: StaticProductData, recovered: list[dict[str, Any]], field: str
) -> None:
    p = _build(service, static)
    service.mark_waste(p.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    with pytest.raises(InvalidInput) as ei:
        service.recycle(p.passport_id, recycler=RECYCLER, actor=OPERATOR, recovered=recovered)
    assert ei.value.field == field
    assert not service.get(p.passport_id).ended


ADMIN = {"X-Api-Key": ADMIN_KEY}


@pytest.fixture
def client(service: PassportService) -> Any:
    import yaml

    with TestClient(make_app(service), base_url="https://id.nordcell.example") as c:
        static = yaml.safe_load(EXAMPLE.read_text())
        body = {"static": static, "battery": BAT.path, "item": ITEM, "summary": make_summary(BAT)}
        r = c.post("/v1/passports", json=body, headers=ADMIN)
        assert r.status_code == 201, r.text
        c.pid = r.json()["passportId"]  # type: ignore[attr-defined]
        yield c


def test_the_api_takes_a_new_category_and_use_and_refuses_a_bad_one(client: Any) -> None:
    url = f"/v1/passports/{client.pid}/second-life"
    body = {"status": "repurposed", "newBattery": NEW.path, "newOperator": RECYCLER}
    bad = client.post(url, json={**body, "newCategory": "toaster"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["field"] == "category"
    assert client.get(NEW.path, headers={"Accept": "application/json"}).status_code == 404
    r = client.post(url, json={**body, "newCategory": "stationary", "use": "grid buffer"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    data = client.get(NEW.path, headers={"Accept": "application/json"}).json()["data"]
    assert data["category"] == "stationary" and data["intended_use"] == "grid buffer"


def test_the_api_records_what_recycling_recovered(client: Any) -> None:
    pid = client.pid
    r = client.post(f"/v1/passports/{pid}/status", json={"status": "waste", "wasteOperator": OPERATOR}, headers=ADMIN)
    assert r.status_code == 200, r.text
    bad = client.post(
        f"/v1/passports/{pid}/recycle", json={"recycler": RECYCLER, "recovered": [{"material": "Co"}]}, headers=ADMIN
    )
    assert bad.status_code == 400 and "massKg" in bad.text
    ok = client.post(
        f"/v1/passports/{pid}/recycle",
        json={"recycler": RECYCLER, "recovered": [{"material": "nickel", "massKg": 21.0}]},
        headers=ADMIN,
    )
    assert ok.status_code == 200, ok.text
    data = client.get(BAT.path, headers={"Accept": "application/json"}).json()["data"]
    assert data["recycler"] == RECYCLER and data["recovered_materials"] == [{"material": "nickel", "mass_kg": 21.0}]
