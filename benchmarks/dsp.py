"""dsp.catalog_p50_ms: one catalog page (100 offers) out of 10^4 stored, filtered in the database.

In-process: the provider service's catalog use case (SQL filter + evaluation + JSON-LD building +
schema validation of the emitted Catalog), on a fresh SQLite store.

dsp.federated_trace_ms: the recursive federated trace of one pack battery across six real nodes
over HTTPS (mines → refining → precursor → cathode → cells → pack), timed at the client of the
pack node's ``GET /v1/trace/federated/{battery}``. Cold: the first trace of a freshly started
federation (no agreement, transfer or DID document cached anywhere); warm: later traces of other
batteries (agreements and data-plane tokens reused; every tier pulls its suppliers' summaries again,
and a node re-signs its answer only when one of its inputs changed: the per-(lot, requester)
answer cache of ``batpass.federation.service``). Medians over ``FED_RUNS`` federations. The
downstream recall trace from a mine lot (not a docs/benchmarks.md figure) is timed on stderr only.
Progress on stderr, figures on stdout.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import insert

from batpass.dataspace import MIGRATIONS_DIR, Asset, DataspaceSettings, DspProvider, Participant
from batpass.dataspace import _sql as t
from batpass.dataspace._odrl import project_access
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

OFFERS = 10_000
FED_RUNS = 3
WARM_PER_RUN = 8
PAGE = 100
ME = "BPNL000000000CNS"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-dsp-"))
    engine = make_engine(f"sqlite:///{folder / 'dsp.db'}")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    provider = DspProvider(
        engine,
        settings=DataspaceSettings(did="did:web:bench", base_url="https://bench"),
        verifier=None,
        token_issuer=None,
    )  # type: ignore[arg-type]
    provider.register_asset(Asset(id="seed", source="json", source_key="k"))
    usage = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "and": [
                            {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
                            {
                                "leftOperand": "UsagePurpose",
                                "operator": "isAnyOf",
                                "rightOperand": ["cx.circular.dpp:1"],
                            },
                        ]
                    }
                ],
            }
        ]
    }
    print(f"storing {OFFERS} offers", file=sys.stderr)
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.assets),
            [
                {
                    "id": f"asset-{i:06d}",
                    "source": "json",
                    "source_key": str(i),
                    "title": None,
                    "properties": {},
                    "created_at": now,
                }
                for i in range(OFFERS)
            ],
        )
        offers, gates = [], []
        for i in range(OFFERS):
            # half visible to everyone with membership, a quarter to this BPN, a quarter to others
            bpns = [] if i % 2 == 0 else ([ME] if i % 4 == 1 else ["BPNL000000000OTH"])
            cons = [{"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}]
            if bpns:
                cons.append({"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": bpns})
            access = {"permission": [{"action": "access", "constraint": [{"and": cons}]}]}
            g = project_access(access)
            offers.append(
                {
                    "id": f"offer-{i:06d}",
                    "asset_id": f"asset-{i:06d}",
                    "access_policy": access,
                    "usage_policy": usage,
                    "created_at": now,
                    **t.gate_values(g),
                }
            )
            gates += [{"offer_id": f"offer-{i:06d}", "kind": k, "value": v} for k, v in g.rows()]
        conn.execute(insert(t.offers), offers)
        conn.execute(insert(t.offer_gates), gates)
    who = Participant("did:web:consumer", ME, frozenset({"MembershipCredential"}))
    samples = []
    cursor = None
    for i in range(60):
        start = time.perf_counter()
        catalog, cursor = provider.catalog(who, limit=PAGE, cursor=cursor if i % 5 else None)
        samples.append((time.perf_counter() - start) * 1000)
        assert len(catalog["dataset"]) == PAGE
    print(
        json.dumps(
            {
                "figure": "dsp.catalog_p50_ms",
                "value": round(statistics.median(samples[10:]), 3),
                "unit": "ms",
                "params": {
                    "offers_stored": OFFERS,
                    "page": PAGE,
                    "store": "sqlite",
                    "transport": "in-process (service call; HTTPS harness not used)",
                },
            }
        )
    )
    federated_trace()


def federated_trace() -> None:
    from batpass.demo._dataspace_setup import supply_chain_federation

    cold: list[float] = []
    warm: list[float] = []
    hops = mines = 0
    for run in range(FED_RUNS):
        print(f"federation {run + 1}/{FED_RUNS}: starting six nodes", file=sys.stderr)
        with supply_chain_federation(Path(tempfile.mkdtemp(prefix="bench-fed-")), prefix=f"b{run}") as chain:
            pack = chain.nodes["pack"]
            with chain.client() as c:
                for i, battery in enumerate(chain.scenario.battery_ids[: WARM_PER_RUN + 1]):
                    url = pack.base_url + "/v1/trace/federated/" + quote(battery, safe="")
                    start = time.perf_counter()
                    r = c.get(url, headers=pack.admin_headers())
                    ms = (time.perf_counter() - start) * 1000
                    r.raise_for_status()
                    out = r.json()
                    hops, mines = out["hops"], out["mines_reached"]
                    (cold if i == 0 else warm).append(ms)
                mine = chain.nodes["mining"]
                lot = next(e["outputs"][0]["lot"] for e in chain.scenario.events if e["kind"] == "extraction")
                for attempt in ("first", "again"):
                    start = time.perf_counter()
                    r = c.get(
                        mine.base_url + "/v1/trace/federated/" + quote(lot, safe=""),
                        params={"direction": "down"},
                        headers=mine.admin_headers(),
                    )
                    r.raise_for_status()
                    down = r.json()
                    print(
                        f"recall {attempt}: {(time.perf_counter() - start) * 1000:.1f} ms, hops {down['hops']}, "
                        f"batteries {down['batteries_total']}",
                        file=sys.stderr,
                    )
    for cache, samples in (("cold", cold), ("warm", warm)):
        print(
            json.dumps(
                {
                    "figure": "dsp.federated_trace_ms",
                    "value": round(statistics.median(samples), 1),
                    "unit": "ms",
                    "params": {
                        "nodes": 6,
                        "hops": hops,
                        "mines": mines,
                        "cache": cache,
                        "samples": len(samples),
                        "answers": "every tier pulls again; a node re-signs only when its inputs changed",
                        "store": "sqlite",
                        "transport": "HTTPS on loopback, one uvicorn process per node",
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
