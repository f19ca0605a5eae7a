"""TrustService is a facade over one component per role (issuer, nonces, recognition, relying
party, holder): they share one state — the node's resolver, registry, status-list cache, verifier
and standing findings — so what one component learns the others see."""

from __future__ import annotations

import asyncio

import pytest
from trust_http import load_lists, role_subject
from trust_world import World

from batpass.core.findings import Finding
from batpass.trust import CredentialRejected, RejectReason, TrustService


def test_the_components_share_one_state(service: TrustService) -> None:
    components = [service.issuer, service.nonces, service.recognition, service.relying_party, service.holder]
    assert {id(c.context) for c in components} == {id(service.context)}
    ctx = service.context
    assert ctx.resolver is service.resolver is service.verifier.resolver is service.status.resolver
    assert ctx.registry is service.registry is service.verifier.registry
    assert ctx.status is service.status is service.verifier.status
    assert ctx.verifier is service.verifier
    assert ctx.engine is service.engine and ctx.identity is service.identity and ctx.operators is service.operators
    assert service.relying_party.nonces is service.nonces
    assert service.issuer.status_lists is service.status_lists


def test_what_one_component_changes_the_others_see(service: TrustService, world: World) -> None:
    load_lists(service, world)  # recognition adds to the registry the relying party verifies with
    assert set(service.verifier.registry.lists) == {"catena-x", "ouranos"}
    issued = service.issue("AccessRoleCredential", role_subject(world))
    assert "AccessRoleCredential" in asyncio.run(service.verify(issued.token)).types
    # the issuer's revocation invalidates the status cache the relying party verifies with
    service.revoke(issued.id)
    with pytest.raises(CredentialRejected) as exc:
        asyncio.run(service.verify(issued.token))
    assert exc.value.reason is RejectReason.REVOKED
    # a finding the holder settles stands on the facade
    broken = Finding("trust_wallet", "w-1", "held-credential-attested", "tampered")
    service.holder.context.findings.settle(broken.table, broken.key, [broken])
    assert service.findings == (broken,) and not service.healthy
    service.context.findings.settle(broken.table, broken.key)
    assert service.healthy
