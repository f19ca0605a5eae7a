"""EDC management API v3 ``/v3/policydefinitions``: a PolicyDefinition is a stored ODRL ``Set``
(compacted the way DSP 2025-1 writes it), used by contract definitions as access or contract
policy. A change re-writes the catalog offers that use the policy (a policy that can no longer
gate a catalog is refused); a policy a contract definition uses cannot be deleted. Source:
Eclipse EDC management API v3 (PolicyDefinition), ODRL 2.2. Knows no HTTP framework.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from batpass.core.clock import Clock
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _sql as t
from batpass.dataspace._mgmt_assets import Reconcile
from batpass.dataspace._mgmt_jsonld import (
    MANAGEMENT_CONTEXT,
    compact_policy,
    edc_body,
    epoch_ms,
    id_response,
    query,
    string_of,
    value_of,
)
from batpass.store import UnitOfWork

__all__ = ["PolicyDefinitions"]


class PolicyDefinitions:
    """``/v3/policydefinitions``: create, replace, read, query and delete policy definitions."""

    def __init__(self, engine: Engine, *, clock: Clock, reconcile: Reconcile) -> None:
        self.engine = engine
        self.clock = clock
        self._reconcile = reconcile

    @staticmethod
    def _policy_values(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        pid = string_of(body, "@id") or f"urn:uuid:{new_uuid7()}"
        policy = value_of(body, "policy")
        if not isinstance(policy, dict):
            raise InvalidInput("a policy definition needs a policy", field="policy", rule="EDC PolicyDefinition")
        kind = policy.get("@type", "Set")
        if not isinstance(kind, str) or kind.split(":")[-1].split("/")[-1] not in ("Set", "Policy", "Offer"):
            raise InvalidInput(f"policy @type must be Set, not {kind}", field="policy.@type", rule="ODRL Set")
        compact = compact_policy({k: v for k, v in policy.items() if k not in ("@type", "@id", "@context")})
        for rule in ("permission", "prohibition", "obligation"):
            rules = compact.get(rule)
            if rules is not None and not isinstance(rules, list | dict):
                raise InvalidInput(f"{rule} must be an object or a list", field=f"policy.{rule}", rule="ODRL")
        private = value_of(body, "privateProperties") or {}
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
            "createdAt": epoch_ms(row.created_at),
        }

    def create_policy(self, body: Any) -> dict[str, Any]:
        pid, policy, private = self._policy_values(edc_body(body, "PolicyDefinition"))
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            if uow.conn.execute(select(t.mgmt_policies.c.id).where(t.mgmt_policies.c.id == pid)).first():
                raise Conflict(f"policy definition '{pid}' already exists", rule="EDC POST /v3/policydefinitions")
            uow.conn.execute(
                insert(t.mgmt_policies).values(id=pid, policy=policy, private_properties=private, created_at=now)
            )
            uow.commit()
        return id_response(pid, now)

    def update_policy(self, policy_id: str, body: Any) -> None:
        body = edc_body(body, "PolicyDefinition")
        given = string_of(body, "@id")
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
