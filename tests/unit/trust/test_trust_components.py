"""TrustService is a facade over one component per role (issuer, nonces, recognition, relying
party, holder): they share one state — the node's resolver, registry, status-list cache, verifier,
standing findings and clock — so what one component learns the others see."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from trust_http import load_lists, role_subject
from trust_world import CX_BASE, World

from batpass.core.clock import FixedClock
from batpass.core.findings import Finding
from batpass.trust import CredentialRejected, RejectReason, TrustService, _sql, did_document, peek


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


def test_one_clock_fixes_every_time_the_components_stamp(trust_store: Engine, world: World) -> None:
    at = world.now.replace(microsecond=0) + dt.timedelta(days=30)
    clock = FixedClock(at)
    svc = TrustService(
        trust_store,
        world.cx,
        base_url=CX_BASE,
        operators={"catena-x": world.cx.did, "ouranos": world.jp.did},
        clock=clock,
    )
    svc.resolver.pin(did_document(world.jp))
    components = (svc.issuer, svc.nonces, svc.recognition, svc.relying_party, svc.holder)
    assert {id(c.context.clock) for c in components} == {id(clock)}
    assert svc.verifier.clock is clock and svc.status_lists.clock is clock
    load_lists(svc, world)
    issued = svc.issue("AccessRoleCredential", role_subject(world))
    claims = peek(issued.token)[1]
    assert claims["iat"] == claims["nbf"] == int(at.timestamp())  # the JWT's iat is the clock's time
    assert svc.issued()[0]["issuedAt"] == at.isoformat()
    with svc.engine.connect() as conn:
        expires = conn.execute(sa.select(_sql.nonces.c.expires_at).where(_sql.nonces.c.nonce == svc.issue_nonce()))
        assert expires.scalar_one() == at + dt.timedelta(seconds=300)
    assert "AccessRoleCredential" in asyncio.run(svc.verify(issued.token)).types
    # the verifier checks validity at the clock's time: past the credential's end it has expired
    clock.advance(dt.timedelta(days=366))
    with pytest.raises(CredentialRejected) as exc:
        svc.verifier.verify(issued.token)
    assert exc.value.reason is RejectReason.EXPIRED
