"""Run by tests/unit/test_compiled_paths.py in a child process (once with ``BATPASS_PURE=1``, once
without): records a whole scenario into a fresh ledger store, then a set of refused events, and
prints, as one JSON document, which path ran, every row of every ``ledger_*`` table and each
refusal's error class, field, rule and status.

Usage: python compiled_paths_probe.py STORE_URL [SCHEMA] (the store is migrated here)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import inspect, text

from batpass import _compiled
from batpass.core.clock import FixedClock
from batpass.core.errors import BatpassError
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.scenario import flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.trust import KeyPair, NodeIdentity

OWNER = "did:web:probe.batpass.example"
LOTS = 1500
CHUNK = 700  # several record calls, each several batches


def _refusals(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A lot mined for the purpose (recorded first), and events the ledger must refuse, each made
    from a recorded one: one per check, the strict decoder's included."""
    ext = next(e for e in events if e["kind"] == "extraction")
    proc = next(e for e in events if e["kind"] == "transformation" and e.get("inputs"))
    mined = copy.deepcopy(ext)
    mined["id"] = "probe-mined"
    mined["outputs"] = mined["outputs"][:1]
    mined["outputs"][0]["lot"] = "probe-ore"
    kg = mined["outputs"][0]["quantity"]["value"]
    bad: list[dict[str, Any]] = []

    def variant(base: dict[str, Any], n: int) -> dict[str, Any]:
        v = copy.deepcopy(base)
        v["id"] = f"probe-{n}"
        for k, o in enumerate(v.get("outputs") or ()):
            o["lot"] = f"probe-{n}-out-{k}"
        if v.get("inputs"):
            v["inputs"] = [
                {"lot": "probe-ore", "quantity": {"value": kg, "unit": mined["outputs"][0]["quantity"]["unit"]}}
            ]
        return v

    v = variant(proc, 1)  # overdraws the mined lot
    v["inputs"][0]["quantity"]["value"] *= 2
    bad.append(v)
    v = variant(proc, 2)  # an unknown input lot
    v["inputs"][0]["lot"] = "no-such-lot"
    bad.append(v)
    v = variant(ext, 3)  # an output lot that exists
    v["outputs"][0]["lot"] = "probe-ore"
    bad.append(v)
    v = variant(ext, 4)  # a bulk material in pieces
    v["outputs"][0]["quantity"]["unit"] = "piece"
    bad.append(v)
    v = variant(proc, 5)  # more of an element out than went in
    for o in v["outputs"]:
        o["quantity"]["value"] *= 1e4
    bad.append(v)
    v = variant(ext, 6)  # inputs on an extraction
    v["inputs"] = [{"lot": "probe-ore", "quantity": {"value": 1.0, "unit": "kg"}}]
    bad.append(v)
    v = copy.deepcopy(ext)  # a replay with other content
    v["site"] = {"id": "ELSEWHERE", "country": "FR"}
    bad.append(v)
    v = variant(ext, 8)  # an unknown material, and an unknown field (the strict path)
    v["outputs"][0]["material"] = "unobtainium"
    bad.append(v)
    v = variant(ext, 9)
    v["colour"] = "blue"
    bad.append(v)
    return [mined], bad


def main(url: str, schema: str | None) -> None:
    engine = make_engine(url, schema=schema)
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # the same signatures both runs
    svc = LedgerService(
        engine,
        NodeIdentity(OWNER, [KeyPair("key-ed25519-1", "Ed25519", key)]),
        high_risk_sites=flagged_sites(load_cahra(CAHRA_SAMPLE)),
        batch_size=100,
        clock=FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)),
    )
    sc = generate(lots=LOTS, seed=42, owner=OWNER)
    for a in sc.authorisations:
        svc.authorise_export(OWNER, a)
    events = json.loads(json.dumps(sc.events))
    results = []
    for start in range(0, len(events), CHUNK):
        r = svc.record(events[start : start + CHUNK])
        results.append([r.recorded, r.replayed, r.batches, list(r.alerts)])
    setup, refusals = _refusals(events)
    results.append([svc.record(setup).recorded])
    refused = []
    for e in refusals:
        try:
            svc.record([e])
        except BatpassError as exc:
            field = getattr(exc, "field", None) or exc.details.get("field")
            # the details as fields (numbers, lots, the event's index), never the message text
            details = {k: repr(v) for k, v in sorted(exc.details.items()) if k not in ("event_error", "field")}
            refused.append([type(exc).__name__, field, exc.rule, exc.status, details])
        else:
            refused.append(["accepted"])
    tables: dict[str, list[list[str]]] = {}
    with engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            if name.startswith("ledger_"):
                rows = conn.execute(text(f"SELECT * FROM {name}")).all()
                tables[name] = sorted([repr(v) for v in row] for row in rows)
    engine.dispose()
    json.dump(
        {"paths": _compiled.status(), "events": len(events), "results": results, "refused": refused, "tables": tables},
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
