"""Ledger figures (BENCHMARKS.md):

- ``ledger.trace_upstream_p50_ms``: median wall time of ``LedgerService.trace`` (frontier-batched
  upstream search, one query per hop, plus the origin shares) from a battery to its mine sites,
  over a sample of the scenario's batteries, on a store holding ``lots`` lots; ``graph_lots`` is
  the median size of the traced upstream graph. 10⁴ lots always, on SQLite and PostgreSQL
  (127.0.0.1:5432, database ``test``, a schema of its own, dropped afterwards; skipped with a
  note on stderr if unreachable); 10⁵ and 10⁶ only with ``--full`` or ``BATPASS_BENCH_FULL=1``.
- ``ledger.ingest_events_per_s``: events recorded per second on SQLite (checked, hash-chained,
  signed per batch of 1,000 events by a Merkle root), median over the record calls of the
  largest SQLite run (chunks of 10,000 events, one transaction each).
- ``ledger.peak_rss_mb``: peak resident set size of this process (``getrusage``) after the
  SQLite runs up to the largest scale (scenario generation, ingest and traces), printed before
  the PostgreSQL runs start.

The scenario is ``batpass.scenario.generate(owner=...)`` (one partition: a single node's view).
Only JSON lines on stdout; progress on stderr.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

PG_URL = os.environ.get("BATPASS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
OWNER = "did:web:bench.batpass.example"
CHUNK = 10_000
TRACES = 101


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def emit(figure: str, value: float, unit: str, **params: Any) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 3), "unit": unit, "params": params}), flush=True)


def _pg_reachable() -> str | None:
    from batpass.store import make_engine

    try:
        eng = make_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def run(store: str, lots: int, folder: Path) -> dict[str, Any]:
    from batpass.ledger import MIGRATIONS_DIR, LedgerService
    from batpass.scenario import HIGH_RISK_SITES, generate
    from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
    from batpass.store import make_engine, upgrade
    from batpass.trust import NodeIdentity, generate_keypair

    schema = None
    if store == "sqlite":
        engine = make_engine(f"sqlite:///{folder / f'ledger-{lots}.db'}")
    else:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        engine = make_engine(PG_URL, schema=schema)
    try:
        upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
        t0 = time.perf_counter()
        sc = generate(lots=lots, seed=42, owner=OWNER)
        log(f"[{store} {lots}] generated {len(sc.events)} events, {sc.lots} lots in {time.perf_counter() - t0:.1f} s")
        svc = LedgerService(
            engine,
            NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-ed25519-1")]),
            high_risk_sites=HIGH_RISK_SITES,
            batch_size=1000,
        )
        for a in sc.authorisations:
            svc.authorise_export(OWNER, a)
        rates: list[float] = []
        t_all = time.perf_counter()
        for start in range(0, len(sc.events), CHUNK):
            part = sc.events[start : start + CHUNK]
            t = time.perf_counter()
            svc.record(part)
            rates.append(len(part) / (time.perf_counter() - t))
            log(f"[{store} {lots}] recorded {min(start + CHUNK, len(sc.events))}/{len(sc.events)}")
        total_s = time.perf_counter() - t_all
        log(f"[{store} {lots}] ingest {len(sc.events) / total_s:,.0f} events/s overall")
        rnd = random.Random(1)
        sample = rnd.sample(sc.battery_ids, min(TRACES, len(sc.battery_ids)))
        svc.trace(OWNER, sample[0])  # warm caches and statement compilation
        times: list[float] = []
        sizes: list[int] = []
        for bid in sample:
            t = time.perf_counter()
            res = svc.trace(OWNER, bid)
            times.append((time.perf_counter() - t) * 1000)
            sizes.append(res["graph_lots"])
        log(f"[{store} {lots}] trace p50 {statistics.median(times):.2f} ms over {len(times)} batteries")
        return {
            "lots": sc.lots,
            "events": len(sc.events),
            "ingest_per_s": statistics.median(rates),
            "trace_p50_ms": statistics.median(times),
            "graph_lots": int(statistics.median(sizes)),
            "traces": len(times),
        }
    finally:
        engine.dispose()
        if schema is not None:
            admin = make_engine(PG_URL)
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.commit()
            admin.dispose()


def main(argv: list[str]) -> int:
    full = "--full" in argv or os.environ.get("BATPASS_BENCH_FULL") == "1"
    scales = [10_000, 100_000, 1_000_000] if full else [10_000]
    pg_problem = _pg_reachable()
    if pg_problem is not None:
        log(f"PostgreSQL at {PG_URL} unreachable, skipping its figures: {pg_problem}")
    stores = ["sqlite"] + ([] if pg_problem else ["postgresql"])
    with tempfile.TemporaryDirectory(prefix="batpass-bench-ledger-") as tmp:
        for store in stores:
            last: dict[str, Any] = {}
            for lots in scales:
                last = run(store, lots, Path(tmp))
                emit(
                    "ledger.trace_upstream_p50_ms",
                    last["trace_p50_ms"],
                    "ms",
                    lots=lots,
                    lots_generated=last["lots"],
                    store=store,
                    graph_lots=last["graph_lots"],
                    traces=last["traces"],
                )
            if store == "sqlite":
                # figures of the largest SQLite run, printed before PostgreSQL runs
                emit(
                    "ledger.ingest_events_per_s",
                    last["ingest_per_s"],
                    "events/s",
                    store="sqlite",
                    lots=scales[-1],
                    events=last["events"],
                    batch_size=1000,
                    chunk=CHUNK,
                )
                peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
                emit("ledger.peak_rss_mb", peak_kb / 1024, "MB", lots=scales[-1], store="sqlite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
