"""Readiness: ready once the start-up self-audit has run on a database at every migration head;
not ready, with the reason, when the schema is behind the code."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from batpass.core.settings import Settings
from batpass.node import create_app, init_node


def _ready(client: TestClient) -> Any:
    deadline = time.monotonic() + 60
    while (r := client.get("/ready")).status_code != 200 and "self-audit is running" in r.text:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    return r


def test_ready_after_the_audit_and_not_when_the_schema_is_behind(settings: Settings) -> None:
    node, _ = init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One", bpnl="BPNL00000003AYRE")
    node.close()
    app = create_app(settings, node_name="n1")
    with TestClient(app, base_url=node.base_url) as client:
        r = _ready(client)
        assert r.status_code == 200 and r.json() == {"status": "ready", "reasons": []}
        engine = app.state.ctx.engine
        with engine.begin() as conn:  # one capability's migrations rolled back out of band
            heads = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
            conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": heads[0]})
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "not ready"
        assert any("schema behind" in reason and heads[0] in reason for reason in r.json()["reasons"])
        assert client.get("/health").status_code == 200  # liveness stays
