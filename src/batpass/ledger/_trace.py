"""Local trace: upstream (a battery or lot → everything it came from, to the mines) and downstream
(a lot → every lot and battery it reached), as a frontier-batched breadth-first search — one
query per hop, the edges joined with the lots they reach, the same SQL on SQLite and PostgreSQL —
and a recursive-CTE version used as the test oracle.

The search stays inside the partitions in ``owners`` (by default the owner's own): an edge into
another owner's partition (a receipt naming the supplier's dispatched lot) is a boundary, answered
by the supplier's summary when one was received (identities never cross; docs/architecture.md "Confidentiality").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, literal, select

from batpass.core.summary import UpstreamSummary
from batpass.ledger import _sql as t
from batpass.ledger._profile import (
    Profile,
    element_view,
    is_profile_source,
    mix_profile,
    source_profile,
    summary_source_profile,
)
from batpass.ledger._rows import lot_from_row, profile_of
from batpass.ledger.model import EventKind, Lot

__all__ = ["TraceResult", "cte_reachable", "frontier_search", "profiles_from_graph"]

Key = tuple[str, str]  # (owner, lot id)


@dataclass
class TraceResult:
    """The traced graph: lots by key, edges (child, parent, event, kg), hops walked, boundary
    keys (edges into partitions outside the search) and the root."""

    root: Key
    direction: str
    lots: dict[Key, Lot] = field(default_factory=dict)
    edges: list[tuple[Key, Key, str, float]] = field(default_factory=list)
    hops: int = 0
    queries: int = 0
    boundary: list[tuple[Key, Key]] = field(default_factory=list)


def frontier_search(
    conn: Connection, root: Lot, *, direction: str = "up", owners: Iterable[str] | None = None, max_hops: int = 64
) -> TraceResult:
    allowed = frozenset(owners) if owners is not None else frozenset({root.owner})
    rk = (root.owner, str(root.id))
    res = TraceResult(rk, direction)
    res.lots[rk] = root
    frontier: list[Key] = [rk]
    seen_edges: set[tuple[Key, Key, str]] = set()
    e = t.edges
    cols = (e.c.owner, e.c.child, e.c.parent_owner, e.c.parent, e.c.event_id, e.c.input_kg)
    while frontier and res.hops < max_hops:
        found: list[Key] = []
        if direction == "up":
            # recovered material is a secondary raw material: its origin is its recovery, so the
            # upstream search (and the profile) stops there rather than walking into old batteries
            frontier = [
                k for k in frontier if not (res.lots[k].kind is EventKind.RECOVERY and is_profile_source(res.lots[k]))
            ]
        # one query per owner in the frontier (usually one): ``owner = ? AND id IN (...)`` lets
        # SQLite use the key's index, where a row-value IN list makes it scan the whole table
        by_owner: dict[str, list[str]] = {}
        for k in frontier:
            by_owner.setdefault(k[0], []).append(k[1])
        parts = [(o, part) for o, ids in by_owner.items() for part in t.chunks(ids)]
        for owner, part in parts:
            if direction == "up":
                q = (
                    select(*cols, *t.LOT_COLUMNS)
                    .select_from(
                        e.outerjoin(t.lots, and_(t.lots.c.owner == e.c.parent_owner, t.lots.c.id == e.c.parent))
                    )
                    .where(e.c.owner == owner, e.c.child.in_(part))
                )
            else:
                q = (
                    select(*cols, *t.LOT_COLUMNS)
                    .select_from(e.join(t.lots, and_(t.lots.c.owner == e.c.owner, t.lots.c.id == e.c.child)))
                    .where(e.c.parent_owner == owner, e.c.parent.in_(part), e.c.owner.in_(allowed))
                )
            res.queries += 1
            for r in conn.execute(q):
                child: Key = (r[0], r[1])
                parent: Key = (r[2], r[3])
                ek = (child, parent, r[4])
                if ek in seen_edges:
                    continue
                seen_edges.add(ek)
                nxt = parent if direction == "up" else child
                if direction == "up" and (parent[0] not in allowed or r[6] is None):
                    res.boundary.append((child, parent))
                    continue
                res.edges.append((child, parent, r[4], r[5]))
                if nxt not in res.lots:
                    res.lots[nxt] = lot_from_row(_LotRow(r, 6))
                    found.append(nxt)
        res.hops += 1 if found else 0
        frontier = found
    return res


class _LotRow:
    """A view of the lot columns of a joined row (they start at ``offset``)."""

    _names: tuple[str, ...] = tuple(c.name for c in t.LOT_COLUMNS)

    def __init__(self, row: Sequence[Any], offset: int) -> None:
        for i, n in enumerate(self._names):
            setattr(self, n, row[offset + i])


def cte_reachable(
    conn: Connection, root: Key, *, direction: str = "up", owners: Iterable[str] | None = None
) -> set[Key]:
    """Test oracle: every lot reachable from ``root`` by a recursive CTE (UNION: cycle-safe); the
    upstream walk stops at recovered (recycled-source) lots, as the frontier search does."""
    allowed = sorted(frozenset(owners) if owners is not None else {root[0]})
    e = t.edges
    base = select(cast(literal(root[0]), Text).label("o"), cast(literal(root[1]), Text).label("l"))
    cte = base.cte("reach", recursive=True)
    if direction == "up":
        child = t.lots.alias("c")
        step = (
            select(cast(e.c.parent_owner, Text), cast(e.c.parent, Text))
            .join(cte, and_(e.c.owner == cte.c.o, e.c.child == cte.c.l))
            .join(child, and_(child.c.owner == e.c.owner, child.c.id == e.c.child))
            .where(
                e.c.parent_owner.in_(allowed),
                ~and_(
                    child.c.kind == EventKind.RECOVERY.value, child.c.recycled.in_(["pre_consumer", "post_consumer"])
                ),
            )
        )
    else:
        step = (
            select(cast(e.c.owner, Text), cast(e.c.child, Text))
            .join(cte, and_(e.c.parent_owner == cte.c.o, e.c.parent == cte.c.l))
            .where(e.c.owner.in_(allowed))
        )
    cte = cte.union(step)
    rows = conn.execute(select(cte.c.o, cte.c.l)).all()
    out = {(r[0], r[1]) for r in rows}
    if direction == "up":
        # a parent edge may point at a lot that is not stored (a boundary); the search skips those
        present: set[Key] = set()
        for part in t.chunks(sorted(out)):
            present.update((r.owner, r.id) for r in t.select_lots_keyed(conn, part))
        out &= present
    return out


def profiles_from_graph(res: TraceResult, summaries: Mapping[str, UpstreamSummary] | None = None) -> dict[Key, Profile]:
    """Recompute every traced lot's profile from the graph alone (sources upwards), in the
    order lots were produced. Must equal the profiles precomputed at recording."""
    parents: dict[Key, list[tuple[Key, float]]] = {}
    for child, parent, _ev, kg in res.edges:
        parents.setdefault(child, []).append((parent, kg))
    boundary = {c: p for c, p in res.boundary}
    out: dict[Key, Profile] = {}
    for key in sorted(res.lots, key=lambda k: res.lots[k].seq):
        lot = res.lots[key]
        if is_profile_source(lot):
            out[key] = source_profile(lot)
        elif key in boundary or (lot.kind is EventKind.RECEIPT and key not in parents):
            p = boundary.get(key)
            skey = f"{p[0]}|{p[1]}" if p else f"?|{key[1]}"
            out[key] = summary_source_profile(lot, (summaries or {}).get(p[1]) if p else None, skey)
        elif key in parents:
            ps = [(res.lots[pk], kg) for pk, kg in parents[key]]
            out[key] = mix_profile(lot, ps, [out[pk] for pk, _ in parents[key]])
        else:
            out[key] = profile_of(lot)  # not expanded (hop limit): use its stored profile
    return out


def shares(profile: Profile, high_risk_sites: Iterable[str]) -> dict[str, Any]:
    hr = list(high_risk_sites)
    return {el: element_view(ep, hr) for el, ep in sorted(profile["e"].items())}
