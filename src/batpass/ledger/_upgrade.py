"""The upgrade of origin profiles stored before upstream summary 2.0.

Before 2.0 a profile kept one origin series per element (``c``), recycler countries counted in it
as origins; 2.0 keeps recycled input apart (``r``, ``_profile.py``). A profile written before has
no ``r`` in its elements, and reads as "no recycled input" until recomputed — the self-audit,
which recomputes every profile by replaying the event log, flags each such lot.

:func:`upgrade_profiles` rewrites, per owner, the old-form profiles and those of every lot made
from one (a lot recorded after the code changed but mixed from an old-form parent is wrong too),
each with the profile the replay of the signed event log derives — the self-audit's own
recomputation, so the audit is clean afterwards. Nothing else is written: a profile changed in
the store after 2.0 stays a finding of the self-audit (the upgrade launders no tampering). It is
idempotent (with nothing old left it only reads) and serialises with the owner's writers (the
chain head is locked while it replays). A node runs it before its start-up self-audit;
``batpass ledger upgrade-profiles --node N`` runs it on demand.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, LargeBinary, select, type_coerce

from batpass.ledger import _sql as t
from batpass.ledger._audit import _close, replay_engine
from batpass.ledger._zprofile import unpack_or_none
from batpass.store import UnitOfWork

if TYPE_CHECKING:
    from batpass.ledger.service import LedgerService

__all__ = ["is_old_form", "upgrade_profiles"]

log = logging.getLogger("batpass.ledger")


def is_old_form(profile: Any) -> bool:
    """A profile written before summary 2.0: an element without the recycled-input series."""
    elements = profile.get("e") if isinstance(profile, dict) else None
    return isinstance(elements, dict) and any(isinstance(ep, dict) and "r" not in ep for ep in elements.values())


def _old_lots(conn: Connection, owner: str) -> set[str]:
    """The lots of ``owner`` whose profile is of the old form. The stored profiles are read once
    each (bodies are compressed: no SQL pattern sees the text) and only those without an ``r``
    key anywhere are parsed (every 2.0 element has one); a body that does not decompress is left
    to the self-audit, which names it."""
    p = t.profiles
    q = select(p.c.no, type_coerce(p.c.body, LargeBinary)).where(p.c.owner == owner)
    old: list[int] = []
    for no, body in conn.execute(q).all():
        text = unpack_or_none(body)
        if text is not None and '"r":' not in text and is_old_form(json.loads(text)):
            old.append(no)
    out: set[str] = set()
    for part in t.chunks(old):
        q = select(t.lots.c.id).where(t.lots.c.owner == owner, t.lots.c.profile_no.in_(part))
        out.update(lot for (lot,) in conn.execute(q).all())
    return out


def _made_from(conn: Connection, owner: str, lots: set[str]) -> set[str]:
    """``lots`` and every lot of ``owner`` made from one of them, transitively."""
    out, frontier = set(lots), set(lots)
    e = t.edges
    while frontier:
        children: set[str] = set()
        for cond in t.ids_in(conn, t.lots.c.id, sorted(frontier)):
            no = t.owner_no_of(owner)
            nos = select(t.lots.c.lot_no).where(t.lots.c.owner == owner, cond)
            q = (
                select(t.edge_child)
                .select_from(t.EDGES_FROM)
                .where(e.c.owner_no == no, e.c.parent_owner_no == no, e.c.parent_no.in_(nos))
            )
            children.update(c for (c,) in conn.execute(q).all())
        frontier = children - out
        out |= frontier
    return out


def _owners(conn: Connection) -> list[str]:
    return [o for (o,) in conn.execute(select(t.lots.c.owner).distinct().order_by(t.lots.c.owner)).all()]


def upgrade_profiles(svc: LedgerService, owner: str | None = None) -> dict[str, int]:
    """Rewrite the old-form profiles of ``owner`` (default: every owner) and of the lots made
    from them with the replayed ones. Returns ``{owner: lots rewritten}`` for owners with any."""
    with UnitOfWork(svc.engine, write=False) as uow:
        owners = [owner] if owner is not None else _owners(uow.conn)
        pending = [o for o in owners if _old_lots(uow.conn, o)]
    done: dict[str, int] = {}
    for o in pending:
        with UnitOfWork(svc.engine) as uow:
            conn = uow.conn
            t.lock_head(conn, o)  # serialise with the owner's writers, then look again
            old = _old_lots(conn, o)
            if not old:
                continue
            targets = _made_from(conn, o, old)
            engine = replay_engine()
            try:
                _, replayed = svc._replay(conn, o, engine)
                if not replayed:  # the log does not replay: the self-audit says why
                    continue
                with engine.connect() as derived:
                    fresh = dict(
                        derived.execute(
                            select(t.lots.c.id, t.profiles.c.body).select_from(t.LOTS_FROM).where(t.lots.c.owner == o)
                        ).all()
                    )
            finally:
                engine.dispose()
            stored = dict(
                conn.execute(
                    select(t.lots.c.id, t.profiles.c.body).select_from(t.LOTS_FROM).where(t.lots.c.owner == o)
                ).all()
            )
            rows = {
                lot: fresh[lot]
                for lot in sorted(targets)
                if lot in fresh and lot in stored and not _close(stored[lot], fresh[lot])
            }
            t.set_lot_profiles(conn, o, rows)
            uow.commit()
            done[o] = len(rows)
            log.info("ledger: %d origin profiles of %s recomputed to summary 2.0", len(rows), o)
    return done
