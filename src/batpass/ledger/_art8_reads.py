"""The Art. 8 groups of an owner's battery lots, read from the store only when their rows changed.

A node building its fleet's passports asks for one battery's group per passport. The groups are
a pure function of the owner's battery-lot rows with their profiles and of its claim rows; the
profiles are the bulk of those rows (a few kB of JSON each). Each question first reads a stamp:
the same lot rows with each profile named by its digest (the SHA-256 of its exact text, which
the profiles table keys) and the claim rows. While the stamp equals the one the kept groups were
computed from, they are the answer; otherwise the full rows are read and the groups computed,
kept with the stamp of the rows they were computed from (not the stamp read before them, which
a write in between may have made older). A received summary that changes a lot's profile, a new
or voided lot, a claim: each changes the stamp, so no stale figure is ever served, whichever
process sharing the store wrote the change. On SQLite both reads go to the driver as they are
(plain tuples, only a computed row's timestamps and flags get their types' processing, as
``_sql.select_lots`` does): SQLAlchemy's handling of each row was most of a question's cost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from batpass.ledger import _sql as t
from batpass.ledger._recycled import GroupsMemo, recycled_content_groups
from batpass.ledger._rows import lot_from_row
from batpass.store import UnitOfWork

__all__ = ["Art8Groups"]

#: the lot columns but the profile's text, then the profile's digest: the stamp of a lot row
_STAMP_COLUMNS = (*(c for c in t.LOT_COLUMNS if c.name != "profile"), t.profiles.c.digest.label("profile_digest"))
#: the stamp's columns, then the profile's text (a full row's stamp is all but its last value)
_FULL_COLUMNS = (*_STAMP_COLUMNS, t.profiles.c.body.label("profile"))


_LOT_NAMES = [f"l.{c.name}" if c.name != "profile" else "p.body" for c in t.LOT_COLUMNS]
_PROFILE_AT = [c.name for c in t.LOT_COLUMNS].index("profile")
_FROM_SQLITE = (
    " FROM ledger_lots l JOIN ledger_profiles p ON p.owner = l.owner AND p.no = l.profile_no"
    " WHERE l.owner = ? AND l.battery IS NOT NULL"
)
#: the stamp's columns (:data:`_STAMP_COLUMNS`), then the full rows: the lot columns, the digest
_STAMP_SQLITE = f"SELECT {', '.join(n for n in _LOT_NAMES if n != 'p.body')}, p.digest{_FROM_SQLITE}"
_FULL_SQLITE = f"SELECT {', '.join(_LOT_NAMES)}, p.digest{_FROM_SQLITE}"


def _sqlite_stamp(full: tuple[Any, ...]) -> tuple[Any, ...]:
    """The stamp of a full SQLite row: all but the profile's text."""
    return full[:_PROFILE_AT] + full[_PROFILE_AT + 1 :]


def _battery_lots(columns: tuple[Any, ...], owner: str) -> Any:
    return select(*columns).select_from(t.LOTS_FROM).where(t.lots.c.owner == owner, t.lots.c.battery.is_not(None))


class Art8Groups:
    """``groups(owner, model=..., year=..., plant=...)``: the Art. 8 groups of ``owner``'s
    battery lots (``_recycled.recycled_content_groups``), computed again only when a row changed."""

    def __init__(self, engine: Engine, claim_json: Any) -> None:
        self.engine = engine
        self._claim_json = claim_json
        self._memo = GroupsMemo()

    def groups(
        self, owner: str, *, model: str | None = None, year: int | None = None, plant: str | None = None
    ) -> list[dict[str, Any]]:
        key = (owner, model, year, plant)
        claims_q = select(t.claims).where(t.claims.c.claimant == owner)
        if self.engine.dialect.name == "sqlite":
            return self._sqlite_groups(key, claims_q)
        with UnitOfWork(self.engine, write=False) as uow:
            stamp = (
                [tuple(r) for r in uow.conn.execute(_battery_lots(_STAMP_COLUMNS, owner)).all()],
                [tuple(c) for c in uow.conn.execute(claims_q).all()],
            )
            kept = self._memo.cached(key, stamp)
            if kept is not None:
                return kept
            rows = uow.conn.execute(_battery_lots(_FULL_COLUMNS, owner)).all()
            claim_rows = uow.conn.execute(claims_q).all()
        out = recycled_content_groups(
            (lot_from_row(r) for r in rows), claim_rows, self._claim_json, model=model, year=year, plant=plant
        )
        self._memo.keep(key, ([tuple(r)[:-1] for r in rows], [tuple(c) for c in claim_rows]), out)
        return out

    def _sqlite_groups(self, key: tuple[Any, ...], claims_q: Any) -> list[dict[str, Any]]:
        owner, model, year, plant = key
        with UnitOfWork(self.engine, write=False) as uow:
            raw = uow.conn.connection.driver_connection
            assert raw is not None
            stamp = (
                [tuple(r) for r in raw.execute(_STAMP_SQLITE, (owner,)).fetchall()],
                [tuple(c) for c in uow.conn.execute(claims_q).all()],
            )
            kept = self._memo.cached(key, stamp)
            if kept is not None:
                return kept
            full = [tuple(r) for r in raw.execute(_FULL_SQLITE, (owner,)).fetchall()]
            claim_rows = uow.conn.execute(claims_q).all()
            procs = t.result_processors(uow.conn)
        rows = []
        for r in full:
            values = list(r[:-1])
            for i, proc in procs:
                values[i] = proc(values[i])
            rows.append(t.LotRow(*values))
        out = recycled_content_groups(
            (lot_from_row(r) for r in rows), claim_rows, self._claim_json, model=model, year=year, plant=plant
        )
        self._memo.keep(key, ([_sqlite_stamp(r) for r in full], [tuple(c) for c in claim_rows]), out)
        return out
