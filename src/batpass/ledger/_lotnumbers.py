"""Lot numbers for the edges (``ledger_0012``): each lot's number within its owner, and the
numbers of other owners' lots an owner's receipts name (:data:`batpass.ledger._sql.foreign_lots`
for a lot the store does not hold). Given under the writer's locks: the owner's chain head, then
the owners' rows in number order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select, update

from batpass.ledger._sql import foreign_lots, ids_in, insert_values, lots, owners

__all__ = ["foreign_numbers", "lot_numbers", "parent_numbers"]


def lot_numbers(conn: Connection, owner_no: int, count: int) -> tuple[int, bool]:
    """Reserve ``count`` lot numbers for the owner numbered ``owner_no``: the first of them, and
    whether any lot of the owner has a foreign number (``ledger_foreign_lots``). The caller
    holds the owner's chain-head lock; the ``UPDATE`` of the owner's row also makes a PostgreSQL
    writer that started before another writer changed the row (a foreign number given by a
    customer's receipt: :func:`parent_numbers`) fail as a lost race and retry, rather than give
    a lot a number while that lot's foreign row is out of its sight."""
    top, low = conn.execute(
        update(owners)
        .where(owners.c.no == owner_no)
        .values(last_lot_no=owners.c.last_lot_no + count)
        .returning(owners.c.last_lot_no, owners.c.last_foreign_no)
    ).one()
    return int(top) - count + 1, bool(low)


def foreign_numbers(conn: Connection, owner_no: int, ids: Sequence[str]) -> dict[str, int]:
    """``{id: number}`` of the lots ``ids`` of the owner numbered ``owner_no`` in
    ``ledger_foreign_lots`` (a lot a customer's receipt named before this store held it)."""
    out: dict[str, int] = {}
    if not ids:
        return out
    for cond in ids_in(conn, foreign_lots.c.id, list(ids)):
        q = select(foreign_lots.c.id, foreign_lots.c.no).where(foreign_lots.c.owner_no == owner_no, cond)
        out.update((str(i), int(n)) for i, n in conn.execute(q).all())
    return out


def parent_numbers(conn: Connection, parents: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """``{(owner number, lot id): number}`` of lots of other owners that edges name as parents:
    the lot's ``lot_no`` where this store holds it, else its ``ledger_foreign_lots`` number,
    given now (negative, from the owner's ``last_foreign_no``) for a lot named the first time.

    A lot not found is looked for again once the owner's row is locked (``FOR UPDATE``): the
    owner's writer updates that row before it creates lots and holds it until it commits, so a
    lot it was creating meanwhile is seen then, and a foreign number is given only to a lot no
    writer holds. Read before the lock, the lot was missed and given a second number (found on
    PostgreSQL: a receipt and the shipment it names, recorded at once). The caller takes the
    owners' rows in number order (two writers naming each other's lots wait, never deadlock)."""
    by_owner: dict[int, set[str]] = {}
    for o, lot in parents:
        by_owner.setdefault(o, set()).add(lot)
    out: dict[tuple[int, str], int] = {}
    for o in sorted(by_owner):
        rest = sorted(by_owner[o])
        for locked in (False, True):
            if locked:
                conn.execute(select(owners.c.no).where(owners.c.no == o).with_for_update()).all()
            rest = [x for x in rest if (o, x) not in out]
            out.update(((o, lot), no) for lot, no in _held_numbers(conn, o, rest).items())
            rest = [x for x in rest if (o, x) not in out]
            out.update(((o, lot), no) for lot, no in foreign_numbers(conn, o, rest).items())
            rest = [x for x in rest if (o, x) not in out]
            if not rest:
                break
        if rest:
            low = conn.execute(
                update(owners)
                .where(owners.c.no == o)
                .values(last_foreign_no=owners.c.last_foreign_no - len(rest))
                .returning(owners.c.last_foreign_no)
            ).scalar_one()
            rows = [(o, int(low) + k, x) for k, x in enumerate(reversed(rest))]
            insert_values(conn, foreign_lots, rows)
            out.update(((o, x), no) for o, no, x in rows)
    return out


def _held_numbers(conn: Connection, owner_no: int, ids: Sequence[str]) -> dict[str, int]:
    """``{id: lot_no}`` of the lots ``ids`` this store holds of the owner numbered ``owner_no``."""
    out: dict[str, int] = {}
    if not ids:
        return out
    name = select(owners.c.owner).where(owners.c.no == owner_no).scalar_subquery()
    for cond in ids_in(conn, lots.c.id, list(ids)):
        q = select(lots.c.id, lots.c.lot_no).where(lots.c.owner == name, cond)
        out.update((str(i), int(n)) for i, n in conn.execute(q).all())
    return out
