"""Build a preset dictionary for the ledger's compressed texts: the origin profiles
(``ledger_profiles.body``) or the event bodies (``ledger_events.body`` on PostgreSQL).

    .venv/bin/python scripts/build-zdict.py profile|event VERSION

records a generated scenario (``batpass.scenario.generate``, its own seed and scale, not the
benchmark's) in an in-memory ledger, takes the texts it stores of that kind (the distinct
profile texts, or every event body) and writes ``src/batpass/ledger/_data/KIND-zdict-VERSION.bin``:
the fragments between the variable parts (numbers; for events also the hexadecimal runs of ids),
for profiles also the frequent numbers, most valuable last (zlib finds the dictionary's end
soonest). A written version is never rewritten: rows name the version that compressed them, so a
new dictionary is a new version (and a new entry in ``batpass.ledger._zprofile.ZDICTS`` or
``EVENT_ZDICTS``). Nothing outside the repository is read.
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
SIZE = 2048  # larger profile dictionaries measured no smaller (2 KiB: 18.7 % of the text at level 6)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# numbers, and the hexadecimal runs of ids (UUIDs): neither repeats from one event to the next
_EVENT_VARIABLE = re.compile(r"[0-9a-f]{4,}(?:-[0-9a-f]{4,})*|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
OUT = Path(__file__).resolve().parent.parent / "src" / "batpass" / "ledger" / "_data"
#: per kind: the stored column, its order, what splits a text into fragments, whether the
#: frequent numbers are kept too
KINDS = {
    "profile": (t.profiles.c.body, t.profiles.c.no, _NUMBER, True),
    "event": (t.events.c.body, t.events.c.seq, _EVENT_VARIABLE, False),
}


def stored_texts(kind: str) -> list[str]:
    column, order, _split, _numbers = KINDS[kind]
    sc = generate(lots=LOTS, seed=SEED, owner=OWNER)
    engine = make_engine("sqlite://")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    svc = LedgerService(engine, NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-ed25519-1")]), batch_size=1000)
    for a in sc.authorisations:
        svc.authorise_export(OWNER, a)
    svc.record(sc.events)
    with engine.connect() as conn:
        return [b for (b,) in conn.execute(select(column).order_by(order))]


def dictionary(texts: list[str], split: re.Pattern[str], numbers: bool, size: int = SIZE) -> bytes:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(run for run in split.split(text) if len(run) >= 3)
        if numbers:
            counts.update(_NUMBER.findall(text))
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
    if len(argv) != 2 or argv[0] not in KINDS or not argv[1].isdigit() or not 1 <= int(argv[1]) <= 255:
        print(__doc__, file=sys.stderr)
        return 2
    kind = argv[0]
    target = OUT / f"{kind}-zdict-{int(argv[1])}.bin"
    if target.exists():
        print(f"{target} exists: a written dictionary version is never rewritten", file=sys.stderr)
        return 1
    texts = stored_texts(kind)
    _column, _order, split, numbers = KINDS[kind]
    data = dictionary(texts, split, numbers)
    target.write_bytes(data)
    print(f"{target}: {len(data)} bytes from {len(texts)} {kind} texts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
