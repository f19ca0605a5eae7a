"""The Dataspace Protocol test kit's scenario list (eclipse-dataspacetck/dsp-tck: MET, CAT, CN,
CN_C, TP, TP_C), written once against a :class:`DspTarget` — a provider node and a consumer node —
so two runners share it:

- ``tests/conformance/test_dsp_scenarios.py``: two in-process nodes over ASGI transports;
- ``tests/integration/test_dsp_testkit_live.py``: two real nodes over HTTPS on loopback, every
  request authenticated with DCP as in production (no test-mode token).

As in the TCK, the kit plays the counterparty on the wire: it sends DSP messages itself, signed
as the consumer (provider scenarios: CN, TP) or as the provider (consumer scenarios: CN_C,
TP_C), and drives the other node through its own API for the legal flow (negotiate, transfer,
suspend, resume). Negative cases check the status and the error message type of the DSP 2025-1
HTTPS bindings: 400 for a message the state does not allow, 404 for an unknown process or
another participant's; repeated messages are answered idempotently. Imported by name
(``dsp_tck_testkit``): the in-process runner sits beside it, the live runner puts this folder on
``sys.path``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from batpass.core.ids import new_uuid7

__all__ = ["SCENARIOS", "Agreed", "DspTarget", "Scenario", "Started", "msg"]

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
#: how long a scenario waits for the nodes' asynchronous messages (outbox deliveries)
WAIT_S = 20.0
_KINDS = {
    "start": "TransferStartMessage",
    "completion": "TransferCompletionMessage",
    "suspension": "TransferSuspensionMessage",
    "termination": "TransferTerminationMessage",
}


class DspTarget(Protocol):
    """The two nodes under test as the scenarios see them. ``cache`` keeps what a runner may
    share between scenarios (the live runner: one finalized agreement for all of them)."""

    cache: dict[str, Any]

    @property
    def provider_dsp(self) -> str:
        """The provider's DSP 2025-1 base URL."""
        ...

    @property
    def callback(self) -> str:
        """The consumer's DSP callback base URL."""
        ...

    @property
    def version_url(self) -> str:
        """The provider's ``/.well-known/dspace-version``."""
        ...

    @property
    def dataset(self) -> str:
        """A dataset the provider offers the consumer."""
        ...

    def client(self) -> httpx.AsyncClient:
        """An HTTP client reaching both nodes (use as ``async with``)."""
        ...

    def as_consumer(self) -> dict[str, str]:
        """The consumer's ``Authorization`` for the provider."""
        ...

    def as_provider(self) -> dict[str, str]:
        """The provider's ``Authorization`` for the consumer."""
        ...

    def stranger_at_provider(self) -> dict[str, str]:
        """A verified participant that is not the consumer, calling the provider."""
        ...

    def stranger_at_consumer(self) -> dict[str, str]:
        """A verified participant that is not the provider, calling the consumer."""
        ...

    async def settle(self) -> None:
        """Let the nodes deliver their queued messages (a pump, or a short wait)."""
        ...

    async def more_offers(self) -> None:
        """Make sure the consumer is offered at least three offers (for pagination)."""
        ...

    async def consumer_catalog(self) -> dict[str, Any]:
        """The provider's catalog as the consumer node fetches it (all pages merged)."""
        ...

    async def negotiate(self, offer: dict[str, Any], target: str) -> str:
        """The consumer node asks for ``offer``; its negotiation id."""
        ...

    async def negotiation(self, pid: str) -> dict[str, Any]:
        """The consumer node's negotiation: ``state``, ``providerPid``, ``agreementId``."""
        ...

    async def transfer(self, agreement_id: str) -> str:
        """The consumer node asks for a pull transfer; its transfer id."""
        ...

    async def transfer_state(self, pid: str) -> dict[str, Any]:
        """The consumer node's transfer: ``state``, ``providerPid``, ``hasDataAddress``."""
        ...

    async def consumer_says(self, pid: str, kind: str) -> None:
        """The consumer node sends ``suspension`` or ``termination`` on its transfer ``pid``."""
        ...

    async def provider_says(self, provider_pid: str, kind: str) -> None:
        """The provider node sends ``start`` (resume), ``suspension`` or ``termination``."""
        ...

    async def pull(self, pid: str) -> Any:
        """The consumer node pulls through its started transfer ``pid``."""
        ...

    def pulled(self, content: Any) -> bool:
        """Whether ``content`` is what the dataset serves this consumer."""
        ...


