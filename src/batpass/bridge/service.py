"""Use cases of the identity crosswalk: accept signed entries, look identifiers up both ways.

An entry is accepted only when all of these hold (each refusal names its reason; nothing is
stored on refusal):

1. it is in the crosswalk-entry format and its identifiers are valid (the corporate number's
   check digit included);
2. its asserter is trusted for that kind of entry (the injected :data:`AssertionPolicy`);
3. its detached JWS verifies over its RFC 8785 canonical JSON with the asserter's key, found
   through the injected ``public_jwk_resolver`` (``kid`` → public JWK from the DID document);
4. it contradicts no active mapping — or it lists every contradicted entry in ``supersedes``
   and each of those was asserted earlier by the same party.

Re-submitting an entry already stored is idempotent. The service knows no HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from batpass.bridge._proof import PublicJwkResolver, sign_entry, verify_entry
from batpass.bridge._sql import SqlCrosswalkStore
from batpass.bridge.errors import CrosswalkConflict
from batpass.bridge.model import AssertionPolicy, CrosswalkEntry, EntryKind, SignedEntry, StoredEntry, slot_kind
from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import NotFound
from batpass.core.ids import Bpnl, Bpns, CorporateNumber, Did, OuranosPlantId
from batpass.store import UnitOfWork
from batpass.trust import NodeIdentity

__all__ = ["CrosswalkService"]


class CrosswalkService:
    """The crosswalk of a bridge node.

    ``public_jwk_resolver`` maps a key id (DID URL) to its public JWK from the asserter's DID
    document, or ``None``; ``policy`` decides who may assert what (e.g. :class:`TrustedAsserters`).
    ``identity`` (optional) lets the node sign its own assertions with :meth:`assert_link`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        public_jwk_resolver: PublicJwkResolver,
        policy: AssertionPolicy,
        identity: NodeIdentity | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self._engine = engine
        self._resolve = public_jwk_resolver
        self._policy = policy
        self._identity = identity
        self._clock = clock

    # -- writes ---------------------------------------------------------------------------------

    def submit(self, document: bytes | str | Mapping[str, Any]) -> StoredEntry:
        """Verify a signed entry document and store it (see the module docstring for the rules)."""
        signed = verify_entry(document, self._resolve, self._policy)
        try:
            with UnitOfWork(self._engine) as uow:
                stored = self._store(SqlCrosswalkStore(uow), signed)
                uow.commit()
        except IntegrityError as exc:  # a concurrent write took one of the identifiers first
            raise CrosswalkConflict(
                "another entry for one of these identifiers was stored at the same time; retry",
                rule="one active mapping per identifier",
            ) from exc
        return stored

    def assert_link(self, entry: CrosswalkEntry) -> StoredEntry:
        """Sign ``entry`` with this node's identity (the asserter) and submit it."""
        if self._identity is None:
            raise NotFound("this crosswalk has no signing identity", rule="CrosswalkService(identity=...)")
        return self.submit(sign_entry(entry, self._identity).document())

    def _store(self, store: SqlCrosswalkStore, signed: SignedEntry) -> StoredEntry:
        existing = store.get(signed.entry_id)
        if existing is not None:
            return existing  # the very same signed content: idempotent
        entry = signed.entry
        held = store.active_holding(entry.slots().items())
        listed = set(entry.supersedes)
        for sid in entry.supersedes:
            old = store.get(sid)
            if old is None:
                raise NotFound(f"supersedes names {sid}, which is not in the crosswalk", rule="supersedes")
            self._check_supersedable(entry, old)
        for old in held:
            if old.entry_id not in listed:
                raise CrosswalkConflict(_conflict_message(entry, old), rule=_CONFLICT_RULE)
        now = self._clock.now()
        for sid in entry.supersedes:
            store.supersede(sid, signed.entry_id)
        return store.add(signed, now=now)

    @staticmethod
    def _check_supersedable(entry: CrosswalkEntry, old: StoredEntry) -> None:
        if old.superseded_by is not None:
            raise CrosswalkConflict(
                f"entry {old.entry_id} was already superseded by {old.superseded_by}",
                rule=_CONFLICT_RULE,
            )
        if old.entry.kind is not entry.kind:
            raise CrosswalkConflict(
                f"a {entry.kind} entry cannot supersede {old.entry.kind} entry {old.entry_id}", rule=_CONFLICT_RULE
            )
        if str(old.entry.asserted_by) != str(entry.asserted_by):
            raise CrosswalkConflict(
                f"entry {old.entry_id} was asserted by {old.entry.asserted_by}; only that party can supersede it, "
                f"not {entry.asserted_by}",
                rule=_CONFLICT_RULE,
            )
        if entry.asserted_at <= old.entry.asserted_at:
            raise CrosswalkConflict(
                f"superseding entry asserted at {entry.asserted_at.isoformat()} is not newer than "
                f"{old.entry_id} asserted at {old.entry.asserted_at.isoformat()}",
                rule=_CONFLICT_RULE,
            )

    # -- reads ----------------------------------------------------------------------------------

    def get(self, entry_id: str) -> StoredEntry:
        with UnitOfWork(self._engine, write=False) as uow:
            found = SqlCrosswalkStore(uow).get(entry_id)
        if found is None:
            raise NotFound(f"no crosswalk entry {entry_id}", rule="entry ids are 'sha256:' + hex")
        return found

    def lookup(self, slot: str, value: str) -> StoredEntry:
        """The active entry mapping identifier ``value`` in ``slot`` (e.g. ``bpnl``)."""
        slot_kind(slot)
        with UnitOfWork(self._engine, write=False) as uow:
            found = SqlCrosswalkStore(uow).find(slot, value)
        if found is None:
            raise NotFound(f"no active crosswalk entry maps {slot} '{value}'", rule="crosswalk lookup")
        return found

    def list(self, kind: EntryKind | None = None) -> list[StoredEntry]:
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlCrosswalkStore(uow).list_active(kind)

    def bpnl_for(self, corporate_number: CorporateNumber) -> Bpnl | None:
        link = self.lookup("corporateNumber", CorporateNumber(corporate_number)).entry.link
        return getattr(link, "bpnl", None)

    def corporate_number_for(self, bpnl: Bpnl) -> CorporateNumber:
        link = self.lookup("bpnl", Bpnl(bpnl)).entry.link
        cn: CorporateNumber = link.corporate_number  # type: ignore[union-attr]
        return cn

    def did_for(self, corporate_number: CorporateNumber) -> Did | None:
        link = self.lookup("corporateNumber", CorporateNumber(corporate_number)).entry.link
        return getattr(link, "did", None)

    def bpns_for(self, plant_id: OuranosPlantId) -> Bpns:
        bpns: Bpns = self.lookup("ouranosPlantId", OuranosPlantId(plant_id)).entry.link.bpns  # type: ignore[union-attr]
        return bpns

    def plant_for(self, bpns: Bpns) -> OuranosPlantId:
        link = self.lookup("bpns", Bpns(bpns)).entry.link
        plant: OuranosPlantId = link.ouranos_plant_id  # type: ignore[union-attr]
        return plant

    def twin_for(self, trace_id: uuid.UUID) -> str:
        """The Catena-X twin id (``urn:uuid:…``) of an Ouranos trace id."""
        return self.lookup("ouranosTraceId", str(trace_id)).entry.slots()["catenaXId"]

    def trace_for(self, twin_id: str) -> uuid.UUID:
        return uuid.UUID(self.lookup("catenaXId", twin_id).entry.slots()["ouranosTraceId"])


_CONFLICT_RULE = "crosswalk: a mapping changes only by a newer signed assertion of the same trusted party"


def _conflict_message(entry: CrosswalkEntry, old: StoredEntry) -> str:
    mine = entry.slots()
    theirs = old.entry.slots()
    shared = [s for s in mine if theirs.get(s) == mine[s]]
    slot = shared[0] if shared else next(iter(mine))
    other = {k: v for k, v in theirs.items() if k != slot}
    return (
        f"{slot} {mine[slot]} is already mapped to "
        + ", ".join(f"{k} {v}" for k, v in other.items())
        + f" by entry {old.entry_id} asserted by {old.entry.asserted_by}; "
        f"a different mapping must list it in 'supersedes' and be newer and signed by that party"
    )
