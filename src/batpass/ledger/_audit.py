"""The ledger's self-audit of derived state: every row the event log determines is recomputed by
replaying the log into an empty in-memory store, with the same code path as recording, and
compared with what is stored.

The hash chain and the batch signatures prove the event log itself (``LedgerService.verify``).
What is derived from it — lots with their remaining mass, status and upstream profiles, the
graph's edges, recycled-content credits, outflow alerts and the authorisations' used quantities —
could be changed in the database without touching the log; the replay finds every such change.
Received supplier summaries enter the replay only in their signed form (the JWS payload), so a
changed stored copy cannot move a profile either.

Knows SQL only through ``_sql``; no HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, and_, func, select, true, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from batpass.core.errors import IntegrityViolation, InvalidInput
from batpass.core.findings import Finding
from batpass.ledger import _sql as t
from batpass.ledger._materials import CATALOGUE, CATALOGUES
from batpass.ledger._zprofile import unpack_or_none
from batpass.ledger.model import parse_event
from batpass.store import make_engine, metadata

__all__ = [
    "DERIVED_TABLES",
    "compare_derived",
    "numbering_damage",
    "numbering_findings",
    "replay",
    "replay_engine",
    "seed_replay",
    "summary_payload",
]

#: the tables whose rows follow from the event log (and the received summaries, authorisations)
DERIVED_TABLES = (t.lots, t.profiles, t.owners, t.foreign_lots, t.edges, t.credits, t.alerts, t.authorisations)
#: relative tolerance of recomputed masses and shares (the same sums in another order)
_REL = 1e-9
_ABS = 1e-9
#: events replayed per record call (bounded memory on large ledgers)
_CHUNK = 10_000


def summary_payload(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, decoded without checking the signature (the caller checks
    it, or compares it with a copy)."""
    import base64

    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def replay_engine() -> Engine:
    """An empty in-memory store with the ledger's tables."""
    engine = make_engine("sqlite://")
    metadata.create_all(
        engine,
        tables=[
            t.events,
            t.catalogues,
            t.heads,
            t.batches,
            t.lots,
            t.profiles,
            t.owners,
            t.foreign_lots,
            t.edges,
            t.received_summaries,
            t.authorisations,
            t.alerts,
            t.credits,
            t.claims,
        ],
    )
    return engine


