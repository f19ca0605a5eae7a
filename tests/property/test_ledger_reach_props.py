"""Property test: a downstream search read in one statement (``ledger._reach``: a recursive CTE
and the edges out of what it reached) gives what the per-hop search gives — the same lots in the
same order, the same edges in the same order, the same hops, the same hop-cap flag — over
random graphs with cycles, edges between partitions, edges into lots the store does not hold,
several roots, several partitions searched, and caps that cut the walk, on both stores."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._lotnumbers import parent_numbers
from batpass.ledger._rows import lot_from_row
from batpass.ledger._trace import TraceResult, frontier_search
from batpass.trust import NodeIdentity, generate_keypair

_n = itertools.count()
HOST = "did:web:reach.example"


def _edges(seed: int, sizes: Sequence[int], n: int) -> list[tuple[int, int, int, int]]:
    """``n`` random edges (child owner, child lot, parent owner, parent lot) between the owners'
    lots, cycles and repeats included; one lot number in ten past the owner's lots (a lot the
    store does not hold). Most edges stay in one partition, as in a ledger, and most lead to the
    next lot (long walks, rings: the caps cut them)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        co = rnd.randrange(len(sizes))
        po = co if rnd.random() < 0.7 else rnd.randrange(len(sizes))
        pl = rnd.randrange(sizes[po]) if rnd.random() < 0.9 else sizes[po] + 1
        if rnd.random() < 0.6:  # the next lot: rings through the owners' lots, so walks are long
            cl = (pl + 1) % sizes[co]
        else:
            cl = rnd.randrange(sizes[co]) if rnd.random() < 0.9 else sizes[co] + 1
        out.append((co, cl, po, pl))
    return out


def _extraction(owner: str, n: int) -> dict[str, Any]:
    return {
        "id": f"{owner}-e{next(_n)}",
        "kind": "extraction",
        "owner": owner,
        "at": "2026-02-01T00:00:00Z",
        "site": {"id": "S1", "country": "CL"},
        "outputs": [
            {"lot": f"L{i}", "material": "lithium_brine_concentrate", "quantity": {"value": 10.0 + i, "unit": "kg"}}
            for i in range(n)
        ],
    }


def _graph(
    svc: LedgerService, eng: Engine, sizes: Sequence[int], edges: Sequence[tuple[int, int, int, int]]
) -> list[str]:
    """Owners holding ``sizes`` lots each (recorded), and ``edges`` written as rows (a recorded
    ledger has no cycles; the search must not depend on that). Edges name lots by number: a
    parent the store does not hold gets its ``ledger_foreign_lots`` number; an edge whose child
    the store does not hold is left out (an edge is written by the event that made its child, so
    a stored edge's child is always a stored lot)."""
    tag = next(_n)
    owners = [f"did:web:o{tag}-{k}.example" for k in range(len(sizes))]
    svc.record([_extraction(o, n) for o, n in zip(owners, sizes, strict=True)])
    seen: set[tuple[int, int, int, int]] = set()
    with eng.begin() as conn:
        nos = t.owner_numbers(conn, owners)
        held = {
            (nos[o], i): n
            for o in owners
            for i, n in conn.execute(select(t.lots.c.id, t.lots.c.lot_no).where(t.lots.c.owner == o)).all()
        }
        kept = [e for e in edges if (nos[owners[e[0]]], f"L{e[1]}") in held]
        parents = parent_numbers(conn, {(nos[owners[po]], f"L{pl}") for _co, _cl, po, pl in kept})
        rows = []
        for k, (co, cl, po, pl) in enumerate(kept):
            if (co, cl, po, pl) in seen:
                continue
            seen.add((co, cl, po, pl))
            rows.append(
                {
                    "owner_no": nos[owners[co]],
                    "child_no": held[(nos[owners[co]], f"L{cl}")],
                    "parent_owner_no": nos[owners[po]],
                    "parent_no": parents[(nos[owners[po]], f"L{pl}")],
                    "event_seq": k,
                    "input_kg": 1.0 + k,
                }
            )
        t.insert_rows(conn, t.edges, rows)
    return owners


def _same(a: TraceResult, b: TraceResult) -> None:
    assert list(a.lots.items()) == list(b.lots.items())
    assert a.edges == b.edges
    assert (a.hops, a.capped, a.boundary, a.root) == (b.hops, b.capped, b.boundary, b.root)


def test_one_statement_search_equals_the_per_hop_search(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    eng = make_store([MIGRATIONS_DIR])
    ident = NodeIdentity(HOST, [generate_keypair("Ed25519", "k1")])
    svc = LedgerService(eng, ident, identities=lambda o: NodeIdentity(o, ident.keys))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        sizes=st.lists(st.integers(2, 12), min_size=1, max_size=3),
        seed=st.integers(0, 2**32),
        n_edges=st.integers(0, 50),
        roots=st.lists(st.integers(0, 9), min_size=1, max_size=3),
        searched=st.sets(st.integers(0, 2), max_size=3),
        max_hops=st.sampled_from([1, 2, 3, 5, 64]),
        with_own=st.booleans(),
    )
    def run(
        sizes: list[int], seed: int, n_edges: int, roots: list[int], searched: set[int], max_hops: int, with_own: bool
    ) -> None:
        owners = _graph(svc, eng, sizes, _edges(seed, sizes, n_edges))
        first = owners[0]
        ids = sorted({f"L{r % sizes[0]}" for r in roots})
        # the roots' own partition searched or not (its lots are then only the roots)
        allowed = [*([first] if with_own else []), *(owners[k % len(owners)] for k in searched)] if searched else None
        with eng.connect() as conn:
            lots = [lot_from_row(r) for r in t.select_lots(conn, first, ids)]
            args: dict[str, Any] = {
                "direction": "down",
                "owners": allowed,
                "max_hops": max_hops,
                "more_roots": lots[1:],
            }
            hop = frontier_search(conn, lots[0], path="hop", **args)
            cte = frontier_search(conn, lots[0], path="cte", **args)
        _same(hop, cte)
        assert cte.queries == 1

    run()
