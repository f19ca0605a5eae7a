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
  worker threads (``anyio.to_thread``) so concurrent pulls do not serialize on the event loop.
- ``GET /v1/trace/federated/{subject}?direction=up|down`` (admin key) runs it for the node's own
  lot or battery.

The requester learns its direct partners' DIDs (it contacts them) and nothing beyond them:
summaries carry shares, counts and tombstones, never supplier names, ids or quantities.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import httpx

from batpass.core.errors import BatpassError, InvalidInput, NotFound, Unauthorized
from batpass.dataspace import (
    Asset,
    AssetSource,
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    ConsumerChannels,
    DspProvider,
    NegotiationRefused,
    NotEntitled,
    NotOffered,
    OfferDefinition,
    Participant,
    PullFailed,
    QueryAssetSource,
    TransferEnded,
    TransferRefused,
)
from batpass.federation._deadline import (
    DEADLINE_FIELD,
    DEFAULT_DEADLINE_MS,
    MIN_ASK_S,
    Deadline,
    deadline_reason,
    parse_deadline_ms,
)
from batpass.federation._observe import FederationMetrics, note_tombstones, timed_question
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
from batpass.trust import CredentialRejected, NodeIdentity, SelfIssued, peek, sign_compact, verify_compact

__all__ = [
    "RECALL_ASSET",
    "RECALL_TYP",
    "UPSTREAM_ASSET",
    "UPSTREAM_SOURCE",
    "DspPartners",
    "FederatedTrace",
    "PartnerPort",
    "Refused",
    "install_upstream_offer",
]

UPSTREAM_ASSET = "upstream-summary"
RECALL_ASSET = "downstream-recall"
UPSTREAM_SOURCE = "upstream-summary"
RECALL_TYP = "batpass-recall+jws"
_UP_KEY = "lot"
_DOWN_KEY = "recall"
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
_GENERIC_TOMBSTONE = "a supplier lot was received without an upstream summary"
_CACHE_MAX = 4096
#: how much longer than the partner's deadline its pull may take (the way back)
_PULL_GRACE_S = 1.0
#: the statuses of a DSP error message (DSP 2025-1 HTTPS bindings): a refusal of that step
_DSP_REFUSAL = frozenset({400, 404})
log = logging.getLogger(__name__)
T = TypeVar("T")


class BridgeSource(AssetSource, QueryAssetSource, Protocol):
    """What serves the two assets on a bridge: answers for lots pulled with ``?lot=ID``."""


def install_upstream_offer(provider: DspProvider, source: FederatedTrace | BridgeSource) -> None:
    """Register the source, the assets ``upstream-summary`` and ``downstream-recall`` and their
    offers (Membership access and usage policy) on this node's provider; idempotent (run at
    every start). Then warm, in a background thread, the code paths a first trace takes (see
    :func:`_warm`)."""
    provider.register_source(UPSTREAM_SOURCE, source)
    assets = (
        (UPSTREAM_ASSET, _UP_KEY, "Upstream summary", "signed upstream summary of a lot shipped to the requester"),
        (RECALL_ASSET, _DOWN_KEY, "Downstream recall", "which of this node's batteries contain a lot it received"),
    )
    for asset_id, key, title, description in assets:
        provider.register_asset(
            Asset(
                id=asset_id,
                source=UPSTREAM_SOURCE,
                source_key=key,
                title=title,
                properties={"description": f"{description} (?lot=ID)"},
            )
        )
        provider.register_offer(
            OfferDefinition(
                id=f"{asset_id}:membership",
                asset_id=asset_id,
                access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
                usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP]}]}]},
            )
        )
    if isinstance(source, FederatedTrace):  # a bridge answers from its hub: nothing of its own to warm
        threading.Thread(target=_warm, args=(provider, source), name="federation-warm-up", daemon=True).start()


def _warm(provider: DspProvider, source: FederatedTrace) -> None:
    """Run, once at start, in-process and without any partner, the code a first trace would
    otherwise load lazily (the floors in docs/benchmarks.md: the first request after start costs
    100-140 ms over a chain): this node's own catalog as its consumer sees it (JSON-LD and
    schema validators), a recall answer signed and verified (joserfc Ed25519) and the ledger's
    change counter (its first connection). No agreement, transfer or DID document is cached."""
    try:
        me = Participant(source.owner, provider.settings.bpnl, frozenset({"MembershipCredential"}))
        provider.catalog(me, limit=1)
        own = source.identity.active("Ed25519")
        jwk = dict(own.public_jwk())
        token = sign_recall(
            {
                "issuer": source.owner,
                "subject": {"id": "warm-up"},
                "batteries": [],
                "lots": 0,
                "batteriesBelow": 0,
                "tombstones": [],
            },
            source.identity,
        )
        verify_recall(token, lambda _kid: jwk)
        source.ledger.change_mark(source.owner)
        source.ledger.received_summaries(source.owner, ["warm-up"])
        source.ledger.receipts_of(source.owner, source.owner, "warm-up")
    except Exception:  # a warm-up failure only leaves the first trace slower
        log.warning("federated trace warm-up failed", exc_info=True)


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


