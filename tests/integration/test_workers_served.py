"""A node served by two worker processes on PostgreSQL (``batpass serve --workers 2``,
docs/workers.md): one worker runs the background jobs (the outbox dispatcher among them), elected
by an advisory lock; a message committed by another process reaches that dispatcher through
``LISTEN``/``NOTIFY`` and is delivered once; when the leading worker dies, another one takes the
jobs over and delivery goes on. Passport versions written through both workers at once stay one
signed sequence."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from batpass.core.ids import BatteryId
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.store import UnitOfWork, enqueue, make_engine
from store_testkit import PG_URL, drop_schema, scratch_schema

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "src/batpass/passport/_data/demo-ev-model.yaml"
ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2026-10-20",
    "manufacturing_facility": "BPNA000000000NC1",
}
UPDATES = 12
LEADS = re.compile(r"worker pid (\d+) now runs the background jobs")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RunningNode, str]]:
    schema = scratch_schema()
    spec = NodeSpec(
        "maker",
        ("catena-x",),
        legal_name="Maker AG",
        bpnl="BPNL00000003AYRE",
        db_url=PG_URL,
        db_schema=schema,
        workers=2,
        extra_env={"BATPASS_LOG_LEVEL": "info", "BATPASS_LOG_FORMAT": "text"},
    )
    try:
        with federation(tmp_path, [spec]) as runs:
            yield runs[0], schema
    finally:
        drop_schema(schema)


def _leaders(run: RunningNode) -> list[int]:
    assert run.log_path is not None
    return [int(m.group(1)) for m in LEADS.finditer(run.log_path.read_text(errors="replace"))]


def _until(cond: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.05)


def _send(schema: str, url: str, key: str) -> None:
    """Write a message as another process (a CLI command) would: in the node's schema, not
    through any worker."""
    engine = make_engine(PG_URL, schema=schema)
    try:
        with UnitOfWork(engine) as uow:
            enqueue(uow, kind="ping", destination=url, body={"key": key}, idempotency_key=key)
            uow.commit()
    finally:
        engine.dispose()


def test_one_worker_runs_the_jobs_and_another_takes_over_when_it_dies(
    served: tuple[RunningNode, str], receiver: Any
) -> None:
    run, schema = served
    workers = run.worker_pids()
    assert len(workers) == 2
    _until(lambda: len(_leaders(run)) >= 1)
    (leader,) = _leaders(run)  # one worker leads, the other stands by
    assert leader in workers

    _send(schema, receiver.url, "before")
    _until(lambda: receiver.deliveries["before"] >= 1)
    assert receiver.deliveries == {"before": 1}

    os.kill(leader, signal.SIGKILL)  # its session ends, and with it the advisory lock
    _until(lambda: len(_leaders(run)) >= 2)
    assert len(_leaders(run)) == 2, run.log_path.read_text(errors="replace")[-4000:] if run.log_path else ""
    first, second = _leaders(run)
    assert first == leader and second != leader

    _send(schema, receiver.url, "after")
    _until(lambda: receiver.deliveries["after"] >= 1)
    assert receiver.deliveries == {"before": 1, "after": 1}


def test_concurrent_updates_of_one_passport_sign_one_version_after_the_other(
    served: tuple[RunningNode, str],
) -> None:
    """Passport versions are a signed sequence: updates posted at once to both workers wait for
    one another (the served row is locked by its writer) and each gets a version of its own, while
    readers keep reading; every chain, served row and backup copy verifies afterwards."""
    run, _schema = served
    static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    battery = BatteryId(str(static["gtin"]), "WRK0001")
    link = battery.digital_link(run.node.resolver_base)
    admin = run.admin_headers()
    ctx = ssl.create_default_context(cafile=str(federation_ca(run.node.settings.home)))
    body = {"static": static, "battery": battery.path, "item": ITEM, "summary": _summary(link, run.did)}
    with httpx.Client(verify=ctx, timeout=60) as client:
        built = client.post(run.base_url + "/v1/passports", json=body, headers=admin)
        assert built.status_code == 201, built.text
    pid = built.json()["passportId"]

    async def go() -> tuple[list[httpx.Response], list[httpx.Response]]:
        url = f"{run.base_url}/v1/passports/{pid}"
        async with httpx.AsyncClient(verify=ctx, timeout=60, limits=httpx.Limits(max_connections=2 * UPDATES)) as c:
            writes = [c.post(url + "/dynamic", json=_soh(90.0 - n), headers=admin) for n in range(UPDATES)]
            reads = [c.get(url, headers=admin) for _ in range(UPDATES)]
            done = await asyncio.gather(*writes, *reads)
            return list(done[:UPDATES]), list(done[UPDATES:])

    answers, reads = asyncio.run(go())
    assert [r.status_code for r in answers] == [200] * UPDATES, [r.text[:300] for r in answers if r.status_code != 200]
    # no reader saw a break while the versions were committed
    assert [r.status_code for r in reads] == [200] * UPDATES, [r.text[:300] for r in reads if r.status_code != 200]
    accepted = sorted(r.json()["version"] for r in answers)
    assert accepted == list(range(2, UPDATES + 2))  # one number, one version, none skipped
    with httpx.Client(verify=ctx, timeout=60) as client:
        latest = client.get(f"{run.base_url}/v1/passports/{pid}", headers=admin)

        def copies_sent() -> bool:  # the node keeps its own backup copies: wait for the last one
            status = client.get(f"{run.base_url}/v1/passports/{pid}/backup-status", headers=admin).json()
            return len(status["copies"]) == 1 + len(accepted) and all(c["status"] == "sent" for c in status["copies"])

        _until(copies_sent)
        report = client.get(f"{run.base_url}/v1/admin/verify", headers=admin)
    assert latest.status_code == 200, latest.text
    assert report.status_code == 200 and report.json()["areas"]["passport"]["ok"] is True, report.text
    assert latest.json()["version"] == UPDATES + 1
    # the copies (sent side by side to this node, its own backup) were stored one after the other,
    # none refused for arriving beside another
    assert run.log_path is not None
    assert [line for line in run.log_path.read_text().splitlines() if "POST /v1/passports/backup 409" in line] == []


def _soh(percent: float) -> dict[str, Any]:
    return {"values": {"state_of_health": {"value": percent, "unit": "%"}}}


def _summary(battery_link: str, issuer: str) -> dict[str, Any]:
    """A minimal upstream summary (docs/contracts.md) for the passport build."""
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": battery_link, "material": "battery"},
        "issuer": issuer,
        "computedAt": "2026-11-01T10:00:00Z",
        "elements": {
            "Co": {
                "originByCountry": {"CD": 0.7, "AU": 0.3},
                "highRiskShare": 0.7,
                "recycled": {"preConsumer": 0.05, "postConsumer": 0.12},
                "custodyModels": {"mass_balance": 1.0},
            },
        },
        "minesReached": 3,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 0,
    }
