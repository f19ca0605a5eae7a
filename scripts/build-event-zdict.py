"""Build a preset dictionary for the compressed event bodies (``ledger_events.body`` on PostgreSQL).

    .venv/bin/python scripts/build-event-zdict.py VERSION

records a generated scenario (``batpass.scenario.generate``, its own seed and scale, not the
benchmark's) in an in-memory ledger, takes the event bodies it stores and writes the dictionary
``src/batpass/ledger/_data/event-zdict-VERSION.bin``: the fragments between numbers and ids (key
names, structure, kinds, materials, units, site and country codes), most valuable last (zlib
finds the dictionary's end soonest). A written version is never rewritten: rows name the version
that compressed them, so a new dictionary is a new version (and a new entry in
``batpass.ledger._zprofile.EVENT_ZDICTS``). Nothing outside the repository is read.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.scenario import generate
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.trust import NodeIdentity, generate_keypair

OWNER = "did:web:zdict.example"
LOTS, SEED = 3000, 7
SIZE = 2048
# numbers, and the hexadecimal runs of ids (UUIDs): neither repeats from one event to the next
_VARIABLE = re.compile(r"[0-9a-f]{4,}(?:-[0-9a-f]{4,})*|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
OUT = Path(__file__).resolve().parent.parent / "src" / "batpass" / "ledger" / "_data"


def event_texts() -> list[str]:
    sc = generate(lots=LOTS, seed=SEED, owner=OWNER)
    engine = make_engine("sqlite://")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    svc = LedgerService(engine, NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-ed25519-1")]), batch_size=1000)
    for a in sc.authorisations:
        svc.authorise_export(OWNER, a)
    svc.record(sc.events)
    with engine.connect() as conn:
        return [b for (b,) in conn.execute(select(t.events.c.body).order_by(t.events.c.seq))]


def dictionary(texts: list[str], size: int = SIZE) -> bytes:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(run for run in _VARIABLE.split(text) if len(run) >= 3)
    ranked = sorted(counts.items(), key=lambda kv: (kv[1] * len(kv[0]), kv[0]), reverse=True)
    chosen: list[tuple[str, int]] = []
    total = 0
    for frag, n in ranked:
        if n < 2:
            break
        if total + len(frag) <= size:
            chosen.append((frag, n))
            total += len(frag)
    chosen.sort(key=lambda kv: (kv[1] * len(kv[0]), kv[0]))  # the most valuable at the end
    return "".join(f for f, _ in chosen).encode()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or not 1 <= int(argv[0]) <= 255:
        print(__doc__, file=sys.stderr)
        return 2
    target = OUT / f"event-zdict-{int(argv[0])}.bin"
    if target.exists():
        print(f"{target} exists: a written dictionary version is never rewritten", file=sys.stderr)
        return 1
    texts = event_texts()
    data = dictionary(texts)
    target.write_bytes(data)
    print(f"{target}: {len(data)} bytes from {len(texts)} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