def _deadline(deadline: Deadline | None) -> Deadline:
    return deadline if deadline is not None else Deadline.after_ms(DEFAULT_DEADLINE_MS)


class Refused(Exception):
    """A branch that becomes a tombstone: ``reason`` is a category safe to pass on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def sign_recall(answer: dict[str, Any], identity: NodeIdentity) -> str:
    """Sign a downstream recall answer as a compact JWS (Ed25519, typ ``batpass-recall+jws``)."""
    kp = identity.active("Ed25519")
    payload = json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_compact({"kid": identity.key_id(kp), "typ": RECALL_TYP}, payload, kp)


def verify_recall(token: str, resolve_key: Callable[[str], Mapping[str, Any] | None]) -> dict[str, Any]:
    """Verify a recall answer: the key ``kid`` names, the issuer is that key's DID, the shape holds."""
    try:
        parsed = peek(token)
    except CredentialRejected as exc:
        raise InvalidInput("recall answer is not a compact JWS", field="answer", rule="RFC 7515 §7.1") from exc
    headers = parsed[0]
    kid = headers.get("kid")
    if headers.get("typ") != RECALL_TYP or headers.get("alg") != "Ed25519" or not isinstance(kid, str):
        raise InvalidInput(
            f"recall answer needs typ {RECALL_TYP}, alg Ed25519 and a kid", field="answer", rule="recall"
        )
    jwk = resolve_key(kid)
    if jwk is None:
        raise Unauthorized(f"no public key known for {kid}", rule="recall: kid is the issuer's DID URL")
    try:
        _, answer = verify_compact(token, jwk, typ=RECALL_TYP, parsed=parsed, algs=("Ed25519",))
    except CredentialRejected as exc:
        raise Unauthorized("recall answer signature does not verify", rule="RFC 7515") from exc
    if answer.get("issuer") != kid.split("#", 1)[0]:
        raise Unauthorized("recall answer issuer differs from the signing key's DID", rule="recall")
    ok = (
        isinstance(answer.get("subject"), dict)
        and isinstance(answer.get("batteries"), list)
        and all(isinstance(b, str) for b in answer["batteries"])
        and isinstance(answer.get("lots"), int)
        and isinstance(answer.get("batteriesBelow"), int)
        and isinstance(answer.get("tombstones"), list)
        and all(isinstance(m, str) for m in answer.get("marks", []))
    )
    if not ok:
        raise InvalidInput("recall answer lacks subject, batteries, lots, batteriesBelow or tombstones", field="answer")
    return answer


class PartnerPort(Protocol):
    """How a node reaches one direct partner's answer about one lot (``asset``: upstream summary
    or recall answer). Raises :class:`Refused` with a reason category that is safe to pass on."""

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]: ...


