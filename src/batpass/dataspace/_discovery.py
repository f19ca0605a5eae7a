"""The federation operator's directory and discovery services, compatible with Tractus-X's:

- **BPN-DID directory** (eclipse-tractusx/bpn-did-resolution-service, "BDRS"): BPNL → DID of every
  member, written by the operator (``/api/management/bpn-directory``, admin) and read by members
  (``GET /api/directory/bpn-directory``, gzip-compressed JSON object ``{bpn: did}``). batpass adds
  optional ``?bpn=`` / ``?did=`` filters so a member asks for the partners it deals with instead
  of downloading every member's identity (the BDRS returns all; a Tractus-X client that sends no
  filter still gets all).
- **Discovery finder** (eclipse-tractusx/sldt-discovery-finder): which discovery service answers
  for an identifier type (``POST /api/v1.0/administration/connectors/discovery/search``).
- **BPN discovery** (eclipse-tractusx/sldt-bpn-discovery): which BPNLs hold twins for an
  identifier (``type``/``key``, e.g. ``manufacturerPartId``): a member registers its own
  identifiers (its BPNL from its verified token, never from the body) and searches others'.
- **EDC discovery** (the Catena-X portal's ``POST /api/administration/connectors/discovery``): a
  BPNL's connector endpoints, found through the directory (BPNL → DID) and the DID document's
  ``DataService`` entries.

Only the operator's node serves them (profile ``discovery``). Storage on the node's engine; what
it must not know: the node, other capabilities.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine, Integer, PrimaryKeyConstraint, String, Table, UniqueConstraint, delete, select

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from batpass.dataspace.ports import ParticipantVerifier
from batpass.store import UnitOfWork
from batpass.store.metadata import UTCDateTime, metadata

__all__ = [
    "BDRS_DIRECTORY_PATH",
    "BPN_DISCOVERY_PATH",
    "BUILT_IN_TYPES",
    "DISCOVERY_FINDER_PATH",
    "EDC_DISCOVERY_PATH",
    "DiscoveryService",
    "Member",
    "bdrs_table",
    "bpn_discovery_table",
    "finder_table",
]

BDRS_DIRECTORY_PATH = "/api/directory/bpn-directory"
BDRS_MANAGEMENT_PATH = "/api/management/bpn-directory"
DISCOVERY_FINDER_PATH = "/api/v1.0/administration/connectors/discovery"
BPN_DISCOVERY_PATH = "/api/v1.0/administration/connectors/bpnDiscovery"
EDC_DISCOVERY_PATH = "/api/administration/connectors/discovery"
#: the identifier types this operator's own BPN discovery answers for (Industry Core: CX-0053)
BUILT_IN_TYPES = ("manufacturerPartId", "partInstanceId", "batchId", "batteryId")
_BPNL = re.compile(r"^BPNL[0-9A-Z]{12}$")
_DID = re.compile(r"^did:[a-z0-9]+:\S{1,500}$")
_NS = uuid.UUID("0b5e0d8e-43c5-4a4c-9d5e-8a3f1c2b7d90")  # built-in finder entries (uuid5 namespace)
_RULE_BDRS = "BDRS BpnMapping {bpn, did}"
_RULE_FINDER = "sldt-discovery-finder DiscoveryEndpoint"
_RULE_BPN = "sldt-bpn-discovery IdentifierTypeKeyPair"
_MAX = 10000  # maxItems of every list in the Tractus-X discovery APIs

bdrs_table = Table(
    "bdrs_entries",
    metadata,
    Column("bpn", String(16), nullable=False),
    Column("did", String(512), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("bpn", name="pk_bdrs_entries"),
)
finder_table = Table(
    "discovery_endpoints",
    metadata,
    Column("resource_id", String(36), nullable=False),
    Column("type", String(200), nullable=False),
    Column("description", String(500), nullable=False),
    Column("endpoint_address", String(300), nullable=False),
    Column("documentation", String(500), nullable=True),
    Column("ttl", Integer, nullable=False),
    PrimaryKeyConstraint("resource_id", name="pk_discovery_endpoints"),
)
bpn_discovery_table = Table(
    "bpn_discovery",
    metadata,
    Column("resource_id", String(36), nullable=False),
    Column("type", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("bpn", String(16), nullable=False),
    PrimaryKeyConstraint("resource_id", name="pk_bpn_discovery"),
    UniqueConstraint("type", "key", "bpn", name="uq_bpn_discovery"),
)

#: a DID's DSP endpoints (its DID document's ``DataService`` entries)
DspEndpoints = Callable[[str], Awaitable[list[str]]]


def _bpnl(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _BPNL.match(value):
        raise InvalidInput(f"{field}: '{str(value)[:40]}' is not a BPNL", field=field, rule="Catena-X BPNL (CX-0010)")
    return value


def _text(body: Mapping[str, Any], name: str, limit: int, rule: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidInput(f"{name}: a string of 1 to {limit} characters", field=name, rule=rule)
    return value


def _object(body: Any, rule: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object", field="(body)", rule=rule)
    return body


@dataclass(frozen=True, slots=True)
class Member:
    """A verified member calling the discovery services: its DID and the BPNL of its membership."""

    did: str
    bpnl: str


class DiscoveryService:
    """The operator's BPN-DID directory, discovery finder, BPN discovery and EDC discovery."""

    def __init__(
        self,
        engine: Engine,
        *,
        base_url: str,
        verifier: ParticipantVerifier,
        dsp_endpoints: DspEndpoints,
        clock: Clock = SystemClock(),
    ) -> None:
        self.engine = engine
        self.verifier = verifier
        self.base_url = base_url.rstrip("/")
        self.dsp_endpoints = dsp_endpoints
        self.clock = clock

    async def member(self, authorization: str | None) -> Member:
        """The caller: a member verified by its DCP token with a membership naming a BPNL."""
        participant = await self.verifier.verify(authorization)
        if participant.bpnl is None or "MembershipCredential" not in participant.memberships:
            raise Forbidden(
                f"{participant.did} presented no membership naming a BPNL",
                rule="Catena-X membership (BDRS, discovery services)",
            )
        return Member(did=participant.did, bpnl=participant.bpnl)

    # -- BPN-DID directory ------------------------------------------------------------------

    def put_mapping(self, body: Any, *, create: bool) -> None:
        """``POST`` (create: a known BPN is a conflict) or ``PUT`` (update: an unknown one is a
        404) of ``{bpn, did}``."""
        b = _object(body, _RULE_BDRS)
        bpn = _bpnl(b.get("bpn"), "bpn")
        did = _text(b, "did", 512, _RULE_BDRS)
        if did is None or not _DID.match(did):
            raise InvalidInput("did: not a DID", field="did", rule="W3C DID syntax")
        t = bdrs_table
        with UnitOfWork(self.engine) as uow:
            known = uow.conn.execute(select(t.c.bpn).where(t.c.bpn == bpn)).first() is not None
            if create and known:
                raise Conflict(f"{bpn} is already in the directory", field="bpn", rule=_RULE_BDRS + " (POST creates)")
            if not create and not known:
                raise NotFound(f"{bpn} is not in the directory", field="bpn", rule=_RULE_BDRS + " (PUT updates)")
            now = self.clock.now()
            if known:
                uow.conn.execute(t.update().where(t.c.bpn == bpn).values(did=did, updated_at=now))
            else:
                uow.conn.execute(t.insert().values(bpn=bpn, did=did, updated_at=now))
            uow.commit()

    def register(self, bpn: str, did: str) -> None:
        """Create or update one mapping (the operator's onboarding of a member)."""
        try:
            self.put_mapping({"bpn": bpn, "did": did}, create=True)
        except Conflict:
            self.put_mapping({"bpn": bpn, "did": did}, create=False)

    def delete_mapping(self, bpn: str) -> None:
        with UnitOfWork(self.engine) as uow:
            if not uow.conn.execute(delete(bdrs_table).where(bdrs_table.c.bpn == bpn)).rowcount:
                raise NotFound(f"{bpn} is not in the directory", field="bpn", rule=_RULE_BDRS)
            uow.commit()

    def directory(self, *, bpns: Sequence[str] = (), dids: Sequence[str] = ()) -> dict[str, str]:
        """``{bpn: did}``: every entry, or those naming one of ``bpns`` or ``dids``."""
        if len(bpns) + len(dids) > _MAX:
            raise InvalidInput(f"at most {_MAX} filters", field="bpn", rule="BPN directory filters")
        t = bdrs_table
        q = select(t.c.bpn, t.c.did).order_by(t.c.bpn)
        if bpns or dids:
            q = q.where(t.c.bpn.in_(list(bpns)) | t.c.did.in_(list(dids)))
        with UnitOfWork(self.engine, write=False) as uow:
            return {r[0]: r[1] for r in uow.conn.execute(q)}

    # -- discovery finder -------------------------------------------------------------------

    def _built_in(self) -> list[dict[str, Any]]:
        out = [
            {
                "type": "bpn",
                "description": "Service to discover EDC to a particular BPN",
                "endpointAddress": self.base_url + EDC_DISCOVERY_PATH,
                "documentation": self.base_url + "/docs",
                "resourceId": str(uuid.uuid5(_NS, "bpn")),
                "timeToLive": 31536000,
            }
        ]
        for kind in BUILT_IN_TYPES:
            out.append(
                {
                    "type": kind,
                    "description": f"Service to discover BPN to a particular {kind}",
                    "endpointAddress": self.base_url + BPN_DISCOVERY_PATH,
                    "documentation": self.base_url + "/docs",
                    "resourceId": str(uuid.uuid5(_NS, kind)),
                    "timeToLive": 31536000,
                }
            )
        return out

    def add_endpoint(self, body: Any) -> dict[str, Any]:
        b = _object(body, _RULE_FINDER)
        ttl = b.get("timeToLive")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 31536000:
            raise InvalidInput("timeToLive: an integer of 1 to 31536000", field="timeToLive", rule=_RULE_FINDER)
        row = {
            "resource_id": str(uuid.uuid4()),
            "type": _text(b, "type", 200, _RULE_FINDER),
            "description": _text(b, "description", 500, _RULE_FINDER),
            "endpoint_address": _text(b, "endpointAddress", 300, _RULE_FINDER),
            "documentation": _text(b, "documentation", 500, _RULE_FINDER, required=False),
            "ttl": ttl,
        }
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(finder_table.insert().values(**row))
            uow.commit()
        return self._endpoint_json(row)

    @staticmethod
    def _endpoint_json(r: Mapping[str, Any]) -> dict[str, Any]:
        out = {
            "type": r["type"],
            "description": r["description"],
            "endpointAddress": r["endpoint_address"],
            "resourceId": r["resource_id"],
            "timeToLive": r["ttl"],
        }
        if r.get("documentation"):
            out["documentation"] = r["documentation"]
        return out

    def delete_endpoint(self, resource_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            t = finder_table
            if not uow.conn.execute(delete(t).where(t.c.resource_id == resource_id)).rowcount:
                raise NotFound(f"no discovery endpoint {resource_id}", field="resourceId", rule=_RULE_FINDER)
            uow.commit()

    def search_endpoints(self, body: Any) -> dict[str, Any]:
        b = _object(body, "sldt-discovery-finder SearchRequest")
        types = b.get("types")
        if not isinstance(types, list) or len(types) > _MAX or not all(isinstance(x, str) for x in types):
            raise InvalidInput(
                f"types: a list of at most {_MAX} strings", field="types", rule="sldt-discovery-finder SearchRequest"
            )
        wanted = set(types)
        found = [e for e in self._built_in() if e["type"] in wanted]
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(finder_table).where(finder_table.c.type.in_(sorted(wanted)))).mappings()
            found.extend(self._endpoint_json(dict(r)) for r in rows)
        return {"endpoints": found}

    # -- BPN discovery ----------------------------------------------------------------------

    def _pair(self, body: Any) -> tuple[str, str]:
        b = _object(body, _RULE_BPN)
        return str(_text(b, "type", 200, _RULE_BPN)), str(_text(b, "key", 200, _RULE_BPN))

    def add_identifiers(self, member: Member, bodies: Iterable[Any]) -> list[dict[str, Any]]:
        """Register identifiers as held by ``member``'s BPNL (idempotent per type, key, BPN)."""
        pairs = [self._pair(b) for b in bodies]
        if len(pairs) > _MAX:
            raise InvalidInput(f"at most {_MAX} identifiers", field="(body)", rule=_RULE_BPN)
        t = bpn_discovery_table
        out: list[dict[str, Any]] = []
        with UnitOfWork(self.engine) as uow:
            for kind, key in pairs:
                row = uow.conn.execute(
                    select(t.c.resource_id).where(t.c.type == kind, t.c.key == key, t.c.bpn == member.bpnl)
                ).first()
                rid = row[0] if row is not None else str(uuid.uuid4())
                if row is None:
                    uow.conn.execute(t.insert().values(resource_id=rid, type=kind, key=key, bpn=member.bpnl))
                out.append({"type": kind, "key": key, "value": member.bpnl, "resourceId": rid})
            uow.commit()
        return out

    def search_identifiers(self, body: Any) -> dict[str, Any]:
        b = _object(body, "sldt-bpn-discovery SearchRequest")
        filters = b.get("searchFilter") or []
        if not isinstance(filters, list) or len(filters) > _MAX:
            raise InvalidInput(
                f"searchFilter: a list of at most {_MAX}", field="searchFilter", rule="sldt-bpn-discovery SearchRequest"
            )
        t = bpn_discovery_table
        bpns: list[dict[str, Any]] = []
        with UnitOfWork(self.engine, write=False) as uow:
            for i, f in enumerate(filters):
                keys = f.get("keys") if isinstance(f, Mapping) else None
                kind = f.get("type") if isinstance(f, Mapping) else None
                if not isinstance(kind, str) or not isinstance(keys, list) or len(keys) > _MAX:
                    raise InvalidInput(
                        "each filter needs a type and a list of keys",
                        field=f"searchFilter[{i}]",
                        rule="sldt-bpn-discovery SearchIdentifierTypeKeyPair",
                    )
                q = select(t).where(t.c.type == kind, t.c.key.in_([str(k) for k in keys])).order_by(t.c.key, t.c.bpn)
                for r in uow.conn.execute(q).mappings():
                    bpns.append({"type": r["type"], "key": r["key"], "value": r["bpn"], "resourceId": r["resource_id"]})
        return {"bpns": bpns}

    def delete_identifier(self, member: Member, resource_id: str) -> None:
        t = bpn_discovery_table
        with UnitOfWork(self.engine) as uow:
            row = uow.conn.execute(select(t.c.bpn).where(t.c.resource_id == resource_id)).first()
            if row is None:
                raise NotFound(f"no identifier {resource_id}", field="resourceId", rule=_RULE_BPN)
            if row[0] != member.bpnl:
                raise Forbidden(f"identifier {resource_id} is another member's", rule=_RULE_BPN + " (own entries)")
            uow.conn.execute(delete(t).where(t.c.resource_id == resource_id))
            uow.commit()

    # -- EDC discovery ----------------------------------------------------------------------

    async def connectors(self, body: Any) -> list[dict[str, Any]]:
        """``[{bpn, connectorEndpoint: [DSP URL...]}]`` for each BPNL asked (none known: empty)."""
        if not isinstance(body, list) or len(body) > _MAX:
            raise InvalidInput(f"the body must be a list of at most {_MAX} BPNLs", field="(body)", rule="EDC discovery")
        bpns = [_bpnl(b, f"[{i}]") for i, b in enumerate(body)]
        found = self.directory(bpns=bpns)
        out = []
        for bpn in dict.fromkeys(bpns):
            did = found.get(bpn)
            out.append({"bpn": bpn, "connectorEndpoint": await self.dsp_endpoints(did) if did else []})
        return out
