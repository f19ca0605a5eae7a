"""A downstream search in one statement: the edges a frontier search would read, fetched at
once, then walked hop by hop in memory.

The per-hop search (:func:`batpass.ledger._trace.frontier_search`) runs one query per hop: a
recall walks 64 hops, so on PostgreSQL it is 64 round trips and plannings (401 ms at 10⁶ lots,
the bare-SQL walk alone 173 ms), and on SQLite 64 statements run from Python. Here one statement
does it: a recursive CTE finds the lots within ``max_hops - 1`` hops of the roots (the lots a
search of ``max_hops`` hops can expand: BFS levels, each lot with the depths at which a walk
reaches it, cycle-safe since a level is one more than the last and stops at the cap), and the
same statement returns every edge out of those lots, joined with the child lot and its profile
exactly as the per-hop query joins them, in the per-hop query's order. The search then replays
the per-hop walk over those rows (:class:`Prefetched`): the same frontiers, the same chunks of
400 lots, the same rows in the same order, so the graph, its order, ``hops`` and ``capped`` are
the per-hop search's own.

The CTE may reach more than the search enters (it does not join the lots, so an edge into a lot
this store does not hold is followed too): extra rows are never asked for. What it must not do is
reach less — every lot the walk expands is within ``max_hops - 1`` hops through edges into the
searched partitions, and the CTE follows all of those. It is used without ``through`` only (a
refused lot would stop the walk, which the CTE cannot know; with it the set reached unrestricted
can be far larger) and up to :data:`CTE_MAX_HOPS` hops (the CTE keeps one row per lot and depth:
a cycle of k lots gives ``max_hops / k`` rows per lot, bounded by the cap).

Columns come from :mod:`batpass.ledger._sql` (edges, owners, lots, profiles) through the helpers
the per-hop statements use, so a change of the storage reaches both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, func, literal, select, true

from batpass.ledger import _sql as t
from batpass.ledger._trace import _edge_columns

__all__ = ["AUTO_DIALECTS", "CTE_MAX_HOPS", "Prefetched", "prefetch_downstream", "reach_statement"]

Key = tuple[str, str]  # (owner, lot id)

#: the largest hop cap the one-statement search is used for (a recall's cap is 64)
CTE_MAX_HOPS = 64

#: where the one-statement search is used by default (``path="auto"``): PostgreSQL, where each
#: hop is a round trip and a planning, and SQLite, where it is faster too (recall p50 at 10⁴ and
#: 10⁵ lots 78 -> 40 and 78 -> 47 ms: docs/benchmarks.md "A recall in one statement")
AUTO_DIALECTS = frozenset({"postgresql", "sqlite"})


def _allowed_nos() -> Any:
    return select(t.owners.c.no).where(t.owners.c.owner.in_(bindparam("allowed", expanding=True)))


def reach_statement(lateral: bool) -> Any:
    """The statement: the lots within ``max_hops - 1`` hops (recursive CTE), then every edge out
    of them into the allowed partitions joined with its child lot, as the per-hop query reads
    them and in its order. Parameters: ``owner`` and ``roots`` (the roots' owner and ids),
    ``allowed`` (the partitions searched), ``last`` (``max_hops - 1``: the deepest level expanded).

    ``lateral`` (PostgreSQL): the edges of each reached lot are read in a ``LATERAL`` subquery,
    so the only plan is a loop over the reached lots, each through the parent index. Joined
    plainly, PostgreSQL hashed the whole edges table for the recursive step (a sequential scan
    per level) as soon as it had statistics, or before: its estimate of the CTE's rows is a
    guess. SQLite has no ``LATERAL``, and always loops, through the index."""
    e = t.edges
    seed = select(
        t.owner_no_of(bindparam("owner")).label("o"),
        t.lots.c.lot_no.label("n"),
        literal(0, Integer).label("d"),
    ).where(t.lots.c.owner == bindparam("owner"), t.lots.c.id.in_(bindparam("roots", expanding=True)))
    reach = seed.cte("ledger_reach", recursive=True)
    out_of = and_(e.c.parent_owner_no == reach.c.o, e.c.parent_no == reach.c.n)
    into = t.partition_term(e.c.owner_no).in_(_allowed_nos())
    if lateral:
        nxt = select(e.c.owner_no.label("o"), e.c.child_no.label("n")).where(out_of, into).lateral("ledger_step")
        step = select(nxt.c.o, nxt.c.n, reach.c.d + 1).select_from(reach.join(nxt, true()))
    else:
        step = select(e.c.owner_no, e.c.child_no, reach.c.d + 1).select_from(e.join(reach, out_of)).where(into)
    reach = reach.union(step.where(reach.c.d < bindparam("last")))
    parents = select(reach.c.o, reach.c.n).distinct().subquery("ledger_reached")
    edges_of = and_(t.edges.c.parent_owner_no == parents.c.o, t.edges.c.parent_no == parents.c.n)
    parent = t.lots.alias("reach_parent")
    from_ = t.EDGE_OWNERS_FROM_BY_PARENT.join(
        parent, and_(parent.c.owner == t.edge_parent_owner, parent.c.lot_no == t.edges.c.parent_no)
    ).join(t.lots, and_(t.lots.c.owner == t.edge_owner, t.lots.c.lot_no == t.edges.c.child_no))
    if lateral:
        # each reached parent's id looked up once, beside the hop (not once per edge inside it)
        po = t.owners.alias("reach_parent_owner")
        named = parents.join(po, po.c.no == parents.c.o).join(
            parent, and_(parent.c.owner == po.c.owner, parent.c.lot_no == parents.c.n)
        )
        child_from = t.EDGE_OWNERS_FROM_BY_PARENT.join(
            t.lots, and_(t.lots.c.owner == t.edge_owner, t.lots.c.lot_no == t.edges.c.child_no)
        )
        edge = _edge_columns(t.lots, parent)
        hop = (
            select(*edge[:3], *edge[4:], *t.LOT_COLUMNS)
            .select_from(t.with_profiles(child_from))
            .where(edges_of, into)
            .lateral("ledger_hop")
        )
        cols = list(hop.c)  # edge columns but the parent (child owner, child, parent owner, event, kg), lot columns
        return (
            select(*cols[:3], parent.c.id.label("parent"), *cols[3:])
            .select_from(named.join(hop, true()))
            .order_by(parents.c.o, parent.c.id, cols[0], cols[1], cols[3])
        )
    return (
        select(*_edge_columns(t.lots, parent), *t.LOT_COLUMNS)
        .select_from(t.with_profiles(from_.join(parents, edges_of)))
        .where(into)
        .order_by(parents.c.o, parent.c.id, t.edge_owner, t.lots.c.id, t.lots.c.event_id)
    )


#: the statement built once per form (bind parameters), by whether the store has ``LATERAL``
_REACH = {lateral: reach_statement(lateral) for lateral in (False, True)}


class Prefetched:
    """The rows of a downstream search fetched at once, answered per hop: :meth:`rows` gives,
    for a chunk of one owner's frontier lots, the rows the per-hop query would return for it
    (the rows of those parents, in the statement's order — the per-hop query's order, since
    within one parent owner both order by parent, child owner, child, event)."""

    def __init__(self, rows: Iterable[Sequence[Any]], queries: int) -> None:
        self.queries = queries
        self._by_parent: dict[Key, list[tuple[int, Sequence[Any]]]] = {}
        for i, r in enumerate(rows):
            self._by_parent.setdefault((r[2], r[3]), []).append((i, r))

    def rows(self, owner: str, parents: Sequence[str]) -> list[Sequence[Any]]:
        found = [x for p in parents for x in self._by_parent.get((owner, p), ())]
        found.sort(key=lambda x: x[0])
        return [r for _, r in found]


def prefetch_downstream(
    conn: Connection, roots: Sequence[Key], allowed: Iterable[str], max_hops: int, path: str = "auto"
) -> Prefetched | None:
    """The rows of a downstream search from ``roots`` (one owner's lots) into the partitions in
    ``allowed`` to ``max_hops`` hops, in one statement; None where the per-hop search is used:
    ``path="hop"``, or with ``"auto"`` a store not in :data:`AUTO_DIALECTS`, and whatever the
    path, roots of several owners or a cap over :data:`CTE_MAX_HOPS` or under 1."""
    if not _applies(conn, roots, max_hops, path):
        return None
    params = {
        "owner": roots[0][0],
        "roots": sorted({k[1] for k in roots}),
        "allowed": sorted(set(allowed)),
        "last": max_hops - 1,
    }
    if conn.dialect.name != "postgresql":
        return Prefetched(conn.execute(_REACH[False], params).all(), 1)
    # no JIT for this statement: the planner's guess of the CTE's rows puts its cost over
    # jit_above_cost at 10⁶ lots, and compiling took 65 ms of an 82 ms statement (19 ms without it)
    # (set back after; if the statement fails, the transaction is aborted and the setting with it)
    prev = conn.execute(_JIT_OFF).scalar_one()
    rows = conn.execute(_REACH[True], params).all()
    conn.execute(_JIT_BACK, {"prev": prev})
    return Prefetched(rows, 1)


#: turn JIT off for the rest of the transaction, giving its setting before (``SET LOCAL``)
_JIT_OFF = select(func.current_setting("jit").label("prev"), func.set_config("jit", "off", true()))
_JIT_BACK = select(func.set_config("jit", bindparam("prev"), true()))


def _applies(conn: Connection, roots: Sequence[Key], max_hops: int, path: str) -> bool:
    if path == "hop" or not roots or not 1 <= max_hops <= CTE_MAX_HOPS or len({k[0] for k in roots}) != 1:
        return False
    return path == "cte" or conn.dialect.name in AUTO_DIALECTS
