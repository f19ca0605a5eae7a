"""The hub's hosted operators: onboarding, the ``operator`` data target of ``/api/v1/authInfo``
(own record, ``openOperatorId`` lookup, ``operatorIds`` batch) and each operator's identity on
the hub — the keys the hub holds on its behalf and its ``did:web:<hub>:operators:<id>``.

Rules (published ``OperatorModel``): ``operatorId`` and ``openOperatorId`` are immutable and
unique, ``globalOperatorId`` is unique across the platform; an operator writes only its own
record; there is no browsable directory (lookups by id only).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.ids import Did, OuranosOperatorId
from batpass.ouranos._context import HubComponent, HubContext, Principal, check_text, check_uuid, operator_or_404
from batpass.ouranos.errors import AccessDenied
from batpass.ouranos.model import Operator
from batpass.store import UnitOfWork
from batpass.trust import NodeIdentity, did_document, load_or_create_identity


def _version_endpoint(dsp_url: str) -> str:
    """The DSP version metadata endpoint of the connector at ``dsp_url`` (its origin's
    ``/.well-known/dspace-version``, DSP 2025-1 "Exposure of Versions"): what a ``DataService``
    DID entry names."""
    parts = urlsplit(dsp_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/dspace-version"


class OperatorDirectory(HubComponent):
    """The operators the hub hosts, their records and the identities it holds for them."""

    def __init__(self, context: HubContext) -> None:
        super().__init__(context)
        self._identities: dict[str, NodeIdentity] = {}

    # ---------------------------------------------------------------- identities and DIDs

    def operator_did(self, operator_id: str) -> Did:
        return Did.web(self.context.host, self.context.port, "operators", operator_id)

    def operator_identity(self, operator_id: str) -> NodeIdentity:
        """The keys the hub holds on the operator's behalf (created at onboarding)."""
        if operator_id not in self._identities:
            with UnitOfWork(self.engine, write=False) as uow:
                if self.store(uow).operator(operator_id) is None:
                    raise NotFound(f"no operator {operator_id} on this hub", rule="hosted operators only")
            self._identities[operator_id] = load_or_create_identity(
                self.context.hub_home / "operators" / operator_id, str(self.operator_did(operator_id))
            )
        return self._identities[operator_id]

    def operator_did_document(self, operator_id: str) -> dict[str, Any]:
        """The operator's DID document; once it has released anything to a Catena-X partner,
        its ``DataService`` is the bridge's connector, which it names as ``participantId`` (the
        bridge operates that connector for the operator, so tokens are addressed to the bridge)."""
        doc = did_document(self.operator_identity(operator_id))
        bridge = self.context.bridge
        if bridge is not None:
            with UnitOfWork(self.engine, write=False) as uow:
                released = bool(self.store(uow).bridge_releases(operator_id))
            if released:
                doc["service"] = [
                    {
                        "id": f"{doc['id']}#dsp",
                        "type": "DataService",
                        "serviceEndpoint": _version_endpoint(bridge.dsp_url),
                        "participantId": bridge.did,
                    }
                ]
        return doc

    def operator_id_of(self, did: str) -> str | None:
        """The hosted operator a DID names (``did:web:<hub>:operators:<id>``), if any."""
        prefix = str(self.operator_did("x"))[:-1]
        if not did.startswith(prefix):
            return None
        op_id = did[len(prefix) :]
        with UnitOfWork(self.engine, write=False) as uow:
            return op_id if self.store(uow).operator(op_id) is not None else None

    # ---------------------------------------------------------------- admin: onboarding

    def onboard_operator(
        self,
        *,
        open_operator_id: str,
        operator_name: str,
        operator_address: str,
        global_operator_id: str | None = None,
        operator_id: str | None = None,
    ) -> Operator:
        """Host a new operator: its record, its keys and its DID under the hub."""
        open_id = OuranosOperatorId(open_operator_id)
        op_id = check_uuid(operator_id, "operatorId") if operator_id else str(uuid.uuid4())
        check_text(operator_name, "operatorName", 1, 256)
        check_text(operator_address, "operatorAddress", 1, 256)
        if global_operator_id is not None:
            check_text(global_operator_id, "globalOperatorId", 0, 256)
        did = str(self.operator_did(op_id))
        op = Operator(op_id, str(open_id), operator_name, operator_address, global_operator_id, did)
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.operator(op_id) is not None or store.operator_by_open_id(str(open_id)) is not None:
                raise Conflict(
                    f"operator {op_id} / openOperatorId {open_id} already exists", rule="operators are unique"
                )
            if global_operator_id is not None and store.global_operator_id_taken(global_operator_id, besides=op_id):
                raise Conflict(
                    f"globalOperatorId: {global_operator_id} is already exists.", rule="unique globalOperatorId"
                )
            store.insert_operator(op)
            uow.commit()
        self.operator_identity(op_id)
        return op

    def operators(self) -> list[Operator]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self.store(uow).all_operators()

    # ---------------------------------------------------------------- authInfo?dataTarget=operator

    def get_operator(self, who: Principal) -> Operator:
        with UnitOfWork(self.engine, write=False) as uow:
            return operator_or_404(self.store(uow), who.operator_id)

    def find_operator(self, who: Principal, open_operator_id: str) -> Operator:
        """Look another operator up by its ``openOperatorId`` (no browsable directory)."""
        with UnitOfWork(self.engine, write=False) as uow:
            op = self.store(uow).operator_by_open_id(open_operator_id)
        if op is None:
            raise NotFound(f"no operator with openOperatorId {open_operator_id}", rule="lookup by openOperatorId")
        return op

    def operators_by_ids(self, who: Principal, operator_ids: Sequence[str]) -> list[Operator]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self.store(uow).operators_by_ids(operator_ids)

    def put_operator(self, who: Principal, op: Operator) -> Operator:
        """``PUT authInfo?dataTarget=operator``: operatorId and openOperatorId are immutable,
        globalOperatorId unique across the platform."""
        if op.operator_id != who.operator_id:
            raise AccessDenied(
                "operatorId differs from the authenticated operator", rule="OperatorModel.operatorId is your own"
            )
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            current = operator_or_404(store, who.operator_id)
            if op.open_operator_id != current.open_operator_id:
                raise InvalidInput("openOperatorId: field is immutable.", field="openOperatorId", rule="immutable")
            if op.global_operator_id is not None and store.global_operator_id_taken(
                op.global_operator_id, besides=who.operator_id
            ):
                raise InvalidInput(
                    f"globalOperatorId: {op.global_operator_id} is already exists.",
                    field="operatorAttribute.globalOperatorId",
                    rule="unique across the platform",
                )
            updated = replace(op, did=current.did)
            store.update_operator(updated)
            uow.commit()
            return updated
