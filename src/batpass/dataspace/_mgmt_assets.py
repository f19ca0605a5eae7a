"""EDC management API v3 ``/v3/assets`` on this node's provider: an EDC Asset is a dataspace
:class:`~batpass.dataspace.model.Asset` (``properties`` are the public catalog metadata) plus its
``dataAddress`` and ``privateProperties`` (never shown in a catalog).

A ``dataAddress`` of type ``BatpassSource`` names an :class:`~batpass.dataspace.ports.AssetSource`
(``source``) and its key (``sourceKey``); any other type (e.g. ``HttpData``) names the source after
the type, whose key is the ``baseUrl``. Every change re-writes the catalog offers of the contract
definitions (their ``assetsSelector`` may select the asset). Source: Eclipse EDC management API v3
(Asset). Knows no HTTP framework.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from batpass.core.clock import Clock
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _sql as t
from batpass.dataspace._mgmt_jsonld import (
    MANAGEMENT_CONTEXT,
    edc_body,
    epoch_ms,
    expand,
    id_response,
    query,
    string_of,
    value_of,
)
from batpass.dataspace.model import Asset
from batpass.store import UnitOfWork

__all__ = ["ManagedAssets", "asset_documents"]

#: re-writes the catalog offers of every contract definition in the caller's transaction
Reconcile = Callable[[Connection], None]


def _asset_json(row: Any, mgmt: Any) -> dict[str, Any]:
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
        "createdAt": epoch_ms(row.created_at),
    }


def asset_documents(conn: Connection, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """The management view of the stored assets (all, or those of ``ids``), by id: their public
    properties, private properties and data address (the ones registered in code show their source)."""
    q = select(t.assets, t.mgmt_assets.c.data_address, t.mgmt_assets.c.private_properties).outerjoin(
        t.mgmt_assets, t.mgmt_assets.c.id == t.assets.c.id
    )
    if ids is not None:
        q = q.where(t.assets.c.id.in_(ids))
    out = []
    for row in conn.execute(q.order_by(t.assets.c.id)):
        mgmt = row if row.data_address is not None else None
        out.append(_asset_json(row, mgmt))
    return out


class ManagedAssets:
    """``/v3/assets``: create, replace, read, query and delete assets."""

    def __init__(self, engine: Engine, *, clock: Clock, reconcile: Reconcile) -> None:
        self.engine = engine
        self.clock = clock
        self._reconcile = reconcile

    @staticmethod
    def _asset_values(body: dict[str, Any]) -> tuple[Asset, dict[str, Any], dict[str, Any]]:
        aid = string_of(body, "@id") or f"urn:uuid:{new_uuid7()}"
        if len(aid) > 200:
            raise InvalidInput("an asset id has at most 200 characters", field="@id", rule="batpass dsp_assets.id")
        properties = value_of(body, "properties") or {}
        private = value_of(body, "privateProperties") or {}
        address = value_of(body, "dataAddress")
        if not isinstance(properties, dict) or not isinstance(private, dict):
            raise InvalidInput("properties are an object", field="properties", rule="EDC Asset")
        if not isinstance(address, dict):
            raise InvalidInput("an asset needs a dataAddress", field="dataAddress", rule="EDC Asset")
        kind = string_of(address, "type", required=True, where="dataAddress.")
        assert kind is not None
        if expand(kind) == expand("BatpassSource"):
            source = string_of(address, "source", required=True, where="dataAddress.")
            key = string_of(address, "sourceKey", required=True, where="dataAddress.")
        else:
            source, key = kind, string_of(address, "baseUrl") or ""
        assert source is not None and key is not None
        if len(source) > 64:
            raise InvalidInput("a source name has at most 64 characters", field="dataAddress.type", rule="batpass")
        public = {k: v for k, v in properties.items() if expand(k) != expand("id")}
        return Asset(id=aid, source=source, source_key=key, properties=public), address, private

    def _write_asset(self, conn: Connection, asset: Asset, address: dict[str, Any], private: dict[str, Any]) -> None:
        values = {"source": asset.source, "source_key": asset.source_key, "title": None}
        if conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is None:
            conn.execute(
                insert(t.assets).values(
                    id=asset.id, properties=dict(asset.properties), created_at=self.clock.now(), **values
                )
            )
        else:
            conn.execute(
                update(t.assets).where(t.assets.c.id == asset.id).values(properties=dict(asset.properties), **values)
            )
        conn.execute(delete(t.mgmt_assets).where(t.mgmt_assets.c.id == asset.id))
        conn.execute(insert(t.mgmt_assets).values(id=asset.id, data_address=address, private_properties=private))

    def create_asset(self, body: Any) -> dict[str, Any]:
        asset, address, private = self._asset_values(edc_body(body, "Asset"))
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is not None:
                raise Conflict(f"asset '{asset.id}' already exists", rule="EDC management API: POST /v3/assets")
            self._write_asset(uow.conn, asset, address, private)
            self._reconcile(uow.conn)
            uow.commit()
        return id_response(asset.id, self.clock.now())

    def update_asset(self, body: Any, asset_id: str | None = None) -> None:
        body = edc_body(body, "Asset")
        if asset_id is not None:
            given = string_of(body, "@id")
            if given is not None and given != asset_id:
                raise InvalidInput("the body's @id differs from the path", field="@id", rule="EDC PUT /v3/assets")
            body = {**body, "@id": asset_id}
        elif string_of(body, "@id") is None:
            raise InvalidInput("@id is required", field="@id", rule="EDC PUT /v3/assets")
        asset, address, private = self._asset_values(body)
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first() is None:
                raise NotFound(f"asset '{asset.id}' does not exist", rule="EDC management API: PUT /v3/assets")
            self._write_asset(uow.conn, asset, address, private)
            self._reconcile(uow.conn)
            uow.commit()

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            found = asset_documents(uow.conn, [asset_id])
        if not found:
            raise NotFound(f"asset '{asset_id}' does not exist", rule="EDC management API: GET /v3/assets/{id}")
        return found[0]

    def query_assets(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            return query(asset_documents(uow.conn), spec)

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
