"""Digital twin registry: the AAS Registry API v3 subset Catena-X uses (CX-0002).

Shell descriptors with their submodel descriptors, ``GET /lookup/shells`` and
``POST /lookup/shellsByAssetLink`` with cursor paging (AAS Registry API V3.1.0_SSP-001 as served
by the Catena-X registry: eclipse-tractusx/sldt-digital-twin-registry,
``backend/src/main/resources/static/aas-registry-openapi.yaml``). Visibility follows the
registry's classic model (sldt-digital-twin-registry, docs/architecture/6-crosscutting-concepts):
a ``specificAssetId`` is visible only to the BPNLs named in its ``externalSubjectId`` (closed by
default: no subject means the owner only); ``PUBLIC_READABLE`` is allowed only for
``manufacturerPartId`` and ``assetLifecyclePhase``. A reader matching one of a twin's ids sees
the twin with the ids visible to it; the owner sees everything. The reader's BPNL comes from a
verified participant, never from an ``Edc-Bpn`` header. Lookups are one indexed query per page.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Engine, Integer, Select, and_, bindparam, delete, insert, select, update

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.unicode import check_scalar_text
from batpass.dataspace import _sql as t
from batpass.dataspace.ports import ParticipantVerifier
from batpass.store import UnitOfWork

__all__ = ["OWNER", "PUBLIC_READABLE", "Reader", "TwinRegistry", "decode_id"]

PUBLIC_READABLE = "PUBLIC_READABLE"
_PUBLIC_NAMES = frozenset({"manufacturerPartId", "assetLifecyclePhase"})
_CLOSED = ""


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: the owner (admin key), a verified partner BPNL, or anonymous (``bpnl=None``)."""

    bpnl: str | None
    owner: bool = False


OWNER = Reader(bpnl=None, owner=True)


def decode_id(encoded: str, *, field: str) -> str:
    """Identifiers in paths are UTF-8 base64url (AAS API Part 2, "Encoding")."""
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except Exception as exc:
        raise InvalidInput(
            f"'{encoded}' is not base64url-encoded UTF-8",
            field=field,
            rule="AAS API: identifiers are base64url-encoded",
        ) from exc


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(decode_id(cursor, field="cursor"))
    except ValueError as exc:
        raise InvalidInput("unknown cursor", field="cursor", rule="AAS API paging_metadata.cursor") from exc


def _readers(sai: Mapping[str, Any]) -> list[str]:
    ext = sai.get("externalSubjectId") or {}
    keys = [k.get("value") for k in ext.get("keys", []) if isinstance(k, Mapping)]
    readers = [k for k in keys if isinstance(k, str) and k]
    if PUBLIC_READABLE in readers and sai.get("name") not in _PUBLIC_NAMES:
        raise InvalidInput(
            f"PUBLIC_READABLE is allowed only for {sorted(_PUBLIC_NAMES)}, not '{sai.get('name')}'",
            field="specificAssetIds.externalSubjectId",
            rule="CX-0002 / DTR visibility (antitrust)",
        )
    return readers or [_CLOSED]


