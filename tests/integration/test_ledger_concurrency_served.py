"""Conservation under concurrent writers, on a served node over HTTPS: one extraction of a 5 kg
lot, then 20 concurrent ``POST /v1/ledger/events`` each shipping 1 kg from it. Exactly five are
accepted; the other fifteen are refused with 422 naming the lot balance rule; the lot holds 0 kg
and ``GET /v1/ledger/verify`` stays ok — on SQLite, on PostgreSQL, and on PostgreSQL served by two
worker processes (``batpass serve --workers 2``: the writers land on both, docs/workers.md)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from store_testkit import PG_URL, drop_schema, scratch_schema

pytestmark = pytest.mark.integration

WRITERS = 20


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-2-workers"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunningNode, ssl.SSLContext]]:
    schema = scratch_schema() if request.param.startswith("postgresql") else None
    spec = NodeSpec(
        "miner",
        ("catena-x",),
        legal_name="Miner SA",
        bpnl="BPNL00000003AYRE",
        db_url=PG_URL if schema else None,
        db_schema=schema,
        workers=2 if request.param.endswith("2-workers") else 1,
    )
    try:
        with federation(tmp_path, [spec]) as runs:
            if spec.workers > 1:
                assert len(runs[0].worker_pids()) == spec.workers
            yield runs[0], ssl.create_default_context(cafile=str(federation_ca(tmp_path)))
    finally:
        if schema is not None:
            drop_schema(schema)


def _event(owner: str, kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"ev-{kind}-{n}",
        "kind": kind,
        "owner": owner,
        "at": f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}Z",
        "site": {"id": "MINE-1", "country": "AU"},
        **fields,
    }


def _ship(owner: str, n: int) -> dict[str, Any]:
    return _event(
        owner,
        "shipment",
        n + 1,
        inputs=[{"lot": "ORE-1", "quantity": {"value": 1, "unit": "kg"}}],
        outputs=[{"lot": f"SHIP-{n}", "material": "spodumene_concentrate", "quantity": {"value": 1, "unit": "kg"}}],
        shipment={"to_site": {"id": f"PORT-{n}", "country": "AU"}, "destination_country": "CN", "document": f"BL-{n}"},
    )


def test_concurrent_shipments_take_no_more_than_the_lot_holds(node: tuple[RunningNode, ssl.SSLContext]) -> None:
    run, ctx = node
    owner, url, headers = run.did, run.base_url + "/v1/ledger/events", run.admin_headers()
    extraction = _event(
        owner,
        "extraction",
        0,
        outputs=[{"lot": "ORE-1", "material": "spodumene_concentrate", "quantity": {"value": 5, "unit": "kg"}}],
    )

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=WRITERS)
        async with httpx.AsyncClient(verify=ctx, timeout=60, limits=limits) as client:
            first = await client.post(url, json=[extraction], headers=headers)
            assert first.status_code in (200, 201), first.text
            return list(
                await asyncio.gather(
                    *(client.post(url, json=[_ship(owner, n)], headers=headers) for n in range(WRITERS))
                )
            )

    answers = asyncio.run(go())
    accepted = [r for r in answers if r.status_code in (200, 201)]
    refused = [r for r in answers if r.status_code == 422]
    assert len(accepted) == 5 and len(refused) == WRITERS - 5, [(r.status_code, r.text[:200]) for r in answers]
    for r in refused:
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "ORE-1" in problem["detail"] and problem.get("rule")
    with httpx.Client(verify=ctx, timeout=30) as client:
        lot = client.get(f"{run.base_url}/v1/ledger/lots/ORE-1", headers=headers)
        assert lot.status_code == 200, lot.text
        assert lot.json()["remaining_kg"] == 0
        verify = client.get(f"{run.base_url}/v1/ledger/verify", headers=headers)
        assert verify.status_code == 200 and verify.json()["ok"] is True, verify.text


def test_concurrent_batches_are_chained_one_after_the_other(node: tuple[RunningNode, ssl.SSLContext]) -> None:
    """The owner's hash chain and batch signatures are a sequence: 20 batches posted at once
    (landing on every worker) are all recorded, each linked to the one before, whatever worker
    signed it."""
    run, ctx = node
    owner, url, headers = run.did, run.base_url + "/v1/ledger/events", run.admin_headers()

    def extraction(n: int) -> dict[str, Any]:
        lot = {"lot": f"ORE-{n}", "material": "spodumene_concentrate", "quantity": {"value": 5, "unit": "kg"}}
        return _event(owner, "extraction", n, outputs=[lot])

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=WRITERS)
        async with httpx.AsyncClient(verify=ctx, timeout=60, limits=limits) as client:
            return list(
                await asyncio.gather(*(client.post(url, json=[extraction(n)], headers=headers) for n in range(WRITERS)))
            )

    answers = asyncio.run(go())
    assert [r.status_code for r in answers if r.status_code not in (200, 201)] == [], [r.text[:200] for r in answers]
    with httpx.Client(verify=ctx, timeout=30) as client:
        verify = client.get(f"{run.base_url}/v1/ledger/verify", headers=headers)
    assert verify.status_code == 200, verify.text
    report = verify.json()
    assert report["ok"] is True and report["problems"] == [] and report["events"] == WRITERS, report
