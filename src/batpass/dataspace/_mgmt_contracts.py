"""EDC management API v3 ``/v3/contractdefinitions``: a ContractDefinition (``accessPolicyId``,
``contractPolicyId``, ``assetsSelector``) becomes one catalog offer of this node's provider per
selected asset, written in the same transaction and re-written (:meth:`ContractDefinitions.reconcile`)
whenever an asset, a policy or the definition changes, so the catalog stays filtered in the
database (``_sql.visible_offers``). Source: Eclipse EDC management API v3 (ContractDefinition,
Criterion). Knows no HTTP framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from batpass.core.clock import Clock
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _sql as t
from batpass.dataspace._mgmt_assets import asset_documents
from batpass.dataspace._mgmt_jsonld import (
    MANAGEMENT_CONTEXT,
    asset_selected,
    catalog_offer_id,
    edc_body,
    epoch_ms,
    id_response,
    parse_criteria,
    query,
    string_of,
    value_of,
)
from batpass.dataspace._provider import DspProvider
from batpass.dataspace.model import OfferDefinition
from batpass.store import UnitOfWork

__all__ = ["ContractDefinitions"]


class ContractDefinitions:
    """``/v3/contractdefinitions``: create, replace, read, query and delete contract
    definitions, and keep the provider's catalog offers in step with them."""

    def __init__(self, provider: DspProvider, *, clock: Clock) -> None:
        self.provider = provider
        self.engine = provider.engine
        self.clock = clock

    @staticmethod
    def _definition_values(body: dict[str, Any]) -> dict[str, Any]:
        selector = value_of(body, "assetsSelector")
        selector = [] if selector is None else selector if isinstance(selector, list) else [selector]
        parse_criteria(selector, "assetsSelector")  # refuse malformed criteria now
        private = value_of(body, "privateProperties") or {}
        return {
            "id": string_of(body, "@id") or f"urn:uuid:{new_uuid7()}",
            "access_policy_id": string_of(body, "accessPolicyId", required=True),
            "contract_policy_id": string_of(body, "contractPolicyId", required=True),
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
            "createdAt": epoch_ms(row.created_at),
        }

    def create_contract_definition(self, body: Any) -> dict[str, Any]:
        values = self._definition_values(edc_body(body, "ContractDefinition"))
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            table = t.mgmt_contract_definitions
            if uow.conn.execute(select(table.c.id).where(table.c.id == values["id"])).first():
                raise Conflict(f"contract definition '{values['id']}' already exists", rule="EDC contractdefinitions")
            self._check_policies(uow.conn, values)
            uow.conn.execute(insert(table).values(created_at=now, **values))
            self.reconcile(uow.conn, [values["id"]])
            uow.commit()
        return id_response(values["id"], now)

    def update_contract_definition(self, body: Any, definition_id: str | None = None) -> None:
        body = edc_body(body, "ContractDefinition")
        if definition_id is not None:
            body = {**body, "@id": definition_id}
        elif string_of(body, "@id") is None:
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
            self.reconcile(uow.conn, [values["id"]])
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

    def reconcile(self, conn: Connection, definition_ids: list[str] | None = None) -> None:
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
        assets = asset_documents(conn)
        for d in definitions:
            selector = parse_criteria(list(d.assets_selector), "assetsSelector")
            keep: set[str] = set()
            for asset in assets:
                if not asset_selected(asset, selector):
                    continue
                offer = OfferDefinition(
                    id=catalog_offer_id(d.id, asset["@id"]),
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