@dataclass(frozen=True)
class Agreed:
    pid: str  # the consumer's negotiation id
    provider_pid: str
    agreement_id: str


@dataclass(frozen=True)
class Started:
    pid: str  # the consumer's transfer id
    provider_pid: str


@dataclass(frozen=True)
class Scenario:
    """One TCK scenario: ``id`` as the TCK groups them (``MET``, ``CAT``, ``CN``, ``CN_C``, ``TP``,
    ``TP_C``), what it checks, and the check."""

    id: str
    title: str
    run: Callable[[DspTarget], Awaitable[None]] = field(repr=False)


def msg(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@context": [DSP_CONTEXT], "@type": kind, **fields}


def _urn() -> str:
    return f"urn:uuid:{new_uuid7()}"


async def until(t: DspTarget, read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str) -> Any:
    """Read until ``done`` holds, letting the nodes deliver their messages between reads."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {WAIT_S:.0f} s")
        await t.settle()


def _offers(catalog: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["@id"], o["@id"]) for d in catalog.get("dataset", []) for o in d.get("hasPolicy", [])]


async def agreed(t: DspTarget) -> Agreed:
    """A FINALIZED negotiation of the target's dataset, driven by the consumer node (cached)."""
    hit = t.cache.get("agreed")
    if isinstance(hit, Agreed):
        return hit
    catalog = await t.consumer_catalog()
    ds = next(d for d in catalog["dataset"] if d["@id"] == t.dataset)
    pid = await t.negotiate(ds["hasPolicy"][0], t.dataset)
    n = await until(
        t, lambda: t.negotiation(pid), lambda n: n["state"] in ("FINALIZED", "TERMINATED"), "the negotiation"
    )
    assert n["state"] == "FINALIZED" and n["agreementId"], n
    out = Agreed(pid, n["providerPid"], n["agreementId"])
    t.cache["agreed"] = out
    return out


async def started(t: DspTarget) -> Started:
    """A new pull transfer under the agreement, STARTED with a data address at the consumer."""
    a = await agreed(t)
    pid = await t.transfer(a.agreement_id)
    tr = await until(
        t,
        lambda: t.transfer_state(pid),
        lambda s: s["state"] != "REQUESTED" and (s["state"] != "STARTED" or s["hasDataAddress"]),
        "the transfer start",
    )
    assert tr["state"] == "STARTED", tr
    return Started(pid, tr["providerPid"])


async def _provider_transfer(t: DspTarget, c: httpx.AsyncClient, provider_pid: str) -> str:
    r = await c.get(f"{t.provider_dsp}/transfers/{provider_pid}", headers=t.as_consumer())
    assert r.status_code == 200 and r.json()["@type"] == "TransferProcess", r.text
    return str(r.json()["state"])


# --------------------------------------------------------------------------------- MET, CAT


async def met_01_version(t: DspTarget) -> None:
    async with t.client() as c:
        r = await c.get(t.version_url)
    assert r.status_code == 200, r.text
    v = r.json()["protocolVersions"][0]
    assert (v["version"], v["binding"]) == ("2025-1", "HTTPS") and t.provider_dsp.endswith(v["path"]), v


async def cat_01_catalog_and_dataset(t: DspTarget) -> None:
    async with t.client() as c:
        r = await c.post(
            t.provider_dsp + "/catalog/request", json=msg("CatalogRequestMessage", filter=[]), headers=t.as_consumer()
        )
        assert r.status_code == 200 and r.json()["@type"] == "Catalog", r.text
        assert t.dataset in {d["@id"] for d in r.json()["dataset"]}
        r = await c.get(f"{t.provider_dsp}/catalog/datasets/{t.dataset}", headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["@type"] == "Dataset" and r.json()["@id"] == t.dataset, r.text
        assert r.json()["hasPolicy"], r.text
        r = await c.get(f"{t.provider_dsp}/catalog/datasets/{_urn()}", headers=t.as_consumer())
        assert r.status_code == 404 and r.json()["@type"] == "CatalogError", r.text
        # no token: refused before anything is read
        r = await c.post(t.provider_dsp + "/catalog/request", json=msg("CatalogRequestMessage", filter=[]))
        assert r.status_code == 401 and r.json()["@type"] == "CatalogError", r.text
        # not a catalog request message
        r = await c.post(t.provider_dsp + "/catalog/request", json=msg("CatalogRequest"), headers=t.as_consumer())
        assert r.status_code == 400 and r.json()["@type"] == "CatalogError", r.text


async def cat_02_pagination(t: DspTarget) -> None:
    await t.more_offers()
    body = msg("CatalogRequestMessage", filter=[])
    async with t.client() as c:
        r = await c.post(t.provider_dsp + "/catalog/request?limit=1000", json=body, headers=t.as_consumer())
        whole = _offers(r.json())
        assert len(whole) >= 3, whole
        url: str | None = t.provider_dsp + "/catalog/request?limit=2"
        seen: list[tuple[str, str]] = []
        pages = 0
        while url:
            r = await c.post(url, json=body, headers=t.as_consumer())
            assert r.status_code == 200 and len(_offers(r.json())) <= 2, r.text
            seen += _offers(r.json())
            url = r.links.get("next", {}).get("url")
            pages += 1
            assert pages <= len(whole) + 1, "the next links do not end"
    assert pages >= 2 and sorted(seen) == sorted(whole), (pages, seen, whole)
    assert sorted(_offers(await t.consumer_catalog())) == sorted(whole)


# ------------------------------------------------------------------------ CN (provider side)


async def cn_01_negotiation_finalized(t: DspTarget) -> None:
    a = await agreed(t)
    async with t.client() as c:
        r = await c.get(f"{t.provider_dsp}/negotiations/{a.provider_pid}", headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["@type"] == "ContractNegotiation", r.text
        assert (r.json()["state"], r.json()["consumerPid"]) == ("FINALIZED", a.pid)
        # another participant's process is answered as an unknown one
        r = await c.get(f"{t.provider_dsp}/negotiations/{a.provider_pid}", headers=t.stranger_at_provider())
        assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text
        r = await c.get(f"{t.provider_dsp}/negotiations/{_urn()}", headers=t.as_consumer())
        assert r.status_code == 404, r.text
    assert (await t.negotiation(a.pid))["agreementId"] == a.agreement_id


def cn_02_illegal_consumer_message(path: str, body: dict[str, Any]) -> Callable[[DspTarget], Awaitable[None]]:
    async def run(t: DspTarget) -> None:
        a = await agreed(t)
        async with t.client() as c:
            r = await c.post(
                f"{t.provider_dsp}/negotiations/{a.provider_pid}/{path}",
                json={"@context": [DSP_CONTEXT], "providerPid": a.provider_pid, "consumerPid": a.pid, **body},
                headers=t.as_consumer(),
            )
            assert r.status_code == 400, r.text
            assert r.json()["@type"] == "ContractNegotiationError" and r.json()["providerPid"] == a.provider_pid
            r = await c.get(f"{t.provider_dsp}/negotiations/{a.provider_pid}", headers=t.as_consumer())
            assert r.json()["state"] == "FINALIZED", r.text  # nothing changed

    return run


async def cn_03_termination_then_verification(t: DspTarget) -> None:
    catalog = await t.consumer_catalog()
    offer = next(d for d in catalog["dataset"] if d["@id"] == t.dataset)["hasPolicy"][0]
    cpid = _urn()
    request = msg(
        "ContractRequestMessage", consumerPid=cpid, offer={**offer, "target": t.dataset}, callbackAddress=t.callback
    )
    async with t.client() as c:
        r = await c.post(t.provider_dsp + "/negotiations/request", json=request, headers=t.as_consumer())
        assert r.status_code == 201 and r.json()["@type"] == "ContractNegotiation", r.text
        ppid = r.json()["providerPid"]
        again = await c.post(t.provider_dsp + "/negotiations/request", json=request, headers=t.as_consumer())
        assert again.status_code == 200 and again.json()["providerPid"] == ppid, again.text  # idempotent repeat
        # an offer id the catalog does not hold is refused, nothing is created
        wrong = {**request, "consumerPid": _urn(), "offer": {**offer, "@id": _urn(), "target": t.dataset}}
        r = await c.post(t.provider_dsp + "/negotiations/request", json=wrong, headers=t.as_consumer())
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError", r.text
        end = msg(
            "ContractNegotiationTerminationMessage", providerPid=ppid, consumerPid=cpid, code="99", reason=["changed"]
        )
        r = await c.post(f"{t.provider_dsp}/negotiations/{ppid}/termination", json=end, headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["state"] == "TERMINATED", r.text
        r = await c.post(f"{t.provider_dsp}/negotiations/{ppid}/termination", json=end, headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["state"] == "TERMINATED", r.text  # repeated: same answer
        v = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
        r = await c.post(
            f"{t.provider_dsp}/negotiations/{ppid}/agreement/verification", json=v, headers=t.as_consumer()
        )
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError", r.text
        r = await c.post(
            f"{t.provider_dsp}/negotiations/{ppid}/agreement/verification", json=v, headers=t.stranger_at_provider()
        )
        assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text


# ---------------------------------------------------------------------- CN_C (consumer side)


async def cn_c_01_consumer_refuses_illegal_provider_messages(t: DspTarget) -> None:
    a = await agreed(t)
    url = f"{t.callback}/negotiations/{a.pid}/events"

    def event(kind: str, consumer_pid: str = a.pid) -> dict[str, Any]:
        return msg(
            "ContractNegotiationEventMessage", providerPid=a.provider_pid, consumerPid=consumer_pid, eventType=kind
        )

    async with t.client() as c:
        # FINALIZED again is a repeat (idempotent); ACCEPTED from the provider is never legal
        r = await c.post(url, json=event("FINALIZED"), headers=t.as_provider())
        assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
        r = await c.post(url, json=event("ACCEPTED"), headers=t.as_provider())
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError", r.text
        other = _urn()
        r = await c.post(
            f"{t.callback}/negotiations/{other}/events", json=event("FINALIZED", other), headers=t.as_provider()
        )
        assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text
        # the process is the provider's business only: anyone else is answered as for an unknown one
        r = await c.post(url, json=event("FINALIZED"), headers=t.stranger_at_consumer())
        assert r.status_code == 404, r.text
    assert (await t.negotiation(a.pid))["state"] == "FINALIZED"


async def cn_c_02_consumer_process_at_the_callback(t: DspTarget) -> None:
    a = await agreed(t)
    async with t.client() as c:
        r = await c.get(f"{t.callback}/negotiations/{a.pid}", headers=t.as_provider())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["@type"] == "ContractNegotiation" and body["state"] == "FINALIZED", r.text
        assert body["consumerPid"] == a.pid and body["providerPid"] == a.provider_pid, r.text
        r = await c.get(f"{t.callback}/negotiations/{a.pid}", headers=t.stranger_at_consumer())
        assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text
        r = await c.get(f"{t.callback}/negotiations/{_urn()}", headers=t.as_provider())
        assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text


async def cn_c_03_provider_initiated_offer(t: DspTarget) -> None:
    provider_pid = _urn()
    offer = msg(
        "ContractOfferMessage",
        providerPid=provider_pid,
        offer={"@id": _urn(), "@type": "Offer", "target": t.dataset, "permission": [{"action": "use"}]},
        callbackAddress=t.provider_dsp,
    )
    async with t.client() as c:
        r = await c.post(f"{t.callback}/negotiations/offers", json=offer, headers=t.as_provider())
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["@type"] == "ContractNegotiation" and created["state"] == "OFFERED", r.text
        assert created["providerPid"] == provider_pid and created["consumerPid"], r.text
        # the same offer again is the same process
        r = await c.post(f"{t.callback}/negotiations/offers", json=offer, headers=t.as_provider())
        assert r.status_code == 200 and r.json()["consumerPid"] == created["consumerPid"], r.text
        r = await c.get(f"{t.callback}/negotiations/{created['consumerPid']}", headers=t.as_provider())
        assert r.status_code == 200 and r.json()["state"] == "OFFERED", r.text
        # an initial offer names no consumerPid; one without a callbackAddress cannot be answered
        r = await c.post(
            f"{t.callback}/negotiations/offers", json={**offer, "consumerPid": _urn()}, headers=t.as_provider()
        )
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError", r.text
        bare = {k: v for k, v in offer.items() if k != "callbackAddress"} | {"providerPid": _urn()}
        r = await c.post(f"{t.callback}/negotiations/offers", json=bare, headers=t.as_provider())
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError", r.text
    assert (await t.negotiation(created["consumerPid"]))["state"] == "OFFERED"


# ------------------------------------------------------------------------ TP (provider side)


async def tp_01_start_suspend_resume_complete(t: DspTarget) -> None:
    s = await started(t)
    assert t.pulled(await t.pull(s.pid))
    async with t.client() as c:
        await t.consumer_says(s.pid, "suspension")
        await until(t, lambda: _provider_transfer(t, c, s.provider_pid), lambda st: st == "SUSPENDED", "suspension")
        await t.provider_says(s.provider_pid, "start")  # the provider resumes it
        await until(t, lambda: t.transfer_state(s.pid), lambda st: st["state"] == "STARTED", "resumption")
        assert t.pulled(await t.pull(s.pid))
        done = msg("TransferCompletionMessage", providerPid=s.provider_pid, consumerPid=s.pid)
        r = await c.post(f"{t.provider_dsp}/transfers/{s.provider_pid}/completion", json=done, headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["state"] == "COMPLETED", r.text
        assert await _provider_transfer(t, c, s.provider_pid) == "COMPLETED"


def tp_02_illegal_transition(first: str | None, then: str) -> Callable[[DspTarget], Awaitable[None]]:
    async def run(t: DspTarget) -> None:
        s = await started(t)
        async with t.client() as c:
            if first:
                r = await c.post(
                    f"{t.provider_dsp}/transfers/{s.provider_pid}/{first}",
                    json=msg(_KINDS[first], providerPid=s.provider_pid, consumerPid=s.pid),
                    headers=t.as_consumer(),
                )
                assert r.status_code == 200, r.text
            before = await _provider_transfer(t, c, s.provider_pid)
            r = await c.post(
                f"{t.provider_dsp}/transfers/{s.provider_pid}/{then}",
                json=msg(_KINDS[then], providerPid=s.provider_pid, consumerPid=s.pid),
                headers=t.as_consumer(),
            )
            assert r.status_code == 400, r.text
            assert r.json()["@type"] == "TransferError" and r.json()["providerPid"] == s.provider_pid, r.text
            assert await _provider_transfer(t, c, s.provider_pid) == before  # nothing changed

    return run


async def tp_03_transfer_request_checks(t: DspTarget) -> None:
    a = await agreed(t)

    def request(agreement: str, fmt: str = "HttpData-PULL", cpid: str | None = None) -> dict[str, Any]:
        return msg(
            "TransferRequestMessage",
            consumerPid=cpid or _urn(),
            agreementId=agreement,
            format=fmt,
            callbackAddress=t.callback,
        )

    async with t.client() as c:
        url = t.provider_dsp + "/transfers/request"
        for body, who in (
            (request(a.agreement_id, "HttpData-PUSH"), t.as_consumer()),  # not offered
            (request(_urn()), t.as_consumer()),  # no such agreement
            (request(a.agreement_id), t.stranger_at_provider()),  # another participant's agreement
        ):
            r = await c.post(url, json=body, headers=who)
            assert r.status_code == 400 and r.json()["@type"] == "TransferError", r.text
        first = request(a.agreement_id)
        r = await c.post(url, json=first, headers=t.as_consumer())
        assert r.status_code == 201 and r.json()["@type"] == "TransferProcess", r.text
        ppid = r.json()["providerPid"]
        r = await c.post(url, json=first, headers=t.as_consumer())
        assert r.status_code == 200 and r.json()["providerPid"] == ppid, r.text  # idempotent repeat
        r = await c.get(f"{t.provider_dsp}/transfers/{ppid}", headers=t.stranger_at_provider())
        assert r.status_code == 404 and r.json()["@type"] == "TransferError", r.text
        r = await c.get(f"{t.provider_dsp}/transfers/{_urn()}", headers=t.as_consumer())
        assert r.status_code == 404 and r.json()["@type"] == "TransferError", r.text


# ---------------------------------------------------------------------- TP_C (consumer side)


async def tp_c_01_consumer_refuses_illegal_provider_messages(t: DspTarget) -> None:
    s = await started(t)
    cb = f"{t.callback}/transfers/{s.pid}"
    suspend = msg("TransferSuspensionMessage", providerPid=s.provider_pid, consumerPid=s.pid, reason=["pause"])
    async with t.client() as c:
        await t.provider_says(s.provider_pid, "suspension")  # the provider node suspends it
        await until(t, lambda: t.transfer_state(s.pid), lambda st: st["state"] == "SUSPENDED", "suspension")
        # the same suspension again on the wire: a repeat, answered with the state, nothing changes
        r = await c.post(cb + "/suspension", json=suspend, headers=t.as_provider())
        assert r.status_code == 200 and r.json()["state"] == "SUSPENDED", r.text
        # completing a suspended transfer is not a legal provider message
        done = msg("TransferCompletionMessage", providerPid=s.provider_pid, consumerPid=s.pid)
        r = await c.post(cb + "/completion", json=done, headers=t.as_provider())
        assert r.status_code == 400 and r.json()["@type"] == "TransferError", r.text
        assert r.json()["consumerPid"] == s.pid, r.text
        assert (await t.transfer_state(s.pid))["state"] == "SUSPENDED"
        await t.provider_says(s.provider_pid, "start")  # a legal resumption, from the provider node
        await until(t, lambda: t.transfer_state(s.pid), lambda st: st["state"] == "STARTED", "resumption")
        assert t.pulled(await t.pull(s.pid))
        # the process is the provider's business only: anyone else is answered as for an unknown one
        stop = msg("TransferTerminationMessage", providerPid=s.provider_pid, consumerPid=s.pid, code="1")
        r = await c.post(cb + "/termination", json=stop, headers=t.stranger_at_consumer())
        assert r.status_code == 404 and r.json()["@type"] == "TransferError", r.text
        other = _urn()
        r = await c.post(
            f"{t.callback}/transfers/{other}/termination",
            json={**stop, "consumerPid": other},
            headers=t.as_provider(),
        )
        assert r.status_code == 404, r.text
        assert (await t.transfer_state(s.pid))["state"] == "STARTED"


async def tp_c_02_consumer_transfer_at_the_callback(t: DspTarget) -> None:
    s = await started(t)
    async with t.client() as c:
        r = await c.get(f"{t.callback}/transfers/{s.pid}", headers=t.as_provider())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["@type"] == "TransferProcess" and body["state"] == "STARTED", r.text
        assert body["consumerPid"] == s.pid and body["providerPid"] == s.provider_pid, r.text
        r = await c.get(f"{t.callback}/transfers/{s.pid}", headers=t.stranger_at_consumer())
        assert r.status_code == 404 and r.json()["@type"] == "TransferError", r.text
        r = await c.get(f"{t.callback}/transfers/{_urn()}", headers=t.as_provider())
        assert r.status_code == 404 and r.json()["@type"] == "TransferError", r.text


SCENARIOS: list[Scenario] = [
    Scenario("MET:01", "version metadata at /.well-known/dspace-version", met_01_version),
    Scenario(
        "CAT:01",
        "catalog request, dataset, unknown dataset 404, no token 401, bad message 400",
        cat_01_catalog_and_dataset,
    ),
    Scenario("CAT:02", "catalog pages follow Link rel=next and add up to the whole catalog", cat_02_pagination),
    Scenario(
        "CN:01",
        "negotiation to FINALIZED; another participant's or an unknown process 404",
        cn_01_negotiation_finalized,
    ),
    Scenario(
        "CN:02-finalize",
        "the consumer may not send FINALIZED (400)",
        cn_02_illegal_consumer_message(
            "events", {"@type": "ContractNegotiationEventMessage", "eventType": "FINALIZED"}
        ),
    ),
    Scenario(
        "CN:02-accept",
        "ACCEPTED is only legal in OFFERED (400)",
        cn_02_illegal_consumer_message("events", {"@type": "ContractNegotiationEventMessage", "eventType": "ACCEPTED"}),
    ),
    Scenario(
        "CN:02-counter-request",
        "no counter-request on a FINALIZED negotiation (400)",
        cn_02_illegal_consumer_message(
            "request",
            {
                "@type": "ContractRequestMessage",
                "offer": {"@id": "urn:uuid:offer", "@type": "Offer", "permission": [{"action": "use"}]},
            },
        ),
    ),
    Scenario(
        "CN:02-terminate-final",
        "FINALIZED is final: no termination (400)",
        cn_02_illegal_consumer_message("termination", {"@type": "ContractNegotiationTerminationMessage", "code": "1"}),
    ),
    Scenario(
        "CN:03",
        "repeated request idempotent, unknown offer 400, termination (repeated), then verification 400 / 404",
        cn_03_termination_then_verification,
    ),
    Scenario(
        "CN_C:01",
        "the consumer: FINALIZED repeated 200, ACCEPTED 400, unknown or another's process 404",
        cn_c_01_consumer_refuses_illegal_provider_messages,
    ),
    Scenario(
        "CN_C:02",
        "the consumer's negotiation read at its callback; unknown or another's process 404",
        cn_c_02_consumer_process_at_the_callback,
    ),
    Scenario(
        "CN_C:03",
        "a provider-initiated offer creates the consumer's negotiation in OFFERED (201, repeat 200); bad offers 400",
        cn_c_03_provider_initiated_offer,
    ),
    Scenario(
        "TP:01", "transfer started, pulled, suspended, resumed, pulled, completed", tp_01_start_suspend_resume_complete
    ),
    Scenario(
        "TP:02-terminated-start", "no start after termination (400)", tp_02_illegal_transition("termination", "start")
    ),
    Scenario(
        "TP:02-terminated-complete",
        "no completion after termination (400)",
        tp_02_illegal_transition("termination", "completion"),
    ),
    Scenario(
        "TP:02-completed-suspend",
        "no suspension after completion (400)",
        tp_02_illegal_transition("completion", "suspension"),
    ),
    Scenario(
        "TP:02-started-start",
        "no start of a started transfer by the consumer (400)",
        tp_02_illegal_transition(None, "start"),
    ),
    Scenario(
        "TP:03",
        "transfer request: push 400, unknown or another's agreement 400, repeat idempotent, unknown or another's 404",
        tp_03_transfer_request_checks,
    ),
    Scenario(
        "TP_C:01",
        "the consumer: repeated suspension 200, completion while suspended 400, resumption, another's 404",
        tp_c_01_consumer_refuses_illegal_provider_messages,
    ),
    Scenario(
        "TP_C:02",
        "the consumer's transfer read at its callback; unknown or another's process 404",
        tp_c_02_consumer_transfer_at_the_callback,
    ),
]
