"""Build a preset dictionary for the compressed origin profiles (``ledger_profiles.body``).

    .venv/bin/python scripts/build-profile-zdict.py VERSION

records a generated scenario (``batpass.scenario.generate``, its own seed and scale, not the
benchmark's) in an in-memory ledger, takes the distinct profile texts it stores and writes the
dictionary ``src/batpass/ledger/_data/profile-zdict-VERSION.bin``: the fragments between numbers
(key names, structure, site and country codes) and the frequent numbers, most valuable last
(zlib finds the dictionary's end soonest). A written version is never rewritten: rows name the
version that compressed them, so a new dictionary is a new version (and a new entry in
``batpass.ledger._zprofile.ZDICTS``). Nothing outside the repository is read.
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
SIZE = 2048  # larger dictionaries measured no smaller (2 KiB: 18.7 % of the text at level 6)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
OUT = Path(__file__).resolve().parent.parent / "src" / "batpass" / "ledger" / "_data"


def profile_texts() -> list[str]:
    sc = generate(lots=LOTS, seed=SEED, owner=OWNER)
    engine = make_engine("sqlite://")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    svc = LedgerService(engine, NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-ed25519-1")]), batch_size=1000)
    for a in sc.authorisations:
        svc.authorise_export(OWNER, a)
    svc.record(sc.events)
    with engine.connect() as conn:
        return [b for (b,) in conn.execute(select(t.profiles.c.body).order_by(t.profiles.c.no))]


def dictionary(texts: list[str], size: int = SIZE) -> bytes:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(run for run in _NUMBER.split(text) if len(run) >= 3)
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
    if len(argv) != 1 or not argv[0].isdigit() or not 1 <= int(argv[0]) <= 255:
        print(__doc__, file=sys.stderr)
        return 2
    target = OUT / f"profile-zdict-{int(argv[0])}.bin"
    if target.exists():
        print(f"{target} exists: a written dictionary version is never rewritten", file=sys.stderr)
        return 1
    texts = profile_texts()
    data = dictionary(texts)
    target.write_bytes(data)
    print(f"{target}: {len(data)} bytes from {len(texts)} distinct profiles", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
