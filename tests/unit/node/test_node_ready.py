"""Readiness: ready once the start-up self-audit has run on a database at every migration head;
not ready, with the reason, when the schema is behind the code."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from batpass.core.settings import Settings
from batpass.node import create_app, init_node
from batpass.trust import _sql as trust_sql


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


def _trust_list(operator: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "trustListVersion": "1.0",
        "ecosystem": "catena-x",
        "operator": operator,
        "sequence": 1,
        "issuedAt": now.strftime(iso),
        "nextUpdate": (now + dt.timedelta(days=30)).strftime(iso),
        "issuers": [
            {
                "did": operator,
                "name": "Catena-X operator",
                "credentialTypes": ["MembershipCredential"],
                "validFrom": (now - dt.timedelta(days=1)).strftime(iso),
                "validUntil": (now + dt.timedelta(days=30)).strftime(iso),
            }
        ],
    }


def test_not_ready_while_a_stored_trust_list_does_not_verify(settings: Settings) -> None:
    """Readiness covers the trust store: a trust list whose stored signature no longer verifies
    makes the node not ready, naming the trust area and the table (docs/integrity.md says how to
    repair it)."""
    node, admin_key = init_node("n1", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
    node.config.extra["trust_operators"] = {"catena-x": node.did}  # the node operates the list itself
    node.config.save(node.paths.config)
    node.close()
    app = create_app(settings, node_name="n1")
    admin = {"X-Api-Key": admin_key}
    with TestClient(app, base_url=node.base_url) as client:
        assert _ready(client).status_code == 200
        jws = client.post("/v1/trust/lists/sign", json=_trust_list(node.did), headers=admin).json()["jws"]
        stored = client.post("/v1/trust/lists", json={"ecosystem": "catena-x", "jws": jws}, headers=admin)
        assert stored.status_code == 201, stored.text
        head, payload, sig = jws.split(".")
        flipped = sig[:5] + ("A" if sig[5] != "A" else "B") + sig[6:]
        t = trust_sql.trust_lists
        with app.state.ctx.engine.begin() as conn:  # changed out of band, behind the node's back
            conn.execute(t.update().where(t.c.ecosystem == "catena-x").values(jws=f"{head}.{payload}.{flipped}"))
        assert client.get("/v1/admin/verify", headers=admin).status_code == 200  # the audit, run now
        r = client.get("/ready")
        assert r.status_code == 503, r.text
        assert any(reason.startswith("trust:") and "trust_lists" in reason for reason in r.json()["reasons"])
        assert client.get("/health").status_code == 200  # liveness stays
