"""Use cases on both stores: build, sign and chain, writes and mandates, lifecycle, backup, audit."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from passport_testkit import BACKUP, ITEM, OPERATOR, make_summary
from sqlalchemy import select

from batpass.core.errors import Conflict, InvalidInput, Unauthorized
from batpass.core.ids import BatteryId
from batpass.ledger import UpstreamSummary, decode_summary
from batpass.passport import (
    LifecycleViolation,
    MissingMandatoryField,
    NotResponsible,
    PassportService,
    Status,
    Tier,
    UnitMismatch,
    WrongCategory,
    load_static_product_data,
)
from batpass.passport.service import StaticProductData
from batpass.store import UnitOfWork, outbox_table

BAT = BatteryId("04012345000009", "SN-0001")


def _build(service: PassportService, static: StaticProductData, battery: BatteryId = BAT) -> Any:
    return service.build(static, battery, item=ITEM, summary=decode_summary(make_summary(battery)))


def _snapshot(service: PassportService, pid: Any) -> tuple[Any, ...]:
    return (service.get(pid).to_record(), [v.digest for v in service.versions(pid)])


def test_build_signs_chains_and_sends_backup(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    assert p.version == 1 and p.status is Status.ORIGINAL and p.operator == OPERATOR
    # no Art. 8 figure known to this service: the battery's own, labelled as such (1.0 summary:
    # its unknown share not stated)
    assert p.values["recycled_content"]["cobalt"] == {
        "pre": 0.05,
        "post": 0.12,
        "basis": "battery_mass_balance",
        "unknown_mass_share": None,
    }
    assert p.values["material_origin"]["lithium"] == {"AU": 0.4, "CL": 0.6}
    assert p.values["carbon_footprint"].value == 71.5
    assert "end_of_life" not in p.values["carbon_footprint_stages"]  # not provided, never zero
    p2 = service.update(p.passport_id, {"renewable_content": {"value": 4.0, "unit": "%"}}, actor=OPERATOR)
    assert p2.version == 2
    assert service.verify_chain(p.passport_id) == 2
    hist = service.history(p.passport_id)
    assert hist[1]["diff"] == {
        "renewable_content": {"from": {"value": 3.5, "unit": "%"}, "to": {"value": 4.0, "unit": "%"}}
    }
    assert hist[1]["prevDigest"] == hist[0]["digest"]
    with UnitOfWork(service.engine, write=False) as uow:
        rows = uow.conn.execute(select(outbox_table.c.destination, outbox_table.c.idempotency_key)).all()
    assert len(rows) == 2 and all(r.destination == f"{BACKUP}/v1/passports/backup" for r in rows)
    assert service.version_record(p.passport_id, 1).values["renewable_content"].value == 3.5


def test_rebuild_with_same_data_is_no_new_version(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    assert _build(service, static).version == p.version


def test_history_hides_restricted_changes(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    service.update(
        p.passport_id, {"test_reports": [{"test": "IEC 62660", "url": "https://x.example/r.pdf"}]}, actor=OPERATOR
    )
    public = service.history(p.passport_id)
    assert public[1]["diff"] == {}
    assert "test_reports" in service.history(p.passport_id, tiers=set(Tier))[1]["diff"]


def test_bad_input_leaves_passport_unchanged(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    before = _snapshot(service, p.passport_id)
    with pytest.raises(UnitMismatch) as e1:
        service.update(p.passport_id, {"weight": {"value": 452000, "unit": "g"}}, actor=OPERATOR)
    assert e1.value.field == "weight"
    with pytest.raises(MissingMandatoryField) as e2:
        service.update(p.passport_id, {"chemistry": None}, actor=OPERATOR)
    assert e2.value.field == "chemistry"
    with pytest.raises(NotResponsible) as e3:
        service.update(
            p.passport_id, {"renewable_content": {"value": 1.0, "unit": "%"}}, actor="did:web:intruder.example"
        )
    assert "Art. 77(4)" in str(e3.value.rule)
    with pytest.raises(Conflict):
        service.update(
            p.passport_id, {"renewable_content": {"value": 1.0, "unit": "%"}}, actor=OPERATOR, expected_version=7
        )
    service.mark_waste(p.passport_id, waste_operator="did:web:recycler.example", actor=OPERATOR)
    mid = _snapshot(service, p.passport_id)
    with pytest.raises(LifecycleViolation) as e4:
        service.change_status(p.passport_id, "original", actor="did:web:recycler.example")
    assert e4.value.details["field"] == "status"
    assert _snapshot(service, p.passport_id) == mid
    assert mid[1][:1] == before[1]


def test_wrong_category_and_missing_on_build(service: PassportService, static: StaticProductData) -> None:
    raw = {
        "format": "batpass.passport.static/1",
        "model_id": "X",
        "category": "portable",
        "gtin": static.gtin,
        "values": {},
    }
    with pytest.raises(WrongCategory):
        load_static_product_data(raw)
    with pytest.raises(MissingMandatoryField) as ei:
        service.build(static, BAT, item={"manufacturing_date": "2027-02-20"})
    assert ei.value.field == "manufacturing_place"
    assert service.find_by_battery(BAT) is None


def test_dynamic_data_and_mandates(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    shop = "did:web:workshop.example"
    with pytest.raises(NotResponsible):
        service.record_dynamic(p.passport_id, {"state_of_health": {"value": 97.0, "unit": "%"}}, actor=shop)
    with pytest.raises(NotResponsible):
        service.grant_mandate(p.passport_id, mandatee=shop, scope=["dynamic"], document="x", actor=shop)
    service.grant_mandate(
        p.passport_id,
        mandatee=shop,
        scope=["dynamic"],
        document="https://nordcell.example/mandates/7.pdf",
        actor=OPERATOR,
    )
    p2 = service.record_dynamic(
        p.passport_id,
        {
            "state_of_health": {"value": 97.0, "unit": "%"},
            "full_cycles": 120,
            "negative_events": [{"date": "2027-02-28", "event": "deep discharge"}],
        },
        actor=shop,
    )
    p3 = service.record_dynamic(
        p.passport_id, {"negative_events": [{"date": "2027-03-01", "event": "crash"}]}, actor=shop
    )
    assert len(p3.values["negative_events"]) == 2 and p2.values["full_cycles"] == 120
    with pytest.raises(InvalidInput) as ei:
        service.record_dynamic(p.passport_id, {"full_cycles": 10}, actor=shop)
    assert ei.value.field == "full_cycles"
    with pytest.raises(NotResponsible):  # the dynamic mandate does not cover static data
        service.update(p.passport_id, {"renewable_content": {"value": 1.0, "unit": "%"}}, actor=shop)
    with pytest.raises(InvalidInput):
        service.record_dynamic(p.passport_id, {"weight": {"value": 1.0, "unit": "kg"}}, actor=OPERATOR)


def test_second_life_recycling_and_reman(service: PassportService, static: StaticProductData) -> None:
    a = _build(service, static)
    b = _build(service, static, BatteryId("04012345000009", "SN-0002"))
    newop = "did:web:second-life.example"
    rep = service.second_life(
        [a.passport_id, b.passport_id],
        status="repurposed",
        new_battery=BatteryId("04012345000009", "R-0001"),
        new_operator=newop,
        actor=OPERATOR,
    )
    assert rep.status is Status.REPURPOSED and rep.predecessors == (a.passport_id, b.passport_id)
    assert rep.passport_id != a.passport_id and rep.battery_id != a.battery_id
    assert service.get(a.passport_id).successors == (rep.passport_id,)
    assert service.get(a.passport_id).status is Status.ORIGINAL
    with pytest.raises(NotResponsible):  # responsibility moved to the new operator
        service.update(rep.passport_id, {"renewable_content": {"value": 1.0, "unit": "%"}}, actor=OPERATOR)
    with pytest.raises(LifecycleViolation) as ei:
        service.second_life(
            [a.passport_id],
            status="remanufactured",
            new_battery=BatteryId("04012345000009", "M-1"),
            new_operator=newop,
            actor=OPERATOR,
            restored_capacity_ah=150.0,
            cell_soh=[95, 96],
        )
    assert "Art. 3(1)(32)" in str(ei.value.rule)
    assert service.find_by_battery(BatteryId("04012345000009", "M-1")) is None
    reman = service.second_life(
        [a.passport_id],
        status="remanufactured",
        new_battery=BatteryId("04012345000009", "M-1"),
        new_operator=newop,
        actor=OPERATOR,
        restored_capacity_ah=190.0,
        cell_soh=[95, 96.5],
    )
    assert reman.status is Status.REMANUFACTURED
    with pytest.raises(LifecycleViolation):  # recycling only once waste
        service.recycle(b.passport_id, recycler="did:web:recycler.example", actor=OPERATOR)
    service.mark_waste(b.passport_id, waste_operator="did:web:recycler.example", actor=OPERATOR)
    ended = service.recycle(b.passport_id, recycler="did:web:recycler.example", actor="did:web:recycler.example")
    assert ended.ended and service.find_by_battery(b.battery_id) is not None
    with pytest.raises(LifecycleViolation):
        service.update(
            b.passport_id, {"renewable_content": {"value": 1.0, "unit": "%"}}, actor="did:web:recycler.example"
        )
    assert service.verify_chain(b.passport_id) == 4


def test_reads_are_tiered_and_audited(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    view = service.read(p)
    assert "test_reports" not in view and service.audit_entries(p.passport_id) == []
    auth = service.read(p, roles=["market_surveillance_authority"])
    assert "test_reports" in auth and "state_of_health" not in auth
    entries = service.audit_entries(p.passport_id)
    assert len(entries) == 1 and entries[0]["roles"] == ["market_surveillance_authority"]


def test_backup_accepts_verified_copies_only(service: PassportService, static: StaticProductData) -> None:
    p = _build(service, static)
    service.update(p.passport_id, {"renewable_content": {"value": 4.0, "unit": "%"}}, actor=OPERATOR)
    v1, v2 = service.versions(p.passport_id)
    assert service.accept_backup({"jws": v1.jws}, idempotency_key="k1")["duplicate"] is False
    assert service.accept_backup({"jws": v1.jws}, idempotency_key="k1")["duplicate"] is True
    assert service.accept_backup({"jws": v2.jws})["duplicate"] is False
    assert [c["version"] for c in service.backup_copies(p.passport_id)] == [1, 2]
    head, payload, sig = v2.jws.split(".")
    forged = ".".join([head, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), sig])
    with pytest.raises((Unauthorized, InvalidInput)):
        service.accept_backup({"jws": forged})
    with pytest.raises(InvalidInput):
        service.accept_backup({"jws": "nope"})


def test_static_schema_errors_name_the_field(static: StaticProductData) -> None:
    raw = {"format": "batpass.passport.static/1", "model_id": "X", "category": "ev", "gtin": "12", "values": {}}
    with pytest.raises(InvalidInput) as ei:
        load_static_product_data(raw)
    assert ei.value.field == "gtin"
    raw = {
        "format": "batpass.passport.static/1",
        "model_id": "X",
        "category": "ev",
        "gtin": static.gtin,
        "values": {"manufacturing_date": "2027-01-01"},
    }
    with pytest.raises(InvalidInput) as ei:
        load_static_product_data(raw)
    assert ei.value.field == "values.manufacturing_date"
    assert json.loads(json.dumps(dt.date(2027, 1, 1).isoformat()))


def test_summary_from_the_source_port(service: PassportService, static: StaticProductData) -> None:
    class Source:
        def summary_for(self, battery: BatteryId) -> UpstreamSummary:
            return decode_summary(make_summary(battery))

    service.summaries = Source()
    p = service.build(static, BAT, item=ITEM)
    assert p.values["recycled_content"]["lithium"]["pre"] == 0.02
    assert p.values["recycled_content"]["lithium"]["basis"] == "battery_mass_balance"


def test_recycled_content_is_the_art8_figure_where_one_is_known(
    service: PassportService, static: StaticProductData
) -> None:
    """One definition (issue 18): the passport shows the ledger's Art. 8 figure of the battery's
    model and batch per plant, not the battery's own mass balance; unknown stays null, not 0."""

    class Art8:
        def art8_recycled_for(self, battery: BatteryId) -> dict[str, Any]:
            figure = {"basis": "art8_model_batch_plant", "unknown_mass_share": 0.0}
            return {
                "elements": {
                    "Co": {**figure, "pre_consumer": 0.01, "post_consumer": 0.1},
                    "Li": {**figure, "pre_consumer": None, "post_consumer": None, "unknown_mass_share": 1.0},
                }
            }

    service.recycled = Art8()
    p = _build(service, static)  # its summary says cobalt 5 % / 12 %: per battery, not shown
    assert p.values["recycled_content"] == {
        "cobalt": {"pre": 0.01, "post": 0.1, "basis": "art8_model_batch_plant", "unknown_mass_share": 0.0},
        "lithium": {"pre": None, "post": None, "basis": "art8_model_batch_plant", "unknown_mass_share": 1.0},
    }


