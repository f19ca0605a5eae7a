"""CX-0152 ``FrameworkAgreement`` evaluated from a verified credential, end to end in process: a
provider's DCP verifier asks the caller's credential service for its membership *and* its
``DataExchangeGovernanceCredential``, verifies both against the Catena-X trust list, the node's
adapter turns the result into the dataspace ``Participant``, and the ODRL evaluator decides the
Catena-X usage policy. Present, missing, expired, untrusted and foreign-BPNL credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from trust_http import CountingTransport, load_list, make_app, provider_of
from trust_world import CX_BASE, World

from batpass.core.clock import FixedClock
from batpass.dataspace import EvaluationContext, Participant, evaluate
from batpass.node._adapters import DcpParticipantAdapter
from batpass.trust import (
    CredentialRejected,
    TrustedIssuer,
    TrustList,
    TrustService,
    build_credential,
    did_document,
    issue_self_issued_token,
    issue_vc_jwt,
    sign_trust_list,
)
from batpass.trust._vc import LEEWAY

BPNL = "BPNL00000000000C"
FRAMEWORK = "DataExchangeGovernanceCredential"
USAGE = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "and": [
                        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
                        {
                            "leftOperand": "FrameworkAgreement",
                            "operator": "eq",
                            "rightOperand": "DataExchangeGovernance:1.0",
                        },
                        {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": ["cx.circular.dpp:1"]},
                    ]
                }
            ],
        }
    ]
}


def framework_subject(did: str, bpnl: str = BPNL, version: str = "1.0") -> dict[str, Any]:
    return {
        "id": did,
        "holderIdentifier": bpnl,
        "group": "UseCaseFramework",
        "useCase": "DataExchangeGovernance",
        "contractTemplate": "https://catenax-ev.github.io/docs/regulatory-framework/20000ft/data-exchange-governance",
        "contractVersion": version,
    }


def member(service: TrustService, world: World, *, framework_trusted: bool = True) -> None:
    """The certifier operates the Catena-X list (issuer of memberships and, unless told otherwise,
    of framework credentials) and holds its own membership."""
    types = {"MembershipCredential", *([FRAMEWORK] if framework_trusted else [])}
    cx_list = TrustList(
        "catena-x", world.cx.did, world.now, None, (TrustedIssuer(world.cx.did, "CX", frozenset(types)),)
    )
    asyncio.run(service.add_trust_list(sign_trust_list(cx_list, world.cx), ecosystem="catena-x"))
    m = service.issue(
        "MembershipCredential", {"id": service.identity.did, "memberOf": "catena-x", "holderIdentifier": BPNL}
    )
    service.hold(m.token)


def participant(service: TrustService, world: World, trust_store: Any) -> Participant:
    """How a provider (the JP operator's identity here) sees the certifier node calling it."""
    app = make_app(service)

    async def run() -> Participant:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            provider = provider_of(service, world, trust_store, client)
            token = issue_self_issued_token(service.identity, audience=world.jp.did, bpn=BPNL)
            return await DcpParticipantAdapter(provider).verify(f"Bearer {token}")

    return asyncio.run(run())


def decide(p: Participant, now: dt.datetime | None = None) -> tuple[bool, str]:
    d = evaluate(USAGE, EvaluationContext(p, now=now or dt.datetime.now(dt.UTC)))
    return d.allowed, "; ".join(d.failures)


def test_a_presented_framework_credential_satisfies_the_agreement(
    service: TrustService, world: World, trust_store: Any
) -> None:
    member(service, world)
    service.hold(service.issue(FRAMEWORK, framework_subject(service.identity.did)).token)
    p = participant(service, world, trust_store)
    assert p.bpnl == BPNL and {"MembershipCredential", FRAMEWORK} <= p.memberships and not p.refused
    held = next(c for c in p.credentials if FRAMEWORK in c.types)
    assert held.subject["contractVersion"] == "1.0" and held.issuer == world.cx.did
    assert decide(p) == (True, "")
    # the same credential no longer holds once its validity has ended (an agreement used later)
    assert held.valid_until is not None
    allowed, why = decide(p, now=held.valid_until + dt.timedelta(seconds=1))
    assert not allowed and f"the {FRAMEWORK} expired at" in why


def test_without_the_credential_the_agreement_does_not_hold(
    service: TrustService, world: World, trust_store: Any
) -> None:
    member(service, world)
    p = participant(service, world, trust_store)
    assert p.memberships == {"MembershipCredential"} and not p.refused  # still a member
    assert decide(p) == (False, f"FrameworkAgreement DataExchangeGovernance:1.0: no verified {FRAMEWORK}")


def test_an_expired_credential_is_refused_with_its_reason(
    service: TrustService, world: World, trust_store: Any
) -> None:
    member(service, world)
    now = dt.datetime.now(dt.UTC)
    vc = build_credential(
        issuer=world.cx.did,
        ctype=FRAMEWORK,
        subject=framework_subject(service.identity.did),
        valid_from=now - dt.timedelta(days=400),
        valid_until=now - dt.timedelta(days=35),
    )
    service.hold(issue_vc_jwt(world.cx, vc))
    p = participant(service, world, trust_store)
    assert FRAMEWORK not in p.memberships and p.refused[FRAMEWORK].startswith("expired:")
    allowed, why = decide(p)
    assert not allowed and why.startswith(f"FrameworkAgreement DataExchangeGovernance:1.0: the {FRAMEWORK} presented")
    assert "expired" in why


def test_an_issuer_not_listed_for_the_type_and_a_foreign_bpnl_are_refused(
    service: TrustService, world: World, trust_store: Any
) -> None:
    member(service, world, framework_trusted=False)
    service.hold(service.issue(FRAMEWORK, framework_subject(service.identity.did)).token)
    p = participant(service, world, trust_store)
    assert FRAMEWORK not in p.memberships and p.refused[FRAMEWORK].startswith("issuer-not-trusted-for-type:")
    assert "issuer-not-trusted-for-type" in decide(p)[1]


def test_a_credential_naming_another_bpnl_is_refused(service: TrustService, world: World, trust_store: Any) -> None:
    member(service, world)
    service.hold(service.issue(FRAMEWORK, framework_subject(service.identity.did, bpnl="BPNL0000000000ZZ")).token)
    p = participant(service, world, trust_store)
    assert p.bpnl == BPNL and FRAMEWORK not in p.memberships and p.refused[FRAMEWORK].startswith("holder:")
    assert not decide(p)[0]


def test_another_contract_version_does_not_satisfy_1_0(service: TrustService, world: World, trust_store: Any) -> None:
    member(service, world)
    service.hold(service.issue(FRAMEWORK, framework_subject(service.identity.did, version="2.0")).token)
    p = participant(service, world, trust_store)
    assert FRAMEWORK in p.memberships
    allowed, why = decide(p)
    assert not allowed and why.endswith(f"the {FRAMEWORK} is for contractVersion 2.0, not 1.0")


def test_a_verified_presentation_is_reused_briefly_and_the_token_is_always_checked(
    service: TrustService, world: World, trust_store: Any
) -> None:
    """The several DSP messages of one negotiation cost one presentation query: the caller's
    token is verified on every message, its presentation reused for the verifier's TTL."""
    member(service, world)
    transport = CountingTransport(make_app(service))
    queries = transport.queries
    now = [1000.0]

    async def run() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            provider = provider_of(service, world, trust_store, client)
            verifier = provider.participant_verifier()
            assert provider.participant_verifier() is verifier  # one per node
            verifier._clock = lambda: now[0]

            def bearer() -> str:
                return "Bearer " + issue_self_issued_token(service.identity, audience=world.jp.did, bpn=BPNL)

            first = await verifier.verify(bearer())
            again = await verifier.verify(bearer())
            assert again == first and len(queries) == 1
            # a token for another audience is refused even while the presentation is kept
            other = issue_self_issued_token(service.identity, audience=world.other.did, bpn=BPNL)
            try:
                await verifier.verify(f"Bearer {other}")
            except CredentialRejected as exc:
                assert exc.reason == "audience"
            else:
                raise AssertionError("a token for another audience was accepted")
            now[0] += verifier.presentation_ttl_s + 1  # past the TTL: asked again
            await verifier.verify(bearer())
            assert len(queries) == 2

    asyncio.run(run())


def test_a_kept_presentation_is_not_used_past_a_credential_s_expiry(world: World, trust_store: Any) -> None:
    """The presentation is reused for the TTL only while every credential in it is valid: a
    membership that expires within the TTL is not accepted from the cache after its validUntil
    (plus the verifier's leeway): the caller is asked again, and its expired membership refused."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = FixedClock(start)  # the caller's and the provider's: tokens are issued and checked alike
    service = TrustService(
        trust_store,
        world.cx,
        base_url=CX_BASE,
        ecosystem="catena-x",
        operators={"catena-x": world.cx.did, "ouranos": world.jp.did},
        clock=clock,
    )
    service.resolver.pin(did_document(world.jp))
    load_list(service, "catena-x", world.cx, "CX", {"MembershipCredential"}, world.now)
    short = build_credential(
        issuer=world.cx.did,
        ctype="MembershipCredential",
        subject={"id": service.identity.did, "memberOf": "catena-x", "holderIdentifier": BPNL},
        valid_from=start - dt.timedelta(days=1),
        valid_until=start + dt.timedelta(seconds=30),
    )
    service.hold(issue_vc_jwt(world.cx, short))
    app = make_app(service)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            provider = provider_of(service, world, trust_store, client, clock=clock)
            verifier = provider.participant_verifier()
            verifier._clock = lambda: 1000.0  # the TTL never runs out in this test

            def bearer() -> str:
                return "Bearer " + issue_self_issued_token(
                    service.identity, audience=world.jp.did, bpn=BPNL, now=clock.now()
                )

            assert (await verifier.verify(bearer())).memberships == {"catena-x"}
            clock.set(start + dt.timedelta(seconds=30) + LEEWAY)  # as a fresh query: still admitted
            assert (await verifier.verify(bearer())).memberships == {"catena-x"}
            clock.set(start + dt.timedelta(seconds=31) + LEEWAY)
            try:
                await verifier.verify(bearer())
            except CredentialRejected as exc:
                assert exc.reason == "expired"
            else:
                raise AssertionError("a membership past its validUntil was accepted from the cache")

    asyncio.run(run())


def test_a_presentation_asked_ahead_serves_the_first_message(
    service: TrustService, world: World, trust_store: Any
) -> None:
    """A consumer opening a channel asks the provider for its presentation ahead (prefetch): the
    provider's first message then costs no query of its own, a second prefetch while the first
    is under way asks nothing more."""
    member(service, world)
    transport = CountingTransport(make_app(service))

    async def run() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            verifier = provider_of(service, world, trust_store, client).participant_verifier()
            verifier.prefetch(service.identity.did)
            verifier.prefetch(service.identity.did)  # under way: not asked twice
            token = issue_self_issued_token(service.identity, audience=world.jp.did, bpn=BPNL)
            first = await verifier.verify(f"Bearer {token}")
            assert first.memberships == {"catena-x"} and len(transport.queries) == 1
            verifier.prefetch(service.identity.did)  # kept: nothing asked
            await asyncio.sleep(0)
            assert len(transport.queries) == 1

    asyncio.run(run())


def test_a_failed_prefetch_leaves_the_message_to_ask_again(
    service: TrustService, world: World, trust_store: Any
) -> None:
    """A prefetch that fails (here: the caller's credential service is down) keeps nothing; the
    caller's message is verified by asking again."""
    member(service, world)
    transport = CountingTransport(make_app(service))
    down = [True]

    class Flaky(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if down[0]:
                raise httpx.ConnectError("down", request=request)
            return await transport.handle_async_request(request)

    async def run() -> None:
        async with httpx.AsyncClient(transport=Flaky()) as client:
            verifier = provider_of(service, world, trust_store, client).participant_verifier()
            verifier.prefetch(service.identity.did)
            while verifier._prefetching:
                await asyncio.sleep(0.01)
            down[0] = False
            token = issue_self_issued_token(service.identity, audience=world.jp.did, bpn=BPNL)
            assert (await verifier.verify(f"Bearer {token}")).memberships == {"catena-x"}
            assert len(transport.queries) == 1

    asyncio.run(run())


def test_the_caller_is_identified_once_its_token_verifies_before_its_presentation_is_asked_for(
    service: TrustService, world: World, trust_store: Any
) -> None:
    """``identified`` (the provider's first-contact hooks) hears the caller's DID once its token
    verifies and before the presentation query goes out; the answer is still the fully verified
    participant, and a token that fails (another audience) identifies nobody."""
    member(service, world)
    transport = CountingTransport(make_app(service))
    heard: list[tuple[str, int]] = []

    async def run() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            verifier = provider_of(service, world, trust_store, client).participant_verifier()

            def identified(did: str) -> None:
                heard.append((did, len(transport.queries)))

            other = issue_self_issued_token(service.identity, audience=world.other.did, bpn=BPNL)
            try:
                await verifier.verify(f"Bearer {other}", identified=identified)
            except CredentialRejected as exc:
                assert exc.reason == "audience"
            else:
                raise AssertionError("a token for another audience was accepted")
            assert heard == [] and transport.queries == []
            token = issue_self_issued_token(service.identity, audience=world.jp.did, bpn=BPNL)
            verified = await verifier.verify(f"Bearer {token}", identified=identified)
            assert heard == [(service.identity.did, 0)]  # told before the query was sent
            assert verified.memberships == {"catena-x"} and len(transport.queries) == 1

    asyncio.run(run())
