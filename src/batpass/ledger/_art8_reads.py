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
process sharing the store wrote the change.
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
