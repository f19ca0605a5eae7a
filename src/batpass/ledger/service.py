"""Use cases of the material ledger: record events (checked, hash-chained, signed per batch),
verify the chain, trace, summaries, recycled content and credit accounts, outflow watch.

Each use case is one unit of work (one transaction, committed once). Knows SQL only through
``_sql`` and the store; no HTTP.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.exc import DBAPIError

from batpass.core.clock import Clock, FixedClock, SystemClock
from batpass.core.errors import (
    BatpassError,
    Conflict,
    Forbidden,
    IntegrityViolation,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from batpass.core.findings import Finding
from batpass.core.summary import SubjectKind, Tombstone, UpstreamSummary
from batpass.ledger import _sql as t
from batpass.ledger._art8_reads import Art8Groups
from batpass.ledger._audit import (
    compare_derived,
    numbering_damage,
    numbering_findings,
    replay,
    replay_engine,
    seed_replay,
    summary_payload,
)
from batpass.ledger._authorisations import (
    AuthorisationCheck,
    Verify,
    authorisation_records,
    held_authorisations,
    hold_authorisation_credential,
    store_authorisation,
)
from batpass.ledger._live import LiveSites, site_facts
from batpass.ledger._materials import CATALOGUE, Catalogue, Element
from batpass.ledger._outflow import validate_authorisation
from batpass.ledger._reads import read_mark, summary_reads
from batpass.ledger._received_check import Keys, SummaryChecks
from batpass.ledger._received_writes import Received, ReceivedWrites, store_received
from batpass.ledger._record import OwnerRecording
from batpass.ledger._recycled import group_key
from batpass.ledger._recycling import parse_period, recycling_efficiency
from batpass.ledger._rows import lot_from_row, profile_json, profile_of
from batpass.ledger._shipment_rules import OutflowPolicy
from batpass.ledger._summary import build_summary, sign_summary, summary_header, verify_summary
from batpass.ledger._trace import MAX_HOPS, downstream_profiles, frontier_search, profiles_from_graph, shares
from batpass.ledger._upgrade import upgrade_profiles
from batpass.ledger._verify import VerifyProblem, VerifyReport, verify_chain
from batpass.ledger.model import (
    CustodyModel,
    CustomerLot,
    Event,
    EventKind,
    Lot,
    LotId,
    ReceivedSummary,
    SupplierLot,
    check_batch_events,
    event_body,
    parse_event,
)
from batpass.ledger.ports import FootprintSource, SignerKeyResolver
from batpass.store import UnitOfWork
from batpass.trust import NodeIdentity, SecretBox

__all__ = ["LedgerService", "RecordResult", "VerifyProblem", "VerifyReport"]

#: partners' keys kept at most (the cache starts over beyond: entries are cheap to resolve again)
_SIGNER_CACHE_MAX = 4096


def canonical_body(ev: Event) -> str:
    """The stored, hashed form of an event: its wire JSON with sorted keys, no spaces."""
    return event_body(ev)


@dataclass(frozen=True)
class RecordResult:
    """Outcome of a ``record`` call: how many events were new, how many were replays of stored
    ones (idempotent: nothing changes), the batches signed, and outflow alerts raised."""

    recorded: int
    replayed: int
    batches: int
    event_ids: tuple[str, ...]
    alerts: tuple[dict[str, Any], ...] = ()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a call records events. Bulk ingest allocates
    several objects per event (parsed events, lots, profiles, rows), none of them in reference
    cycles; with the collector on, the growing heap is scanned again and again (a quarter of
    the ingest time at 10⁴ events). Reference counting still frees everything; the collector
    resumes afterwards (left alone if something else had turned it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _identity_resolver(identities: Iterable[NodeIdentity]) -> Callable[[str], Mapping[str, Any] | None]:
    """The public keys (active and retired) of ``identities`` by DID URL, looked up when asked:
    a key rotated in by another process (``batpass keys rotate``) is found without a restart."""
    by_did = {ident.did: ident for ident in identities}
    memo: dict[str, tuple[int, Mapping[str, Any]]] = {}

    def resolve(kid: str) -> Mapping[str, Any] | None:
        ident = by_did.get(kid.split("#", 1)[0])
        if ident is None:
            return None
        hit = memo.get(kid)
        if hit is not None and hit[0] == ident.generation:
            return hit[1]
        key = ident.find(kid)
        if key is None:
            return None
        jwk = key.public_jwk()
        memo[kid] = (ident.generation, jwk)
        return jwk

    return resolve


#: the lots as searched by battery identifier (``ix_ledger_lots_battery``)
_BATTERIES = t.lots.alias("battery_lot")


class LedgerService:
    """The material ledger of one node.

    ``identity`` signs for the node's own DID; ``identities`` (optional) gives the identity of
    other owners the node keeps ledgers for (the hub's operators). ``public_jwk_resolver`` resolves
    a ``did#kid`` to its public JWK (default: the keys of the identities above, i.e. the DID
    documents this node publishes). ``high_risk_sites`` is the list of site ids whose share is
    reported as high-risk, or a function giving it (or the register's ``SiteFacts``) when asked.
    ``batch_size`` is how many events one signed Merkle root covers; ``outflow_policy`` warn or
    block (docs/outflows.md); ``catalogue`` the node's material catalogue (with its extension).
    ``authorisation_check`` verifies a held authorisation credential again when a shipment is
    checked against it (the node's verifier; none: what was verified when it was held stands).

    ``signer_keys`` resolves a partner's key through its DID document when a summary arrives
    (:meth:`receive_summary`; the node wires trust's did:web resolver), cached for
    ``signer_key_ttl_s`` (``monotonic`` clock); a summary that does not verify with a cached key
    is verified again with a fresh resolution (docs/integrity.md "Keys of pushed summaries").
    """

    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        identities: Callable[[str], NodeIdentity | None] | None = None,
        public_jwk_resolver: Callable[[str], Mapping[str, Any] | None] | None = None,
        high_risk_sites: Iterable[str] | Callable[[], Iterable[str]] = (),
        batch_size: int = 1000,
        footprints: FootprintSource | None = None,
        secrets: SecretBox | None = None,
        clock: Clock = SystemClock(),
        signer_keys: SignerKeyResolver | None = None,
        signer_key_ttl_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        outflow_policy: OutflowPolicy = OutflowPolicy(),
        catalogue: Catalogue = CATALOGUE,
        authorisation_check: AuthorisationCheck | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput("batch_size must be >= 1", field="batch_size", rule="ledger.batch.size")
        self.engine = engine
        self.identity = identity
        self._identities = identities
        self._resolver = public_jwk_resolver or _identity_resolver([identity])
        self._high_risk: Callable[[], Iterable[str]]
        if isinstance(high_risk_sites, LiveSites):  # another ledger's: follow its source
            self._high_risk = high_risk_sites.read
        elif callable(high_risk_sites):
            self._high_risk = high_risk_sites
        else:
            fixed = frozenset(high_risk_sites)
            self._high_risk = lambda: fixed
        self.batch_size = batch_size
        self.outflow_policy = outflow_policy  # beyond the shipment rules; warn or block
        self.catalogue = catalogue  # events are checked with it and stored with its digest
        self.authorisation_check = authorisation_check
        self._footprints = footprints
        #: seals the suppliers' keys that verified a received summary (``ledger_verified_keys``)
        self.secrets = secrets
        #: the time a record call, a summary's arrival or an authorisation is stamped with
        self.clock: Clock = clock
        #: stored received summaries checked before use (their verifications kept by token and key)
        self._summary_checks = SummaryChecks(self.resolve_key, secrets)
        #: received summaries of one owner arriving together are written in one transaction
        self._received_writes = ReceivedWrites(self._write_received)
        self._signer_keys = signer_keys
        self._signer_key_ttl_s = signer_key_ttl_s
        self._monotonic = monotonic
        #: partners' keys resolved through their DID documents: kid -> (expires, jwk)
        self._signer_cache: dict[str, tuple[float, Mapping[str, Any]]] = {}
        #: the Art. 8 groups, computed again only when a lot, profile or claim row changed
        self._art8 = Art8Groups(engine, _claim_json)

    # ------------------------------------------------------------------ identities
    @property
    def high_risk_sites(self) -> LiveSites:
        """The site ids whose mined share is reported as high-risk, read afresh at each use; a
        ledger built with them (the federated trace's, the replay's) follows the same source."""
        return LiveSites(self._high_risk)

    def identity_for(self, owner: str) -> NodeIdentity:
        if owner == self.identity.did:
            return self.identity
        ident = self._identities(owner) if self._identities is not None else None
        if ident is None:
            raise Forbidden(
                f"this node keeps no signing key for owner {owner}", field="owner", rule="ledger.owner.partition"
            )
        return ident

    def resolve_key(self, kid: str) -> Mapping[str, Any] | None:
        jwk = self._resolver(kid)
        if jwk is None and self._identities is not None:
            ident = self._identities(kid.split("#", 1)[0])
            if ident is not None:
                jwk = _identity_resolver([ident])(kid)
        return jwk

    def _signer_key(self, kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
        """A key of this node, else a partner's through ``signer_keys`` (cached; ``fresh``
        resolves again past every cache)."""
        own = self.resolve_key(kid)
        if own is not None or self._signer_keys is None:
            return own
        now = self._monotonic()
        hit = self._signer_cache.get(kid)
        if hit is not None and not fresh and hit[0] > now:
            return hit[1]
        jwk = self._signer_keys(kid, fresh=fresh)
        if jwk is None:
            self._signer_cache.pop(kid, None)
            return None
        if len(self._signer_cache) >= _SIGNER_CACHE_MAX:
            self._signer_cache.clear()
        self._signer_cache[kid] = (now + self._signer_key_ttl_s, dict(jwk))
        return jwk

    def _verify_received(self, token: str) -> tuple[UpstreamSummary, Mapping[str, Any] | None]:
        """Verify an arriving summary with its signer's key; answer it and the key that verified it.
        A failure with a partner's key (unknown kid, or a signature that does not verify) is tried
        once more with a fresh resolution: the partner may have rotated its key."""
        used: list[Mapping[str, Any] | None] = []

        def key(kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
            jwk = self._signer_key(kid, fresh=fresh)
            used.append(jwk)
            return jwk

        try:
            return verify_summary(token, key), used[-1] if used else None
        except Unauthorized:
            kid = summary_header(token).get("kid")
            if self._signer_keys is None or not isinstance(kid, str) or self.resolve_key(kid) is not None:
                raise
        used.clear()
        return verify_summary(token, lambda kid: key(kid, fresh=True)), used[-1] if used else None

    # ------------------------------------------------------------------ record
    def record(self, events: Sequence[Event | Mapping[str, Any]]) -> RecordResult:
        """Record events atomically (all or nothing), in order. Each is checked against the
        invariants (batpass.ledger.model), hash-chained per owner and covered by a signed Merkle
        root per ``batch_size`` events. A replayed event id with the same content is a no-op; with
        different content it is a :class:`Conflict`."""
        with _gc_paused():
            return self._record(events)

    def _record(self, events: Sequence[Event | Mapping[str, Any]]) -> RecordResult:
        parsed: list[Event] = []
        for i, e in enumerate(events):
            parsed.append(e if isinstance(e, Event) else parse_event(e, path=f"events[{i}]", catalogue=self.catalogue))
        check_batch_events(parsed)
        by_owner: dict[str, list[tuple[int, Event]]] = {}
        for i, ev in enumerate(parsed):
            by_owner.setdefault(ev.owner, []).append((i, ev))
        recorded = replayed = n_batches = 0
        alerts: list[dict[str, Any]] = []
        try:
            with UnitOfWork(self.engine) as uow:
                for owner, items in by_owner.items():
                    identity = self.identity_for(owner)
                    r, p, b, a = self._record_owner(uow.conn, owner, identity, items)
                    recorded += r
                    replayed += p
                    n_batches += b
                    alerts.extend(a)
                uow.commit()
        except Conflict as exc:  # from the store: a lost race, or numbers a damaged store gives twice
            damage = numbering_damage(self.engine, by_owner) if isinstance(exc.__cause__, DBAPIError) else None
            if damage is not None:
                raise damage from exc
            raise
        return RecordResult(recorded, replayed, n_batches, tuple(str(e.id) for e in parsed), tuple(alerts))

    def _record_owner(
        self, conn: Any, owner: str, identity: NodeIdentity, items: list[tuple[int, Event]]
    ) -> tuple[int, int, int, list[dict[str, Any]]]:
        now = self.clock.now()
        return OwnerRecording(
            conn,
            owner,
            identity,
            batch_size=self.batch_size,
            now=now,
            received=lambda lots: self._received(conn, owner, lots),
            authorisations=lambda: held_authorisations(conn, owner, now, self.authorisation_check),
            policy=self.outflow_policy,
        ).run(items)

    def _received(self, conn: Any, owner: str, from_lots: Sequence[str]) -> dict[str, UpstreamSummary]:
        """The received summaries of ``from_lots``, each checked against its signed form."""
        return {lot: item.summary for lot, item in self._checked_summaries(conn, owner, from_lots).items()}

    def _checked_summaries(self, conn: Any, owner: str, lots: Sequence[str] | None) -> dict[str, ReceivedSummary]:
        """``owner``'s received summaries (of ``lots``, or all), each taken from its signed token;
        a stored row that does not match its token, or a token whose signature fails, is refused
        with IntegrityViolation."""
        return self._checked_rows(owner, self._summary_rows(conn, owner, lots), conn)

    def _checked_rows(self, owner: str, rows: Iterable[Any], keys_in: Any) -> dict[str, ReceivedSummary]:
        """``rows`` (stored received summaries) checked, their kept keys read through ``keys_in``
        (the connection they were read in, or a reader of sealed keys of the same snapshot)."""
        out: dict[str, ReceivedSummary] = {}
        keys: Keys = {}
        for row in rows:
            summary = self._summary_checks.passed(keys_in, row, keys)
            if isinstance(summary, str):
                raise IntegrityViolation(
                    f"the received summary of lot {row.lot} fails its check: {summary}",
                    table="ledger_received_summaries",
                    key=f"{owner}/{row.lot}",
                    rule="ledger.summary.signed",
                )
            out[row.lot] = ReceivedSummary(issuer=row.issuer, jws=row.jws, summary=summary)
        return out

    def _summary_rows(self, conn: Any, owner: str, lots: Sequence[str] | None) -> list[Any]:
        q = select(t.received_summaries).where(t.received_summaries.c.owner == owner)
        if lots is None:
            return list(conn.execute(q.order_by(t.received_summaries.c.lot)).all())
        rows: list[Any] = []
        for part in t.chunks(list(lots)):
            rows.extend(conn.execute(q.where(t.received_summaries.c.lot.in_(part))).all())
        return rows

    # ------------------------------------------------------------------ verify
    def verify(self, owner: str | None = None, *, derived: bool = True) -> VerifyReport:
        """Check every owner's hash chain, batch Merkle roots and batch signatures (against the key
        in the owner's DID document) — edited, deleted and reordered events — and, with
        ``derived``, every received summary against its signed token and every row derived from
        the event log, recomputed by replaying it (changed lots, balances, edges, credits), and the
        lot numbers later writes give (``_audit.numbering_findings``)."""
        rep = VerifyReport()
        with UnitOfWork(self.engine, write=False) as uow:
            conn = uow.conn
            if owner:
                owners = [owner]
            else:
                q = (
                    select(t.heads.c.owner)
                    .union(
                        select(t.owners.c.owner).where(t.owners.c.no.in_(select(t.events.c.owner_no).distinct())),
                        select(t.lots.c.owner),
                        select(t.received_summaries.c.owner),
                    )
                    .order_by("owner")
                )
                owners = [r[0] for r in conn.execute(q).all()]
            for o in owners:
                rep.owners += 1
                verify_chain(conn, o, rep, self.resolve_key)
                if derived:
                    rep.problems.extend(
                        VerifyProblem(o, f.rule, f.detail, table=f.table, key=f.key)
                        for f in self._derived_findings(conn, o)
                    )
            if derived:  # of every owner, or of the owner and the owners its edges name
                rep.problems.extend(
                    VerifyProblem(o, f.rule, f.detail, table=f.table, key=f.key)
                    for o, f in numbering_findings(conn, owner or None)
                )
        return rep

    def self_audit(self, owner: str | None = None) -> list[Finding]:
        """The self-audit: the hash chain and batch signatures, every received summary against its
        signed token, and every derived row (lots, edges, credits, alerts, authorisations' use)
        recomputed by replaying the event log. Each finding names table, key and rule."""
        rep = self.verify(owner)
        return [
            Finding(
                p.table or "ledger_events",
                p.key or (f"{p.owner}/{p.seq}" if p.seq is not None else p.owner),
                p.rule,
                p.message,
            )
            for p in rep.problems
        ]

    def _derived_findings(self, conn: Any, owner: str) -> list[Finding]:
        """Received summaries checked against their tokens, then the derived rows replayed."""
        engine = replay_engine()
        try:
            out, replayed = self._replay(conn, owner, engine)
            if replayed:
                with engine.connect() as derived:
                    out.extend(compare_derived(conn, derived, owner))
        finally:
            engine.dispose()
        return out

    def _replay(self, conn: Any, owner: str, engine: Engine) -> tuple[list[Finding], bool]:
        """Replay ``owner``'s event log (and its verified received summaries) into the empty
        store ``engine``; findings for summaries that do not verify, and whether it replayed."""
        out: list[Finding] = []
        good: dict[str, dict[str, Any]] = {}
        keys: Keys = {}
        for row in self._summary_rows(conn, owner, None):
            problem = self._summary_checks.problem(conn, row, keys)
            if problem is not None:
                out.append(Finding("ledger_received_summaries", f"{owner}/{row.lot}", "ledger.summary.signed", problem))
                continue
            good[row.lot] = {
                "issuer": row.issuer,
                "jws": row.jws,
                "summary": summary_payload(row.jws),
                "received_at": row.received_at,
            }

        def authorise(row: Mapping[str, Any]) -> None:
            with engine.begin() as target:
                target.execute(t.authorisations.insert().values(**row))

        try:  # a stored body that does not decompress (PostgreSQL, ``ledger_0013``) is refused
            with engine.begin() as target:
                events, auths = seed_replay(conn, target, owner, good)
        except IntegrityViolation as exc:
            out.append(
                Finding("ledger_events", owner, "ledger.replay", f"the event log does not replay: {exc.message}")
            )
            return out, False
        # the replay re-stamps the shadow's clock with each replayed call's signing time
        stamped = FixedClock(self.clock.now())
        shadow = LedgerService(
            engine,
            self.identity,
            identities=self._identities,
            public_jwk_resolver=self._resolver,
            high_risk_sites=self.high_risk_sites,
            batch_size=self.batch_size,
            clock=stamped,
            # a replay derives alerts; refusing is a decision made when a call was recorded
            outflow_policy=self.outflow_policy.warning(),
        )
        try:
            replay(shadow.record, authorise, stamped.set, events, auths)
        except BatpassError as exc:
            out.append(
                Finding("ledger_events", owner, "ledger.replay", f"the event log does not replay: {exc.message}")
            )
            return out, False
        return out, True

    def upgrade_profiles(self, owner: str | None = None) -> dict[str, int]:
        """Recompute the origin profiles stored before upstream summary 2.0, and those of the lots
        made from them, from the event log (``_upgrade.py``); idempotent. Returns the lots
        rewritten per owner (owners with none left out)."""
        return upgrade_profiles(self, owner)

    # ------------------------------------------------------------------ reads
    def lot(self, owner: str, lot_id: str) -> Lot:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = t.select_lots(uow.conn, owner, [lot_id])
        if not rows:
            raise NotFound(f"lot {lot_id} is not in the ledger of {owner}", rule="ledger.lot.known", field="lot")
        return lot_from_row(rows[0])

    def resolve_subject(self, owner: str, subject: str) -> Lot:
        """A lot id, or a battery identifier (GS1 Digital Link URI) of a battery lot."""
        with UnitOfWork(self.engine, write=False) as uow:
            rows: list[Any] = t.select_lots(uow.conn, owner, [subject]) if len(subject) <= 128 else []
            if not rows:
                # the battery's lot ids from its index, then the lots by key: asked in one
                # condition, SQLite (lots keyed (owner, id) WITHOUT ROWID) read every lot of the owner.
                # Several lots carrying the battery: the lowest id, on both stores (PostgreSQL
                # returned them in its plan's order, after VACUUM the order they were written)
                by_battery = select(_BATTERIES.c.id).where(
                    _BATTERIES.c.owner == owner, _BATTERIES.c.battery_id == subject
                )
                rows = list(
                    uow.conn.execute(
                        select(*t.LOT_COLUMNS)
                        .select_from(t.LOTS_FROM)
                        .where(t.lots.c.owner == owner, t.lots.c.id.in_(by_battery))
                        .order_by(t.lots.c.id)
                    ).all()
                )
        if not rows:
            raise NotFound(f"no lot or battery {subject} in the ledger of {owner}", rule="ledger.lot.known", field="id")
        return lot_from_row(rows[0])

    def owners(self) -> list[str]:
        with UnitOfWork(self.engine, write=False) as uow:
            return [r[0] for r in uow.conn.execute(select(t.heads.c.owner).order_by(t.heads.c.owner))]

    def count_events(self, owner: str | None = None) -> int:
        with UnitOfWork(self.engine, write=False) as uow:
            q = select(func.count()).select_from(t.events)
            if owner:
                q = q.where(t.events_of(owner))
            return int(uow.conn.execute(q).scalar_one())

    def count_lots(self, owner: str | None = None) -> int:
        with UnitOfWork(self.engine, write=False) as uow:
            q = select(func.count()).select_from(t.lots)
            if owner:
                q = q.where(t.lots.c.owner == owner)
            return int(uow.conn.execute(q).scalar_one())

    def events(self, owner: str, *, after_seq: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(t.events.c.seq, t.events.c.body, t.events.c.hash)
                .where(t.events_of(owner), t.events.c.seq > after_seq)
                .order_by(t.events.c.seq)
                .limit(limit)
            ).all()
        return [{"seq": r.seq, "hash": t.hash_hex(r.hash), "event": json.loads(r.body)} for r in rows]

    def change_mark(self, owner: str) -> int:
        """The owner's change counter: the sequence number of its last recorded event (0 before
        any). It only grows; a cache of anything computed from the owner's events is exact as long
        as it is keyed by this value (received summaries: :meth:`received_summaries`)."""
        return read_mark(self.engine, owner)  # a point read, cheap: every trace question reads it

    def received_summaries(self, owner: str, lots: Sequence[str]) -> dict[str, ReceivedSummary]:
        """The suppliers' summaries ``owner`` holds for the given supplier lots, by supplier lot
        (lots without one are absent), each checked against its signed token."""
        with summary_reads(self.engine, owner, lots) as (rows, sealed):  # point reads: every trace tier
            return self._checked_rows(owner, rows, sealed)

    def receipts_of(self, owner: str, from_owner: str, from_lot: str) -> list[str]:
        """``owner``'s lots received as ``from_owner``'s lot ``from_lot`` (its receipts' lots)."""
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(t.receipts_query(owner, from_owner, from_lot)).all()
        return [str(r[0]) for r in rows]

    def suppliers_of(self, owner: str, lots: Iterable[str]) -> list[SupplierLot]:
        """Which of ``owner``'s ``lots`` were received from another owner, and from whom: each
        receipt's supplier and the supplier's dispatched lot it names (the receipt's edge across
        the partition boundary), in the order of ``lots``. Other lots are left out."""
        want = list(dict.fromkeys(str(x) for x in lots))
        found: dict[str, SupplierLot] = {}
        with UnitOfWork(self.engine, write=False) as uow:
            for part in t.chunks(want):
                rows = uow.conn.execute(
                    select(t.edge_child, t.edge_parent_owner, t.edge_parent)
                    .select_from(t.EDGES_FROM)
                    .where(
                        t.edges.c.owner_no == t.owner_no_of(owner),
                        t.NumberIn(t.edges.c.child_no, t.lot_nos_of(owner, part)),
                        t.edge_parent_owner != owner,
                    )
                )
                for child, supplier, supplier_lot in rows:
                    found[child] = SupplierLot(lot=LotId(child), supplier=supplier, supplier_lot=LotId(supplier_lot))
        return [found[x] for x in want if x in found]

    def customers_of(self, owner: str, lots: Iterable[str]) -> list[CustomerLot]:
        """Which of ``owner``'s ``lots`` were shipped to another owner, and to whom: the
        ``to_owner`` of the shipment that produced each (a move between the owner's own sites has
        none), in the order of ``lots``. Other lots are left out."""
        want = list(dict.fromkeys(str(x) for x in lots))
        found: dict[str, CustomerLot] = {}
        with UnitOfWork(self.engine, write=False) as uow:
            for part in t.chunks(want):
                rows = uow.conn.execute(
                    select(t.lots.c.id, t.events.c.body)
                    .select_from(t.lots.join(t.events, and_(t.events_of(owner), t.events.c.id == t.lots.c.event_id)))
                    .where(
                        t.lots.c.owner == owner,
                        t.lots.c.id.in_(part),
                        t.lots.c.kind == EventKind.SHIPMENT.value,
                    )
                )
                for lot_id, body in rows:
                    shipment = parse_event(json.loads(body)).shipment
                    to = shipment.to_owner if shipment is not None else None
                    if to and to != owner:
                        found[lot_id] = CustomerLot(lot=LotId(lot_id), customer=to)
        return [found[x] for x in want if x in found]

    # ------------------------------------------------------------------ trace
    def trace(
        self,
        owner: str,
        subject: str,
        *,
        direction: str = "up",
        owners: Iterable[str] | None = None,
        max_hops: int = MAX_HOPS,
    ) -> dict[str, Any]:
        """Local trace from a lot or battery: the graph (lots, edges with each step's custody
        model), mines reached, boundaries, and per element the origin shares by country and by
        site, the high-risk share, recycled shares and custody models. ``owners`` widens the
        search to other partitions this reader may see (default: the owner's own). A search
        that stops at ``max_hops`` with lots left to expand says so (``hop_cap_reached``)."""
        if direction not in ("up", "down"):
            raise InvalidInput("direction must be 'up' or 'down'", field="direction", rule="ledger.trace.direction")
        root = self.resolve_subject(owner, subject)
        with UnitOfWork(self.engine, write=False) as uow:
            res = frontier_search(uow.conn, root, direction=direction, owners=owners, max_hops=max_hops)
            summaries = self._received(uow.conn, owner, [p[1] for _, p in res.boundary]) if res.boundary else {}
        out: dict[str, Any] = {
            "root": {
                "owner": owner,
                "lot": str(root.id),
                "material": root.material,
                "battery": root.battery.id if root.battery else None,
            },
            "direction": direction,
            "hops": res.hops,
            "max_hops": max_hops,
            "hop_cap_reached": res.capped,
            "queries": res.queries,
            "graph_lots": len(res.lots),
            "lots": [_lot_json(lot) for lot in res.lots.values()],
            "edges": [
                {"child": c[1], "parent": p[1], "parent_owner": p[0], "event": e, "input_kg": kg}
                for c, p, e, kg in res.edges
            ],
        }
        if direction == "up":
            profiles = profiles_from_graph(res, summaries)
            prof = profiles[(owner, str(root.id))]
            out["mines_reached"] = len(prof["mines"]) + sum(m for m in prof["xm"].values() if m > 0)
            out["mines"] = prof["mines"]
            out["boundaries"] = [{"lot": c[1], "summary": p[1] in summaries} for c, p in res.boundary]
            out["elements"] = shares(prof, site_facts(self._high_risk()))
        else:
            out["batteries"] = sorted(lot.battery.id for lot in res.lots.values() if lot.battery is not None)
        return out

    def upstream_boundary(self, owner: str, subject: str) -> tuple[str, list[str], bool]:
        """What :meth:`trace` upstream says of where ``owner``'s graph of ``subject`` ends: the
        root lot's id, the boundary lots (``owner``'s lots received from another owner, in the
        trace's order of ``boundaries``) and ``hop_cap_reached`` — the same search, without the
        graph's JSON, its profiles and shares, or the stored summaries it would fold in (the
        federated trace asks its suppliers about these lots and reads and checks their stored
        summaries itself)."""
        root = self.resolve_subject(owner, subject)
        with UnitOfWork(self.engine, write=False) as uow:
            res = frontier_search(uow.conn, root, direction="up")
        return str(root.id), [c[1] for c, _p in res.boundary], res.capped

    # ------------------------------------------------------------------ summaries
    def summary(
        self, owner: str, subject: str, *, credentials: Sequence[str] = (), footprint: Mapping[str, Any] | None = None
    ) -> UpstreamSummary:
        """The upstream summary of a lot or battery (docs/contracts.md), from the profile precomputed
        when the lot was recorded; supplier summaries are folded in without their identities."""
        lot = self.resolve_subject(owner, subject)
        prof = profile_of(lot)
        tombstones = [
            Tombstone(tier=1, reason="a supplier lot was received without an upstream summary")
            for k, m in prof["xm"].items()
            if m < 0
        ]
        creds = list(credentials)
        folded = [k for k, m in prof["xm"].items() if m >= 0]
        if folded:
            with UnitOfWork(self.engine, write=False) as uow:
                for s in self._received(uow.conn, owner, [k.split("|", 1)[1] for k in folded]).values():
                    creds.extend(c for c in s.credentials if c not in creds)
        if footprint is None and self._footprints is not None:
            footprint = self._footprints(
                battery=lot.battery.id if lot.battery is not None else None, material=lot.material
            )
        return build_summary(
            subject_kind=SubjectKind.BATTERY if lot.battery is not None else SubjectKind.LOT,
            subject_id=lot.battery.id if lot.battery is not None else str(lot.id),
            material=lot.material,
            issuer=owner,
            profile=prof,
            high_risk_sites=site_facts(self._high_risk()),
            folded=len(folded),
            tombstones=tombstones,
            credentials=creds,
            footprint=footprint,
            computed_at=self.clock.now(),
        )

    def signed_summary(self, owner: str, subject: str, **kw: Any) -> str:
        return sign_summary(self.summary(owner, subject, **kw), self.identity_for(owner))

    def receive_summary(self, owner: str, token: str, *, pusher: str | None = None) -> UpstreamSummary:
        """Record a supplier's signed summary for a lot it dispatched to ``owner`` (the subject id
        is the supplier's lot id named in our receipt). Lots already received from it, and what
        was made from them, get their profiles recomputed.

        ``pusher`` is the verified DID of the partner that pushed it (None: this node's operator):
        the summary's signer must be that DID (403 ``ledger.summary.pusher`` before any key is
        resolved). The signer's key is this node's own or resolved through ``signer_keys``."""
        kid = summary_header(token).get("kid")
        if pusher is not None:
            signer = kid.split("#", 1)[0] if isinstance(kid, str) else None
            if signer != pusher:
                raise Forbidden(
                    f"the summary is signed by {signer or 'no DID'}, the token is {pusher}'s",
                    field="kid",
                    rule="ledger.summary.pusher: a pushed summary is signed by the DID of the pusher's token",
                )
        item = self._arrived(token, kid)
        self._received_writes.submit(owner, item)
        return item.summary

    def receive_summaries(self, owner: str, tokens: Sequence[str]) -> list[UpstreamSummary]:
        """:meth:`receive_summary` of several summaries at once (this node's operator's): each
        verified, then all stored in one transaction with one recomputation of the lots that
        follow from them, as receiving them one after another in this order leaves the store."""
        items = [self._arrived(token, summary_header(token).get("kid")) for token in tokens]
        self._received_writes.submit_many(owner, items)
        return [item.summary for item in items]

    def _arrived(self, token: str, kid: object) -> Received:
        """``token`` verified, as it is stored; ``kid`` is its header's, read by the caller."""
        summary, jwk = self._verify_received(token)
        # verified here and now with this key: its later uses need not verify it again
        self._summary_checks.arrived(token, jwk)
        return Received(token, summary, jwk, str(kid), self.clock.now())

    def _write_received(self, owner: str, items: Sequence[Received]) -> None:
        """Store received summaries of ``owner`` (in arrival order) and recompute, once, the
        profiles of the lots received from their issuers and everything made from them."""
        with UnitOfWork(self.engine) as uow:
            conn = uow.conn
            # the recomputed profiles are derived state: serialise with the owner's writers
            t.lock_head(conn, owner)
            roots: set[str] = set()
            for it in items:
                roots |= store_received(conn, owner, it, self.secrets)
            self._recompute_downstream(conn, owner, sorted(roots))
            uow.commit()

    def _recompute_downstream(self, conn: Any, owner: str, lot_ids: Sequence[str]) -> None:
        """Recompute the stored profiles of ``lot_ids`` and everything made from them, in one
        pass over that downstream set (linear in its size, not in the ledger's)."""
        roots = [lot_from_row(r) for r in t.select_lots(conn, owner, lot_ids)]
        profiles = downstream_profiles(conn, roots, lambda lots: self._received(conn, owner, lots))
        by_owner: dict[str, dict[str, str]] = {}
        for (o, lot), p in profiles.items():
            by_owner.setdefault(o, {})[lot] = profile_json(p)
        for o, bodies in by_owner.items():
            t.set_lot_profiles(conn, o, bodies)

    # ------------------------------------------------------------------ outflows
    def authorise_export(self, owner: str, authorisation: Mapping[str, Any]) -> dict[str, Any]:
        """Record a self-declared export authorisation (holder, material, destinations, cap, validity)."""
        return store_authorisation(self.engine, self.clock, owner, validate_authorisation(authorisation))

    async def hold_authorisation(self, owner: str, credential: str, verify: Verify) -> dict[str, Any]:
        """Keep an authority's ``ExportAuthorisationCredential``, verified with ``verify``."""
        return await hold_authorisation_credential(self.engine, self.clock, verify, owner, credential)

    def authorisations(self, owner: str) -> list[dict[str, Any]]:
        """``owner``'s export authorisations, each with its kind and what it has used."""
        return authorisation_records(self.engine, owner)

    def outflows(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Outflow alerts with their evidence (rule ids ``outflow.prohibited``,
        ``outflow.no-authorisation``, ``outflow.destination``, ``outflow.cap``,
        ``outflow.needs-classification``; docs/outflows.md)."""
        with UnitOfWork(self.engine, write=False) as uow:
            q = select(t.alerts).order_by(t.alerts.c.created_at, t.alerts.c.id)
            if owner:
                q = q.where(t.alerts.c.owner == owner)
            rows = uow.conn.execute(q).all()
        return [
            {"owner": r.owner, "id": r.id, "shipment": r.event_id, "rule": r.rule, "evidence": json.loads(r.evidence)}
            for r in rows
        ]

    def recycling_efficiency(self, recycler: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        """Recycling efficiency and material recovery of ``recycler`` over ``[start, end)``,
        computed from its ledger against Annex XII's dated targets: a simplified estimate
        (docs/recycling.md, :mod:`batpass.ledger._recycling`)."""
        period = parse_period(start, end)
        with UnitOfWork(self.engine, write=False) as uow:
            return recycling_efficiency(uow.conn, recycler, *period)

    # ------------------------------------------------------------------ recycled content
    def claim_recycled(
        self,
        owner: str,
        *,
        claim_id: str,
        lot: str,
        element: str,
        kg: float,
        claimant: str,
        subject: str,
        custody: str = "mass_balance",
    ) -> dict[str, Any]:
        """Debit the credit account of a recovered lot (kept by ``owner``, the recycler). A claim
        beyond what is left is recorded as a double claim and reported with the claims that
        already debited the account (Art. 8; docs/architecture.md "Flows", flow 6)."""
        el = Element(element) if element in {e.value for e in Element} else None
        if el is None:
            raise InvalidInput(f"element {element!r} is not tracked", field="element", rule="ledger.element.known")
        if not kg > 0:
            raise InvalidInput("kg must be > 0", field="kg", rule="ledger.quantity.positive")
        cm = CustodyModel(custody) if custody in {c.value for c in CustodyModel} else None
        if cm is None:
            raise InvalidInput(f"custody {custody!r} is not an ISO 22095 model", field="custody", rule="ISO 22095")
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            conn = uow.conn
            # the account row is locked until commit, so concurrent claims on it (several workers
            # on PostgreSQL; replays of one claim id too) read its debits one after the other.
            # SQLite's write transaction (BEGIN IMMEDIATE) already serialises them.
            credit = conn.execute(
                select(t.credits)
                .where(t.credits.c.owner == owner, t.credits.c.lot == lot, t.credits.c.element == el.value)
                .with_for_update()
            ).first()
            prev = conn.execute(select(t.claims).where(t.claims.c.owner == owner, t.claims.c.id == claim_id)).first()
            if prev is not None:
                same = (prev.lot, prev.element, prev.kg, prev.claimant, prev.subject) == (
                    lot,
                    el.value,
                    kg,
                    claimant,
                    subject,
                )
                if not same:
                    raise Conflict(
                        f"claim {claim_id} exists with other content", field="id", rule="ledger.claim.unique"
                    )
                return _claim_json(prev, [])
            if credit is None:
                raise NotFound(
                    f"no {el.value} credit account for lot {lot} at {owner}", rule="ledger.credit.account", field="lot"
                )
            accepted = conn.execute(
                select(t.claims)
                .where(
                    t.claims.c.owner == owner,
                    t.claims.c.lot == lot,
                    t.claims.c.element == el.value,
                    t.claims.c.status == "accepted",
                )
                .order_by(t.claims.c.created_at)
            ).all()
            used = sum(c.kg for c in accepted)
            status = "accepted" if used + kg <= credit.credited_kg * (1 + 1e-9) else "double_claim"
            conn.execute(
                t.claims.insert().values(
                    owner=owner,
                    id=claim_id,
                    lot=lot,
                    element=el.value,
                    kg=kg,
                    claimant=claimant,
                    subject=subject,
                    custody=cm.value,
                    status=status,
                    created_at=now,
                )
            )
            uow.commit()
        row = {
            "id": claim_id,
            "lot": lot,
            "element": el.value,
            "kg": kg,
            "claimant": claimant,
            "subject": subject,
            "custody": cm.value,
            "status": status,
            "credited_kg": credit.credited_kg,
            "debited_kg": used,
            "book_and_claim_not_accepted": cm is CustodyModel.BOOK_AND_CLAIM,
        }
        if status != "accepted":
            row["conflicting_claims"] = [
                {"id": c.id, "kg": c.kg, "claimant": c.claimant, "subject": c.subject} for c in accepted
            ]
        return row

    def double_claims(self, owner: str) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            bad = uow.conn.execute(
                select(t.claims).where(t.claims.c.owner == owner, t.claims.c.status == "double_claim")
            ).all()
            out = []
            for b in bad:
                others = uow.conn.execute(
                    select(t.claims)
                    .where(t.claims.c.owner == owner, t.claims.c.lot == b.lot, t.claims.c.element == b.element)
                    .order_by(t.claims.c.created_at)
                ).all()
                out.append(
                    {
                        "account": f"{owner}|{b.lot}|{b.element}",
                        "lot": b.lot,
                        "claims": [_claim_json(c, []) for c in others],
                    }
                )
        return out

    def recycled_content(
        self, owner: str, *, model: str | None = None, year: int | None = None, plant: str | None = None
    ) -> list[dict[str, Any]]:
        """Art. 8 recycled content per battery model and batch (production year) per plant, each
        element's figure with its ``basis`` (``art8_model_batch_plant``), its reference mass
        (active materials; the battery for Pb), pre- and post-consumer apart, the share of that
        mass no supplier summary covers yet (``unknown_mass_share``; shares ``None`` where
        nothing is known) and its chain-of-custody mix; credit claims per group with their
        custody model, book-and-claim flagged as not accepted (ISO 22095:2020; docs/rules.md
        "Chain of custody"). One definition: ``ledger._recycled``."""
        return self._art8.groups(owner, model=model, year=year, plant=plant)

    def recycled_content_of(self, owner: str, battery: str) -> dict[str, Any] | None:
        """The Art. 8 figure of the group (model, batch, plant) ``battery`` belongs to: the one
        figure the API, the passport and the compliance report show; None if it has none."""
        lot = self.resolve_subject(owner, battery)
        if lot.battery is None:
            raise InvalidInput(f"{battery} is a lot, not a battery", field="battery", rule="ledger.battery.subject")
        mdl, year, plant = group_key(lot)
        groups = self.recycled_content(owner, model=mdl, year=year, plant=plant)
        return groups[0] if groups else None


def _claim_json(c: Any, _others: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": c.id,
        "lot": c.lot,
        "element": c.element,
        "kg": c.kg,
        "claimant": c.claimant,
        "subject": c.subject,
        "custody": c.custody,
        "status": c.status,
        "book_and_claim_not_accepted": c.custody == "book_and_claim",
    }


def _lot_json(lot: Lot) -> dict[str, Any]:
    return {
        "owner": lot.owner,
        "id": str(lot.id),
        "material": lot.material,
        "site": lot.site,
        "country": lot.country,
        "custody": lot.custody.value,
        "recycled": lot.recycled.value if lot.recycled else None,
        "kind": lot.kind.value,
        "event": str(lot.event_id),
        "battery": lot.battery.id if lot.battery else None,
    }
