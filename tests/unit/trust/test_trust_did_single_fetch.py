"""Concurrent resolutions of a DID not cached share one fetch (trust ``DidResolver``): the
document, or the refusal, is the same for every waiter, and a waiter that goes away does not
take the others' answer with it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from batpass.trust import CredentialRejected, DidResolver, GuardedFetcher

DID = "did:web:partner.test"
URL = "https://partner.test/.well-known/did.json"
DOC = {"id": DID, "verificationMethod": []}


def _resolver(calls: list[str], gate: asyncio.Event, answer: dict[str, object] | None) -> DidResolver:
    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        await gate.wait()
        return httpx.Response(200, json=answer) if answer is not None else httpx.Response(404)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return DidResolver(GuardedFetcher(allowed_hosts=["partner.test"], client=client), ttl_s=60)


def test_concurrent_resolutions_share_one_fetch() -> None:
    calls: list[str] = []

    async def run() -> None:
        gate = asyncio.Event()
        r = _resolver(calls, gate, DOC)
        waiters = [asyncio.create_task(r.resolve(DID)) for _ in range(3)]
        await asyncio.sleep(0.01)
        gate.set()
        docs = await asyncio.gather(*waiters)
        assert docs == [DOC, DOC, DOC] and calls == [URL]
        assert await r.resolve(DID) == DOC and calls == [URL]  # then cached as before

    asyncio.run(run())


def test_a_refused_fetch_refuses_every_waiter_and_the_next_resolution_fetches_again() -> None:
    calls: list[str] = []

    async def run() -> None:
        gate = asyncio.Event()
        r = _resolver(calls, gate, None)
        waiters = [asyncio.create_task(r.resolve(DID)) for _ in range(2)]
        await asyncio.sleep(0.01)
        gate.set()
        outcomes = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(o, CredentialRejected) and o.reason == "did-resolution" for o in outcomes)
        assert calls == [URL]
        with pytest.raises(CredentialRejected) as e:
            await r.resolve(DID)  # nothing kept of a failure: asked again
        assert e.value.reason == "did-resolution" and calls == [URL, URL]

    asyncio.run(run())


def test_a_waiter_cancelled_does_not_cancel_the_others() -> None:
    calls: list[str] = []

    async def run() -> None:
        gate = asyncio.Event()
        r = _resolver(calls, gate, DOC)
        first = asyncio.create_task(r.resolve(DID))
        second = asyncio.create_task(r.resolve(DID))
        await asyncio.sleep(0.01)
        first.cancel()  # the request that started the fetch is gone
        await asyncio.sleep(0.01)
        gate.set()
        assert await second == DOC and calls == [URL]
        assert first.cancelled()

    asyncio.run(run())
