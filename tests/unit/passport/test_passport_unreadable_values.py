"""A stored value that does not read as its column's type (a timestamp that is not one, JSON that
does not decode, text in an integer column) is damage like any other: SQLite stores whatever is
written, so such a cell reaches the node. Every read of the passport refuses it as an integrity
break (503, naming the passport), never a server error; the self-audit names that passport and
still audits the others. PostgreSQL's column types refuse the values outright.

Found by writing one type-breaking value into every column of a demo-sized store and crawling
the node: six passport columns answered 500, and a damaged timestamp stopped the passport
self-audit (issue 22's integrity follow-up)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, ITEM, OPERATOR, make_app, make_summary
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from batpass.core.errors import IntegrityViolation
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.passport import PassportService
from batpass.passport.service import StaticProductData
from batpass.store import is_sqlite

DAMAGED = BatteryId("04012345000009", "SN-0301")
INTACT = BatteryId("04012345000009", "SN-0302")
ALSO_DAMAGED = BatteryId("04012345000009", "SN-0303")

#: (table, column, a value the column's type cannot read)
CELLS = [
    ("passport_passports", "version", "x!{"),
    ("passport_passports", "record", "x!{"),
    ("passport_passports", "updated_at", "2026-12-07 20:02:M8.463304"),
    ("passport_versions", "created_at", "2026-12-07 20:02:M8.463304"),
]


def _build(service: PassportService, static: StaticProductData, battery: BatteryId) -> uuid.UUID:
    p = service.build(static, battery, item=ITEM, summary=decode_summary(make_summary(battery)))
    service.update(p.passport_id, {"renewable_content": {"value": 4.0, "unit": "%"}}, actor=OPERATOR)
    return p.passport_id


def _damage(service: PassportService, pid: uuid.UUID, table: str, column: str, value: str) -> None:
    where = "passport_id = :pid" + (" AND version = 1" if table == "passport_versions" else "")
    with service.engine.begin() as conn:
        n = conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE {where}"), {"v": value, "pid": str(pid)})
        assert n.rowcount == 1


@pytest.mark.parametrize(("table", "column", "value"), CELLS, ids=[f"{t}.{c}" for t, c, _ in CELLS])
def test_an_unreadable_value_is_an_integrity_break(
    service: PassportService, static: StaticProductData, table: str, column: str, value: str
) -> None:
    damaged, intact = _build(service, static, DAMAGED), _build(service, static, INTACT)
    if not is_sqlite(service.engine):
        with pytest.raises(sa_exc.DBAPIError):  # the column's type refuses it: nothing to read back
            _damage(service, damaged, table, column, value)
        assert service.verify(damaged)["ok"] is True
        return
    _damage(service, damaged, table, column, value)
    for read in (
        lambda: service.get(damaged),
        lambda: service.find_by_battery(DAMAGED),
        lambda: service.history(damaged),
        lambda: service.with_versions(damaged),
    ):
        with pytest.raises(IntegrityViolation) as caught:
            read()
        assert caught.value.status == 503 and str(damaged) in caught.value.message
    with pytest.raises(IntegrityViolation):  # never signed over
        service.update(damaged, {"renewable_content": {"value": 9.0, "unit": "%"}}, actor=OPERATOR)
    assert service.get(intact).version == 2  # the other passport is served as before
    report = service.verify(damaged)
    assert report["ok"] is False and report["findings"][0]["table"] == table

    # the self-audit names the damaged passport and goes on to the others: a second break is found
    also = _build(service, static, ALSO_DAMAGED)
    with service.engine.begin() as conn:
        conn.execute(
            text("UPDATE passport_versions SET actor = 'did:web:someone-else.example' WHERE passport_id = :p"),
            {"p": str(also)},
        )
    found = {(f.table, f.key.split("/")[0]) for f in service.self_audit()}  # key: passport[/version]
    assert (table, str(damaged)) in found and ("passport_versions", str(also)) in found
    assert not any(key == str(intact) for _, key in found)


def test_the_api_answers_an_unreadable_value_with_a_problem_not_a_server_error(
    service: PassportService, static: StaticProductData
) -> None:
    damaged = _build(service, static, DAMAGED)
    if not is_sqlite(service.engine):
        pytest.skip("PostgreSQL's column types refuse the value (the test above shows it)")
    _damage(service, damaged, "passport_versions", "created_at", "2026-12-07 20:02:M8.463304")
    with TestClient(make_app(service), base_url="https://id.nordcell.example") as client:
        headers = {"X-Api-Key": ADMIN_KEY}
        answers: dict[str, Any] = {
            url: client.get(url, headers=headers)
            for url in (
                f"/v1/passports/urn:uuid:{damaged}",
                f"/v1/passports/urn:uuid:{damaged}/history",
                f"/v1/passports/urn:uuid:{damaged}/versions/1",
                f"/v1/passports/urn:uuid:{damaged}/verify",
            )
        }
    for url, r in answers.items():
        assert r.status_code in (200, 503), (url, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json") or r.status_code == 200
        if r.status_code == 503:
            assert r.json()["type"].endswith("/integrity"), url
    assert answers[f"/v1/passports/urn:uuid:{damaged}/verify"].json()["ok"] is False
