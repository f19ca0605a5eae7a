"""The identity crosswalk between Ouranos and Catena-X, as data: its entries and trust policy.

A crosswalk entry maps identifiers of one thing across the two data spaces:

- ``operator``: a Japanese corporate number (法人番号, the Ouranos ``openOperatorId`` per the
  published OpenAPI ``OperatorModel``; check digit enforced here) ⇄ a Catena-X BPNL (CX-0010) ⇄
  a DID (W3C DID Core);
- ``site``: an Ouranos ``openPlantId`` (``PlantModel``) ⇄ a Catena-X BPNS (CX-0010);
- ``part``: an Ouranos ``traceId`` (``PartsModel``, a UUID) ⇄ a Catena-X twin id (the AAS
  ``globalAssetId`` / ``catenaXId``, ``urn:uuid:`` + UUID).

Each entry names who asserted it (``assertedBy``, a DID) and when (``assertedAt``); the signature
over its RFC 8785 canonical JSON lives beside it (see ``_proof``). An entry's id is the SHA-256 of
that canonical JSON, so the id names exactly one content.

This module is pure: no I/O, no SQL, no HTTP. Field names on the wire are the camelCase ones of
``_data/crosswalk-entry.schema.json`` (documented in ``docs/bridge.md``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import rfc8785

from batpass.bridge.errors import EntryMalformed
from batpass.core.errors import InvalidIdentifier
from batpass.core.ids import Bpnl, Bpns, CorporateNumber, Did, OuranosPlantId

__all__ = [
    "SLOTS",
    "AssertionPolicy",
    "CrosswalkEntry",
    "EntryKind",
    "OperatorLink",
    "PartLink",
    "SignedEntry",
    "SiteLink",
    "StoredEntry",
    "TrustedAsserters",
    "entry_id_of",
]

#: wire format version of an entry (``_data/crosswalk-entry.schema.json``)
FORMAT = "batpass-crosswalk/1"
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENTRY_ID = re.compile(r"sha256:[0-9a-f]{64}")
_T = TypeVar("_T")


class EntryKind(StrEnum):
    """What an entry maps: an operator (legal entity), a site (plant) or a part (twin)."""

    OPERATOR = "operator"
    SITE = "site"
    PART = "part"


#: identifier slots per kind, in their wire spelling; a slot's value maps to one active entry
SLOTS: dict[EntryKind, tuple[str, ...]] = {
    EntryKind.OPERATOR: ("corporateNumber", "bpnl", "did"),
    EntryKind.SITE: ("ouranosPlantId", "bpns"),
    EntryKind.PART: ("ouranosTraceId", "catenaXId"),
}
_SLOT_KIND = {slot: kind for kind, slots in SLOTS.items() for slot in slots}


def _bad(msg: str, field_: str, rule: str, value: object = None) -> EntryMalformed:
    return EntryMalformed(msg, field=field_, rule=rule, value=value)


def _ident(cls: Callable[[str], _T], raw: object, field_: str) -> _T:
    """Build an identifier strictly: the wire text must already be the normalised form."""
    if not isinstance(raw, str):
        raise _bad(f"{field_} must be a string", field_, "crosswalk-entry schema", raw)
    try:
        value = cls(raw)
    except InvalidIdentifier as exc:
        raise EntryMalformed(exc.message, field=field_, rule=exc.rule, value=raw) from exc
    if str(value) != raw:
        raise _bad(f"{field_} '{raw}' is not in normalised form '{value}'", field_, "normalised identifier", raw)
    return value


def _uuid_text(raw: object, field_: str) -> uuid.UUID:
    if not isinstance(raw, str) or not _UUID_TEXT.fullmatch(raw):
        raise _bad(f"{field_} {raw!r} is not a lower-case UUID", field_, "RFC 9562 UUID text, lower case", raw)
    return uuid.UUID(raw)


@dataclass(frozen=True, slots=True)
class OperatorLink:
    """Corporate number ⇄ BPNL ⇄ DID of one legal entity; BPNL or DID may be absent, not both."""

    corporate_number: CorporateNumber
    bpnl: Bpnl | None = None
    did: Did | None = None

    def __post_init__(self) -> None:
        if self.bpnl is None and self.did is None:
            raise _bad(
                f"operator {self.corporate_number} maps to nothing: give a bpnl, a did or both",
                "bpnl",
                "an operator entry names a BPNL or a DID",
            )

    def slots(self) -> dict[str, str]:
        out = {"corporateNumber": str(self.corporate_number)}
        if self.bpnl is not None:
            out["bpnl"] = str(self.bpnl)
        if self.did is not None:
            out["did"] = str(self.did)
        return out


@dataclass(frozen=True, slots=True)
class SiteLink:
    """Ouranos ``openPlantId`` ⇄ Catena-X BPNS of one site."""

    ouranos_plant_id: OuranosPlantId
    bpns: Bpns

    def slots(self) -> dict[str, str]:
        return {"ouranosPlantId": str(self.ouranos_plant_id), "bpns": str(self.bpns)}


@dataclass(frozen=True, slots=True)
class PartLink:
    """Ouranos ``traceId`` ⇄ Catena-X twin id (``urn:uuid:…`` global asset id) of one part."""

    ouranos_trace_id: uuid.UUID
    catenax_id: uuid.UUID

    def slots(self) -> dict[str, str]:
        return {"ouranosTraceId": str(self.ouranos_trace_id), "catenaXId": f"urn:uuid:{self.catenax_id}"}


Link = OperatorLink | SiteLink | PartLink
_KIND_OF: dict[type[Any], EntryKind] = {
    OperatorLink: EntryKind.OPERATOR,
    SiteLink: EntryKind.SITE,
    PartLink: EntryKind.PART,
}


def _timestamp_text(when: dt.datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("assertedAt must be timezone-aware")
    u = when.astimezone(dt.UTC)
    text = u.strftime("%Y-%m-%dT%H:%M:%S")
    if u.microsecond:
        text += f".{u.microsecond:06d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class CrosswalkEntry:
    """One assertion: ``link`` holds, says ``asserted_by`` at ``asserted_at``.

    ``supersedes`` lists ids of earlier entries by the same asserter that this one replaces.
    """

    link: Link
    asserted_by: Did
    asserted_at: dt.datetime
    supersedes: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> EntryKind:
        return _KIND_OF[type(self.link)]

    def slots(self) -> dict[str, str]:
        """The identifiers this entry maps, by wire slot name."""
        return self.link.slots()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "type": self.kind.value,
            **self.slots(),
            "assertedBy": str(self.asserted_by),
            "assertedAt": _timestamp_text(self.asserted_at),
        }
        if self.supersedes:
            out["supersedes"] = list(self.supersedes)
        return out

    def canonical(self) -> bytes:
        """RFC 8785 (JCS) canonical JSON: the bytes the asserter signs."""
        return rfc8785.dumps(self.to_json())

    @property
    def entry_id(self) -> str:
        return entry_id_of(self.canonical())

    @classmethod
    def from_json(cls, obj: object) -> CrosswalkEntry:
        """Parse strictly: every field known, every identifier valid and already normalised."""
        if not isinstance(obj, dict):
            raise _bad("a crosswalk entry must be a JSON object", "entry", "crosswalk-entry schema")
        if obj.get("format") != FORMAT:
            raise _bad(f"entry.format must be '{FORMAT}'", "entry.format", "crosswalk-entry schema", obj.get("format"))
        try:
            kind = EntryKind(str(obj.get("type")))
        except ValueError as exc:
            raise _bad(
                f"entry.type {obj.get('type')!r} is not one of operator, site, part",
                "entry.type",
                "crosswalk-entry schema",
                obj.get("type"),
            ) from exc
        common = {"format", "type", "assertedBy", "assertedAt", "supersedes"}
        allowed = common | set(SLOTS[kind])
        extra = sorted(set(obj) - allowed)
        if extra:
            raise _bad(
                f"entry field {extra[0]!r} is not allowed in a {kind} entry",
                f"entry.{extra[0]}",
                "crosswalk-entry schema: additionalProperties false",
            )
        link: Link
        if kind is EntryKind.OPERATOR:
            link = OperatorLink(
                _ident(CorporateNumber, obj.get("corporateNumber"), "entry.corporateNumber"),
                None if "bpnl" not in obj else _ident(Bpnl, obj["bpnl"], "entry.bpnl"),
                None if "did" not in obj else _ident(Did, obj["did"], "entry.did"),
            )
        elif kind is EntryKind.SITE:
            link = SiteLink(
                _ident(OuranosPlantId, obj.get("ouranosPlantId"), "entry.ouranosPlantId"),
                _ident(Bpns, obj.get("bpns"), "entry.bpns"),
            )
        else:
            twin = obj.get("catenaXId")
            if not isinstance(twin, str) or not twin.startswith("urn:uuid:"):
                raise _bad(
                    f"entry.catenaXId {twin!r} is not 'urn:uuid:' + UUID",
                    "entry.catenaXId",
                    "Catena-X global asset id (urn:uuid)",
                    twin,
                )
            link = PartLink(
                _uuid_text(obj.get("ouranosTraceId"), "entry.ouranosTraceId"),
                _uuid_text(twin.removeprefix("urn:uuid:"), "entry.catenaXId"),
            )
        asserted_by = _ident(Did, obj.get("assertedBy"), "entry.assertedBy")
        at = obj.get("assertedAt")
        if not isinstance(at, str) or not _TIMESTAMP.fullmatch(at):
            raise _bad(
                f"entry.assertedAt {at!r} is not an RFC 3339 UTC time ending in 'Z'",
                "entry.assertedAt",
                "RFC 3339, UTC",
                at,
            )
        try:
            asserted_at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError as exc:
            raise _bad(f"entry.assertedAt {at!r} is not a real time", "entry.assertedAt", "RFC 3339", at) from exc
        if _timestamp_text(asserted_at) != at:
            raise _bad(f"entry.assertedAt {at!r} is not in canonical form", "entry.assertedAt", "RFC 3339", at)
        sup = obj.get("supersedes", [])
        if "supersedes" in obj and (
            not isinstance(sup, list)
            or not sup
            or not all(isinstance(s, str) and _ENTRY_ID.fullmatch(s) for s in sup)
            or len(set(sup)) != len(sup)
        ):
            raise _bad(
                "entry.supersedes must be a non-empty list of distinct entry ids 'sha256:' + 64 hex",
                "entry.supersedes",
                "crosswalk-entry schema",
                sup,
            )
        return cls(link, asserted_by, asserted_at, tuple(sup))


def entry_id_of(canonical: bytes) -> str:
    """An entry's id: ``sha256:`` + hex SHA-256 of its canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedEntry:
    """An entry with its detached compact JWS (``header..signature``) over its canonical JSON."""

    entry: CrosswalkEntry
    signature: str

    @property
    def entry_id(self) -> str:
        return self.entry.entry_id

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.to_json(), "signature": self.signature}

    def document(self) -> bytes:
        """The signed entry as one line of canonical JSON (the exchange form)."""
        return rfc8785.dumps(self.to_json())


