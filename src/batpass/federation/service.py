"""The recursive federated trace (docs/architecture.md "Flows", flow 2, and "Confidentiality"), both
ways: a node asks only its direct suppliers, through its Dataspace Protocol connector, for their
signed upstream summaries of the lots they shipped to it; and only its direct customers which of
their batteries contain a lot it shipped them (the downstream recall question). Each partner
answers the same way, recursively.

Composition-level: it joins the ledger (typed summaries, received summaries, local traces, and
who shipped a received lot or received a shipped one: ``suppliers_of``, ``customers_of``; never
the events' JSON) and the connector (DSP consumer; an asset source on the provider), which must
not import each other.

- Provider side: :class:`FederatedTrace` is the ``QueryAssetSource`` of two assets (access and
  usage policy ``Membership eq active``, CX-0152), each pulled with ``?lot=ID``:

  - ``upstream-summary``: the node's signed summary of lot ``ID`` **only if the lot was shipped
    to the consumer** (its DID from the agreement, verified by DCP at negotiation), else the same
    404 as for an unknown lot. Envelope ``{"summary": <compact JWS>, "tiers": n, "ms": t}``
    (``n`` supplier tiers that answered below and including this node, ``t`` this node's time).
  - ``downstream-recall``: the node's signed recall answer for the consumer's lot ``ID`` **only
    if the node received that lot from the consumer** (a receipt naming it), else 404. Envelope
    ``{"answer": <compact JWS>, "tiers": n, "ms": t}``; the answer (typ ``batpass-recall+jws``)
    carries the ids of this node's own affected batteries, the count of its own affected lots,
    the count of batteries its customers reported below it, and tombstones. Battery ids never
    travel more than one tier: the asker learns who its direct customers are and nothing below.

- Consumer side: before answering, the node asks each direct partner (suppliers of the lots it
  received, or customers of the lots it shipped) in parallel, with at most ``concurrency`` pulls
  in flight per question (a bound per node would deadlock when a question comes back to the same
  node round a recycling loop); concurrent askers of the same question share one computation (a
  computation nobody awaits any more is cancelled, so a later question never inherits what an
  abandoned one was waiting for).
  The partner's DSP endpoint is the ``DataService`` entry of its DID document (trust's
  resolver: allow-listed hosts, cached); one agreement and one started transfer per partner and
  asset are kept and reused. A branch that is unreachable, refuses or does not verify becomes a
  tombstone whose reason is a category (never an identity or an address); the rest stands.
- **Deadlines, not timeouts** (:mod:`batpass.federation._deadline`): a question carries its
  deadline (``deadline_ms``, relative, default 10 s; a query parameter of the route and of each
  pull). Each partner is asked with what is left minus max(200 ms, 10 %) and its branch is
  cancelled when that runs out (tombstone ``<role> deadline exceeded``); a branch that would get
  under 300 ms is not asked. The provider counts the deadline it received from the moment the
  question reached it and applies it to its own onward questions.
  Upstream answers are folded into the ledger (``LedgerService.receive_summary``) when their
  content differs from the stored one.
- **Answer cache**: each node keeps its signed answer per (lot, requester) with the key of its
  inputs: its ledger's change counter (``LedgerService.change_mark``: any own event), the stored
  received summaries of the lot's boundary lots (``received_summaries``: their JWS), and the live
  result of each branch (tiers or tombstone reason). Partners are still asked at every trace (so
  a change anywhere upstream is seen); a node re-signs only when one of its inputs changed, and
  never serves an answer computed before its ledger changed. Synchronous SQL and signing run in
  worker threads (``anyio.to_thread``) so concurrent pulls do not serialize on the event loop,
  except the point reads of a question whose inputs did not change (the change counter, the
  stored summaries of its boundary lots: ``ledger._reads``), which cost less than the hop.
- ``GET /v1/trace/federated/{subject}?direction=up|down`` (admin key) runs it for the node's own
  lot or battery.

Where the parts live: the assets' names and the recall answer's format in ``_wire.py``; how a
partner is reached (the partner port over DSP channels, the tombstone categories of its failures)
in ``_partners.py``; the assets' offers and the start-up warm-up in ``_offer.py``; deadlines in
``_deadline.py``; metrics in ``_observe.py``. This module is the trace itself.

The requester learns its direct partners' DIDs (it contacts them) and nothing beyond them:
summaries carry shares, counts and tombstones, never supplier names, ids or quantities.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from batpass.core.errors import BatpassError, InvalidInput, NotFound, Unauthorized
from batpass.core.unicode import check_scalar_text
from batpass.dataspace import ConsumerChannels
from batpass.federation._batch import AskBatch, Slot, current_slot, use_slot
from batpass.federation._deadline import (
    DEADLINE_FIELD,
    DEFAULT_DEADLINE_MS,
    Deadline,
    deadline_reason,
    parse_deadline_ms,
)
from batpass.federation._observe import FederationMetrics, note_tombstones, timed_question
from batpass.federation._partners import LOT_FIELD, LOTS_FIELD, BatchPartnerPort, DspPartners, PartnerPort, Refused
from batpass.federation._wire import (
    DOWN_KEY,
    RECALL_ASSET,
    RECALL_TYP,
    UPSTREAM_ASSET,
    UPSTREAM_SOURCE,
    sign_recall,
    verify_recall,
)
from batpass.ledger import (
    CustomerLot,
    LedgerService,
    ReceivedSummary,
    Tombstone,
    UpstreamSummary,
    encode_summary,
    sign_summary,
    verify_summary,
)
from batpass.trust import NodeIdentity, SelfIssued, VerifiedTokens

__all__ = [
    "HOP_CAP_TOMBSTONE",
    "RECALL_ASSET",
    "RECALL_TYP",
    "UPSTREAM_ASSET",
    "UPSTREAM_SOURCE",
    "Downstream",
    "DspPartners",
    "FederatedTrace",
    "PartnerPort",
    "Refused",
    "Upstream",
    "sign_recall",
    "verify_recall",
]

#: the most lots one pull may ask about
MAX_LOTS = 256
_GENERIC_TOMBSTONE = "a supplier lot was received without an upstream summary"
_CACHE_MAX = 4096
T = TypeVar("T")


@dataclass
class Upstream:
    """A node's upstream answer for one of its lots."""

    summary: UpstreamSummary
    token: str
    tiers: int
    suppliers: list[str] = field(default_factory=list)  # direct suppliers asked, in order of contact
    failed: dict[str, str] = field(default_factory=dict)  # direct supplier DID → reason category
    timing: dict[str, float] = field(default_factory=dict)  # this node's phases, ms


