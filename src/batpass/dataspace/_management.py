"""The EDC management API v3 facade: Tractus-X EDC's management resources mapped onto this
node's DSP provider and consumer.

Apps written for a Tractus-X EDC (tractusx-sdk, tractusx-testlab, Industry Core Hub, DPP-style
viewers) drive a batpass node through this facade unchanged. Mapping (EDC resource → batpass):

- **Asset** → :class:`~batpass.dataspace.model.Asset` (``properties`` are the public catalog
  metadata) plus its ``dataAddress`` and ``privateProperties`` (never shown in a catalog). A
  ``dataAddress`` of type ``BatpassSource`` names an :class:`AssetSource` (``source``) and its key
  (``sourceKey``); any other type (e.g. ``HttpData``) names the source after the type, whose key
  is the ``baseUrl``.
- **PolicyDefinition** → a stored ODRL ``Set``; **ContractDefinition** (``accessPolicyId``,
  ``contractPolicyId``, ``assetsSelector``) → one catalog offer per selected asset, written in the
  same transaction and re-written whenever an asset, a policy or the definition changes (so the
  catalog stays filtered in the database, see ``_sql.visible_offers``).
- **Catalog request**, **ContractNegotiation**, **TransferProcess** → :class:`DspConsumer` against
  the counter-party (``counterPartyAddress`` = its DSP 2025-1 URL, ``counterPartyId`` = its DID);
  processes of both roles are read from the store.
- **EDR** (``POST /v3/edrs``: negotiate, then pull-transfer) → a negotiation remembered in
  ``dsp_mgmt_edrs``; its transfer is started as soon as the negotiation is FINALIZED, checked
  whenever EDRs are read (restart-safe, no background task). An EDR entry is a consumer transfer
  holding the provider's ``DataAddress``.

Sources: Eclipse EDC management API v3 (``/v3/assets``, ``/v3/policydefinitions``,
``/v3/contractdefinitions``, ``/v3/catalog/request``, ``/v3/contractnegotiations``,
``/v3/transferprocesses``; ``QuerySpec`` with ``filterExpression``; ``IdResponse``), Tractus-X EDC
``/v3/edrs`` (docs/usage/management-api-walkthrough, EDR API). Knows no HTTP framework.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from batpass.core.errors import Conflict, InvalidInput, NotFound, UpstreamUnavailable
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._common import HTTP_ENDPOINT_TYPE, PULL_FORMAT
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._provider import DspProvider
from batpass.dataspace.model import Asset, NegotiationState, OfferDefinition, Role, TransferState
from batpass.store import UnitOfWork

__all__ = ["EDC_NAMESPACE", "MANAGEMENT_CONTEXT", "PROTOCOL", "EdcManagement"]

EDC_NAMESPACE = "https://w3id.org/edc/v0.0.1/ns/"
PROTOCOL = "dataspace-protocol-http:2025-1"
TX_AUTH = "https://w3id.org/tractusx/auth/"

#: the context EDC's management API compacts its answers with
MANAGEMENT_CONTEXT: dict[str, str] = {
    "@vocab": EDC_NAMESPACE,
    "edc": EDC_NAMESPACE,
    "tx": "https://w3id.org/tractusx/v0.0.1/ns/",
    "tx-auth": TX_AUTH,
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dspace": "https://w3id.org/dspace/2025/1/",
}

#: prefixes understood in keys, types and query operands (the contexts tractusx-sdk sends)
_PREFIXES: dict[str, str] = {
    "edc": EDC_NAMESPACE,
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dspace": "https://w3id.org/dspace/2025/1/",
    "cx-common": "https://w3id.org/catenax/ontology/common#",
    "cx-taxo": "https://w3id.org/catenax/taxonomy#",
    "cx-policy": "https://w3id.org/catenax/2025/9/policy/",
    "tx": "https://w3id.org/tractusx/v0.0.1/ns/",
    "tx-auth": TX_AUTH,
    "aas-semantics": "https://admin-shell.io/aas/3/0/HasSemantics/",
}
_ODRL_KEYS = frozenset(
    {
        "permission",
        "prohibition",
        "obligation",
        "action",
        "constraint",
        "leftOperand",
        "operator",
        "rightOperand",
        "and",
        "or",
        "xone",
        "andSequence",
        "duty",
        "target",
        "assigner",
        "assignee",
    }
)
_DEFAULT_LIMIT = 50
_MAX_LIMIT = 1000

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- JSON-LD (compacted) helpers ----------------------------------------------------------------


def _expand(term: str) -> str:
    """A key, type or operand as an IRI: ``edc:id``, ``id`` (EDC ``@vocab``) and the full IRI are
    one term; ``https://purl.org/dc/terms/`` is read as the ``http`` form (both occur)."""
    if term.startswith("https://purl.org/dc/terms/"):
        return "http://purl.org/dc/terms/" + term[len("https://purl.org/dc/terms/") :]
    if "://" in term:
        return term
    prefix, sep, local = term.partition(":")
    if sep and prefix in _PREFIXES:
        return _PREFIXES[prefix] + local
    return EDC_NAMESPACE + term


def _get(body: Mapping[str, Any], name: str) -> Any:
    """A field of a compacted EDC object, whatever prefix the client used."""
    if name in body:
        return body[name]
    wanted = _expand(name)
    for key, value in body.items():
        if not key.startswith("@") and _expand(key) == wanted:
            return value
    return None


def _str(body: Mapping[str, Any], name: str, *, required: bool = False, where: str = "") -> str | None:
    value = _get(body, name)
    if isinstance(value, Mapping):
        value = value.get("@id", value.get("@value"))
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name} is required", field=f"{where}{name}", rule="EDC management API v3")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=f"{where}{name}", rule="EDC management API v3")
    return value


