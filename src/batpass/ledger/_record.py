"""One owner's part of a ledger record call: the replay check, the view of stored lots, each
event applied in order (balances, new lots and their upstream profiles, edges, credits, outflow
alerts, the hash chain), the batches signed, and the rows written in bulk.

The owner's chain head is locked before anything is read, so concurrent writers for one owner
serialise (PostgreSQL ``FOR UPDATE``; SQLite's write transactions hold the database lock) and no
check reads a balance another writer is about to spend. Knows SQL only through ``_sql``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select, update

from batpass.core.errors import BatpassError, Conflict
from batpass.core.summary import UpstreamSummary
from batpass.ledger import _sql as t
from batpass.ledger._chain import batch_payload, event_hash, merkle_root_of_digests, sign_batch
from batpass.ledger._driver_values import bind_processor, blob_value, null_value
from batpass.ledger._lotnumbers import foreign_numbers, lot_numbers, parent_numbers
from batpass.ledger._materials import Element
from batpass.ledger._outflow import Authorisation, check_shipment
from batpass.ledger._profile import Profile, is_profile_source, mix_profile, source_profile, summary_source_profile
from batpass.ledger._rows import lot_from_row, lot_values, profile_json, profile_of
from batpass.ledger._shipment_rules import OutflowPolicy, blocking
from batpass.ledger.errors import ShipmentBlocked
from batpass.ledger.model import Event, EventId, EventKind, Lot, LotId, RecycledOrigin, apply_event, event_body
from batpass.trust import NodeIdentity

__all__ = ["OwnerRecording"]

_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
#: uuid5 namespace of outflow alert ids (owner, shipment event, rule, ordinal)
_ALERT_IDS = uuid.UUID("3f7b1f1e-2b7e-5c1a-9d3e-6a1f0c2d4e5b")
_RECYCLED = (RecycledOrigin.PRE_CONSUMER, RecycledOrigin.POST_CONSUMER)
_CREDITED = (Element.LI, Element.CO, Element.NI, Element.PB)
# event kinds as module constants: a member read off its class costs a Python-level call
# (EnumType.__getattr__), and the record loop compares kinds several times per event
_SHIPMENT: Final = EventKind.SHIPMENT
_RECEIPT: Final = EventKind.RECEIPT
_RECOVERY: Final = EventKind.RECOVERY


class _View:
    """The ledger as events of one batch see it: stored lots, changed in memory as we go."""

    def __init__(self, conn: Any, owner: str) -> None:
        self.conn = conn
        self.owner = owner
        self.lots: dict[str, Lot] = {}
        self.missing: set[str] = set()
        self.flows: dict[str, tuple[list[tuple[LotId, float]], list[LotId]]] = {}
        #: each lot's profile: the stored number (preloaded rows) or, for lots of this batch, the
        #: number or the text to store; a lot whose profile is its single parent's (a move)
        #: takes the parent's reference instead of encoding the profile again
        self.pref: dict[str, int | str] = {}
        #: the stored lots' numbers (``lot_no``: what the edges name them by)
        self.nos: dict[str, int] = {}

    def preload(self, ids: Iterable[str]) -> None:
        want = [i for i in ids if i not in self.lots and i not in self.missing]
        for r in t.select_lots(self.conn, self.owner, want):
            self.lots[r.id] = lot_from_row(r)
            self.pref[r.id] = r.profile_no
            self.nos[r.id] = r.lot_no
        self.missing.update([i for i in want if i not in self.lots])

    def lot(self, owner: str, lot_id: LotId) -> Lot | None:
        if owner != self.owner:
            return None
        if lot_id not in self.lots and lot_id not in self.missing:
            self.preload([lot_id])
        return self.lots.get(lot_id)

    def event_flows(self, owner: str, event_id: EventId) -> tuple[list[tuple[LotId, float]], list[LotId]] | None:
        if owner != self.owner:
            return None
        if event_id in self.flows:
            return self.flows[event_id]
        rows = [(c, p, kg) for c, p, _e, kg in t.event_edges(self.conn, owner, [str(event_id)])]
        exists = self.conn.execute(select(t.events.c.seq).where(t.events_of(owner), t.events.c.id == event_id)).first()
        if exists is None:
            return None
        inputs: dict[str, float] = {}
        outputs: list[LotId] = []
        for child, parent, kg in rows:
            if child not in outputs:
                outputs.append(LotId(child))
            inputs.setdefault(parent, kg)
        if not rows:
            outputs = [
                LotId(r.id)
                for r in self.conn.execute(
                    select(t.lots.c.id).where(t.lots.c.owner == owner, t.lots.c.event_id == event_id)
                ).all()
            ]
        return [(LotId(k), v) for k, v in inputs.items()], outputs


def _mix_key(lot: Lot, parents: Sequence[tuple[Lot, float]], parent_profiles: Sequence[Profile]) -> tuple[Any, ...]:
    """Everything :func:`mix_profile` reads, as a key: equal keys give equal profiles (the
    parent profiles by identity: they are never changed once computed)."""
    return (
        lot.material,
        lot.custody,
        tuple(lot.composition.items()),
        tuple(
            [
                (id(prof), kg, p.material, p.custody, tuple(p.composition.items()))
                for (p, kg), prof in zip(parents, parent_profiles, strict=True)
            ]
        ),
    )


class OwnerRecording:
    """Records one owner's events of one call inside the caller's transaction (``conn``).

    ``received`` gives the checked supplier summaries of lots received from other owners,
    ``authorisations`` the owner's export authorisations (read only when a shipment is recorded);
    ``policy`` the node's outflow policy (``block``: a shipment outside every valid authorisation
    is refused, nothing written); ``now`` stamps batches, credits and alerts."""

    def __init__(
        self,
        conn: Any,
        owner: str,
        identity: NodeIdentity,
        *,
        batch_size: int,
        now: Any,
        received: Callable[[Sequence[str]], Mapping[str, UpstreamSummary]],
        authorisations: Callable[[], list[Authorisation]],
        policy: OutflowPolicy = OutflowPolicy(),
    ) -> None:
        self.conn, self.owner, self.identity = conn, owner, identity
        self.batch_size = batch_size
        self.now = now
        self._received, self._authorisations = received, authorisations
        self.policy = policy
        # rows are built as tuples in column order, with the driver's values computed once per
        # event (timestamps) or once per call (booleans, the clock): bulk ingest writes ~3 rows
        # per event and the generic per-row bind processing cost as much as the checks
        self._bind_at = bind_processor(conn, t.events, "at")
        self._bind_body = bind_processor(conn, t.events, "body")  # compressed on PostgreSQL
        self._now_db = bind_processor(conn, t.credits, "created_at")(now)
        self._blob = blob_value(conn)  # the hash's 32 bytes as the driver takes them at once
        self.view = _View(conn, owner)
        self.summaries: Mapping[str, UpstreamSummary] = {}
        self.auths: list[Authorisation] = []
        self.new_lots: list[tuple[Lot, Any]] = []
        self.new_ids: set[str] = set()
        self.touched: set[str] = set()
        self.event_rows: list[tuple[Any, ...]] = []
        self.edge_rows: list[tuple[Any, ...]] = []
        self.credit_rows: list[tuple[Any, ...]] = []
        self.alert_rows: list[dict[str, Any]] = []
        self.hashes: list[bytes] = []  # each event's hash as the 32 bytes stored
        self.owner_no = 0  # the owner's and the catalogues' numbers, taken in :meth:`run`
        self.catalogue_nos: dict[str, int] = {}
        # profiles mixed in this call, by what they are computed from (batteries of one round are
        # assembled alike from the same lots): (profile, its text once written, the parent
        # profiles, kept so that the ids in the key stay theirs)
        self.mixes: dict[tuple[Any, ...], tuple[Profile, str | None, list[Profile]]] = {}

    def run(self, items: list[tuple[int, Event]]) -> tuple[int, int, int, list[dict[str, Any]]]:
        """(events recorded, replays, batches signed, outflow alerts raised)."""
        head = t.lock_head(self.conn, self.owner)  # before any read: see the module docstring
        fresh, bodies = self._fresh(items)
        if not fresh:
            return 0, len(items), 0, []
        self._load(fresh)
        # the owner and the catalogues as the numbers the event rows hold (``ledger_0010``)
        self.owner_no = t.owner_numbers(self.conn, [self.owner])[self.owner]
        self.catalogue_nos = t.catalogue_numbers(self.conn, {ev.catalogue.digest for _, ev in fresh})
        self.seq, self.prev_hash, batch_no, prev_root = head.seq, head.hash, head.batch_no, head.root
        self.first_batch = batch_no
        for n, (i, ev) in enumerate(fresh):
            self._apply(n, i, ev, bodies[ev.id])
        batch_rows, batch_no, prev_root = self._batches(batch_no, prev_root)
        self._write(batch_rows, batch_no, prev_root)
        alerts = [
            {"event": r["event_id"], "rule": r["rule"], "evidence": json.loads(r["evidence"])} for r in self.alert_rows
        ]
        return len(fresh), len(items) - len(fresh), len(batch_rows), alerts

    def _fresh(self, items: list[tuple[int, Event]]) -> tuple[list[tuple[int, Event]], dict[EventId, str]]:
        """The events not yet recorded, and every event's stored (hashed) body. A replay with the
        same content is a no-op; with other content a :class:`Conflict` (the log is append-only)."""
        bodies = {ev.id: event_body(ev) for _, ev in items}
        stored = t.select_event_bodies(self.conn, self.owner, [str(ev.id) for _, ev in items])
        fresh: list[tuple[int, Event]] = []
        for i, ev in items:
            if ev.id in stored:
                if stored[ev.id] != bodies[ev.id]:
                    raise Conflict(
                        f"events[{i}]: event id {ev.id} is already recorded with different content",
                        field=f"events[{i}].id",
                        rule="ledger.append-only",
                    )
                continue
            fresh.append((i, ev))
        return fresh, bodies

    def _load(self, fresh: Sequence[tuple[int, Event]]) -> None:
        """Preload every stored lot the events touch, the summaries of lots received from other
        owners, and the export authorisations when a shipment is among them."""
        need: set[str] = set()
        from_lots: list[str] = []
        add = need.add
        for _, ev in fresh:
            for inp in ev.inputs:
                add(inp.lot)
            for out in ev.outputs:
                add(out.lot)
            if ev.status_lot:
                need.add(ev.status_lot)
            if ev.receipt is not None:
                if ev.receipt.from_owner == self.owner:
                    need.add(ev.receipt.from_lot)
                else:
                    from_lots.append(ev.receipt.from_lot)
        self.view.preload(need)
        self.summaries = self._received(from_lots)
        if any(ev.kind is _SHIPMENT for _, ev in fresh):
            self.auths = self._authorisations()

    def _apply(self, n: int, i: int, ev: Event, body: str) -> None:
        try:
            eff = apply_event(ev, self.view)
        except BatpassError as exc:
            # the event's own refusal stays a field, so a caller naming the event its own way
            # (a file and line) need not take this message apart
            exc.details.setdefault("event_error", exc.message)
            exc.message = f"events[{i}] ({ev.id}): {exc.message}"
            exc.args = (exc.message,)
            exc.details.setdefault("event_index", i)
            raise
        self.seq += 1
        seq, owner, view, lots, touched = self.seq, self.owner, self.view, self.view.lots, self.touched
        eid = str(ev.id)
        at_db = self._bind_at(ev.at)
        for lot_id, kg in eff.debits.items():
            lot = lots[lot_id]
            lot.remaining_kg = max(0.0, lot.remaining_kg - kg)
            touched.add(lot_id)
        if eff.credits or eff.voided or eff.status:
            for lot_id, kg in eff.credits.items():
                lot = view.lot(owner, lot_id)  # type: ignore[assignment]
                lot.remaining_kg = min(lot.mass_kg, lot.remaining_kg + kg)
                touched.add(lot_id)
            for lot_id in eff.voided:
                lot = view.lot(owner, lot_id)  # type: ignore[assignment]
                lot.voided = True
                lot.remaining_kg = 0.0
                touched.add(lot_id)
            for lot_id, st in eff.status.items():
                lots[lot_id].status = st
                touched.add(lot_id)
        for lot in eff.new_lots:
            lot.seq = seq
            self._new_lot(ev, lot, eff.parents.get(lot.id, []), at_db)
        for e in eff.edges:
            self.edge_rows.append((str(e.child), e.parent_owner, str(e.parent), seq, e.input_kg))
        if ev.kind is _SHIPMENT and ev.shipment is not None:
            found = check_shipment(ev, [lots[x.lot] for x in ev.inputs], self.auths, self.policy)
            if self.policy.blocks and found:
                self._refuse(i, ev, found)
            for k, alert in enumerate(found):
                self.alert_rows.append(
                    {
                        "owner": owner,
                        # named by what raised it, so the self-audit's replay names it alike
                        "id": str(uuid.uuid5(_ALERT_IDS, f"{owner}|{eid}|{alert['rule']}|{k}")),
                        "event_id": eid,
                        "rule": alert["rule"],
                        "evidence": _DUMPS(alert["evidence"]),
                        "created_at": self.now,
                    }
                )
        self.prev_hash = digest = event_hash(owner, seq, self.prev_hash, body)
        raw = bytes.fromhex(digest)
        self.hashes.append(raw)
        # one signed Merkle root per batch_size events, in order: event n is in batch n // size
        # (the kind's stored _value_: the enum's value property costs two Python calls)
        batch = self.first_batch + n // self.batch_size + 1
        self.event_rows.append(
            (
                self.owner_no,
                seq,
                eid,
                ev.kind._value_,
                at_db,
                self._bind_body(body),
                self._blob(raw),  # stored as its 32 bytes
                batch,
                self.catalogue_nos[ev.catalogue.digest],
            )
        )

    def _refuse(self, i: int, ev: Event, found: Sequence[Mapping[str, Any]]) -> None:
        """A ``block`` node refuses a shipment outside every valid authorisation, naming the
        input lot and the rule (the call's transaction rolls back: nothing is written)."""
        stop = blocking(found)
        if not stop:
            return
        alert = stop[0]
        ev_ = alert["evidence"]
        k = next(n for n, x in enumerate(ev.inputs) if str(x.lot) == ev_["lot"])
        req = ev_["requirement"]
        raise ShipmentBlocked(
            f"events[{i}] ({ev.id}): shipment of {ev_['material']} lot {ev_['lot']} from {ev_['from_country']} "
            f"to {ev_['destination_country']} is refused: {alert['rule']} under {req['rule']} "
            f"({req['instrument']}); this node blocks shipments outside every valid authorisation",
            field=f"events[{i}].inputs[{k}]",
            rule=f"{alert['rule']} ({req['rule']})",
            event_index=i,
            alerts=list(stop),
        )

    def _new_lot(self, ev: Event, lot: Lot, parents: list[tuple[Lot, float]], at_db: Any) -> None:
        """A lot the event produced: its upstream profile (and the profile's stored text, shared
        with its parent's on a move, written once per call for a mix), and its credits."""
        pref, owner = self.view.pref, self.owner
        mixed = None
        key: tuple[Any, ...] = ()
        if is_profile_source(lot):
            prof: Profile = source_profile(lot)
        elif ev.kind is _RECEIPT and ev.receipt is not None and ev.receipt.from_owner != owner:
            prof = summary_source_profile(
                lot, self.summaries.get(ev.receipt.from_lot), f"{ev.receipt.from_owner}|{ev.receipt.from_lot}"
            )
        elif ev.kind is _SHIPMENT or ev.kind is _RECEIPT:
            # a move: mostly the parent's own profile (and text), nothing to remember
            prof = mix_profile(lot, parents, [profile_of(p) for p, _ in parents])
        else:
            parent_profiles = [profile_of(p) for p, _ in parents]
            key = _mix_key(lot, parents, parent_profiles)
            mixed = self.mixes.get(key)
            if mixed is None:
                prof = mix_profile(lot, parents, parent_profiles)
                self.mixes[key] = mixed = (prof, None, parent_profiles)
            prof = mixed[0]
        lot.profile = prof
        if len(parents) == 1 and prof is parents[0][0].profile and parents[0][0].id in pref:
            pref[lot.id] = pref[parents[0][0].id]
        elif mixed is not None:  # a mixed profile: its text is written once per call
            text = mixed[1]
            if text is None:
                text = profile_json(prof)
                self.mixes[key] = (prof, text, mixed[2])
            pref[lot.id] = text
        else:
            pref[lot.id] = profile_json(prof)
        self.view.lots[lot.id] = lot
        self.view.missing.discard(lot.id)
        self.new_lots.append((lot, at_db))
        self.new_ids.add(lot.id)
        if ev.kind is _RECOVERY and lot.recycled in _RECYCLED:
            for el in _CREDITED:
                kg_el = lot.element_kg(el)
                if kg_el > 0:
                    self.credit_rows.append((owner, str(lot.id), el._value_, lot.recycled._value_, kg_el, self._now_db))

    def _batches(self, batch_no: int, prev_root: str) -> tuple[list[dict[str, Any]], int, str]:
        """One signed Merkle root per ``batch_size`` events, chained to the previous root."""
        rows: list[dict[str, Any]] = []
        size, events = self.batch_size, self.event_rows
        for start in range(0, len(events), size):
            batch_no += 1
            first, last = events[start], events[min(start + size, len(events)) - 1]
            assert first[7] == last[7] == batch_no
            root = merkle_root_of_digests(self.hashes[start : start + size])
            head = self.hashes[min(start + size, len(events)) - 1].hex()
            payload = batch_payload(self.owner, batch_no, first[1], last[1], root, prev_root, head)
            kid, token = sign_batch(payload, self.identity)
            rows.append(
                {
                    "owner": self.owner,
                    "batch_no": batch_no,
                    "first_seq": first[1],
                    "last_seq": last[1],
                    "root": root,
                    "kid": kid,
                    "jws": token,
                    "signed_at": self.now,
                }
            )
            prev_root = root
        return rows, batch_no, prev_root

    def _lot_numbers(self) -> dict[str, int]:
        """The numbers of this call's new lots, and of the other owners' lots its edges name
        (``{(owner number, id): number}`` in :attr:`parent_nos`), the owners' rows updated in
        number order (:func:`batpass.ledger._sql.parent_numbers`)."""
        conn, owner = self.conn, self.owner
        # the rows' fields by index: a starred target (``_c, po, *_``) builds a list per row,
        # and ingest writes about one edge per lot
        edges = self.edge_rows
        others = {r[1] for r in edges if r[1] != owner}
        nums = t.owner_numbers(conn, {owner} | others)
        wanted: dict[int, list[str]] = {}
        if others:
            for r in edges:
                po = r[1]
                if po != owner:
                    wanted.setdefault(nums[po], []).append(r[2])
        self.owner_nums = nums
        self.parent_nos: dict[tuple[int, str], int] = {}
        out: dict[str, int] = {}
        for o in sorted(wanted.keys() | {self.owner_no}):
            if o != self.owner_no:
                self.parent_nos.update(parent_numbers(conn, [(o, x) for x in wanted[o]]))
                continue
            new = [str(lot.id) for lot, _ in self.new_lots]
            first, foreign = lot_numbers(conn, o, len(new))
            given = foreign_numbers(conn, o, new) if foreign else {}
            for k, lot_id in enumerate(new):
                out[lot_id] = given.get(lot_id, first + k)
        self.view.nos.update(out)
        return out

    def _write_edges(self, new_nos: Mapping[str, int]) -> None:
        """The edges of this call on numbers: lots as their ``lot_no`` (or foreign number),
        owners as theirs, the event as its seq."""
        if not self.edge_rows:
            return
        owner, own_no, nos, nums, pnos = self.owner, self.owner_no, self.view.nos, self.owner_nums, self.parent_nos
        rows = []
        for c, po, p, seq, kg in self.edge_rows:
            if po == owner:
                rows.append((own_no, new_nos[c], own_no, nos[p], seq, kg))
            else:
                pno = nums[po]
                rows.append((own_no, new_nos[c], pno, pnos[(pno, p)], seq, kg))
        t.insert_values(self.conn, t.edges, rows)

    def _write(self, batch_rows: list[dict[str, Any]], batch_no: int, prev_root: str) -> None:
        conn, owner, lots = self.conn, self.owner, self.view.lots
        bind_bool = bind_processor(conn, t.lots, "held")
        true_db, false_db = bind_bool(True), bind_bool(False)
        null = null_value(conn)
        pref = self.view.pref
        # the profile texts of this call, stored once each (those the owner has already get
        # their numbers), in the order their lots were produced
        texts = dict.fromkeys([r for r in [pref[lot.id] for lot, _ in self.new_lots] if isinstance(r, str)])
        numbers = t.intern_profiles(conn, owner, texts)
        nos: dict[str, int] = {}
        for lot, _ in self.new_lots:
            r = pref[lot.id]
            pref[lot.id] = nos[lot.id] = numbers[r] if isinstance(r, str) else r
        t.insert_values(conn, t.events, self.event_rows)
        t.insert_rows(conn, t.batches, batch_rows)
        lots_no = self._lot_numbers()
        t.insert_values(
            conn,
            t.lots,
            [
                lot_values(
                    lot,
                    at_db,
                    nos[lot.id],
                    true_db if lot.held else false_db,
                    true_db if lot.voided else false_db,
                    lots_no[lot.id],
                    null,
                )
                for lot, at_db in self.new_lots
            ],
        )
        self._write_edges(lots_no)
        t.insert_values(conn, t.credits, self.credit_rows)
        t.insert_rows(conn, t.alerts, self.alert_rows)
        for a in self.auths:
            if a.used_changed:
                conn.execute(
                    update(t.authorisations)
                    .where(t.authorisations.c.owner == owner, t.authorisations.c.id == a.id)
                    .values(used_kg=a.used_kg)
                )
        t.update_lot_states(
            conn,
            [
                {
                    "owner": owner,
                    "id": str(lid),
                    "remaining_kg": lots[lid].remaining_kg,
                    "status": lots[lid].status,
                    "voided": lots[lid].voided,
                }
                for lid in self.touched
                if lid not in self.new_ids
            ],
        )
        conn.execute(
            update(t.heads)
            .where(t.heads.c.owner == owner)
            .values(seq=self.seq, hash=self.prev_hash, batch_no=batch_no, root=prev_root)
        )
