"""What is served is what was signed (issue 16, item 2): a passport is read from its newest signed
version after the whole chain is checked; a changed row, digest, token or a deleted version is
refused with a problem naming the passport and the break — never served, never signed over."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from passport_testkit import ITEM, OPERATOR, make_summary
from sqlalchemy import event, text

from batpass.core.errors import IntegrityViolation, InvalidInput
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.passport import PassportService
from batpass.passport.service import StaticProductData

BAT = BatteryId("04012345000009", "SN-0042")


def _two_versions(service: PassportService, static: StaticProductData) -> Any:
    p = service.build(static, BAT, item=ITEM, summary=decode_summary(make_summary(BAT)))
    service.update(p.passport_id, {"renewable_content": {"value": 4.0, "unit": "%"}}, actor=OPERATOR)
    # read before any change below: what a read remembers (each token's verified payload and the
    # passport it records) must not hide a change made after it
    assert service.with_versions(p.passport_id)[0] == service.get(p.passport_id)
    return p.passport_id


def _sql(service: PassportService, sql: str, **params: Any) -> int:
    with service.engine.begin() as conn:
        return int(conn.execute(text(sql), params).rowcount)


def _refused(service: PassportService, pid: Any, table: str) -> None:
    """Every read and the next write refuse the passport, naming it and the broken table."""
    reads = (
        lambda: service.get(pid),
        lambda: service.find_by_battery(BAT),
        lambda: service.history(pid),
        lambda: service.with_versions(pid),
    )
    for read in reads:
        with pytest.raises(IntegrityViolation) as caught:
            read()
        assert caught.value.table == table and str(pid) in caught.value.message and caught.value.status == 503
    with pytest.raises(IntegrityViolation):
        service.update(pid, {"renewable_content": {"value": 9.0, "unit": "%"}}, actor=OPERATOR)
    report = service.verify(pid)
    assert report["ok"] is False and report["findings"][0]["table"] == table


def test_a_clean_chain_verifies(service: PassportService, static: StaticProductData) -> None:
    pid = _two_versions(service, static)
    passport, versions = service.with_versions(pid)
    assert passport == service.get(pid) and passport.version == 2
    assert versions == service.versions(pid) and [v.version for v in versions] == [1, 2]
    assert service.verify(pid) == {"passportId": f"urn:uuid:{pid}", "ok": True, "versions": 2, "findings": []}
    assert service.self_audit() == []


def test_a_changed_record_is_not_served_and_not_signed_over(
    service: PassportService, static: StaticProductData
) -> None:
    pid = _two_versions(service, static)
    with service.engine.begin() as conn:
        record = conn.execute(text("SELECT record FROM passport_passports")).scalar_one()
        record = json.loads(record) if isinstance(record, str) else record
        record["values"]["rated_capacity"]["value"] = 999.0
        conn.execute(text("UPDATE passport_passports SET record = :r"), {"r": json.dumps(record)})
    _refused(service, pid, "passport_passports")
    assert [(f.table, f.rule) for f in service.self_audit()] == [
        ("passport_passports", "passport.signed (what is served is what was signed)")
    ]


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("UPDATE passport_versions SET digest = 'ab' || substr(digest, 3) WHERE version = 1", "passport_versions"),
        (
            "UPDATE passport_versions SET jws = substr(jws, 1, length(jws) - 4) || 'AAAA' WHERE version = 2",
            "passport_versions",
        ),
        ("DELETE FROM passport_versions WHERE version = 1", "passport_versions"),
        ("DELETE FROM passport_versions WHERE version = 2", "passport_versions"),
        ("UPDATE passport_versions SET actor = 'did:web:someone-else.example' WHERE version = 1", "passport_versions"),
        ("UPDATE passport_passports SET status = 'waste'", "passport_passports"),
        ("UPDATE passport_passports SET serial = 'SN-9999'", "passport_passports"),
    ],
)
def test_a_changed_version_or_column_is_refused(
    service: PassportService, static: StaticProductData, sql: str, table: str
) -> None:
    pid = _two_versions(service, static)
    assert _sql(service, sql) == 1
    if "serial" in sql:  # looked up by another battery now: that lookup finds it and refuses it
        with pytest.raises(IntegrityViolation):
            service.find_by_battery(BatteryId("04012345000009", "SN-9999"))
        with pytest.raises(IntegrityViolation):
            service.get(pid)
        return
    _refused(service, pid, table)


def test_nothing_is_signed_that_the_backup_node_cannot_take(
    service: PassportService, static: StaticProductData
) -> None:
    """Operator and backup node share one size limit: a version whose signed copy would be over it
    is refused (naming the rule), and nothing is stored."""
    pid = _two_versions(service, static)
    service.max_copy_bytes = 20_000
    with pytest.raises(InvalidInput) as caught:
        # over the copy limit within the data points' own limits (text at most 4 KiB each)
        service.update(pid, {"part_numbers": [{"part": "M" * 4000} for _ in range(8)]}, actor=OPERATOR)
    assert "backup" in str(caught.value.rule) and caught.value.field == "(body)"
    assert service.verify(pid)["versions"] == 2
    assert [c["version"] for c in service.backup_status(pid)] == [1, 2]
    assert {c["status"] for c in service.backup_status(pid)} == {"pending"}


def test_a_reader_sees_no_break_when_a_version_commits_between_its_reads(
    service: PassportService, static: StaticProductData
) -> None:
    """A reader reads the served row, then its signed chain. On PostgreSQL each statement sees
    what is committed when it runs, so a writer (another worker) committing the next version in
    between made the chain one version ahead of the row: a spurious "no signed version" 503. The
    reader reads both again instead; on SQLite its snapshot never moves."""
    pid = _two_versions(service, static)
    fired: list[str] = []

    def write_between(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not fired and not conn.info.get("write") and "FROM passport_passports" in statement:
            fired.append(statement)
            writer = threading.Thread(
                target=service.record_dynamic,
                args=(pid, {"state_of_health": {"value": 93.0, "unit": "%"}}),
                kwargs={"actor": OPERATOR},
            )
            writer.start()
            writer.join(30)

    event.listen(service.engine, "after_cursor_execute", write_between)
    try:
        read = service.get(pid)
    finally:
        event.remove(service.engine, "after_cursor_execute", write_between)
    assert fired
    assert read.version in (2, 3)  # the version the reader's snapshot held, never a refusal
    assert service.get(pid).version == 3