class DspPartners:
    """A :class:`PartnerPort` over this node's Dataspace Protocol consumer channels: the
    partner's DSP endpoint from its DID document, one agreement and one started transfer per
    partner connector and asset (kept by :class:`~batpass.dataspace.ConsumerChannels`), the
    answer pulled from its data plane with ``?lot=ID``.

    A ``DataService`` entry may name the connector's participant (``participantId``) when
    another participant operates it for the DID's subject (a bridge serving a hub operator):
    the catalog request, negotiation and tokens are then addressed to that participant.
    ``extra`` adds query parameters to every pull (a delegation a relay presents).

    Failures become :class:`Refused` with a category (:meth:`_category`), chosen by the type of
    the channel's error and its fields, never by its message.
    """

    def __init__(self, channels: ConsumerChannels, resolve_did: Callable[[str], Any]) -> None:
        self.channels = channels
        self._resolve_did = resolve_did
        # partner DID → (DSP endpoint, connector participant), resolved once while it works
        self._endpoints: dict[str, tuple[str, str]] = {}

    async def _dsp_endpoint(self, did: str, role: str) -> tuple[str, str]:
        hit = self._endpoints.get(did)
        if hit is not None:
            return hit
        try:
            doc = await self._resolve_did(did)
        except BatpassError as exc:
            if isinstance(exc.__cause__, httpx.HTTPError):  # its node did not answer
                raise Refused(f"{role} unreachable") from exc
            raise Refused(f"{role}'s DID does not resolve (outside the dataspace)") from exc
        for svc in doc.get("service", []):
            if svc.get("type") == "DataService" and isinstance(svc.get("serviceEndpoint"), str):
                operated_by = svc.get("participantId")
                found = str(svc["serviceEndpoint"]), operated_by if isinstance(operated_by, str) else did
                self._endpoints[did] = found
                return found
        raise Refused(f"{role} has no DataService (DSP connector) in its DID document")

    @staticmethod
    def _category(exc: ChannelError, asset: str, role: str) -> str:
        """The tombstone category of a failed branch. A provider's DSP error message (400, 404)
        is a refusal of that step; any other answer to the catalog or contract request (the
        connector did not accept this node's token, or is not working) has always read as
        unreachable, as has a data-plane failure other than a refused query."""
        if isinstance(exc, NotEntitled):
            return f"{role} refused: no answer about this lot for this node"
        if isinstance(exc, NotOffered):
            what = "upstream summary" if asset == UPSTREAM_ASSET else "recall answer"
            return f"{role} offers no {what} to this node"
        if isinstance(exc, ChannelTimeout):
            return f"{role}'s connector did not answer in time"
        refused = exc.partner_status in _DSP_REFUSAL
        if isinstance(exc, CatalogRefused) and refused:
            return f"{role} refused the catalog request"
        if isinstance(exc, NegotiationRefused):
            if exc.partner_status is None:
                return f"{role} terminated the contract negotiation"
            if refused:
                return f"{role} refused the contract negotiation"
        if isinstance(exc, TransferRefused):
            return f"{role} terminated the transfer" if exc.partner_status is None else f"{role} refused the transfer"
        if isinstance(exc, PullFailed) and not isinstance(exc, TransferEnded) and exc.partner_status == 400:
            return f"{role} refused the data-plane pull"
        return f"{role} unreachable"

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        query = {**(extra or {}), "lot": lot}
        given = query.get(DEADLINE_FIELD)
        # the partner's deadline, counted from now (the asker cancels this pull when it runs out)
        by = Deadline.after_ms(parse_deadline_ms(given)) if given is not None else None
        timeout_s: float | None = None
        try:
            dsp, connector = await self._dsp_endpoint(did, role)
            if by is not None:
                # the time spent finding the partner and, the first time, negotiating with it is
                # not the partner's: it gets what is left when the question is sent, and the pull
                # waits that long (plus the way back), not the HTTP client's timeout
                await self.channels.open(connector, asset, dsp)
                left = by.remaining()
                if left < MIN_ASK_S:
                    raise Refused(deadline_reason(role))
                query[DEADLINE_FIELD] = f"{left * 1000:.0f}"
                timeout_s = left + _PULL_GRACE_S
            answer = await self.channels.pull(connector, asset, dsp, query=query, timeout_s=timeout_s)
        except ChannelError as exc:
            if not isinstance(exc, NotEntitled):  # ask its DID document again next time
                self._endpoints.pop(did, None)
            raise Refused(self._category(exc, asset, role)) from exc
        if not isinstance(answer, dict):
            raise Refused(f"{role}'s answer is not an object")
        return answer


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

    async def _ask_up(
        self, did: str, lot: str, reported: list[float], extra: dict[str, str]
    ) -> tuple[str, int, UpstreamSummary] | str:
        """One supplier lot: (signed summary, tiers, summary) or the tombstone reason."""
        try:
            answer = await self.partners.pull(did, lot, UPSTREAM_ASSET, "supplier", extra)
            await self._known(did)
            if not isinstance(answer.get("summary"), str):
                return "supplier's answer is not an upstream summary"
            token = str(answer["summary"])
            summary = verify_summary(token, self.ledger.resolve_key)
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

    async def _ask_down(
        self, did: str, lot: str, salt: str, extra: dict[str, str]
    ) -> tuple[str, int, dict[str, Any]] | str:
        """One customer for one shipped lot: (signed answer, tiers, answer) or the tombstone reason."""
        try:
            answer = await self.partners.pull(did, lot, RECALL_ASSET, "customer", {"salt": salt, **extra})
            await self._known(did)
            if not isinstance(answer.get("answer"), str):
                return "customer's answer is not a recall answer"
            token = str(answer["answer"])
            recall = verify_recall(token, self.ledger.resolve_key)
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
        trace = self.ledger.trace(self.owner, subject)
        partners: list[tuple[str, str]] = []
        boundary: list[str] = []
        for received in self.ledger.suppliers_of(self.owner, [str(b["lot"]) for b in trace["boundaries"]]):
            key = (received.supplier, str(received.supplier_lot))
            if key[1] not in boundary:
                boundary.append(key[1])
            if key[0] != self.owner and key not in partners:
                partners.append(key)
        found = _Branches(
            mark, (str(trace["root"]["lot"]),), tuple(partners), tuple(boundary), capped=trace["hop_cap_reached"]
        )
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

    def _remember_branches(self, key: tuple[str, str], found: _Branches) -> None:
        if len(self._branches) >= _CACHE_MAX:
            self._branches.clear()
        self._branches[key] = found

    def _fold(self, br: _Branches, answers: list[tuple[str, int, UpstreamSummary] | str]) -> str:
        """Fold supplier summaries whose content differs from the stored ones; return the input
        key: change mark, stored summaries of the boundary lots, live branch results."""
        stored = self.ledger.received_summaries(self.owner, br.boundary)
        changed = False
        for (did, lot), ans in zip(br.partners, answers, strict=True):
            if isinstance(ans, str):
                continue
            token, _tiers, received = ans
            have: ReceivedSummary | None = stored.get(lot)
            if have is None or have.issuer != did or _content(have.summary) != _content(received):
                self.ledger.receive_summary(self.owner, token)
                changed = True
        if changed:
            stored = self.ledger.received_summaries(self.owner, br.boundary)
        mark = self.ledger.change_mark(self.owner)
        live = [ans if isinstance(ans, str) else ans[1] for ans in answers]
        return _digest([mark, br.mark, sorted((k, v.jws) for k, v in stored.items()), live])

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
        if hit is None:
            hit = _Inflight(asyncio.ensure_future(make()))
            self._inflight[key] = hit
            hit.future.add_done_callback(functools.partial(self._done, key, hit))
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
        br = await anyio.to_thread.run_sync(self._up_branches, subject)
        clock.lap("ledger")
        reported: list[float] = []
        sem = asyncio.Semaphore(self._concurrency)
        answers = list(
            await asyncio.gather(
                *(
                    _within(sem, deadline, "supplier", functools.partial(self._ask_up, did, lot, reported))
                    for did, lot in br.partners
                )
            )
        )
        clock.lap("suppliers")
        note_tombstones(self.metrics, "up", answers, br.capped)
        clock.phases["slowest_supplier_own"] = max(reported, default=0.0)  # the rest: network and DSP
        key = await anyio.to_thread.run_sync(self._fold, br, answers)
        # the credentials this node attaches for this requester (e.g. a certified CFP it released)
        creds = list(await anyio.to_thread.run_sync(self._credentials, requester)) if self._credentials else []
        key = _digest([key, creds])
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
        if br.mark == await anyio.to_thread.run_sync(self.ledger.change_mark, self.owner):
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
        br = await anyio.to_thread.run_sync(self._down_branches, subject, lots)
        clock.lap("ledger")
        sem = asyncio.Semaphore(self._concurrency)
        answers = list(
            await asyncio.gather(
                *(
                    _within(sem, deadline, "customer", functools.partial(self._ask_down, did, lot, salt))
                    for did, lot in br.partners
                )
            )
        )
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
        if br.mark == await anyio.to_thread.run_sync(self.ledger.change_mark, self.owner):
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
        lot_id = query.get("lot", "")
        if not lot_id or len(lot_id) > 128:
            raise InvalidInput("the asset needs ?lot=ID", field="lot", rule="federated trace asset query")
        # the asker's deadline, counted from now: this node's own onward questions fit in it
        deadline = Deadline.after_ms(parse_deadline_ms(query.get(DEADLINE_FIELD)))
        asker = await self._asker(consumer_did, query.get("delegation"))
        if key == _DOWN_KEY:
            mine = await anyio.to_thread.run_sync(self.ledger.receipts_of, self.owner, asker, lot_id)
            if not mine:
                raise NotFound(f"no lot {lot_id} received from you", field="lot", rule="recall: lots received from you")
            salt = query.get("salt", "")
            if len(salt) > 64 or not all(c in "0123456789abcdef" for c in salt):
                raise InvalidInput("salt: up to 64 lower-case hex digits", field="salt", rule="recall question salt")
            down = await self.downstream(lot_id, requester=asker, lots=tuple(mine), salt=salt, deadline=deadline)
            return {"answer": down.token, "tiers": down.tiers, "ms": down.timing.get("total")}
        hidden = NotFound(f"no lot {lot_id} shipped to you", field="lot", rule="upstream summary: lots shipped to you")
        if await anyio.to_thread.run_sync(self._shipped_to, lot_id) != asker:
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
