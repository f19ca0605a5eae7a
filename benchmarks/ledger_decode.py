"""Ledger request decoding (docs/benchmarks.md): ``ledger.decode_us_per_event``.

CPU time (``time.process_time``) per event to turn a ``POST /v1/ledger/events`` body (the
scenario's events at 10⁴ lots as one JSON array, chunks of 1,000 events) into checked events with
their canonical bodies (the text stored and hashed), as the route does it: msgspec's strict
structs decode the bytes (``batpass.ledger._wire.decode_event_stream``) and encode the body.
Beside it, measured in the same rounds on the same bytes:

- ``floor_json_loads_us``: ``json.loads`` of the body alone (no checks, no body written);
- ``reference_strict_us``: the strict path a refused body takes (``json``, the strict parser
  with field paths, the hand-written body writer) — what every event would cost without a fast pass;
- ``dict_us``: ``parse_event`` + ``event_body`` on already parsed dicts (what the CLI and
  ``LedgerService.record`` with dicts cost per event: ``msgspec.convert`` and the same checks).

Medians of 5 interleaved rounds. Progress on stderr, JSON lines on stdout.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from batpass.http import loads_json
from batpass.ledger import _wire
from batpass.ledger.model import _parse_event_strict, event_body, parse_event
from batpass.scenario import generate

OWNER = "did:web:bench.batpass.example"
LOTS = 10_000
CHUNK = 1_000
ROUNDS = 5


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def emit(figure: str, value: float, unit: str, **params: Any) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 3), "unit": unit, "params": params}), flush=True)


def _cpu_us(fn: Callable[[], int]) -> float:
    t = time.process_time()
    n = fn()
    return (time.process_time() - t) * 1e6 / n


def main() -> int:
    events = generate(lots=LOTS, seed=42, owner=OWNER).events
    bodies = [json.dumps(events[i : i + CHUNK], separators=(",", ":")).encode() for i in range(0, len(events), CHUNK)]
    log(f"{len(events)} events in {len(bodies)} bodies of {CHUNK}")

    def route() -> int:
        n = 0
        for raw in bodies:
            decoded = _wire.decode_event_stream(raw)
            assert decoded is not None
            for ev in decoded:
                event_body(ev)
            n += len(decoded)
        return n

    def floor() -> int:
        return sum(len(json.loads(raw)) for raw in bodies)

    def strict() -> int:
        n = 0
        for raw in bodies:
            for i, d in enumerate(loads_json(raw)):
                event_body(_parse_event_strict(d, f"events[{i}]"))
                n += 1
        return n

    dicts = [loads_json(raw) for raw in bodies]

    def from_dicts() -> int:
        n = 0
        for part in dicts:
            for d in part:
                event_body(parse_event(d))
                n += 1
        return n

    route(), floor(), strict(), from_dicts()  # warm the caches (sites, owners)
    runs: dict[str, list[float]] = {"route": [], "floor": [], "strict": [], "dict": []}
    for r in range(ROUNDS):
        runs["route"].append(_cpu_us(route))
        runs["floor"].append(_cpu_us(floor))
        runs["strict"].append(_cpu_us(strict))
        runs["dict"].append(_cpu_us(from_dicts))
        log(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} µs" for k, v in runs.items()))
    med = {k: statistics.median(v) for k, v in runs.items()}
    emit(
        "ledger.decode_us_per_event",
        med["route"],
        "µs CPU/event",
        events=len(events),
        lots=LOTS,
        chunk=CHUNK,
        rounds=ROUNDS,
        floor_json_loads_us=round(med["floor"], 3),
        reference_strict_us=round(med["strict"], 3),
        dict_us=round(med["dict"], 3),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