def _check_descriptor(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not d["id"]:
        raise InvalidInput(
            "a shell descriptor needs an 'id'", field="id", rule="AAS Registry API AssetAdministrationShellDescriptor"
        )
    for i, sai in enumerate(d.get("specificAssetIds") or []):
        if not isinstance(sai, dict) or not sai.get("name") or not isinstance(sai.get("value"), str):
            raise InvalidInput(
                "a specificAssetId needs a name and a value", field=f"specificAssetIds[{i}]", rule="AAS SpecificAssetId"
            )
        if len(sai["name"]) > 64:
            raise InvalidInput(
                "specificAssetId name longer than 64",
                field=f"specificAssetIds[{i}].name",
                rule="AAS SpecificAssetId.name maxLength 64",
            )
    for i, sm in enumerate(d.get("submodelDescriptors") or []):
        if not isinstance(sm, dict) or not sm.get("id") or not sm.get("endpoints"):
            raise InvalidInput(
                "a submodel descriptor needs an id and endpoints",
                field=f"submodelDescriptors[{i}]",
                rule="AAS Registry API SubmodelDescriptor",
            )
    return d


_GLOBAL, _SPECIFIC = "global", "specific"
#: lookups with at most this many criteria reuse a statement built once per shape
_CACHED_CRITERIA = 8


@functools.lru_cache(maxsize=128)
def _lookup_statement(kinds: tuple[str, ...], filtered: bool) -> Select[Any]:
    """The lookup query for one shape of request (which criteria are ``globalAssetId``, whether
    the reader's visibility applies), with every value a bound parameter: ``after`` (cursor),
    ``lim``, ``n<i>``/``v<i>`` per criterion and ``readers`` (expanding). Built once per shape and
    reused, because building the aliases and clauses per request cost more than running the
    query (each criterion is one probe of ``ix_dtr_asset_ids_lookup``)."""
    shells, ids = t.dtr_shells, t.dtr_asset_ids
    readers: BindParameter[Any] = bindparam("readers", expanding=True)
    q = select(shells.c.seq, shells.c.aas_id).where(shells.c.seq > bindparam("after", type_=Integer))
    for i, kind in enumerate(kinds):
        if kind == _GLOBAL:
            q = q.where(shells.c.global_asset_id == bindparam(f"v{i}"))
            if filtered:  # the global id alone reveals nothing: a visible id must exist
                q = q.where(shells.c.seq.in_(select(ids.c.shell_seq).where(ids.c.reader.in_(readers))))
            continue
        a = ids.alias(f"a{i}")
        cond = and_(a.c.name == bindparam(f"n{i}"), a.c.value == bindparam(f"v{i}"))
        if filtered:
            cond = and_(cond, a.c.reader.in_(readers))
        q = q.where(shells.c.seq.in_(select(a.c.shell_seq).where(cond)))
    if not kinds and filtered:
        q = q.where(shells.c.seq.in_(select(ids.c.shell_seq).where(ids.c.reader.in_(readers))))
    return q.order_by(shells.c.seq).limit(bindparam("lim", type_=Integer))


class TwinRegistry:
    """Shell and submodel descriptors with BPN-scoped visibility, stored on the node's engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        verifier: ParticipantVerifier,
        max_limit: int = 1000,
        clock: Clock = SystemClock(),
    ) -> None:
        self.engine = engine
        self.verifier = verifier
        self.max_limit = max_limit
        self.clock = clock

    # -- writes (owner) ---------------------------------------------------------------------

    @staticmethod
    def _children(seq: int, d: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The asset-id rows (one per id and reader) and submodel rows of shell ``seq``."""
        ids = [
            {"shell_seq": seq, "position": pos, "reader": reader, "name": sai["name"], "value": sai["value"]}
            for pos, sai in enumerate(d.get("specificAssetIds") or [])
            for reader in dict.fromkeys(_readers(sai))
        ]
        sms = [
            {"shell_seq": seq, "sm_id": sm["id"], "position": i, "descriptor": sm}
            for i, sm in enumerate(d.get("submodelDescriptors") or [])
        ]
        return ids, sms

    @staticmethod
    def _insert_children(conn: Any, ids: list[dict[str, Any]], sms: list[dict[str, Any]]) -> None:
        if ids:
            conn.execute(insert(t.dtr_asset_ids), ids)
        if sms:
            conn.execute(insert(t.dtr_submodels), sms)

    def _write_children(self, conn: Any, seq: int, d: Mapping[str, Any]) -> None:
        self._insert_children(conn, *self._children(seq, d))

    @staticmethod
    def _columns(d: Mapping[str, Any]) -> dict[str, Any]:
        core = {k: v for k, v in d.items() if k not in ("specificAssetIds", "submodelDescriptors")}
        return {
            "aas_id": d["id"],
            "id_short": d.get("idShort"),
            "global_asset_id": d.get("globalAssetId"),
            "asset_kind": d.get("assetKind"),
            "asset_type": d.get("assetType"),
            "descriptor": {**core, "specificAssetIds": d.get("specificAssetIds") or []},
        }

    def create_shell(self, descriptor: Any) -> dict[str, Any]:
        d = _check_descriptor(descriptor)
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.dtr_shells.c.seq).where(t.dtr_shells.c.aas_id == d["id"])).first():
                raise Conflict(f"shell '{d['id']}' already exists", rule="AAS Registry API: 409 on duplicate id")
            now = self.clock.now()
            d = {**d, "createdAt": d.get("createdAt") or now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            seq = uow.conn.execute(
                insert(t.dtr_shells).values(created_at=now, **self._columns(d))
            ).inserted_primary_key[0]  # type: ignore[index]
            self._write_children(uow.conn, seq, d)
            uow.commit()
        return d

    def bulk_create(self, descriptors: Sequence[Mapping[str, Any]]) -> int:
        """Register many shells in one transaction (scenario loading, benchmarks): three
        multi-row inserts, the shells' keys read back in order with ``RETURNING`` (SQLite ≥ 3.35,
        PostgreSQL), instead of one round of statements per shell. A duplicate id fails the
        whole batch (the unique index), nothing is stored."""
        now = self.clock.now()
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        checked = [_check_descriptor(dict(d)) for d in descriptors]
        checked = [{**d, "createdAt": d.get("createdAt") or stamp} for d in checked]
        if not checked:
            return 0
        with UnitOfWork(self.engine) as uow:
            stmt = insert(t.dtr_shells).returning(t.dtr_shells.c.seq, sort_by_parameter_order=True)
            rows = [{"created_at": now, **self._columns(d)} for d in checked]
            seqs = uow.conn.execute(stmt, rows).scalars().all()
            ids: list[dict[str, Any]] = []
            sms: list[dict[str, Any]] = []
            for seq, d in zip(seqs, checked, strict=True):
                more_ids, more_sms = self._children(seq, d)
                ids += more_ids
                sms += more_sms
            self._insert_children(uow.conn, ids, sms)
            uow.commit()
        return len(checked)

    def replace_shell(self, aas_id: str, descriptor: Any) -> None:
        d = _check_descriptor(descriptor)
        if d["id"] != aas_id:
            raise InvalidInput("the body's id differs from the path", field="id", rule="AAS Registry API PUT")
        with UnitOfWork(self.engine) as uow:
            seq = self._seq(uow.conn, aas_id)
            uow.conn.execute(delete(t.dtr_asset_ids).where(t.dtr_asset_ids.c.shell_seq == seq))
            uow.conn.execute(delete(t.dtr_submodels).where(t.dtr_submodels.c.shell_seq == seq))
            uow.conn.execute(update(t.dtr_shells).where(t.dtr_shells.c.seq == seq).values(**self._columns(d)))
            self._write_children(uow.conn, seq, d)
            uow.commit()

    def delete_shell(self, aas_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            seq = self._seq(uow.conn, aas_id)
            uow.conn.execute(delete(t.dtr_asset_ids).where(t.dtr_asset_ids.c.shell_seq == seq))
            uow.conn.execute(delete(t.dtr_submodels).where(t.dtr_submodels.c.shell_seq == seq))
            uow.conn.execute(delete(t.dtr_shells).where(t.dtr_shells.c.seq == seq))
            uow.commit()

    def add_submodel(self, aas_id: str, descriptor: Any) -> dict[str, Any]:
        if not isinstance(descriptor, dict) or not descriptor.get("id") or not descriptor.get("endpoints"):
            raise InvalidInput(
                "a submodel descriptor needs an id and endpoints",
                field="id",
                rule="AAS Registry API SubmodelDescriptor",
            )
        with UnitOfWork(self.engine) as uow:
            seq = self._seq(uow.conn, aas_id)
            if uow.conn.execute(
                select(t.dtr_submodels.c.sm_id)
                .where(t.dtr_submodels.c.shell_seq == seq)
                .where(t.dtr_submodels.c.sm_id == descriptor["id"])
            ).first():
                raise Conflict(f"submodel '{descriptor['id']}' already registered", rule="AAS Registry API: 409")
            pos = len(uow.conn.execute(select(t.dtr_submodels.c.sm_id).where(t.dtr_submodels.c.shell_seq == seq)).all())
            uow.conn.execute(
                insert(t.dtr_submodels).values(
                    shell_seq=seq, sm_id=descriptor["id"], position=pos, descriptor=descriptor
                )
            )
            uow.commit()
        return descriptor

    def _seq(self, conn: Any, aas_id: str) -> int:
        seq = conn.execute(select(t.dtr_shells.c.seq).where(t.dtr_shells.c.aas_id == aas_id)).scalar_one_or_none()
        if seq is None:
            raise NotFound(f"no shell '{aas_id}'", rule="AAS Registry API: 404")
        return int(seq)

    # -- reads ------------------------------------------------------------------------------

    def _view(self, conn: Any, row: Any, reader: Reader) -> dict[str, Any] | None:
        d = dict(row.descriptor)
        ids = d.get("specificAssetIds") or []
        subs = [
            r.descriptor
            for r in conn.execute(
                select(t.dtr_submodels.c.descriptor)
                .where(t.dtr_submodels.c.shell_seq == row.seq)
                .order_by(t.dtr_submodels.c.position)
            )
        ]
        if reader.owner:
            return {**d, "submodelDescriptors": subs}
        visible = [s for s in ids if reader.bpnl in _readers(s) or PUBLIC_READABLE in _readers(s)]
        if not visible:
            return None
        clean = [{k: v for k, v in s.items() if k != "externalSubjectId"} for s in visible]
        if not any(reader.bpnl in _readers(s) for s in visible):
            # matched on public ids only: the reduced view of the classic model
            return {"id": d["id"], "specificAssetIds": clean, "submodelDescriptors": subs}
        return {**d, "specificAssetIds": clean, "submodelDescriptors": subs}

    def _readable(self, reader: Reader) -> Any:
        if reader.owner:
            return None
        readers = [PUBLIC_READABLE] + ([reader.bpnl] if reader.bpnl else [])
        return select(t.dtr_asset_ids.c.shell_seq).where(t.dtr_asset_ids.c.reader.in_(readers))

    def get_shell(self, aas_id: str, reader: Reader) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(t.dtr_shells).where(t.dtr_shells.c.aas_id == aas_id)).first()
            view = self._view(uow.conn, row, reader) if row is not None else None
        if view is None:  # unknown and invisible answer alike
            raise NotFound(f"no shell '{aas_id}'", rule="AAS Registry API: 404")
        return view

    def list_shells(
        self,
        reader: Reader,
        *,
        limit: int | None,
        cursor: str | None,
        asset_kind: str | None = None,
        asset_type: str | None = None,
    ) -> dict[str, Any]:
        limit = self._limit(limit)
        q = select(t.dtr_shells).where(t.dtr_shells.c.seq > _after(cursor))
        readable = self._readable(reader)
        if readable is not None:
            q = q.where(t.dtr_shells.c.seq.in_(readable))
        if asset_kind:
            q = q.where(t.dtr_shells.c.asset_kind == asset_kind)
        if asset_type:
            q = q.where(t.dtr_shells.c.asset_type == decode_id(asset_type, field="assetType"))
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(q.order_by(t.dtr_shells.c.seq).limit(limit + 1)).all()
            views = [v for r in rows[:limit] if (v := self._view(uow.conn, r, reader)) is not None]
        return self._page(views, rows, limit)

    def _limit(self, limit: int | None) -> int:
        limit = 100 if limit is None else limit
        if not 1 <= limit <= self.max_limit:
            raise InvalidInput(f"limit {limit} outside 1..{self.max_limit}", field="limit", rule="AAS API paging")
        return limit

    @staticmethod
    def _page(result: list[Any], rows: Sequence[Any], limit: int) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if len(rows) > limit:
            meta["cursor"] = _cursor(rows[limit - 1].seq)
        return {"paging_metadata": meta, "result": result}

    def lookup(
        self, asset_links: Sequence[Mapping[str, Any]], reader: Reader, *, limit: int | None, cursor: str | None
    ) -> dict[str, Any]:
        """Shell ids having every given ``{name, value}`` visible to the reader (``globalAssetId`` too)."""
        limit = self._limit(limit)
        kinds: list[str] = []
        params: dict[str, Any] = {"after": _after(cursor), "lim": limit + 1}
        for i, link in enumerate(asset_links):
            name, value = link.get("name"), link.get("value")
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidInput(
                    "each asset link needs a string name and value", field=f"assetIds[{i}]", rule="AAS SpecificAssetId"
                )
            kinds.append(_GLOBAL if name == "globalAssetId" else _SPECIFIC)
            params[f"v{i}"] = value
            if name != "globalAssetId":
                params[f"n{i}"] = name
        filtered = not reader.owner
        if filtered:
            params["readers"] = [PUBLIC_READABLE] + ([reader.bpnl] if reader.bpnl else [])
        shape = (tuple(kinds), filtered)
        build = _lookup_statement if len(kinds) <= _CACHED_CRITERIA else _lookup_statement.__wrapped__
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(build(*shape), params).all()
        return self._page([r.aas_id for r in rows[:limit]], rows, limit)

    @staticmethod
    def parse_asset_ids_query(values: Sequence[str]) -> list[dict[str, Any]]:
        """``assetIds`` query values: each a base64url-encoded SpecificAssetId JSON (or plain JSON)."""
        out = []
        for i, raw in enumerate(values):
            text = raw if raw.lstrip().startswith("{") else decode_id(raw, field=f"assetIds[{i}]")
            try:
                item = json.loads(text)
            except ValueError as exc:
                raise InvalidInput(
                    "assetIds value is not a SpecificAssetId JSON",
                    field=f"assetIds[{i}]",
                    rule="AAS API GetAllAssetAdministrationShellIdsByAssetLink",
                ) from exc
            if not isinstance(item, dict):
                raise InvalidInput(
                    "assetIds value is not an object", field=f"assetIds[{i}]", rule="AAS SpecificAssetId"
                )
            check_scalar_text(item, field=f"assetIds[{i}]")  # no store takes a lone surrogate as a parameter
            out.append(item)
        return out
