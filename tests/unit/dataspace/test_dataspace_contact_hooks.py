"""The provider's contact hooks: each catalog or contract request's caller is told to every hook
once its identity is proven; a hook that fails never reaches the request (docs/dataspace.md
"Channels opened on first contact")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _dsp_harness import CONSUMER_DID, PROVIDER_DID, TableVerifier, token

from batpass.core.errors import Unauthorized
from batpass.dataspace._contact import ContactHooks
from batpass.dataspace._dsp_messages import DSP_CONTEXT
from batpass.dataspace.model import Participant
from batpass.dataspace.ports import IdentifyingVerifier

WHO = Participant("did:web:customer.example", "BPNL000000000CUS", frozenset({"MembershipCredential"}))
CATALOG = "https://provider.test/api/dsp/2025-1/catalog/request"
CATALOG_REQUEST = {"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage", "filter": []}


def test_every_hook_hears_each_contact_and_a_failing_hook_is_contained() -> None:
    heard: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("a bug in a hook")

    hooks = ContactHooks()
    hooks.add(broken)
    hooks.add(heard.append)
    hooks.note(WHO.did)  # does not raise
    hooks.note(WHO.did)
    assert heard == [WHO.did, WHO.did]


def test_no_hook_no_effect() -> None:
    ContactHooks().note(WHO.did)


class RefusingAfterIdentity:
    """A verifier whose caller's token verifies but whose credentials are then refused."""

    async def verify(self, authorization: str | None) -> Participant:
        raise Unauthorized("no trusted membership", rule="test")

    async def verify_identified(self, authorization: str | None, identified: Callable[[str], None]) -> Participant:
        identified(CONSUMER_DID)
        return await self.verify(authorization)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_identifying_verifier_tells_the_hooks_before_the_rest_of_its_check(
    network: Any, anyio_backend: str
) -> None:
    """The hooks hear the caller once its token verified, even when its credentials are then
    refused; the request itself is refused as before (nothing answered to an unverified caller)."""
    net, provider, _consumer, _ = network
    assert isinstance(RefusingAfterIdentity(), IdentifyingVerifier)
    provider.provider.verifier = RefusingAfterIdentity()
    heard: list[str] = []
    provider.provider.contacts.add(heard.append)
    async with net.client() as c:
        r = await c.post(CATALOG, json=CATALOG_REQUEST, headers=token(CONSUMER_DID, PROVIDER_DID))
    assert r.status_code == 401 and "dataset" not in r.json()
    assert heard == [CONSUMER_DID]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_plain_verifier_tells_the_hooks_once_the_participant_is_verified(
    network: Any, anyio_backend: str
) -> None:
    net, provider, _consumer, _ = network
    assert isinstance(provider.provider.verifier, TableVerifier)
    assert not isinstance(provider.provider.verifier, IdentifyingVerifier)
    heard: list[str] = []
    provider.provider.contacts.add(heard.append)
    async with net.client() as c:
        bad = await c.post(CATALOG, json=CATALOG_REQUEST, headers=token("did:web:unknown.test", PROVIDER_DID))
        good = await c.post(CATALOG, json=CATALOG_REQUEST, headers=token(CONSUMER_DID, PROVIDER_DID))
    assert bad.status_code == 401 and good.status_code == 200
    assert heard == [CONSUMER_DID]
