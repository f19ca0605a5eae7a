"""Local trace: upstream (a battery or lot → everything it came from, to the mines) and downstream
(a lot → every lot and battery it reached), as a frontier-batched breadth-first search — one
query per hop, the edges joined with the lots they reach, the same SQL on SQLite and PostgreSQL —
and a recursive-CTE version used as the test oracle.

The search stays inside the partitions in ``owners`` (by default the owner's own): an edge into
another owner's partition (a receipt naming the supplier's dispatched lot) is a boundary, answered
by the supplier's summary when one was received (identities never cross; docs/architecture.md "Confidentiality").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, Text, and_, bindparam, cast, literal, select

from batpass.core.sitefacts import site_facts
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

__all__ = [
    "MAX_HOPS",
    "TraceResult",
    "cte_reachable",
    "downstream_profiles",
    "downstream_query",
    "frontier_search",
    "profiles_from_graph",
]

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
    #: the search stopped at its hop cap with lots not yet expanded: there may be more below
    #: (or above) them, so the graph may be truncated
    capped: bool = False


#: hops a trace walks at most (a real supply chain has far fewer tiers; a longer chain is cut
#: and the answer says so)
MAX_HOPS = 64


def frontier_search(
    conn: Connection,
    root: Lot,
    *,
    direction: str = "up",
    owners: Iterable[str] | None = None,
    max_hops: int = MAX_HOPS,
    more_roots: Sequence[Lot] = (),
    through: Callable[[Lot], bool] | None = None,
    path: str = "auto",
) -> TraceResult:
    """Breadth-first search from ``root`` (and ``more_roots``, searched together in the same
    queries), one query per hop and partition; a lot ``through`` refuses is left out, and the
    search does not go on from it. A downstream search without ``through`` reads its rows in
    one statement where that is faster (``path``: "auto", "hop" or "cte"; :mod:`._reach`) and
    walks them exactly as it walks the rows of its hops."""
    allowed = frozenset(owners) if owners is not None else frozenset({root.owner})
    rk = (root.owner, str(root.id))
    res = TraceResult(rk, direction)
    res.lots[rk] = root
    frontier: list[Key] = [rk]
    for extra in more_roots:
        key = (extra.owner, str(extra.id))
        if key not in res.lots:
            res.lots[key] = extra
            frontier.append(key)
    seen_edges: set[tuple[Key, Key, str]] = set()
    pre = None
    if direction == "down" and through is None:
        from batpass.ledger._reach import prefetch_downstream  # here: _reach imports this module

        pre = prefetch_downstream(conn, frontier, allowed, max_hops, path)
        res.queries = pre.queries if pre is not None else 0
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
            if pre is not None:
                rows: Any = pre.rows(owner, part)
            else:
                rows = (
                    _upstream_rows(conn, owner, part)
                    if direction == "up"
                    else _downstream_rows(conn, owner, part, allowed)
                )
                res.queries += 1
            for r in rows:
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
                if nxt not in res.lots:
                    lot = lot_from_row(_LotRow(r, 6))
                    if through is not None and not through(lot):
                        continue
                    res.lots[nxt] = lot
                    found.append(nxt)
                res.edges.append((child, parent, r[4], r[5]))
        res.hops += 1 if found else 0
        frontier = found
    res.capped = bool(frontier)
    return res


def downstream_profiles(
    conn: Connection,
    roots: Sequence[Lot],
    summaries_of: Callable[[Sequence[str]], Mapping[str, UpstreamSummary]],
) -> dict[Key, Profile]:
    """The profiles of ``roots`` and every lot made from them (in their partition), recomputed
    after something upstream of the roots changed (a supplier's summary arrived), in linear
    time: one downstream search from all roots together, one query per batch of those lots for
    their direct parents, then each lot in production order from its parents' profiles (a
    parent outside the changed set keeps its stored profile, which did not change). The search
    stops at recovered (recycled) lots: their origin is their recovery, whatever they were made
    from, so neither they nor what was made from them change."""
    if not roots:
        return {}
    owner = roots[0].owner
    down = frontier_search(
        conn,
        roots[0],
        direction="down",
        more_roots=roots[1:],
        max_hops=2**31 - 1,
        through=changes_with_parents,
    )
    graph = TraceResult(down.root, "up", lots=dict(down.lots))
    fixed: set[Key] = set()
    ids = sorted(k[1] for k in down.lots if k[0] == owner)
    for part in t.chunks(ids):
        for r in _upstream_rows(conn, owner, part):
            child: Key = (r[0], r[1])
            parent: Key = (r[2], r[3])
            if parent[0] != owner or r[6] is None:
                graph.boundary.append((child, parent))
                continue
            graph.edges.append((child, parent, r[4], r[5]))
            if parent not in graph.lots:
                graph.lots[parent] = lot_from_row(_LotRow(r, 6))
                fixed.add(parent)
    summaries = summaries_of([p[1] for _, p in graph.boundary]) if graph.boundary else {}
    profiles = profiles_from_graph(graph, summaries, fixed=fixed)
    return {k: v for k, v in profiles.items() if k not in fixed}


def changes_with_parents(lot: Lot) -> bool:
    """Whether ``lot``'s profile follows its parents' (recovered and mined lots are their own
    origin): what a change upstream has to be carried down through."""
    return not is_profile_source(lot)


def _edge_columns(child: Any = None, parent: Any = None) -> tuple[Any, ...]:
    """(child owner, child, parent owner, parent, event, kg) as strings: ``child`` and ``parent``
    are the aliases (or the table) of ``ledger_lots`` the statement joins them as: a parent
    joined as the table may be a lot the store does not hold (upstream, through
    :func:`batpass.ledger._sql.parent_lot_of`); one joined as an alias is held (downstream)."""
    c = child if child is not None else t.lots
    p = t.parent_id(t.lots) if parent is None or parent is t.lots else parent.c.id
    return (
        t.edge_owner,
        c.c.id.label("child"),
        t.edge_parent_owner.label("parent_owner"),
        p.label("parent"),
        c.c.event_id.label("event_id"),
        t.edges.c.input_kg,
    )


_CHILD = t.lots.alias("child_lot")
_PARENT = t.lots.alias("parent_lot")

#: the statements of a hop, built once: constructing them per hop (joins, subqueries, IN lists)
#: cost about as much as running them — a recall walks 64 hops, and building its statement at
#: every hop was half of its time on SQLite (212 → 76 ms at 10⁴ lots with the statement built once)
_UPSTREAM = (
    select(*_edge_columns(_CHILD, t.lots), *t.LOT_COLUMNS)
    .select_from(t.with_profiles(t.parent_lot_of(t.child_lot_of(t.EDGE_OWNERS_FROM, _CHILD), t.lots)))
    .where(
        t.edges.c.owner_no == t.owner_no_of(bindparam("owner")),
        # the children's numbers first: given the ids beside ``owner_no = ?``, SQLite without
        # statistics read the partition's edges through the primary key's prefix (63 ms a
        # ``receive_summary`` at 10⁴ lots, against 1 ms)
        t.NumberIn(t.edges.c.child_no, t.lot_nos_of(bindparam("owner"), bindparam("lots", expanding=True))),
    )
)

#: a downstream hop: the edges out of the frontier's lots (their numbers first,
#: :class:`batpass.ledger._sql.NumberIn`, then the parent index), each joined with its child lot
#: (by the child's owner and number) and its parent (for its id).
#: Rows in the order of (parent, child owner, child, event) as strings, as before the edges were
#: numbers: the order of the lists a recall answers
_DOWNSTREAM = (
    select(*_edge_columns(t.lots, _PARENT), *t.LOT_COLUMNS)
    .select_from(
        t.with_profiles(
            t.EDGE_OWNERS_FROM_BY_PARENT.join(
                _PARENT, and_(_PARENT.c.owner == t.edge_parent_owner, _PARENT.c.lot_no == t.edges.c.parent_no)
            ).join(t.lots, and_(t.lots.c.owner == t.edge_owner, t.lots.c.lot_no == t.edges.c.child_no))
        )
    )
    .where(
        t.edges.c.parent_owner_no == t.owner_no_of(bindparam("owner")),
        t.NumberIn(t.edges.c.parent_no, t.lot_nos_of(bindparam("owner"), bindparam("lots", expanding=True))),
        t.partition_term(t.edges.c.owner_no).in_(
            select(t.owners.c.no).where(t.owners.c.owner.in_(bindparam("allowed", expanding=True)))
        ),
    )
    .order_by(_PARENT.c.id, t.edge_owner, t.lots.c.id, t.lots.c.event_id)
)


def _upstream_rows(conn: Connection, owner: str, children: Sequence[str]) -> Any:
    return conn.execute(_UPSTREAM, {"owner": owner, "lots": list(children)})


def _downstream_rows(conn: Connection, owner: str, parents: Sequence[str], allowed: Iterable[str]) -> Any:
    return conn.execute(_DOWNSTREAM, {"owner": owner, "lots": list(parents), "allowed": sorted(set(allowed))})


def upstream_query(owner: str, children: Sequence[str]) -> Select[Any]:
    """The edges into ``children`` (lots of ``owner``), each joined with the parent lot it comes
    from (none when the parent is in a partition this store does not hold: a boundary)."""
    return _UPSTREAM.params(owner=owner, lots=list(children))


def downstream_query(owner: str, parents: Sequence[str], allowed: Iterable[str]) -> Select[Any]:
    """The edges out of ``parents`` (lots of ``owner``) into the partitions in ``allowed``, each
    joined with the child lot it reaches. The partition test is written ``owner_no + 0`` so that
    no planner can answer it through an index led by the owner (the primary key): without
    statistics SQLite did, and read every edge of the partition per hop (310 ms at 10⁶ lots);
    the parent index (parent_owner_no, parent) is the one that stays flat
    (:func:`batpass.ledger._sql.partition_term`). Rows come in the order of that index (parent,
    then child), written out so that a recall's lists do not follow where PostgreSQL happens to
    keep the rows (a migrated table holds them in another physical order)."""
    return _DOWNSTREAM.params(owner=owner, lots=list(parents), allowed=sorted(set(allowed)))


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
    base = select(cast(literal(root[0]), Text).label("o"), cast(literal(root[1]), Text).label("l"))
    cte = base.cte("reach", recursive=True)
    if direction == "up":
        child = t.lots.alias("c")
        step = (
            select(cast(t.edge_parent_owner, Text), cast(t.edge_parent, Text))
            .select_from(t.EDGES_FROM)
            .join(cte, and_(cte.c.o == t.edge_owner, t.edge_child == cte.c.l))
            .join(child, and_(child.c.owner == t.edge_owner, child.c.lot_no == t.edges.c.child_no))
            .where(
                t.edge_parent_owner.in_(allowed),
                ~and_(
                    child.c.kind == EventKind.RECOVERY.value, child.c.recycled.in_(["pre_consumer", "post_consumer"])
                ),
            )
        )
    else:
        step = (
            select(cast(t.edge_owner, Text), cast(t.edge_child, Text))
            .select_from(t.EDGES_FROM)
            .join(cte, and_(cte.c.o == t.edge_parent_owner, t.edge_parent == cte.c.l))
            .where(t.edge_owner.in_(allowed))
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


def profiles_from_graph(
    res: TraceResult, summaries: Mapping[str, UpstreamSummary] | None = None, *, fixed: Iterable[Key] = ()
) -> dict[Key, Profile]:
    """Recompute every traced lot's profile from the graph alone (sources upwards), each lot after
    its parents. Must equal the profiles precomputed at recording. Lots in ``fixed`` keep their
    stored profile. Sequence numbers order one owner's chain only: across owners (a store holding
    a supplier's partition too) a receipt can have a smaller number than the shipment it came
    from, so a lot whose parents are not computed yet waits for them."""
    keep = frozenset(fixed)
    parents: dict[Key, list[tuple[Key, float]]] = {}
    for child, parent, _ev, kg in res.edges:
        parents.setdefault(child, []).append((parent, kg))
    boundary = {c: p for c, p in res.boundary}
    out: dict[Key, Profile] = {}

    def mixes(key: Key) -> bool:
        lot = res.lots[key]
        if key in keep or is_profile_source(lot) or key in boundary:
            return False
        return key in parents

    def one(key: Key) -> Profile:
        lot = res.lots[key]
        if key in keep:
            return profile_of(lot)
        if is_profile_source(lot):
            return source_profile(lot)
        if key in boundary or (lot.kind is EventKind.RECEIPT and key not in parents):
            p = boundary.get(key)
            skey = f"{p[0]}|{p[1]}" if p else f"?|{key[1]}"
            return summary_source_profile(lot, (summaries or {}).get(p[1]) if p else None, skey)
        if key in parents:
            # a parent still open here means a cycle in the stored graph: its stored profile is
            # used, so the recomputation differs from the stored one and the audit says so
            ps = [(res.lots[pk], kg) for pk, kg in parents[key]]
            return mix_profile(lot, ps, [out.get(pk) or profile_of(res.lots[pk]) for pk, _ in parents[key]])
        return profile_of(lot)  # not expanded (hop limit): use its stored profile

    expanded: set[Key] = set()  # lots whose parents were put on the stack above them
    for start in sorted(res.lots, key=lambda k: res.lots[k].seq):
        stack = [start]
        while stack:
            key = stack[-1]
            if key in out:
                stack.pop()
            elif key not in expanded and mixes(key):
                expanded.add(key)
                stack.extend(pk for pk, _ in parents[key] if pk not in out and pk not in expanded)
            else:
                out[key] = one(key)
                stack.pop()
    return out


def shares(profile: Profile, high_risk_sites: Iterable[str]) -> dict[str, Any]:
    hr = site_facts(high_risk_sites)
    return {el: element_view(ep, hr) for el, ep in sorted(profile["e"].items())}
