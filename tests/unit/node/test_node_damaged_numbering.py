"""A store whose lot counter was lowered below the lots it holds: a write that numbers a lot is
refused over HTTP as stored data failing its check (503 problem details naming the table, the
owner and the rule ``ledger.numbers.counter``), not as a 409 lost race a retry would win; nothing
is written. On both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from batpass.core.settings import Settings
from batpass.ledger import LedgerService
from batpass.node import create_app, init_node
from store_testkit import PG_URL, drop_schema, scratch_schema


def _extraction(did: str, n: int) -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "kind": "extraction",
        "owner": did,
        "at": f"2026-01-01T00:00:0{n}Z",
        "site": {"id": "MINE-1", "country": "CL"},
        "outputs": [
            {"lot": f"LOT-{n}", "material": "lithium_brine_concentrate", "quantity": {"value": 1, "unit": "kg"}}
        ],
    }


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"], indirect=True)
def test_a_write_on_a_lowered_lot_counter_is_a_503_naming_the_rule(store_kind: str, tmp_path: Path) -> None:
    postgres = store_kind == "postgresql"
    schema = scratch_schema() if postgres else None
    settings = Settings(home=tmp_path / "home", db_url=PG_URL if postgres else None, db_schema=schema)
    try:
        node, key = init_node("n1", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
        node.close()
        with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as client:
            admin = {"X-Api-Key": key, "Content-Type": "application/json"}
            did = client.get("/health").json()["did"]
            for n in (1, 2, 3):
                r = client.post("/v1/ledger/events", content=json.dumps([_extraction(did, n)]), headers=admin)
                assert r.status_code == 200, r.text
            engine = client.app.state.ctx.services[LedgerService].engine  # type: ignore[attr-defined]
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE ledger_owners SET last_lot_no = last_lot_no - 1 WHERE owner = :o"), {"o": did}
                )
            for _attempt in range(2):  # a retry meets the same damage
                r = client.post("/v1/ledger/events", content=json.dumps([_extraction(did, 4)]), headers=admin)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                problem = r.json()
                assert (problem["status"], problem["rule"]) == (503, "ledger.numbers.counter")
                assert (problem["table"], problem["key"]) == ("ledger_owners", did)
            assert client.get("/v1/ledger/lots/LOT-4", headers=admin).status_code == 404
            assert client.get("/v1/ledger/lots/LOT-3", headers=admin).status_code == 200
    finally:
        if schema is not None:
            drop_schema(schema)
