"""``/metrics``: the Prometheus text format behind the admin key, one registry per app, labels
without identifiers (route templates, never raw paths), the store read at scrape time, and the
federation's metrics port wired to the node's registry."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from batpass.core.clock import utc_now
from batpass.core.settings import Settings
from batpass.federation import FederatedTrace
from batpass.node import create_app, init_node
from batpass.node._metrics import NodeMetrics
from batpass.passport import BACKUP_KIND
from batpass.store import UnitOfWork, enqueue

LOT, SITE, EVENT = "LOT-SECRET-7731", "MINE-SECRET-42", "ev-secret-9911"


def _scrape(client: TestClient, key: str) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    r = client.get("/metrics", headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    return r.text, samples


def _seed(client: TestClient, key: str) -> dict[str, Any]:
    did = client.get("/health").json()["did"]
    event = {
        "id": EVENT,
        "kind": "extraction",
        "owner": did,
        "at": "2026-01-01T00:00:00Z",
        "site": {"id": SITE, "country": "CL"},
        "outputs": [{"lot": LOT, "material": "lithium_brine_concentrate", "quantity": {"value": 1, "unit": "kg"}}],
    }
    r = client.post("/v1/ledger/events", content=json.dumps([event]), headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    return {"did": did}


def test_the_scrape_counts_requests_per_route_template_and_names_no_id(
    node_client: tuple[TestClient, str],
) -> None:
    client, key = node_client
    seeded = _seed(client, key)
    for _ in range(2):
        assert client.get(f"/v1/ledger/lots/{LOT}", headers={"X-Api-Key": key}).status_code == 200
    assert client.get(f"/v1/no-such-route/{LOT}").status_code == 404
    text, samples = _scrape(client, key)
    lots = [
        labels
        for (name, labels), value in samples.items()
        if name == "batpass_http_requests_total" and dict(labels)["route"].startswith("/v1/ledger/lots/{")
    ]
    assert len(lots) == 1 and dict(lots[0])["status"] == "2xx", lots
    assert samples[("batpass_http_requests_total", lots[0])] == 2.0
    assert samples[("batpass_http_request_duration_seconds_count", lots[0])] == 2.0
    assert ("batpass_http_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "4xx"))) in samples
    post = (("method", "POST"), ("route", "/v1/ledger/events"), ("status", "2xx"))
    assert samples[("batpass_http_requests_total", post)] == 1.0
    assert samples[("batpass_ledger_events_recorded_total", ())] == 1.0
    assert samples[("batpass_store_up", ())] == 1.0
    # no partner, lot, site, event or node id in any label or value
    for secret in (LOT, SITE, EVENT, seeded["did"], "n1", key):
        assert secret not in text, secret


def test_the_scrape_needs_the_admin_key(node_client: tuple[TestClient, str]) -> None:
    client, _key = node_client
    for headers in ({}, {"X-Api-Key": "wrong"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "batpass_" not in r.text


def test_the_outbox_gauges_follow_the_queue(node_client: tuple[TestClient, str]) -> None:
    client, key = node_client
    _, before = _scrape(client, key)
    assert before[("batpass_outbox_oldest_age_seconds", ())] == 0.0
    assert before[("batpass_passport_backup_lag_seconds", ())] == 0.0
    assert not any(name == "batpass_outbox_depth" for name, _ in before)
    engine = client.app.state.ctx.engine  # type: ignore[attr-defined]
    with UnitOfWork(engine) as uow:
        # a copy to a backup node that refuses connections: it waits, retried with back-off
        enqueue(
            uow,
            kind=BACKUP_KIND,
            destination="https://127.0.0.1:9/v1/passport-backups",
            body={},
            now=utc_now() - dt.timedelta(hours=1),
        )
        uow.commit()
    _, after = _scrape(client, key)
    assert after[("batpass_outbox_depth", (("kind", BACKUP_KIND),))] == 1.0
    assert after[("batpass_outbox_dead", (("kind", BACKUP_KIND),))] == 0.0
    assert after[("batpass_outbox_oldest_age_seconds", ())] >= 3600
    assert after[("batpass_passport_backup_lag_seconds", ())] >= 3600


def test_federated_questions_are_timed_through_the_nodes_metrics(node_client: tuple[TestClient, str]) -> None:
    client, key = node_client
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    assert ctx.services[FederatedTrace].metrics is ctx.services[NodeMetrics]
    _seed(client, key)
    r = client.get(f"/v1/trace/federated/{LOT}", headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    text, samples = _scrape(client, key)
    up = (("asker", "operator"), ("direction", "up"))
    assert samples[("batpass_federation_question_duration_seconds_count", up)] == 1.0
    assert LOT not in text


def test_each_app_has_its_own_registry() -> None:
    a, b = NodeMetrics(), NodeMetrics()  # the same names twice in one process: no collision
    a.http.observe("/x/{id}", "GET", 204, 0.01)
    a.question("down", "partner", 0.2)
    a.tombstone("down", "deadline")
    assert b'route="/x/{id}"' in a.scrape() and b'route="/x/{id}"' not in b.scrape()
    assert b'batpass_federation_tombstones_total{category="deadline",direction="down"} 1.0' in a.scrape()
    a.http.observe("/x", "BREW", 999, 0.01)  # unknown method and status fold into fixed values
    assert b'method="OTHER",route="/x",status="5xx"' in a.scrape()


def test_the_local_metrics_port_answers_without_a_key_on_loopback_only(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node, key = init_node(
        "n2", profiles=["catena-x"], settings=settings, legal_name="Node Two", bpnl="BPNL00000003AYRE"
    )
    node.close()
    local = settings.model_copy(update={"metrics_port": port})
    with TestClient(create_app(local, node_name="n2"), base_url=node.base_url) as client:
        assert client.get("/health").status_code == 200
        r = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200 and "batpass_store_up 1.0" in r.text
        assert 'route="/health"' in r.text and key not in r.text
    with pytest.raises(httpx.ConnectError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics")