def _object(body: Any, expected_type: str | None) -> dict[str, Any]:
    """A request body: a JSON object whose ``@type`` (when present) is the expected EDC type."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON-LD object", field="(body)", rule="EDC management API v3")
    kind = body.get("@type")
    if expected_type and kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(k, str) and _expand(k) == _expand(expected_type) for k in kinds):
            raise InvalidInput(
                f"@type must be {expected_type}, not {kind}", field="@type", rule="EDC management API v3"
            )
    return body


def _compact_policy(value: Any) -> Any:
    """An ODRL policy with ``odrl:``-prefixed keys and ``{"@id": "odrl:use"}`` terms as DSP 2025-1
    writes them (``permission``, ``action: "use"``); empty rule lists dropped."""
    if isinstance(value, list):
        return [_compact_policy(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        local = key.split(":", 1)[1] if key.startswith("odrl:") else key
        if local.startswith("http://www.w3.org/ns/odrl/2/"):
            local = local[len("http://www.w3.org/ns/odrl/2/") :]
        if local in ("action", "operator", "leftOperand") and isinstance(item, Mapping) and "@id" in item:
            item = item["@id"]
        if local in ("action", "operator") and isinstance(item, str) and item.startswith("odrl:"):
            item = item[len("odrl:") :]
        if local in ("permission", "prohibition", "obligation") and item in ([], None):
            continue
        if local in ("permission", "prohibition", "obligation", "constraint", "duty") and isinstance(item, Mapping):
            item = [item]  # DSP 2025-1 writes rules and constraints as arrays
        out[local if local in _ODRL_KEYS else key] = _compact_policy(item)
    return out


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


# -- QuerySpec (EDC management API v3) ----------------------------------------------------------


def _path(operand: str) -> list[str]:
    """``'http://purl.org/dc/terms/type'.'@id'`` → two segments; an unquoted IRI is one key."""
    if operand.startswith("'"):
        return re.findall(r"'([^']*)'", operand)
    if "://" in operand:
        return [operand]
    return operand.split(".")


def _lookup(item: Mapping[str, Any], segments: list[str]) -> list[Any]:
    """The values at a path; the first segment is also looked up in ``properties`` (assets);
    EDC's ``id`` is the object's ``@id``."""
    if len(segments) == 1 and _expand(segments[0]) == EDC_NAMESPACE + "id" and "@id" in item:
        return [item["@id"]]
    current: list[Any] = [item]
    if segments and isinstance(item.get("properties"), Mapping) and _get(item, segments[0]) is None:
        current = [item["properties"]]
    for seg in segments:
        nxt: list[Any] = []
        for node in current:
            for n in node if isinstance(node, list) else [node]:
                if not isinstance(n, Mapping):
                    continue
                value = n.get(seg) if seg.startswith("@") else _get(n, seg)
                if value is not None:
                    nxt.append(value)
        current = nxt
    flat: list[Any] = []
    for v in current:
        for x in v if isinstance(v, list) else [v]:
            flat.append(x.get("@id", x.get("@value")) if isinstance(x, Mapping) else x)
    return flat


def _matches(values: list[Any], operator: str, right: Any) -> bool:
    texts = [str(v) for v in values if v is not None]
    op = operator.strip().lower()
    if op == "=":
        return str(right) in texts
    if op == "!=":
        return str(right) not in texts
    if op == "in":
        wanted = {str(r) for r in (right if isinstance(right, list) else [right])}
        return bool(wanted & set(texts))
    if op in ("like", "ilike"):
        pattern = str(right).replace("%", "*").replace("_", "?")
        if op == "ilike":
            return any(fnmatch.fnmatchcase(x.lower(), pattern.lower()) for x in texts)
        return any(fnmatch.fnmatchcase(x, pattern) for x in texts)
    if op == "contains":
        return str(right) in texts
    raise InvalidInput(
        f"query operator '{operator}' is not supported (=, !=, in, like, ilike, contains)",
        field="filterExpression.operator",
        rule="EDC management API v3 Criterion",
    )


def _criteria(raw: Any, field_name: str) -> list[tuple[list[str], str, Any]]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, c in enumerate(items):
        if not isinstance(c, Mapping):
            raise InvalidInput("a criterion is an object", field=f"{field_name}[{i}]", rule="EDC Criterion")
        left = _str(c, "operandLeft", required=True, where=f"{field_name}[{i}].")
        op = _str(c, "operator", required=True, where=f"{field_name}[{i}].")
        assert left is not None and op is not None
        right = _get(c, "operandRight")
        out.append((_path(left), op, right))
    return out


def query(items: Iterable[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    """Apply an EDC ``QuerySpec`` (``filterExpression``, ``sortField``/``sortOrder``, ``offset``,
    ``limit``) to management objects."""
    spec = _object(spec or {}, "QuerySpec")
    criteria = _criteria(_get(spec, "filterExpression"), "filterExpression")
    try:
        offset = int(_get(spec, "offset") or 0)
        limit = int(_get(spec, "limit") or _DEFAULT_LIMIT)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("offset and limit are integers", field="querySpec", rule="EDC QuerySpec") from exc
    if offset < 0 or not 1 <= limit <= _MAX_LIMIT:
        raise InvalidInput(
            f"offset ≥ 0 and 1 ≤ limit ≤ {_MAX_LIMIT}", field="querySpec.limit", rule="EDC QuerySpec paging"
        )
    selected = [i for i in items if all(_matches(_lookup(i, p), op, r) for p, op, r in criteria)]
    sort_field = _str(spec, "sortField")
    if sort_field:
        desc = str(_get(spec, "sortOrder") or "ASC").upper() == "DESC"
        selected.sort(key=lambda i: [str(v) for v in _lookup(i, _path(sort_field))], reverse=desc)
    return selected[offset : offset + limit]


def _asset_selected(asset: Mapping[str, Any], selector: list[tuple[list[str], str, Any]]) -> bool:
    return all(_matches(_lookup(asset, p), op, r) for p, op, r in selector)


def _id_response(oid: str, at: dt.datetime) -> dict[str, Any]:
    return {"@context": MANAGEMENT_CONTEXT, "@type": "IdResponse", "@id": oid, "createdAt": _ms(at)}


def _offer_id(definition_id: str, asset_id: str) -> str:
    oid = f"{definition_id}:{asset_id}"
    return oid if len(oid) <= 200 else "urn:sha256:" + hashlib.sha256(oid.encode()).hexdigest()


# -- the facade ---------------------------------------------------------------------------------


class EdcManagement:
    """The management API v3 use cases of one node (constructed from its provider and consumer)."""

    def __init__(self, provider: DspProvider, consumer: DspConsumer, *, clock: Clock | None = None) -> None:
        self.provider = provider
        self.consumer = consumer
        self.engine = provider.engine
        self.clock: Clock = clock or provider.clock

    # -- assets -----------------------------------------------------------------------------

    @staticmethod
    def _asset_values(body: dict[str, Any]) -> tuple[Asset, dict[str, Any], dict[str, Any]]:
        aid = _str(body, "@id") or f"urn:uuid:{new_uuid7()}"
        if len(aid) > 200:
            raise InvalidInput("an asset id has at most 200 characters", field="@id", rule="batpass dsp_assets.id")
        properties = _get(body, "properties") or {}
        private = _get(body, "privateProperties") or {}
        address = _get(body, "dataAddress")
        if not isinstance(properties, dict) or not isinstance(private, dict):
            raise InvalidInput("properties are an object", field="properties", rule="EDC Asset")
        if not isinstance(address, dict):
            raise InvalidInput("an asset needs a dataAddress", field="dataAddress", rule="EDC Asset")
        kind = _str(address, "type", required=True, where="dataAddress.")
        assert kind is not None
        if _expand(kind) == _expand("BatpassSource"):
            source = _str(address, "source", required=True, where="dataAddress.")
            key = _str(address, "sourceKey", required=True, where="dataAddress.")
        else:
            source, key = kind, _str(address, "baseUrl") or ""
        assert source is not None and key is not None
        if len(source) > 64:
            raise InvalidInput("a source name has at most 64 characters", field="dataAddress.type", rule="batpass")
        public = {k: v for k, v in properties.items() if _expand(k) != _expand("id")}
        return Asset(id=aid, source=source, source_key=key, properties=public), address, private

    def _write_asset(self, conn: Connection, asset: Asset, address: dict[str, Any], private: dict[str, Any]) -> None:
        values = {"source": asset.source, "source_key": asset.source_key, "title": None}
        if conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is None:
            conn.execute(
                insert(t.assets).values(
                    id=asset.id, properties=dict(asset.properties), created_at=self.clock(), **values
                )
            )
        else:
            conn.execute(
                update(t.assets).where(t.assets.c.id == asset.id).values(properties=dict(asset.properties), **values)
            )
        conn.execute(delete(t.mgmt_assets).where(t.mgmt_assets.c.id == asset.id))
        conn.execute(insert(t.mgmt_assets).values(id=asset.id, data_address=address, private_properties=private))

    def create_asset(self, body: Any) -> dict[str, Any]:
        asset, address, private = self._asset_values(_object(body, "Asset"))
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is not None:
                raise Conflict(f"asset '{asset.id}' already exists", rule="EDC management API: POST /v3/assets")
            self._write_asset(uow.conn, asset, address, private)
            self._reconcile(uow.conn)
            uow.commit()
        return _id_response(asset.id, self.clock())

    def update_asset(self, body: Any, asset_id: str | None = None) -> None:
        body = _object(body, "Asset")
        if asset_id is not None:
            given = _str(body, "@id")
            if given is not None and given != asset_id:
                raise InvalidInput("the body's @id differs from the path", field="@id", rule="EDC PUT /v3/assets")
            body = {**body, "@id": asset_id}
        elif _str(body, "@id") is None:
            raise InvalidInput("@id is required", field="@id", rule="EDC PUT /v3/assets")
        asset, address, private = self._asset_values(body)
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is None:
                raise NotFound(f"asset '{asset.id}' does not exist", rule="EDC management API: PUT /v3/assets")
            self._write_asset(uow.conn, asset, address, private)
            self._reconcile(uow.conn)
            uow.commit()

    def _asset_json(self, row: Any, mgmt: Any) -> dict[str, Any]:
        address = (
            dict(mgmt.data_address)
            if mgmt is not None
            else {
                "type": "BatpassSource",
                "source": row.source,
                "sourceKey": row.source_key,
            }
        )
        address.setdefault("@type", "DataAddress")
        properties = {**dict(row.properties), "id": row.id}
        if row.title and "name" not in properties:
            properties["name"] = row.title
        return {
            "@context": MANAGEMENT_CONTEXT,
            "@id": row.id,
            "@type": "Asset",
            "properties": properties,
            "privateProperties": dict(mgmt.private_properties) if mgmt is not None else {},
            "dataAddress": address,
            "createdAt": _ms(row.created_at),
        }

    def _assets(self, conn: Connection, ids: list[str] | None = None) -> list[dict[str, Any]]:
        q = select(t.assets, t.mgmt_assets.c.data_address, t.mgmt_assets.c.private_properties).outerjoin(
            t.mgmt_assets, t.mgmt_assets.c.id == t.assets.c.id
        )
        if ids is not None:
            q = q.where(t.assets.c.id.in_(ids))
        out = []
        for row in conn.execute(q.order_by(t.assets.c.id)):
            mgmt = row if row.data_address is not None else None
            out.append(self._asset_json(row, mgmt))
        return out

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            found = self._assets(uow.conn, [asset_id])
        if not found:
            raise NotFound(f"asset '{asset_id}' does not exist", rule="EDC management API: GET /v3/assets/{id}")
        return found[0]

    def query_assets(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            return query(self._assets(uow.conn), spec)

    def delete_asset(self, asset_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset_id)).first() is None:
                raise NotFound(f"asset '{asset_id}' does not exist", rule="EDC management API: DELETE /v3/assets/{id}")
            if uow.conn.execute(select(t.agreements.c.id).where(t.agreements.c.asset_id == asset_id)).first():
                raise Conflict(
                    f"asset '{asset_id}' is referenced by a contract agreement",
                    rule="EDC management API: an agreed asset cannot be deleted",
                )
            offer_ids = [r[0] for r in uow.conn.execute(select(t.offers.c.id).where(t.offers.c.asset_id == asset_id))]
            if offer_ids:
                uow.conn.execute(delete(t.offer_gates).where(t.offer_gates.c.offer_id.in_(offer_ids)))
                uow.conn.execute(delete(t.offers).where(t.offers.c.id.in_(offer_ids)))
                uow.conn.execute(delete(t.mgmt_offers).where(t.mgmt_offers.c.offer_id.in_(offer_ids)))
            uow.conn.execute(delete(t.mgmt_assets).where(t.mgmt_assets.c.id == asset_id))
            uow.conn.execute(delete(t.assets).where(t.assets.c.id == asset_id))
            uow.commit()

    # -- policy definitions -----------------------------------------------------------------

    @staticmethod
    def _policy_values(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        pid = _str(body, "@id") or f"urn:uuid:{new_uuid7()}"
        policy = _get(body, "policy")
        if not isinstance(policy, dict):
            raise InvalidInput("a policy definition needs a policy", field="policy", rule="EDC PolicyDefinition")
        kind = policy.get("@type", "Set")
        if not isinstance(kind, str) or kind.split(":")[-1].split("/")[-1] not in ("Set", "Policy", "Offer"):
            raise InvalidInput(f"policy @type must be Set, not {kind}", field="policy.@type", rule="ODRL Set")
        compact = _compact_policy({k: v for k, v in policy.items() if k not in ("@type", "@id", "@context")})
        for rule in ("permission", "prohibition", "obligation"):
            rules = compact.get(rule)
            if rules is not None and not isinstance(rules, list | dict):
                raise InvalidInput(f"{rule} must be an object or a list", field=f"policy.{rule}", rule="ODRL")
        private = _get(body, "privateProperties") or {}
        if not isinstance(private, dict):
            raise InvalidInput("privateProperties are an object", field="privateProperties", rule="EDC")
        return pid, compact, private

    def _policy_json(self, row: Any) -> dict[str, Any]:
        return {
            "@context": MANAGEMENT_CONTEXT,
            "@id": row.id,
            "@type": "PolicyDefinition",
            "policy": {"@type": "odrl:Set", **dict(row.policy)},
            "privateProperties": dict(row.private_properties),
            "createdAt": _ms(row.created_at),
        }

    def create_policy(self, body: Any) -> dict[str, Any]:
        pid, policy, private = self._policy_values(_object(body, "PolicyDefinition"))
        now = self.clock()
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.mgmt_policies.c.id).where(t.mgmt_policies.c.id == pid)).first():
                raise Conflict(f"policy definition '{pid}' already exists", rule="EDC POST /v3/policydefinitions")
            uow.conn.execute(
                insert(t.mgmt_policies).values(id=pid, policy=policy, private_properties=private, created_at=now)
            )
            uow.commit()
        return _id_response(pid, now)

    def update_policy(self, policy_id: str, body: Any) -> None:
        body = _object(body, "PolicyDefinition")
        given = _str(body, "@id")
        if given is not None and given != policy_id:
            raise InvalidInput(
                "the body's @id differs from the path", field="@id", rule="EDC PUT /v3/policydefinitions"
            )
        _, policy, private = self._policy_values({**body, "@id": policy_id})
        with UnitOfWork(self.engine) as uow:
            done = uow.conn.execute(
                update(t.mgmt_policies)
                .where(t.mgmt_policies.c.id == policy_id)
                .values(policy=policy, private_properties=private)
            )
            if done.rowcount != 1:
                raise NotFound(f"policy definition '{policy_id}' does not exist", rule="EDC PUT /v3/policydefinitions")
            self._reconcile(uow.conn)  # a policy that can no longer gate a catalog is refused here
            uow.commit()

    def get_policy(self, policy_id: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(t.mgmt_policies).where(t.mgmt_policies.c.id == policy_id)).first()
        if row is None:
            raise NotFound(f"policy definition '{policy_id}' does not exist", rule="EDC GET /v3/policydefinitions")
        return self._policy_json(row)

    def query_policies(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(t.mgmt_policies).order_by(t.mgmt_policies.c.id)).all()
        return query([self._policy_json(r) for r in rows], spec)

    def delete_policy(self, policy_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            used = uow.conn.execute(
                select(t.mgmt_contract_definitions.c.id).where(
                    (t.mgmt_contract_definitions.c.access_policy_id == policy_id)
                    | (t.mgmt_contract_definitions.c.contract_policy_id == policy_id)
                )
            ).first()
            if used is not None:
                raise Conflict(
                    f"policy definition '{policy_id}' is used by contract definition '{used[0]}'",
                    rule="EDC DELETE /v3/policydefinitions: a referenced policy cannot be deleted",
                )
            done = uow.conn.execute(delete(t.mgmt_policies).where(t.mgmt_policies.c.id == policy_id))
            if done.rowcount != 1:
                raise NotFound(f"policy definition '{policy_id}' does not exist", rule="EDC DELETE policydefinitions")
            uow.commit()

    # -- contract definitions ---------------------------------------------------------------

    @staticmethod
    def _definition_values(body: dict[str, Any]) -> dict[str, Any]:
        selector = _get(body, "assetsSelector")
        selector = [] if selector is None else selector if isinstance(selector, list) else [selector]
        _criteria(selector, "assetsSelector")  # refuse malformed criteria now
        private = _get(body, "privateProperties") or {}
        return {
            "id": _str(body, "@id") or f"urn:uuid:{new_uuid7()}",
            "access_policy_id": _str(body, "accessPolicyId", required=True),
            "contract_policy_id": _str(body, "contractPolicyId", required=True),
            "assets_selector": selector,
            "private_properties": private if isinstance(private, dict) else {},
        }

    def _check_policies(self, conn: Connection, values: Mapping[str, Any]) -> None:
        for key, name in (("access_policy_id", "accessPolicyId"), ("contract_policy_id", "contractPolicyId")):
            if conn.execute(select(t.mgmt_policies.c.id).where(t.mgmt_policies.c.id == values[key])).first() is None:
                raise InvalidInput(
                    f"policy definition '{values[key]}' does not exist",
                    field=name,
                    rule="EDC ContractDefinition: the policies are defined first",
                )

    def _definition_json(self, row: Any) -> dict[str, Any]:
        return {
            "@context": MANAGEMENT_CONTEXT,
            "@id": row.id,
            "@type": "ContractDefinition",
            "accessPolicyId": row.access_policy_id,
            "contractPolicyId": row.contract_policy_id,
            "assetsSelector": list(row.assets_selector),
            "privateProperties": dict(row.private_properties),
            "createdAt": _ms(row.created_at),
        }

    def create_contract_definition(self, body: Any) -> dict[str, Any]:
        values = self._definition_values(_object(body, "ContractDefinition"))
        now = self.clock()
        with UnitOfWork(self.engine) as uow:
            table = t.mgmt_contract_definitions
            if uow.conn.execute(select(table.c.id).where(table.c.id == values["id"])).first():
                raise Conflict(f"contract definition '{values['id']}' already exists", rule="EDC contractdefinitions")
            self._check_policies(uow.conn, values)
            uow.conn.execute(insert(table).values(created_at=now, **values))
            self._reconcile(uow.conn, [values["id"]])
            uow.commit()
        return _id_response(values["id"], now)

    def update_contract_definition(self, body: Any, definition_id: str | None = None) -> None:
        body = _object(body, "ContractDefinition")
        if definition_id is not None:
            body = {**body, "@id": definition_id}
        elif _str(body, "@id") is None:
            raise InvalidInput("@id is required", field="@id", rule="EDC PUT /v3/contractdefinitions")
        values = self._definition_values(body)
        with UnitOfWork(self.engine) as uow:
            self._check_policies(uow.conn, values)
            table = t.mgmt_contract_definitions
            done = uow.conn.execute(
                update(table).where(table.c.id == values["id"]).values(**{k: v for k, v in values.items() if k != "id"})
            )
            if done.rowcount != 1:
                raise NotFound(f"contract definition '{values['id']}' does not exist", rule="EDC contractdefinitions")
            self._reconcile(uow.conn, [values["id"]])
            uow.commit()

    def get_contract_definition(self, definition_id: str) -> dict[str, Any]:
        table = t.mgmt_contract_definitions
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(table).where(table.c.id == definition_id)).first()
        if row is None:
            raise NotFound(f"contract definition '{definition_id}' does not exist", rule="EDC contractdefinitions")
        return self._definition_json(row)

    def query_contract_definitions(self, spec: Any) -> list[dict[str, Any]]:
        table = t.mgmt_contract_definitions
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(table).order_by(table.c.id)).all()
        return query([self._definition_json(r) for r in rows], spec)

    def delete_contract_definition(self, definition_id: str) -> None:
        table = t.mgmt_contract_definitions
        with UnitOfWork(self.engine) as uow:
            done = uow.conn.execute(delete(table).where(table.c.id == definition_id))
            if done.rowcount != 1:
                raise NotFound(f"contract definition '{definition_id}' does not exist", rule="EDC contractdefinitions")
            self._drop_offers(uow.conn, definition_id, keep=set())
            uow.commit()

    def _drop_offers(self, conn: Connection, definition_id: str, *, keep: set[str]) -> None:
        rows = conn.execute(select(t.mgmt_offers.c.offer_id).where(t.mgmt_offers.c.definition_id == definition_id))
        gone = [r[0] for r in rows if r[0] not in keep]
        if gone:
            conn.execute(delete(t.offer_gates).where(t.offer_gates.c.offer_id.in_(gone)))
            conn.execute(delete(t.offers).where(t.offers.c.id.in_(gone)))
            conn.execute(delete(t.mgmt_offers).where(t.mgmt_offers.c.offer_id.in_(gone)))

    def _reconcile(self, conn: Connection, definition_ids: list[str] | None = None) -> None:
        """Re-write the catalog offers of contract definitions (all when ``None``): one offer per
        selected asset with the access policy as gate and the contract policy as the offer."""
        table = t.mgmt_contract_definitions
        q = select(table)
        if definition_ids is not None:
            q = q.where(table.c.id.in_(definition_ids))
        definitions = conn.execute(q).all()
        if not definitions:
            return
        policies = {r.id: dict(r.policy) for r in conn.execute(select(t.mgmt_policies))}
        assets = self._assets(conn)
        for d in definitions:
            selector = _criteria(list(d.assets_selector), "assetsSelector")
            keep: set[str] = set()
            for asset in assets:
                if not _asset_selected(asset, selector):
                    continue
                offer = OfferDefinition(
                    id=_offer_id(d.id, asset["@id"]),
                    asset_id=asset["@id"],
                    access_policy=policies.get(d.access_policy_id, {}),
                    usage_policy=policies.get(d.contract_policy_id, {}),
                )
                try:
                    self.provider.store_offer(conn, offer)
                except InvalidInput as exc:
                    raise InvalidInput(
                        f"contract definition '{d.id}': {exc.message}",
                        field=exc.field or "accessPolicyId",
                        rule=exc.rule or "CX-0152",
                    ) from exc
                conn.execute(delete(t.mgmt_offers).where(t.mgmt_offers.c.offer_id == offer.id))
                conn.execute(insert(t.mgmt_offers).values(offer_id=offer.id, definition_id=d.id, asset_id=asset["@id"]))
                keep.add(offer.id)
            self._drop_offers(conn, d.id, keep=keep)

    # -- catalog ----------------------------------------------------------------------------

    @staticmethod
    def _counterparty(body: Mapping[str, Any], *, did_fallback: str | None = None) -> tuple[str, str]:
        address = _str(body, "counterPartyAddress", required=True)
        protocol = _str(body, "protocol")
        if protocol is not None and protocol != PROTOCOL:
            raise InvalidInput(
                f"protocol '{protocol}' is not spoken here; use {PROTOCOL}",
                field="protocol",
                rule="Tractus-X EDC: DSP 2025-1 (saturn)",
            )
        did = _str(body, "counterPartyId") or did_fallback
        if not did:
            raise InvalidInput(
                "counterPartyId (the counter-party's DID) is required",
                field="counterPartyId",
                rule="DSP 2025-1: the self-issued token's audience",
            )
        assert address is not None
        if not address.startswith(("https://", "http://")):
            raise InvalidInput("counterPartyAddress must be an http(s) URL", field="counterPartyAddress", rule="DSP")
        return address.rstrip("/"), did

    async def catalog(self, body: Any) -> dict[str, Any]:
        """``POST /v3/catalog/request``: the counter-party's catalog for this node (all pages),
        its datasets filtered by the ``querySpec``."""
        body = _object(body, "CatalogRequest")
        address, did = self._counterparty(body)
        catalog = await self.consumer.catalog(address, did)
        spec = _get(body, "querySpec")
        if isinstance(spec, dict) and any(_get(spec, k) for k in ("filterExpression", "limit", "offset")):
            catalog["dataset"] = query(list(catalog.get("dataset", [])), spec)
        catalog["@context"] = [*msgs.context(), MANAGEMENT_CONTEXT]
        catalog["originator"] = address
        return catalog

    # -- contract negotiations --------------------------------------------------------------

    async def _negotiate(self, body: dict[str, Any]) -> str:
        policy = _get(body, "policy") or _get(body, "offer")
        if not isinstance(policy, dict):
            raise InvalidInput(
                "a contract request needs the offer's policy", field="policy", rule="EDC ContractRequest"
            )
        offer_id = _str(policy, "@id", required=True, where="policy.")
        target = _str(policy, "target", required=True, where="policy.")
        assigner = _str(policy, "assigner")
        address, did = self._counterparty(body, did_fallback=assigner)
        assert offer_id is not None and target is not None
        offer = _compact_policy({k: v for k, v in policy.items() if k not in ("@context", "assigner", "target")})
        offer["@id"], offer["@type"] = offer_id, "Offer"
        pid = f"urn:uuid:{new_uuid7()}"
        try:
            await self.consumer.negotiate(address, did, offer, target=target, pid=pid)
        except (InvalidInput, UpstreamUnavailable) as exc:
            # as EDC: the process exists and is TERMINATED with the reason; the caller polls it
            self._terminate_unsent(t.negotiations, pid, str(NegotiationState.TERMINATED), exc.message)
        return pid

    def _terminate_unsent(self, table: Any, pid: str, state: str, reason: str) -> None:
        with UnitOfWork(self.engine) as uow:
            row = uow.conn.execute(select(table).where(table.c.pid == pid)).first()
            if row is None:  # refused before it was stored (e.g. the message failed its schema)
                raise InvalidInput(reason, field="policy", rule="DSP 2025-1 ContractRequestMessage")
            if row.state != state:
                uow.conn.execute(
                    update(table)
                    .where(table.c.pid == pid)
                    .values(state=state, state_count=row.state_count + 1, state_at=self.clock(), error_detail=reason)
                )
            uow.commit()

    async def start_negotiation(self, body: Any) -> dict[str, Any]:
        pid = await self._negotiate(_object(body, "ContractRequest"))
        return _id_response(pid, self.clock())

    def _negotiation_json(self, row: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "ContractNegotiation",
            "@id": row.pid,
            "type": "CONSUMER" if row.role == Role.CONSUMER else "PROVIDER",
            "protocol": PROTOCOL,
            "state": row.state,
            "counterPartyId": row.counterparty_did,
            "counterPartyAddress": row.counterparty_address,
            "callbackAddresses": [],
            "createdAt": _ms(row.created_at),
            "stateTimestamp": _ms(row.state_at),
            "assetId": (row.offer or {}).get("target"),
        }
        other = row.provider_pid if row.role == Role.CONSUMER else row.consumer_pid
        if other:
            out["correlationId"] = other
        if row.agreement_id:
            out["contractAgreementId"] = row.agreement_id
        if row.error_detail:
            out["errorDetail"] = row.error_detail
        return out

    def _negotiation_row(self, conn: Connection, pid: str) -> Any:
        row = conn.execute(select(t.negotiations).where(t.negotiations.c.pid == pid)).first()
        if row is None:
            raise NotFound(f"contract negotiation '{pid}' does not exist", rule="EDC /v3/contractnegotiations/{id}")
        return row

    def get_negotiation(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self._negotiation_json(self._negotiation_row(uow.conn, pid))

    def negotiation_state(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._negotiation_row(uow.conn, pid)
        return {"@context": MANAGEMENT_CONTEXT, "@type": "NegotiationState", "state": row.state}

    def query_negotiations(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(t.negotiations).order_by(t.negotiations.c.pid)).all()
        return query([self._negotiation_json(r) for r in rows], spec)

    def negotiation_agreement(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._negotiation_row(uow.conn, pid)
            ag = (
                uow.conn.execute(select(t.agreements).where(t.agreements.c.id == row.agreement_id)).first()
                if row.agreement_id
                else None
            )
        if ag is None:
            raise NotFound(f"contract negotiation '{pid}' has no agreement yet", rule="EDC /{id}/agreement")
        return self._agreement_json(ag)

    @staticmethod
    def _agreement_json(ag: Any) -> dict[str, Any]:
        return {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "ContractAgreement",
            "@id": ag.id,
            "assetId": ag.asset_id,
            "policy": {k: v for k, v in dict(ag.policy).items() if k != "@context"},
            "contractSigningDate": int(ag.signed_at.timestamp()),
            "consumerId": ag.consumer_did,
            "providerId": ag.provider_did,
        }

    # -- transfer processes -----------------------------------------------------------------

    async def _transfer(self, agreement_id: str) -> str:
        pid = f"urn:uuid:{new_uuid7()}"
        try:
            await self.consumer.transfer(agreement_id, pid=pid)
        except (InvalidInput, UpstreamUnavailable) as exc:
            with UnitOfWork(self.engine, write=False) as uow:
                stored = uow.conn.execute(select(t.transfers.c.pid).where(t.transfers.c.pid == pid)).first()
            if stored is None:  # no finalized agreement here: nothing was started
                raise
            self._terminate_unsent(t.transfers, pid, str(TransferState.TERMINATED), exc.message)
        return pid

    async def start_transfer(self, body: Any) -> dict[str, Any]:
        body = _object(body, "TransferRequest")
        agreement_id = _str(body, "contractId", required=True)
        kind = _str(body, "transferType") or PULL_FORMAT
        if kind != PULL_FORMAT:
            raise InvalidInput(
                f"transferType '{kind}' is not offered; use {PULL_FORMAT}",
                field="transferType",
                rule="DSP 2025-1 Distribution.format",
            )
        self._counterparty(body, did_fallback="(from the agreement)")
        assert agreement_id is not None
        pid = await self._transfer(agreement_id)
        return _id_response(pid, self.clock())

    def _transfers(self, conn: Connection, pids: list[str] | None = None) -> list[dict[str, Any]]:
        q = select(t.transfers, t.agreements.c.asset_id).outerjoin(
            t.agreements, t.agreements.c.id == t.transfers.c.agreement_id
        )
        if pids is not None:
            q = q.where(t.transfers.c.pid.in_(pids))
        out = []
        for row in conn.execute(q.order_by(t.transfers.c.pid)):
            item: dict[str, Any] = {
                "@context": MANAGEMENT_CONTEXT,
                "@type": "TransferProcess",
                "@id": row.pid,
                "type": "CONSUMER" if row.role == Role.CONSUMER else "PROVIDER",
                "protocol": PROTOCOL,
                "state": row.state,
                "stateTimestamp": _ms(row.state_at),
                "createdAt": _ms(row.created_at),
                "contractId": row.agreement_id,
                "assetId": row.asset_id,
                "transferType": row.format,
                "counterPartyAddress": row.counterparty_address,
                "counterPartyId": row.counterparty_did,
                "dataDestination": {"@type": "DataAddress", "type": "HttpProxy"},
                "callbackAddresses": [],
            }
            other = row.provider_pid if row.role == Role.CONSUMER else row.consumer_pid
            if other:
                item["correlationId"] = other
            if row.error_detail:
                item["errorDetail"] = row.error_detail
            out.append(item)
        return out

    def get_transfer(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            found = self._transfers(uow.conn, [pid])
        if not found:
            raise NotFound(f"transfer process '{pid}' does not exist", rule="EDC /v3/transferprocesses/{id}")
        return found[0]

    def transfer_state(self, pid: str) -> dict[str, Any]:
        return {"@context": MANAGEMENT_CONTEXT, "@type": "TransferState", "state": self.get_transfer(pid)["state"]}

    def query_transfers(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            return query(self._transfers(uow.conn), spec)

    def transfer_action(self, pid: str, action: str, body: Any = None) -> None:
        """``POST /v3/transferprocesses/{id}/{terminate,suspend,resume}`` on either side."""
        kind = {"terminate": "termination", "suspend": "suspension", "resume": "start"}[action]
        reason = _str(body, "reason") if isinstance(body, dict) else None
        role = self.get_transfer(pid)["type"]
        if role == "CONSUMER":
            self.consumer.send_transfer_message(pid, kind, reason=reason)
        else:
            self.provider.provider_transfer_action(pid, kind, reason=reason)

    # -- EDRs (Tractus-X) -------------------------------------------------------------------

    async def start_edr(self, body: Any) -> dict[str, Any]:
        """``POST /v3/edrs``: negotiate; the pull transfer follows once the agreement is final."""
        pid = await self._negotiate(_object(body, "ContractRequest"))
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(insert(t.mgmt_edrs).values(negotiation_pid=pid, created_at=self.clock()))
            uow.commit()
        await self.advance_edrs()
        return _id_response(pid, self.clock())

    async def advance_edrs(self) -> int:
        """Start the transfer of every EDR negotiation that became FINALIZED (claimed with a
        conditional update, so two readers never start two transfers); returns how many."""
        with UnitOfWork(self.engine, write=False) as uow:
            pending = uow.conn.execute(
                select(t.mgmt_edrs.c.negotiation_pid, t.negotiations.c.state, t.negotiations.c.agreement_id)
                .join(t.negotiations, t.negotiations.c.pid == t.mgmt_edrs.c.negotiation_pid)
                .where(t.mgmt_edrs.c.transfer_pid.is_(None))
                .where(t.mgmt_edrs.c.error_detail.is_(None))
                .where(t.negotiations.c.state.in_([NegotiationState.FINALIZED, NegotiationState.TERMINATED]))
            ).all()
        started = 0
        for row in pending:
            claim = "claimed"
            with UnitOfWork(self.engine) as uow:
                if row.state == NegotiationState.TERMINATED:
                    uow.conn.execute(
                        update(t.mgmt_edrs)
                        .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                        .values(error_detail="the contract negotiation was terminated")
                    )
                    uow.commit()
                    continue
                done = uow.conn.execute(
                    update(t.mgmt_edrs)
                    .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                    .where(t.mgmt_edrs.c.transfer_pid.is_(None))
                    .values(transfer_pid=claim)
                )
                uow.commit()
            if done.rowcount != 1:
                continue
            values: dict[str, Any]
            try:
                values = {"transfer_pid": await self._transfer(row.agreement_id)}
                started += 1
            except Exception as exc:
                with UnitOfWork(self.engine) as uow:
                    uow.conn.execute(
                        update(t.mgmt_edrs)
                        .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                        .values(transfer_pid=None, error_detail=str(exc)[:2000])
                    )
                    uow.commit()
                raise
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(
                    update(t.mgmt_edrs).where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid).values(**values)
                )
                uow.commit()
        return started

    async def query_edrs(self, spec: Any) -> list[dict[str, Any]]:
        """``POST /v3/edrs/request``: the EDR entries (consumer pull transfers with a data address)."""
        await self.advance_edrs()
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(
                    t.transfers.c.pid,
                    t.transfers.c.agreement_id,
                    t.transfers.c.counterparty_did,
                    t.transfers.c.created_at,
                    t.agreements.c.asset_id,
                    t.agreements.c.negotiation_pid,
                )
                .join(t.agreements, t.agreements.c.id == t.transfers.c.agreement_id)
                .where(t.transfers.c.role == Role.CONSUMER)
                .where(t.transfers.c.data_address.is_not(None))
                .order_by(t.transfers.c.pid)
            ).all()
        entries = [
            {
                "@context": MANAGEMENT_CONTEXT,
                "@id": r.pid,
                "@type": "EndpointDataReferenceEntry",
                "transferProcessId": r.pid,
                "agreementId": r.agreement_id,
                "contractNegotiationId": r.negotiation_pid,
                "assetId": r.asset_id,
                "providerId": r.counterparty_did,
                "createdAt": _ms(r.created_at),
            }
            for r in rows
        ]
        return query(entries, spec)

    async def edr_data_address(self, transfer_pid: str, *, auto_refresh: bool = True) -> dict[str, Any]:
        """``GET /v3/edrs/{transferProcessId}/dataaddress``: endpoint and token; with
        ``auto_refresh`` an expired token is refreshed first (Tractus-X token refresh)."""
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(t.transfers.c.role, t.transfers.c.state)
                .where(t.transfers.c.pid == transfer_pid)
                .where(t.transfers.c.role == Role.CONSUMER)
            ).first()
        address = self.consumer.data_address(transfer_pid) if row is not None else None
        if row is None or address is None:
            raise NotFound(f"no EDR for transfer process '{transfer_pid}'", rule="Tractus-X EDC /v3/edrs")
        expired = address.expires_at is not None and address.expires_at <= self.clock() + dt.timedelta(seconds=5)
        if auto_refresh and expired and address.refresh_token and row.state == TransferState.STARTED:
            address = await self.consumer.refresh_data_address(transfer_pid)
        return self._address_json(address)

    async def refresh_edr(self, transfer_pid: str) -> dict[str, Any]:
        self.get_transfer(transfer_pid)
        return self._address_json(await self.consumer.refresh_data_address(transfer_pid))

    def _address_json(self, address: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "DataAddress",
            "type": HTTP_ENDPOINT_TYPE,
            "endpointType": HTTP_ENDPOINT_TYPE,
            "endpoint": address.endpoint,
            "authType": "bearer",
            "authorization": address.token,
        }
        if address.refresh_token:
            out["tx-auth:refreshToken"] = address.refresh_token
        if address.refresh_endpoint:
            out["tx-auth:refreshEndpoint"] = address.refresh_endpoint
        if address.expires_at is not None:
            left = int((address.expires_at - self.clock()).total_seconds())
            out["tx-auth:expiresIn"] = str(max(left, 0))
        return out