def test_fixture_summary_follows_the_ledger_schema() -> None:
    """Contract §1: the fixture the passport tests build from validates against the ledger's schema."""
    from pathlib import Path

    import jsonschema

    path = Path(__file__).parents[3] / "src/batpass/ledger/_data/upstream-summary.schema.json"
    if not path.exists():
        pytest.skip("the ledger's upstream-summary schema is not there yet")
    schema = json.loads(path.read_text())
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(make_summary(BAT)))
    assert errors == []


@pytest.mark.parametrize("offset", [2**63, 10**25])
def test_an_offset_past_any_row_is_invalid_input_not_a_database_overflow(service: PassportService, offset: int) -> None:
    """Found by schemathesis (``GET /v1/passports?offset=9999999999999999999999999`` answered 500:
    OverflowError from the SQLite driver; PostgreSQL's bigint overflows the same way)."""
    with pytest.raises(InvalidInput) as refused:
        service.list_passports(offset=offset)
    assert refused.value.field == "offset"
    assert service.list_passports(offset=2**63 - 1) == []


def test_audit_entries_written_within_one_millisecond_are_listed_in_the_order_written(
    service: PassportService, static: StaticProductData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries sharing their timestamp (the service's clock) and the millisecond their time-ordered
    ids are taken in (the process clock, held still here) come back in the order they were
    written, on both stores: the rest of an id was random, so such entries were listed shuffled."""
    p = _build(service, static)
    frozen = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: frozen)
    for n in range(12):
        service.audit(p, roles=["market_surveillance_authority"], tiers=[Tier.AUTHORITIES], channel=f"read-{n}")
    monkeypatch.undo()
    entries = service.audit_entries(p.passport_id)
    assert [e["channel"] for e in entries] == [f"read-{n}" for n in range(12)]
    assert len({e["readAt"] for e in entries}) == 1
