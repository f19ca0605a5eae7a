"""What the trust service relies on is read from its signed form (issue 16, item 3): trust lists,
recognition policy, pinned operator keys and held credentials are verified whenever they are
loaded from the database, on SQLite and PostgreSQL; tampering is a finding, never trust."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from trust_http import load_lists
from trust_world import CX_BASE, World

from batpass.trust import (
    CredentialRejected,
    NodeIdentity,
    TrustService,
    _sql,
    build_credential,
    issue_vc_jwt,
    issue_vp_jwt,
    new_did_key_identity,
)

DAY = dt.timedelta(days=1)


def restart(service: TrustService) -> TrustService:
    """A fresh service on the same database, as a node restarted after the change."""
    return TrustService(
        service.engine, service.identity, base_url=CX_BASE, ecosystem="catena-x", operators=service.operators
    )


def commission_credential(issuer: NodeIdentity, holder: str, now: dt.datetime) -> str:
    vc = build_credential(
        issuer=issuer.did,
        ctype="AccessRoleCredential",
        subject={"id": holder, "role": "commission", "organisation": "European Commission"},
        valid_from=now - DAY,
        valid_until=now + DAY,
    )
    return issue_vc_jwt(issuer, vc)


@pytest.mark.xfail(strict=True, reason="defect: TrustService builds its registry from the stored JSON body")
def test_issuer_swapped_in_the_stored_list_body_is_not_trusted(service: TrustService, world: World) -> None:
    """The defect: swapping an issuer DID in the stored JSON of a trust list let that issuer's
    AccessRoleCredential (role ``commission``) open the authorities tier after a restart."""
    load_lists(service, world)
    intruder = new_did_key_identity()
    t = _sql.trust_lists
    with service.engine.begin() as conn:
        body = conn.execute(sa.select(t.c.body).where(t.c.ecosystem == "catena-x")).scalar_one()
        body = {**body, "issuers": [{**e, "did": intruder.did} for e in body["issuers"]]}
        conn.execute(t.update().where(t.c.ecosystem == "catena-x").values(body=body))
    node = restart(service)
    reader = world.holder
    cred = commission_credential(intruder, reader.did, world.now)
    vp = issue_vp_jwt(reader, [cred], audience=node.identity.did, nonce=node.issue_nonce())
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(node.roles_for(vp))
    assert e.value.reason == "unknown-issuer"
    # the operator's list still counts: its signed form names the real certifier
    assert [i.did for i in node.registry.lists["catena-x"].issuers] == [world.cx.did]