class StoredEntry:
    """A stored signed entry with its bookkeeping (when stored, what superseded it)."""

    __slots__ = ("signed", "stored_at", "superseded_by")

    def __init__(self, signed: SignedEntry, *, stored_at: dt.datetime, superseded_by: str | None) -> None:
        self.signed = signed
        self.stored_at = stored_at
        self.superseded_by = superseded_by

    @property
    def entry(self) -> CrosswalkEntry:
        return self.signed.entry

    @property
    def entry_id(self) -> str:
        return self.signed.entry_id

    def to_json(self) -> dict[str, Any]:
        return {
            "entryId": self.entry_id,
            **self.signed.to_json(),
            "active": self.superseded_by is None,
            "supersededBy": self.superseded_by,
            "storedAt": self.stored_at.isoformat().replace("+00:00", "Z"),
        }


def slot_kind(slot: str) -> EntryKind:
    """Which kind of entry holds ``slot``; an unknown slot is bad input."""
    try:
        return _SLOT_KIND[slot]
    except KeyError as exc:
        raise _bad(
            f"unknown crosswalk identifier {slot!r}; known: {', '.join(sorted(_SLOT_KIND))}",
            "slot",
            "crosswalk slots (docs/bridge.md)",
            slot,
        ) from exc


#: the injected trust decision: may ``asserter`` assert ``entry`` in the crosswalk?
AssertionPolicy = Callable[[Did, CrosswalkEntry], bool]


@dataclass(frozen=True, slots=True)
class TrustedAsserters:
    """A ready-made :data:`AssertionPolicy`: which DIDs may assert which kinds of entry.

    For instance the hub operator for its own operators, sites and parts, and the Catena-X
    operator for operator entries (BPNLs)::

        TrustedAsserters({hub: frozenset(EntryKind), cx_operator: frozenset({EntryKind.OPERATOR})})
    """

    grants: Mapping[str, frozenset[EntryKind]]

    def __call__(self, asserter: Did, entry: CrosswalkEntry) -> bool:
        return entry.kind in self.grants.get(str(asserter), frozenset())