def seed_replay(
    source: Connection, target: Connection, owner: str, summaries: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Copy what the replay needs besides the events: the verified received summaries (their
    signed payloads). Returns the owner's events — (seq, body, the time their batch was signed:
    when they were recorded) in order — and its export authorisations with nothing used yet, by
    creation time (an authorisation counts for the shipments recorded after it)."""
    for lot, item in summaries.items():
        target.execute(
            t.received_summaries.insert().values(
                owner=owner,
                lot=lot,
                issuer=item["issuer"],
                jws=item["jws"],
                summary=json.dumps(item["summary"], sort_keys=True, separators=(",", ":")),
                received_at=item["received_at"],
            )
        )
    auths = [
        {**a, "used_kg": 0.0}
        for a in source.execute(
            select(t.authorisations).where(t.authorisations.c.owner == owner).order_by(t.authorisations.c.created_at)
        ).mappings()
    ]
    events = list(
        source.execute(
            select(
                t.events.c.seq,
                t.events.c.body,
                t.batches.c.signed_at,
                t.event_catalogue.label("catalogue"),
                t.events.c.catalogue_no,
            )
            .select_from(
                t.EVENTS_FROM.outerjoin(
                    t.batches, (t.batches.c.owner == owner) & (t.batches.c.batch_no == t.events.c.batch_no)
                )
            )
            .where(t.events_of(owner))
            .order_by(t.events.c.seq)
        ).all()
    )
    return events, auths


def replay(
    record: Callable[[Sequence[Any]], object],
    authorise: Callable[[Mapping[str, Any]], None],
    stamp: Callable[[Any], None],
    rows: Sequence[Any],
    authorisations: Sequence[Mapping[str, Any]],
) -> None:
    """Record the stored events again, in order and in the calls they were recorded in (one
    signing time per call, set with ``stamp`` as the replaying ledger's clock), with each export
    authorisation added before the first call recorded after it was created — so outflow alerts,
    credits and used quantities come out as they did, timestamps included."""
    pending = list(authorisations)
    start = 0
    while start < len(rows):
        at = rows[start].signed_at
        end = start + 1
        while end < len(rows) and rows[end].signed_at == at and end - start < _CHUNK:
            end += 1
        while pending and (at is None or pending[0]["created_at"] <= at):
            authorise(pending.pop(0))
        if at is not None:
            stamp(at)
        record([_parse(r) for r in rows[start:end]])
        start = end
    for a in pending:
        authorise(a)


def _parse(row: Any) -> Any:
    """A stored event, parsed again with the catalogue it was checked with (NULL: recorded before
    the catalogue was versioned, checked with this one); one this code does not ship refuses."""
    if row.catalogue is None and row.catalogue_no is not None:  # a number ``ledger_catalogues`` lacks
        raise InvalidInput(
            f"event {row.seq} was checked with material catalogue number {row.catalogue_no},"
            " which names no row of ledger_catalogues",
            field="ledger_events.catalogue",
            rule="ledger.catalogue.unknown",
        )
    if row.catalogue is not None and row.catalogue not in CATALOGUES:
        raise InvalidInput(
            f"event {row.seq} was checked with material catalogue {row.catalogue}, which this code does not ship",
            field="ledger_events.catalogue",
            rule="ledger.catalogue.unknown",
        )
    return parse_event(json.loads(row.body), catalogue=CATALOGUES[row.catalogue] if row.catalogue else CATALOGUE)


# --- comparison -------------------------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    """Equal, with floats compared within the recomputation tolerance, JSON text by content."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=_REL, abs_tol=_ABS)
    if isinstance(a, str) and isinstance(b, str) and a[:1] in "{[" and b[:1] in "{[":
        try:
            return _close(json.loads(a), json.loads(b))
        except ValueError:
            return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _rows(
    conn: Connection, table: Any, owner: str, key: Sequence[str], skip: Iterable[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    skipped = set(skip)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in conn.execute(select(table).where(table.c.owner == owner)).mappings():
        out[tuple(r[k] for k in key)] = {c: v for c, v in r.items() if c not in skipped}
    return out


def _diff(
    table: str,
    owner: str,
    stored: Mapping[tuple[Any, ...], Mapping[str, Any]],
    derived: Mapping[tuple[Any, ...], Mapping[str, Any]],
) -> list[Finding]:
    rule = f"ledger.derived.{table.removeprefix('ledger_')}"
    out: list[Finding] = []
    for key in sorted(stored.keys() | derived.keys(), key=repr):
        where = f"{owner}/{'/'.join(str(k) for k in key)}"
        if key not in derived:
            out.append(Finding(table, where, rule, "stored row has no event behind it"))
        elif key not in stored:
            out.append(Finding(table, where, rule, "a row the event log derives is missing"))
        else:
            bad = [c for c in derived[key] if not _close(stored[key].get(c), derived[key][c])]
            if bad:
                shown = ", ".join(
                    f"{c} stored {stored[key].get(c)!r:.60}, derived {derived[key][c]!r:.60}" for c in bad
                )
                out.append(Finding(table, where, rule, f"differs from the event log: {shown}"))
    return out


#: a profile's stored body as the bytes it is (the audit decodes it itself: one that does not
#: decompress is a finding, not a refusal of the whole audit)
_RAW_BODY = type_coerce(t.profiles.c.body, LargeBinary)


def _lot_rows(conn: Connection, owner: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The lots of ``owner`` with the text of their profile in place of its number (numbers
    depend on when a profile was first stored; the text is what the event log derives; a body
    that does not decompress reads as no text, so the lot differs from the log)."""
    cols = [c for c in t.lots.c if c.name not in ("profile_no", "lot_no")]
    q = select(*cols, _RAW_BODY.label("profile")).select_from(t.with_profiles(t.lots))
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in conn.execute(q.where(t.lots.c.owner == owner)).mappings():
        row = dict(r)
        row["profile"] = None if row["profile"] is None else unpack_or_none(row["profile"])
        out[(r["id"],)] = row
    return out


def _edge_rows(conn: Connection, owner: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The edges of ``owner`` with both owners as strings (``ledger_owners`` numbers are local to
    a store: a changed, deleted or re-pointed owner row moves the edges it names out of the
    comparison, and they are found missing)."""
    e = t.edges
    ev = t.events.alias("edge_events")
    q = (
        select(
            t.edge_owner,
            t.edge_child.label("child"),
            t.edge_parent_owner.label("parent_owner"),
            t.edge_parent.label("parent"),
            ev.c.id.label("event_id"),
            e.c.input_kg,
        )
        .select_from(t.EDGES_FROM.outerjoin(ev, and_(ev.c.owner_no == e.c.owner_no, ev.c.seq == e.c.event_seq)))
        .where(t.edge_owner == owner)
    )
    return {(r["child"], r["parent_owner"], r["parent"], r["event_id"]): dict(r) for r in conn.execute(q).mappings()}


def _profile_findings(conn: Connection, owner: str) -> list[Finding]:
    """A stored profile whose text is not the one its address (digest) names, or whose body
    does not decompress: lots compared by text find a changed profile they use; this finds one
    no lot uses yet, a changed digest, a body no dictionary of this code reads."""
    out: list[Finding] = []
    q = select(t.profiles.c.no, t.profiles.c.digest, _RAW_BODY).where(t.profiles.c.owner == owner)
    for no, digest, body in conn.execute(q.order_by(t.profiles.c.no)).all():
        text = unpack_or_none(body)
        if text is None:
            detail = "body does not decompress"
        elif t.profile_digest(text) != digest:
            detail = "text differs from its digest"
        else:
            continue
        out.append(Finding("ledger_profiles", f"{owner}/{no}", "ledger.derived.profiles", detail))
    return out


def compare_derived(stored: Connection, derived: Connection, owner: str) -> list[Finding]:
    """Findings for every derived row of ``owner`` that differs between the stored and the
    replayed store (timestamps of writing and random alert ids aside)."""
    out: list[Finding] = []
    out += _diff("ledger_lots", owner, _lot_rows(stored, owner), _lot_rows(derived, owner))
    out += _profile_findings(stored, owner)
    out += _diff("ledger_edges", owner, _edge_rows(stored, owner), _edge_rows(derived, owner))
    for table, key in ((t.credits, ("lot", "element")), (t.authorisations, ("id",)), (t.alerts, ("id",))):
        out += _diff(table.name, owner, _rows(stored, table, owner, key, ()), _rows(derived, table, owner, key, ()))
    return out


# --- numbering ----------------------------------------------------------------------------------


def numbering_findings(conn: Connection, owner: str | None = None) -> list[tuple[str, Finding]]:
    """``(owner, finding)`` for each number a later write would give twice or read as another
    lot's, of ``owner`` and of the owners its edges name as parents (``None``: of every owner).
    The replay cannot see these (numbers are local to the store) and no answer shows them until
    that write: a counter of ``ledger_owners`` behind a number already given (the next lot, or
    the next lot a receipt names, refused as a lost race on every retry; a foreign number above
    zero read as a held lot's), a foreign number not negative, a foreign row and a held lot of the
    owner with one number and two ids or one id and two numbers (a receipt naming one gets the
    other's number), a held lot with a negative number no foreign row gave. Rules
    ``ledger.numbers.counter`` and ``ledger.numbers.foreign``. A few statements whatever the
    number of owners, each reading the owners' rows and, through indexes, the numbers it checks."""
    o, lots, fl = t.owners, t.lots, t.foreign_lots
    chosen: ColumnElement[bool] = true()
    if owner is not None:
        own = t.owner_no_of(owner)
        parents = select(t.edges.c.parent_owner_no).where(t.edges.c.owner_no == own).distinct()
        chosen = o.c.no.in_(parents) | (o.c.no == own)
    out: list[tuple[str, Finding]] = []
    # each aggregate its own subquery: one step into an index each (max and min of one column
    # in one statement read every lot of the owner on SQLite)
    top = select(func.max(lots.c.lot_no)).where(lots.c.owner == o.c.owner).scalar_subquery()
    low = select(func.min(lots.c.lot_no)).where(lots.c.owner == o.c.owner).scalar_subquery()
    low_foreign = select(func.min(fl.c.no)).where(fl.c.owner_no == o.c.no).scalar_subquery()
    q = select(o.c.owner, o.c.last_lot_no, o.c.last_foreign_no, top, low, low_foreign).where(chosen)
    for name, last_lot, last_foreign, top_no, low_no, low_foreign_no in conn.execute(q.order_by(o.c.no)).all():
        lowest = min((n for n in (low_no, low_foreign_no) if n is not None and n < 0), default=0)
        if last_lot < 0 or (top_no is not None and top_no > last_lot):
            detail = f"last_lot_no {last_lot} is behind the lot numbers given (up to {max(top_no or 0, 0)})"
            out.append((name, Finding("ledger_owners", name, "ledger.numbers.counter", detail)))
        if last_foreign > 0 or lowest < last_foreign:
            detail = f"last_foreign_no {last_foreign} is behind the foreign numbers given (down to {lowest})"
            out.append((name, Finding("ledger_owners", name, "ledger.numbers.counter", detail)))

    def foreign(name: str, table: str, key: Any, detail: str) -> None:
        out.append((name, Finding(table, f"{name}/{key}", "ledger.numbers.foreign", detail)))

    rows = fl.join(o, o.c.no == fl.c.owner_no)
    for name, no, lot in conn.execute(
        select(o.c.owner, fl.c.no, fl.c.id).select_from(rows).where(chosen, fl.c.no >= 0)
    ).all():
        foreign(name, "ledger_foreign_lots", no, f"foreign number {no} of lot {lot} is not negative")
    # a foreign row and a held lot of its owner: the same number with another id, or the same id
    # with another number
    for on, differs in (
        (lots.c.lot_no == fl.c.no, lots.c.id != fl.c.id),
        (lots.c.id == fl.c.id, lots.c.lot_no != fl.c.no),
    ):
        pairs = select(o.c.owner, fl.c.no, fl.c.id, lots.c.lot_no, lots.c.id).select_from(
            rows.join(lots, and_(lots.c.owner == o.c.owner, on))
        )
        for name, no, lot, held_no, held in conn.execute(pairs.where(chosen, differs)).all():
            foreign(
                name, "ledger_foreign_lots", no, f"foreign lot {lot} ({no}) and held lot {held} ({held_no}) disagree"
            )
    given = select(fl.c.no).where(fl.c.owner_no == o.c.no, fl.c.no == lots.c.lot_no, fl.c.id == lots.c.id)
    negative = select(o.c.owner, lots.c.id, lots.c.lot_no).select_from(o.join(lots, lots.c.owner == o.c.owner))
    for name, lot, no in conn.execute(negative.where(chosen, lots.c.lot_no < 0, ~given.exists())).all():
        foreign(name, "ledger_lots", lot, f"lot number {no} is negative and no foreign row gave it")
    return out


def numbering_damage(engine: Engine, owners: Iterable[str]) -> IntegrityViolation | None:
    """Why a write for ``owners`` that collided on a unique key could never succeed, or None.

    A counter of ``ledger_owners`` lowered below the numbers given (or a foreign row out of
    step) makes every write that numbers a lot collide with a stored one: the driver reports it
    as a key a concurrent writer took first, but nobody else is writing and a retry meets the
    same rows. Read after the write rolled back, only then (the write path pays nothing): the
    first :func:`numbering_findings` of ``owners``, as the refusal stored data failing its check
    gets (503, table, key, rule). None where the numbering is sound: the collision was a real
    race, and stays the loser's 409."""
    with engine.connect() as conn:
        for owner in owners:
            for _, f in numbering_findings(conn, owner):
                return IntegrityViolation(
                    f"the ledger of {owner} cannot number its next lot: {f.detail} ({f.table} {f.key}); "
                    "nothing was written, and writes that number lots are refused until the store is repaired",
                    table=f.table,
                    key=f.key,
                    rule=f.rule,
                )
    return None