@dataclass
class Downstream:
    """A node's downstream recall answer for one lot (its own, or one it received)."""

    answer: dict[str, Any]
    token: str
    tiers: int
    customers: list[dict[str, Any]] = field(default_factory=list)  # direct customers' answers
    failed: dict[str, str] = field(default_factory=dict)  # direct customer DID → reason category
    timing: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Branches:
    """What this node's own ledger says about a lot (valid for one change mark)."""

    mark: int
    lots: tuple[str, ...]  # the lots the answer is about (own lots)
    partners: tuple[tuple[str, str], ...]  # (partner DID, partner-side lot id) to ask
    boundary: tuple[str, ...] = ()  # upstream: supplier lots whose received summaries count
    batteries: tuple[str, ...] = ()  # downstream: own affected batteries
    affected: int = 0  # downstream: own affected lots
    capped: bool = False  # the own ledger's search stopped at its hop cap: the answer may lack lots


#: the tombstone of a branch this node's own ledger search cut at its hop cap
HOP_CAP_TOMBSTONE = "ledger hop cap reached"


@dataclass
class _Inflight:
    """One computation of a question and how many askers await it."""

    future: asyncio.Future[Any]
    waiters: int = 0


async def _within(
    sem: asyncio.Semaphore, deadline: Deadline, role: str, ask: Callable[[dict[str, str]], Awaitable[T]]
) -> T | str:
    """Ask one partner (``ask(extra)``, ``extra`` passing the partner its deadline) within what
    is left of ``deadline`` minus the margin; a branch that would get under 300 ms is not asked,
    one still running when its budget runs out is cancelled: both are a deadline tombstone."""
    async with sem:
        budget = deadline.onward()
        if budget is None:
            return deadline_reason(role)
        with anyio.move_on_after(budget):
            return await ask({DEADLINE_FIELD: f"{budget * 1000:.0f}"})
    return deadline_reason(role)


async def _settle(pull: Awaitable[dict[str, Any]]) -> dict[str, Any] | Refused:
    try:
        return await pull
    except Refused as r:
        return r


def parse_lots(raw: str) -> list[str]:
    """The ``lots`` of a pull: a JSON array of 1 to :data:`MAX_LOTS` lot ids (each a string of
    1 to 128 characters), repeats dropped; else :class:`InvalidInput` naming ``lots``."""
    rule = f"federated trace asset query: lots is a JSON array of 1 to {MAX_LOTS} lot ids"
    try:
        lots = json.loads(raw) if len(raw) <= MAX_LOTS * 140 else None
    except ValueError:
        lots = None
    if (
        not isinstance(lots, list)
        or not 1 <= len(lots) <= MAX_LOTS
        or not all(isinstance(x, str) and 1 <= len(x) <= 128 for x in lots)
    ):
        raise InvalidInput("lots must be a JSON array of lot ids", field="lots", rule=rule)
    check_scalar_text(lots, field="lots")  # an escaped lone surrogate: no store takes it as a parameter
    return list(dict.fromkeys(lots))


def _deadline(deadline: Deadline | None) -> Deadline:
    return deadline if deadline is not None else Deadline.after_ms(DEFAULT_DEADLINE_MS)


class _Clock:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.phases: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round((now - self.last) * 1000, 2)
        self.last = now

    def total(self) -> dict[str, float]:
        self.phases["total"] = round((time.perf_counter() - self.start) * 1000, 2)
        return self.phases


def _content(summary: UpstreamSummary) -> str:
    """What a summary says, apart from when it was computed (its wire form, time left blank)."""
    return json.dumps(encode_summary(replace(summary, computed_at="")), sort_keys=True)


def _differs(stored: Mapping[str, ReceivedSummary], did: str, lot: str, ans: tuple[str, int, UpstreamSummary]) -> bool:
    """Whether a supplier's answer says something else than the summary stored for its lot (the
    same signed token says the same; another token may say the same at another time)."""
    token, _tiers, received = ans
    have = stored.get(lot)
    return have is None or have.issuer != did or (have.jws != token and _content(have.summary) != _content(received))


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class FederatedTrace:
    """Recursive federated trace of one node (owner ``identity.did``), upstream and downstream.

    The trace stamps (recall answers' ``computedAt``) with the ledger's clock.

    ``resolve_did`` is trust's async DID resolver (``DidResolver.resolve``); ``cached_did`` its
    cache read (``DidResolver.cached``), used to verify partners' signatures. ``ledger`` is the
    node's ledger; a ledger verifying suppliers' keys through the resolver is built from it.
    Partners are reached through ``partners`` (default: :class:`DspPartners` over ``channels``,
    the node's own connector; a hub operator reaches its partners through its bridge instead).

    ``credentials(requester)`` gives the credentials this node attaches to the summaries it signs
    for that requester (its certified claims, e.g. a certified CFP); they travel in the summary's
    ``credentials`` slot and are folded downstream like the shares.

    ``verify_delegation(token, audience)`` (trust's self-issued token check) lets a partner's
    agent ask: a pull whose ``delegation`` query parameter is a self-issued token of the partner
    the lot was shipped to (or received from), addressed to this node, naming the asking
    connector as its actor (RFC 8693 ``act``), is answered as if that partner asked itself.
    ``metrics`` hears each question's duration and each lost branch (``federation/_observe.py``).
    """

    def __init__(
        self,
        *,
        ledger: LedgerService,
        identity: NodeIdentity,
        resolve_did: Callable[[str], Any],
        cached_did: Callable[[str], Mapping[str, Any] | None],
        channels: ConsumerChannels | None = None,
        partners: PartnerPort | None = None,
        verify_delegation: Callable[[str, str], SelfIssued] | None = None,
        credentials: Callable[[str], Sequence[str]] | None = None,
        concurrency: int = 8,
        metrics: FederationMetrics | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput("concurrency must be >= 1", field="concurrency", rule="federation.concurrency")
        if partners is None:
            if channels is None:
                raise InvalidInput("a federated trace needs a connector or a partner port", field="partners")
            partners = DspPartners(channels, resolve_did)
        self.identity = identity
        self.owner = identity.did
        self.partners = partners
        self._verify_delegation = verify_delegation
        self._credentials = credentials
        self._resolve_did = resolve_did
        self._cached_did = cached_did
        own = ledger.resolve_key
        # the same store, with suppliers' keys taken from their (already resolved) DID documents
        self.ledger = LedgerService(
            ledger.engine,
            identity,
            public_jwk_resolver=lambda kid: own(kid) or self._jwk(kid),
            high_risk_sites=ledger.high_risk_sites,
            batch_size=ledger.batch_size,
            secrets=ledger.secrets,
            clock=ledger.clock,
            outflow_policy=ledger.outflow_policy,
            authorisation_check=ledger.authorisation_check,
        )
        self._concurrency = concurrency
        self.metrics = metrics
        self._secret = secrets.token_bytes(32)  # keys this node's battery marks (see _mark)
        # one computation per question at a time: concurrent askers of the same answer share it
        self._inflight: dict[tuple[Any, ...], _Inflight] = {}
        self._customers: dict[str, CustomerLot] = {}  # shipped lot → its customer (immutable)
        self._branches: dict[tuple[str, str], _Branches] = {}
        self._up: OrderedDict[tuple[str, str], tuple[str, Upstream]] = OrderedDict()
        self._down: OrderedDict[tuple[str, str], tuple[str, Downstream]] = OrderedDict()
        # partners' answers verified before (the same token and key): not verified again
        self._verified = VerifiedTokens(1024)

    # -- keys ----------------------------------------------------------------------------------

    def _jwk(self, kid: str) -> Mapping[str, Any] | None:
        doc = self._cached_did(kid.split("#", 1)[0])
        for vm in (doc or {}).get("verificationMethod", []):
            if vm.get("id") == kid and isinstance(vm.get("publicKeyJwk"), dict):
                return dict(vm["publicKeyJwk"])
        return None

    async def _known(self, did: str) -> None:
        """Resolve (and cache) a partner's DID document before verifying what it signed."""
        if self._cached_did(did) is None:
            try:
                await self._resolve_did(did)
            except BatpassError as exc:
                raise Refused("partner's DID does not resolve (outside the dataspace)") from exc

    # -- consumer side --------------------------------------------------------------------------

    async def _ask(
        self,
        partners: Sequence[tuple[str, str]],
        deadline: Deadline,
        role: str,
        asset: str,
        base: dict[str, str],
        check: Callable[[str, str, dict[str, Any] | Refused], Awaitable[T | str]],
    ) -> list[T | str]:
        """Ask each partner once about all its lots among ``partners`` (one pull per partner per
        question, when the port can; else one per lot), within ``deadline``; ``check`` turns each
        lot's answer into a result or a tombstone reason. Results in the order of ``partners``."""
        slot = current_slot()
        if slot is not None:  # one lot of a list pull: its questions go out with its siblings'
            return await self._ask_parked(slot, partners, deadline, role, asset, base, check)
        groups: dict[str, list[str]] = {}
        for did, lot in partners:
            groups.setdefault(did, []).append(lot)
        sem = asyncio.Semaphore(self._concurrency)

        async def one(did: str, lots: list[str]) -> list[T | str]:
            async def ask(extra: dict[str, str]) -> list[T | str]:
                got = await self._pull_group(did, lots, asset, role, {**base, **extra})
                return [await check(did, lot, answer) for lot, answer in zip(lots, got, strict=True)]

            done = await _within(sem, deadline, role, ask)
            return [done] * len(lots) if isinstance(done, str) else done

        results = await asyncio.gather(*(one(did, lots) for did, lots in groups.items()))
        by_branch = {
            (did, lot): result
            for (did, lots), got in zip(groups.items(), results, strict=True)
            for lot, result in zip(lots, got, strict=True)
        }
        return [by_branch[branch] for branch in partners]

    async def _pull_group(
        self, did: str, lots: Sequence[str], asset: str, role: str, query: dict[str, str]
    ) -> list[dict[str, Any] | Refused]:
        """Every one of ``lots`` from one partner: one pull when the port can, else one per lot."""
        port = self.partners
        if isinstance(port, BatchPartnerPort):
            try:
                return await port.pull_many(did, lots, asset, role, query)
            except Refused as r:
                return [r] * len(lots)
        return list(await asyncio.gather(*(_settle(port.pull(did, lot, asset, role, query)) for lot in lots)))

    async def _send_group(
        self,
        sem: asyncio.Semaphore,
        did: str,
        lots: Sequence[str],
        asset: str,
        role: str,
        base: dict[str, str],
        deadline: Deadline,
    ) -> list[dict[str, Any] | Refused]:
        """A list pull's coalesced group (:mod:`batpass.federation._batch`): within ``deadline``."""

        async def ask(extra: dict[str, str]) -> list[dict[str, Any] | Refused]:
            return await self._pull_group(did, lots, asset, role, {**base, **extra})

        done = await _within(sem, deadline, role, ask)
        return [Refused(done)] * len(lots) if isinstance(done, str) else done

    async def _ask_parked(
        self,
        slot: Slot,
        partners: Sequence[tuple[str, str]],
        deadline: Deadline,
        role: str,
        asset: str,
        base: dict[str, str],
        check: Callable[[str, str, dict[str, Any] | Refused], Awaitable[T | str]],
    ) -> list[T | str]:
        """:meth:`_ask` for one lot of a list pull: its questions parked in its ``slot`` and sent
        with the other lots' (one pull per partner for the whole list), awaited within this
        lot's own budget; a lot with nobody to ask, or under 300 ms left, leaves the batch."""
        budget = deadline.onward()
        if not partners or budget is None:
            slot.leave()
            return [deadline_reason(role)] * len(partners)
        parked = slot.park(partners, asset, role, base, deadline)
        results: dict[tuple[str, str], T | str] = {}
        with anyio.move_on_after(budget):
            answers = await asyncio.shield(parked.future)
            for key, lots in parked.groups.items():
                for lot, answer in zip(lots, answers[key], strict=True):
                    results[(key[0], lot)] = await check(key[0], lot, answer)
        return [results.get(branch, deadline_reason(role)) for branch in partners]

    async def _check_up(
        self, reported: list[float], did: str, lot: str, answer: dict[str, Any] | Refused
    ) -> tuple[str, int, UpstreamSummary] | str:
        """One supplier lot's answer: (signed summary, tiers, summary) or the tombstone reason."""
        if isinstance(answer, Refused):
            return answer.reason
        try:
            await self._known(did)
            if not isinstance(answer.get("summary"), str):
                return "supplier's answer is not an upstream summary"
            token = str(answer["summary"])
            summary = self._verified.verify(token, self.ledger.resolve_key, verify_summary)
        except Refused as r:
            return r.reason
        except BatpassError:
            return "supplier's summary does not verify"
        if summary.issuer != did or summary.subject.id != lot:
            return "supplier's summary is not about the lot it shipped"
        tiers = answer.get("tiers")
        ms = answer.get("ms")
        reported.append(float(ms) if isinstance(ms, (int, float)) else 0.0)
        return token, tiers if isinstance(tiers, int) and tiers >= 1 else 1, summary

    async def _check_down(
        self, did: str, lot: str, answer: dict[str, Any] | Refused
    ) -> tuple[str, int, dict[str, Any]] | str:
        """One customer's answer for one shipped lot: (signed answer, tiers, answer) or the reason."""
        if isinstance(answer, Refused):
            return answer.reason
        try:
            await self._known(did)
            if not isinstance(answer.get("answer"), str):
                return "customer's answer is not a recall answer"
            token = str(answer["answer"])
            recall = self._verified.verify(token, self.ledger.resolve_key, verify_recall)
        except Refused as r:
            return r.reason
        except BatpassError:
            return "customer's recall answer does not verify"
        if recall["issuer"] != did or recall["subject"].get("id") != lot:
            return "customer's recall answer is not about the lot shipped to it"
        tiers = answer.get("tiers")
        return token, tiers if isinstance(tiers, int) and tiers >= 1 else 1, recall

    # -- own ledger (sync: run in worker threads) ------------------------------------------------

    def _shipped_to(self, lot_id: str) -> str | None:
        """Whom one of this node's lots was shipped to (another owner), or None; a lot's
        shipment never changes once recorded, so a known answer is kept."""
        hit = self._customers.get(lot_id)
        if hit is not None:
            return hit.customer
        found = self.ledger.customers_of(self.owner, [lot_id])
        if not found:
            return None
        if len(self._customers) >= _CACHE_MAX:
            self._customers.clear()
        self._customers[lot_id] = found[0]
        return found[0].customer

    def _up_branches(self, subject: str) -> _Branches:
        mark = self.ledger.change_mark(self.owner)
        hit = self._branches.get(("up", subject))
        if hit is not None and hit.mark == mark:
            return hit
        # the local search alone: its lots' shares are the signed summary's (_sign_up), and the
        # boundary lots' stored summaries are read and checked by _unchanged or _fold
        root, received_lots, capped = self.ledger.upstream_boundary(self.owner, subject)
        partners: list[tuple[str, str]] = []
        boundary: list[str] = []
        for received in self.ledger.suppliers_of(self.owner, received_lots):
            key = (received.supplier, str(received.supplier_lot))
            if key[1] not in boundary:
                boundary.append(key[1])
            if key[0] != self.owner and key not in partners:
                partners.append(key)
        found = _Branches(mark, (root,), tuple(partners), tuple(boundary), capped=capped)
        self._remember_branches(("up", subject), found)
        return found

    def _down_branches(self, key: str, lots: tuple[str, ...]) -> _Branches:
        mark = self.ledger.change_mark(self.owner)
        hit = self._branches.get(("down", key))
        if hit is not None and hit.mark == mark and hit.lots == lots:
            return hit
        batteries: set[str] = set()
        affected: set[str] = set()
        partners: list[tuple[str, str]] = []
        capped = False
        for lot in lots:
            trace = self.ledger.trace(self.owner, lot, direction="down")
            capped = capped or bool(trace["hop_cap_reached"])
            batteries.update(trace["batteries"])
            shipped: list[str] = []
            for row in trace["lots"]:
                if row["owner"] != self.owner:
                    continue
                affected.add(row["id"])
                if row["kind"] == "shipment":
                    shipped.append(row["id"])
            for sold in self.ledger.customers_of(self.owner, shipped):
                if (sold.customer, str(sold.lot)) not in partners:
                    partners.append((sold.customer, str(sold.lot)))
        found = _Branches(
            mark, lots, tuple(partners), batteries=tuple(sorted(batteries)), affected=len(affected), capped=capped
        )
        self._remember_branches(("down", key), found)
        return found

    def _kept_branches(self, key: tuple[str, str], lots: tuple[str, ...] | None = None) -> _Branches | None:
        """The branches kept for ``key`` if the ledger has not changed since (one point read, on
        the event loop: cheaper than a worker-thread hop), else None."""
        hit = self._branches.get(key)
        if hit is None or (lots is not None and hit.lots != lots):
            return None
        return hit if hit.mark == self.ledger.change_mark(self.owner) else None

    def _remember_branches(self, key: tuple[str, str], found: _Branches) -> None:
        if len(self._branches) >= _CACHE_MAX:
            self._branches.clear()
        self._branches[key] = found

    def _fold(self, br: _Branches, answers: list[tuple[str, int, UpstreamSummary] | str]) -> str:
        """Fold supplier summaries whose content differs from the stored ones; return the input
        key: change mark, stored summaries of the boundary lots, live branch results."""
        stored = self.ledger.received_summaries(self.owner, br.boundary)
        fresh = [
            ans[0]
            for (did, lot), ans in zip(br.partners, answers, strict=True)
            if not isinstance(ans, str) and _differs(stored, did, lot, ans)
        ]
        if fresh:  # one transaction and one recomputation for all of them (a first trace: every one)
            self.ledger.receive_summaries(self.owner, fresh)
            stored = self.ledger.received_summaries(self.owner, br.boundary)
        return self._input_key(br, stored, answers)

    def _unchanged(self, br: _Branches, answers: list[tuple[str, int, UpstreamSummary] | str]) -> str | None:
        """:meth:`_fold`'s key when there is nothing to fold in (every supplier summary answered
        is the stored one: the warm trace), else None. Point reads only (the stored summaries'
        checks kept per row content, ``ledger._reads``): cheaper on the event loop than the
        worker-thread hop :meth:`_fold` takes for its writes."""
        stored = self.ledger.received_summaries(self.owner, br.boundary)
        for (did, lot), ans in zip(br.partners, answers, strict=True):
            if not isinstance(ans, str) and _differs(stored, did, lot, ans):
                return None
        return self._input_key(br, stored, answers)

    def _input_key(
        self,
        br: _Branches,
        stored: Mapping[str, ReceivedSummary],
        answers: list[tuple[str, int, UpstreamSummary] | str],
    ) -> str:
        mark = self.ledger.change_mark(self.owner)
        live = [ans if isinstance(ans, str) else ans[1] for ans in answers]
        return _digest([mark, br.mark, sorted((k, v.jws) for k, v in stored.items()), live])

    def _fold_with_credentials(
        self, br: _Branches, answers: list[tuple[str, int, UpstreamSummary] | str], requester: str
    ) -> tuple[str, list[str]]:
        key = self._fold(br, answers)
        creds = list(self._credentials(requester)) if self._credentials else []
        return _digest([key, creds]), creds

    def _sign_up(
        self, subject: str, tombstones: list[Tombstone], credentials: Sequence[str] = ()
    ) -> tuple[UpstreamSummary, str]:
        summary = self.ledger.summary(self.owner, subject, credentials=credentials)
        # the ledger marks lots received without a summary; the live answer says why instead
        own = [t for t in summary.tombstones if t.reason != _GENERIC_TOMBSTONE]
        summary = replace(summary, tombstones=(*own, *tombstones))
        return summary, sign_summary(summary, self.identity)

    # -- upstream --------------------------------------------------------------------------------

    async def _shared(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """Run ``make()`` once for concurrent askers of the same question; all await its result
        (an asker that cannot wait that long is cut by its own asker's deadline; a computation
        per deadline instead would multiply with the paths through a DAG or a recycling loop).

        A computation that nobody awaits any more (its askers gave up) is cancelled and
        forgotten: a later question must not join it and inherit what it was still waiting for
        — a hung partner's failure, reported about a partner that runs again."""
        hit = self._inflight.get(key)
        if hit is None:  # the computation takes the asker's batch slot (if any) with it
            hit = _Inflight(asyncio.ensure_future(make()))
            self._inflight[key] = hit
            hit.future.add_done_callback(functools.partial(self._done, key, hit))
        elif (slot := current_slot()) is not None:
            slot.leave()  # another question's computation: its questions are not this batch's
        hit.waiters += 1
        try:
            return await asyncio.shield(hit.future)
        finally:
            hit.waiters -= 1
            if hit.waiters == 0 and not hit.future.done():
                hit.future.cancel()
                self._done(key, hit)

    def _done(self, key: tuple[Any, ...], hit: _Inflight, _future: object = None) -> None:
        if self._inflight.get(key) is hit:
            del self._inflight[key]

    async def upstream(self, subject: str, requester: str = "", *, deadline: Deadline | None = None) -> Upstream:
        """See :meth:`_upstream`; concurrent askers of one (subject, requester) share one answer.
        ``deadline``: when the asker stops waiting (default: 10 s from now)."""
        by = _deadline(deadline)
        with timed_question(self.metrics, "up", requester):
            up: Upstream = await self._shared(
                ("up", subject, requester), lambda: self._upstream(subject, requester, by)
            )
        return up

    async def _upstream(self, subject: str, requester: str, deadline: Deadline) -> Upstream:
        """Ask the direct suppliers of ``subject`` (a lot or battery of this node), fold their
        summaries in, and return this node's summary (signed) with its tombstones; the signed
        answer is reused while its inputs are unchanged (see the module docstring)."""
        clock = _Clock()
        br = self._kept_branches(("up", subject))
        if br is None:
            br = await anyio.to_thread.run_sync(self._up_branches, subject)
        clock.lap("ledger")
        reported: list[float] = []
        answers = await self._ask(
            br.partners, deadline, "supplier", UPSTREAM_ASSET, {}, functools.partial(self._check_up, reported)
        )
        clock.lap("suppliers")
        note_tombstones(self.metrics, "up", answers, br.capped)
        clock.phases["slowest_supplier_own"] = max(reported, default=0.0)  # the rest: network and DSP
        # folded, and the credentials this node attaches for this requester (e.g. a certified CFP
        # it released), in one worker-thread hop; nothing to fold in and no credentials: no hop
        quick = None if self._credentials else self._unchanged(br, answers)
        creds: list[str] = []
        if quick is not None:  # nothing to fold in: the key without a worker-thread hop
            key = _digest([quick, creds])
        else:
            key, creds = await anyio.to_thread.run_sync(self._fold_with_credentials, br, answers, requester)
        clock.lap("fold")
        cached = self._up.get((subject, requester))
        if cached is not None and cached[0] == key:
            self._up.move_to_end((subject, requester))
            clock.lap("cached")
            hit = cached[1]
            return Upstream(hit.summary, hit.token, hit.tiers, hit.suppliers, hit.failed, clock.total())
        failed: dict[str, str] = {}
        tiers = 0
        tombstones: list[Tombstone] = [Tombstone(tier=1, reason=HOP_CAP_TOMBSTONE)] if br.capped else []
        deeper: list[Tombstone] = []
        for (did, _lot), ans in zip(br.partners, answers, strict=True):
            if isinstance(ans, str):
                failed.setdefault(did, ans)
                tombstones.append(Tombstone(tier=1, reason=ans))
                continue
            _token, sub_tiers, received = ans
            tiers = max(tiers, sub_tiers)
            deeper.extend(Tombstone(tier=t.tier + 1, reason=t.reason) for t in received.tombstones)
        # deeper gaps once per (tier, reason): reached by several paths through a DAG (or round a
        # recycling loop cut by its deadline) they would otherwise multiply with the paths
        deeper = list(dict.fromkeys(deeper))
        summary, token = await anyio.to_thread.run_sync(self._sign_up, subject, tombstones + deeper, creds)
        clock.lap("signed")
        suppliers: list[str] = []
        for did, _ in br.partners:
            if did not in suppliers:
                suppliers.append(did)
        up = Upstream(summary, token, tiers + 1, suppliers, failed)
        if br.mark == self.ledger.change_mark(self.owner):  # a point read: no thread hop
            self._up[(subject, requester)] = (key, up)  # only an answer no event overtook
            while len(self._up) > _CACHE_MAX:
                self._up.popitem(last=False)
        return Upstream(summary, token, up.tiers, suppliers, failed, clock.total())

    # -- downstream --------------------------------------------------------------------------------

    async def downstream(
        self,
        subject: str,
        *,
        requester: str = "",
        lots: tuple[str, ...] = (),
        salt: str = "",
        deadline: Deadline | None = None,
    ) -> Downstream:
        """See :meth:`_downstream`; concurrent askers of one question share one answer.
        ``deadline``: when the asker stops waiting (default: 10 s from now)."""
        salt = salt or secrets.token_hex(16)
        by = _deadline(deadline)
        with timed_question(self.metrics, "down", requester):
            down: Downstream = await self._shared(
                ("down", subject, requester, lots, salt),
                lambda: self._downstream(subject, requester=requester, lots=lots, salt=salt, deadline=by),
            )
        return down

    def _mark(self, salt: str, battery: str) -> str:
        """This node's opaque token for one of its batteries within one question: the same
        battery reached by several paths is counted once, and nobody else can tell which one."""
        return hmac.new(self._secret, f"{salt}|{battery}".encode(), hashlib.sha256).hexdigest()[:32]

    async def _downstream(
        self, subject: str, *, requester: str = "", lots: tuple[str, ...] = (), salt: str, deadline: Deadline
    ) -> Downstream:
        """Which of this node's batteries contain ``subject``, and how many its customers (asked
        through their connectors, recursively) report below. ``lots``: the node's own lots to
        start from (a customer answering its supplier: its receipts of the supplier's lot);
        default: ``subject`` itself, a lot or battery of this node."""
        clock = _Clock()
        if not lots:
            root = await anyio.to_thread.run_sync(self.ledger.resolve_subject, self.owner, subject)
            lots = (str(root.id),)
        br = self._kept_branches(("down", subject), lots)
        if br is None:
            br = await anyio.to_thread.run_sync(self._down_branches, subject, lots)
        clock.lap("ledger")
        answers = await self._ask(br.partners, deadline, "customer", RECALL_ASSET, {"salt": salt}, self._check_down)
        clock.lap("customers")
        note_tombstones(self.metrics, "down", answers, br.capped)
        live = [ans if isinstance(ans, str) else [ans[1], ans[0]] for ans in answers]
        key = _digest([br.mark, list(br.lots), live, salt])
        cached = self._down.get((subject, requester))
        if cached is not None and cached[0] == key:
            self._down.move_to_end((subject, requester))
            hit = cached[1]
            return Downstream(hit.answer, hit.token, hit.tiers, hit.customers, hit.failed, clock.total())
        failed: dict[str, str] = {}
        customers: list[dict[str, Any]] = []
        tombstones: list[dict[str, Any]] = [{"tier": 1, "reason": HOP_CAP_TOMBSTONE}] if br.capped else []
        below: list[tuple[int, str]] = []  # customers' tombstones, one tier deeper
        own = {self._mark(salt, b) for b in br.batteries}
        marks = set(own)
        tiers = 0
        for (did, lot), ans in zip(br.partners, answers, strict=True):
            if isinstance(ans, str):
                failed.setdefault(did, ans)
                tombstones.append({"tier": 1, "reason": ans})
                continue
            _token, sub_tiers, got = ans
            tiers = max(tiers, sub_tiers)
            marks.update(str(m) for m in got.get("marks", []))
            below.extend((int(t["tier"]) + 1, str(t["reason"])) for t in got["tombstones"])
            customers.append(
                {"did": did, "lot": lot, "batteries": list(got["batteries"]), "batteries_below": got["batteriesBelow"]}
            )
        # deeper gaps once per (tier, reason), as upstream
        tombstones.extend({"tier": tier, "reason": reason} for tier, reason in dict.fromkeys(below))
        answer = {
            "issuer": self.owner,
            "subject": {"id": subject},
            "batteries": list(br.batteries),
            "lots": br.affected,
            # distinct batteries below, own ones excluded (the marks dedupe paths through a DAG)
            "batteriesBelow": len(marks - own),
            "marks": sorted(marks),
            "tombstones": tombstones,
            "computedAt": self.ledger.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        token = await anyio.to_thread.run_sync(sign_recall, answer, self.identity)
        clock.lap("signed")
        down = Downstream(answer, token, tiers + 1, customers, failed)
        if br.mark == self.ledger.change_mark(self.owner):  # a point read: no thread hop
            self._down[(subject, requester)] = (key, down)
            while len(self._down) > _CACHE_MAX:
                self._down.popitem(last=False)
        return Downstream(answer, token, down.tiers, customers, failed, clock.total())

    # -- provider side (QueryAssetSource) ---------------------------------------------------

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput(f"the {key} asset needs ?lot=ID", field="lot", rule="federated trace asset query")

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        """One lot (``?lot=ID``: its envelope) or several (``?lots=["A","B"]``, up to
        :data:`MAX_LOTS`: ``{"answers": [{"lot": ID, ...its envelope}, ...]}``, a lot this node
        would answer 404 for alone listed as ``{"lot": ID, "refused": "not-found"}``)."""
        many = query.get(LOTS_FIELD)
        lots = parse_lots(many) if many is not None else None
        if lots is None:
            lot_id = query.get(LOT_FIELD, "")
            if not lot_id or len(lot_id) > 128:
                raise InvalidInput("the asset needs ?lot=ID", field="lot", rule="federated trace asset query")
        # the asker's deadline, counted from now: this node's own onward questions fit in it
        deadline = Deadline.after_ms(parse_deadline_ms(query.get(DEADLINE_FIELD)))
        salt = query.get("salt", "")
        if key == DOWN_KEY and (len(salt) > 64 or not all(c in "0123456789abcdef" for c in salt)):
            raise InvalidInput("salt: up to 64 lower-case hex digits", field="salt", rule="recall question salt")
        asker = await self._asker(consumer_did, query.get("delegation"))
        if lots is None:
            return await self._answer(key, lot_id, asker, salt, deadline)

        # the lots' onward questions go out together: one pull per partner for the whole list
        batch = AskBatch(functools.partial(self._send_group, asyncio.Semaphore(self._concurrency)), members=len(lots))

        async def item(lot: str) -> dict[str, Any]:
            slot = batch.slot()
            use_slot(slot)  # this task's context: the lot's computation parks its questions there
            try:
                return {"lot": lot, **await self._answer(key, lot, asker, salt, deadline)}
            except NotFound:
                return {"lot": lot, "refused": "not-found"}
            finally:
                slot.leave()

        return {"answers": list(await asyncio.gather(*(item(lot) for lot in lots)))}

    async def _answer(self, key: str, lot_id: str, asker: str, salt: str, deadline: Deadline) -> dict[str, Any]:
        """This node's envelope for one lot, for ``asker``; NotFound unless the lot is one the
        asker may ask about (shipped to it; received from it, for a recall)."""
        if key == DOWN_KEY:
            mine = await anyio.to_thread.run_sync(self.ledger.receipts_of, self.owner, asker, lot_id)
            if not mine:
                raise NotFound(f"no lot {lot_id} received from you", field="lot", rule="recall: lots received from you")
            down = await self.downstream(lot_id, requester=asker, lots=tuple(mine), salt=salt, deadline=deadline)
            return {"answer": down.token, "tiers": down.tiers, "ms": down.timing.get("total")}
        hidden = NotFound(f"no lot {lot_id} shipped to you", field="lot", rule="upstream summary: lots shipped to you")
        known = self._customers.get(lot_id)  # a shipment never changes: no database round trip
        customer = known.customer if known is not None else await anyio.to_thread.run_sync(self._shipped_to, lot_id)
        if customer != asker:
            raise hidden
        up = await self.upstream(lot_id, asker, deadline=deadline)
        return {"summary": up.token, "tiers": up.tiers, "ms": up.timing.get("total")}

    async def _asker(self, consumer_did: str, delegation: str | None) -> str:
        """Whom the answer is for: the consumer itself, or the partner whose delegation (a
        self-issued token addressed to this node, ``act.sub`` = the consumer) it presents."""
        if not delegation:
            return consumer_did
        if self._verify_delegation is None:
            raise Unauthorized("this node does not accept delegations", rule="federated trace: delegation")
        try:
            token = await anyio.to_thread.run_sync(self._verify_delegation, delegation, self.owner)
        except BatpassError as exc:
            raise Unauthorized(f"delegation does not verify: {exc}", rule="DCP 1.0 §4.3.1; RFC 8693 act") from exc
        if token.actor != consumer_did:
            raise Unauthorized(
                "the delegation names another actor than the connector presenting it",
                rule="RFC 8693 §4.1: act.sub is the party allowed to act",
            )
        return token.did

    # -- the requester's view -----------------------------------------------------------------

    async def trace(self, subject: str, *, deadline_ms: float = DEFAULT_DEADLINE_MS) -> dict[str, Any]:
        """The upstream federated trace of one of this node's lots or batteries, as its operator
        sees it, answered within ``deadline_ms`` (branches still running then are tombstones)."""
        started = time.perf_counter()
        ms = parse_deadline_ms(deadline_ms)
        up = await self.upstream(subject, deadline=Deadline.after_ms(ms))
        s = up.summary
        wire = encode_summary(s)
        tombstones = [{"tier": t.tier, "reason": t.reason} for t in s.tombstones]
        return {
            "subject": wire["subject"],
            "direction": "up",
            "complete": not tombstones,
            "hops": up.tiers - 1,
            "path": [self.owner, *up.suppliers],
            "mines_reached": s.mines_reached,
            "tombstones": tombstones,
            "unreachable_suppliers": [{"did": d, "reason": r} for d, r in up.failed.items()],
            # summary 2.0: mined origin and recycled input apart, shares of the element's mass
            "shares_by_country": {el: dict(v.mined_by_country or {}) for el, v in s.elements.items()},
            "recycled_by_country": {el: dict(v.recycled_by_country or {}) for el, v in s.elements.items()},
            "unknown_share": {el: v.unknown_share for el, v in s.elements.items()},
            "high_risk_share": {el: v.high_risk_share for el, v in s.elements.items()},
            "summary": wire,
            "timing": up.timing,
            "deadline_ms": ms,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def recall(self, subject: str, *, deadline_ms: float = DEFAULT_DEADLINE_MS) -> dict[str, Any]:
        """The downstream recall trace of one of this node's lots: its own batteries containing
        it, each direct customer's, and the count reported below them, within ``deadline_ms``."""
        started = time.perf_counter()
        ms = parse_deadline_ms(deadline_ms)
        down = await self.downstream(subject, deadline=Deadline.after_ms(ms))
        a = down.answer
        tombstones = [dict(t) for t in a["tombstones"]]
        return {
            "subject": a["subject"],
            "direction": "down",
            "complete": not tombstones,
            "hops": down.tiers - 1,
            "path": [self.owner, *dict.fromkeys(c["did"] for c in down.customers)],
            "batteries": a["batteries"],
            "lots": a["lots"],
            "customers": down.customers,
            "batteries_total": len(a.get("marks", [])) or len(a["batteries"]) + int(a["batteriesBelow"]),
            "tombstones": tombstones,
            "unreachable_customers": [{"did": d, "reason": r} for d, r in down.failed.items()],
            "answer": down.token,
            "timing": down.timing,
            "deadline_ms": ms,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }
