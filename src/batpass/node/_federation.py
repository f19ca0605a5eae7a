"""The recursive federated trace (DESIGN §4 flow 2, §5): a node asks only its direct suppliers,
through its Dataspace Protocol connector, for their signed upstream summaries of the lots they
shipped to it; each supplier computes its own answer the same way, recursively.

Composition-level: it joins the ledger (summaries, received summaries) and the connector (DSP
consumer; an asset source on the provider), which must not import each other.

- Provider side: :class:`FederatedTrace` is the ``QueryAssetSource`` of the asset
  ``upstream-summary`` (access and usage policy: ``Membership eq active``, CX-0152). A data-plane
  pull names a lot (``?lot=ID``); the answer is the node's signed summary of that lot **only if
  the lot was shipped to the consumer** (its DID from the agreement, verified by DCP at
  negotiation), else the same 404 as for an unknown lot. The envelope is ``{"summary": <compact
  JWS>, "tiers": n}`` (``n`` supplier tiers that answered below and including this node).
- Consumer side: before answering, the node asks each direct supplier (for the lots it received
  from it) in parallel, with at most ``concurrency`` pulls in flight; the supplier's DSP endpoint
  is the ``DataService`` entry of its DID document (trust's resolver: allow-listed hosts, cached);
  one agreement and one started transfer per supplier are kept and reused (warm cache: a repeated
  trace is one data-plane pull per supplier lot). Each answer is verified and folded in
  (``LedgerService.receive_summary``); a branch that is unreachable, refuses or does not verify
  becomes a tombstone whose reason is a category (never an identity or an address), and the rest
  of the answer stands. Tombstones of suppliers' summaries are carried one tier deeper.
- ``GET /v1/trace/federated/{subject}`` (admin key) runs it for the node's own lot or battery.

The requester learns its direct suppliers' DIDs (it contacts them) and nothing above them:
summaries carry shares, counts and tombstones, never supplier names, ids or quantities.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter

from batpass.core.errors import BatpassError, InvalidInput, NotFound, UpstreamUnavailable
from batpass.dataspace import Asset, DspConsumer, DspProvider, OfferDefinition
from batpass.http import AdminKey, Ctx
from batpass.ledger import LedgerService, sign_summary, verify_summary
from batpass.trust import NodeIdentity

__all__ = [
    "UPSTREAM_ASSET",
    "UPSTREAM_SOURCE",
    "FederatedTrace",
    "install_upstream_offer",
    "router",
]

UPSTREAM_ASSET = "upstream-summary"
UPSTREAM_SOURCE = "upstream-summary"
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
_GENERIC_TOMBSTONE = "a supplier lot was received without an upstream summary"


def install_upstream_offer(provider: DspProvider, source: FederatedTrace) -> None:
    """Register the source, the asset ``upstream-summary`` and its offer (Membership access and
    usage policy) on this node's provider; idempotent (run at every start)."""
    provider.register_source(UPSTREAM_SOURCE, source)
    provider.register_asset(
        Asset(
            id=UPSTREAM_ASSET,
            source=UPSTREAM_SOURCE,
            source_key="lot",
            title="Upstream summary",
            properties={"description": "signed upstream summary of a lot shipped to the requester (?lot=ID)"},
        )
    )
    provider.register_offer(
        OfferDefinition(
            id=f"{UPSTREAM_ASSET}:membership",
            asset_id=UPSTREAM_ASSET,
            access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
            usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP]}]}]},
        )
    )


@dataclass
class _Channel:
    """An agreement and a started transfer with one supplier (reused while it serves)."""

    transfer_pid: str


@dataclass
class Upstream:
    """A node's upstream answer for one of its lots."""

    summary: dict[str, Any]
    token: str
    tiers: int
    suppliers: list[str] = field(default_factory=list)  # direct suppliers asked, in order of contact
    failed: dict[str, str] = field(default_factory=dict)  # direct supplier DID → reason category


class _Refused(Exception):
    """A branch that becomes a tombstone: ``reason`` is a category safe to pass downstream."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FederatedTrace:
    """Recursive federated trace of one node (owner ``identity.did``).

    ``resolve_did`` is trust's async DID resolver (``DidResolver.resolve``); ``cached_did`` its
    cache read (``DidResolver.cached``), used to verify suppliers' signatures. ``ledger`` is the
    node's ledger; a ledger verifying suppliers' keys through the resolver is built from it.
    """

    def __init__(
        self,
        *,
        ledger: LedgerService,
        identity: NodeIdentity,
        consumer: DspConsumer,
        resolve_did: Callable[[str], Any],
        cached_did: Callable[[str], Mapping[str, Any] | None],
        concurrency: int = 8,
        timeout_s: float = 20.0,
        poll_s: float = 0.003,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput("concurrency must be >= 1", field="concurrency", rule="federation.concurrency")
        self.identity = identity
        self.owner = identity.did
        self.consumer = consumer
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
        )
        self._sem = asyncio.Semaphore(concurrency)
        self._timeout = timeout_s
        self._poll = poll_s
        self._channels: dict[str, _Channel] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._folded: dict[tuple[str, str], str] = {}  # supplier lot → content last folded in

    # -- keys and endpoints -------------------------------------------------------------------

    def _jwk(self, kid: str) -> Mapping[str, Any] | None:
        doc = self._cached_did(kid.split("#", 1)[0])
        for vm in (doc or {}).get("verificationMethod", []):
            if vm.get("id") == kid and isinstance(vm.get("publicKeyJwk"), dict):
                return dict(vm["publicKeyJwk"])
        return None

    async def _dsp_endpoint(self, did: str) -> str:
        try:
            doc = await self._resolve_did(did)
        except BatpassError as exc:
            if isinstance(exc.__cause__, httpx.HTTPError):  # its node did not answer
                raise _Refused("supplier unreachable") from exc
            raise _Refused("supplier's DID does not resolve (outside the dataspace)") from exc
        for svc in doc.get("service", []):
            if svc.get("type") == "DataService" and isinstance(svc.get("serviceEndpoint"), str):
                return str(svc["serviceEndpoint"])
        raise _Refused("supplier has no DataService (DSP connector) in its DID document")

    # -- consumer side --------------------------------------------------------------------------

    async def _wait(self, read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout
        while True:
            state = read()
            if done(state):
                return state
            if time.monotonic() > deadline:
                raise _Refused("supplier's connector did not answer in time")
            await asyncio.sleep(self._poll)

    async def _channel(self, did: str) -> _Channel:
        lock = self._locks.setdefault(did, asyncio.Lock())
        async with lock:
            hit = self._channels.get(did)
            if hit is not None:
                return hit
            dsp = await self._dsp_endpoint(did)
            try:
                catalog = await self.consumer.catalog(dsp, did)
            except UpstreamUnavailable as exc:
                raise _Refused("supplier unreachable") from exc
            except BatpassError as exc:
                raise _Refused("supplier refused the catalog request") from exc
            ds = next((d for d in catalog.get("dataset", []) if d.get("@id") == UPSTREAM_ASSET), None)
            if ds is None or not ds.get("hasPolicy"):
                raise _Refused("supplier offers no upstream summary to this node")
            try:
                pid = await self.consumer.negotiate(dsp, did, ds["hasPolicy"][0], target=UPSTREAM_ASSET)
            except UpstreamUnavailable as exc:
                raise _Refused("supplier unreachable") from exc
            except BatpassError as exc:
                raise _Refused("supplier refused the contract negotiation") from exc
            neg = await self._wait(
                lambda: self.consumer.negotiation(pid), lambda s: s["state"] in ("FINALIZED", "TERMINATED")
            )
            if neg["state"] != "FINALIZED" or not neg["agreementId"]:
                raise _Refused("supplier terminated the contract negotiation")
            try:
                tpid = await self.consumer.transfer(neg["agreementId"])
            except BatpassError as exc:
                raise _Refused("supplier refused the transfer") from exc
            tr = await self._wait(
                lambda: self.consumer.transfer_state(tpid),
                lambda s: (
                    s["state"] in ("TERMINATED", "COMPLETED") or (s["state"] == "STARTED" and s["hasDataAddress"])
                ),
            )
            if tr["state"] != "STARTED":
                raise _Refused("supplier terminated the transfer")
            channel = _Channel(tpid)
            self._channels[did] = channel
            return channel

    async def _pull(self, did: str, lot: str) -> dict[str, Any]:
        for attempt in (0, 1):
            channel = await self._channel(did)
            try:
                answer = await self.consumer.pull(channel.transfer_pid, query={"lot": lot})
            except UpstreamUnavailable as exc:
                if attempt == 0 and "unreachable" not in str(exc):
                    self._channels.pop(did, None)  # the transfer ended there: negotiate again once
                    continue
                raise _Refused("supplier unreachable") from exc
            except InvalidInput as exc:
                if "404" in str(exc):
                    raise _Refused("supplier refused: no summary of this lot for this node") from exc
                if attempt == 0:
                    self._channels.pop(did, None)
                    continue
                raise _Refused("supplier refused the data-plane pull") from exc
            if not isinstance(answer, dict) or not isinstance(answer.get("summary"), str):
                raise _Refused("supplier's answer is not an upstream summary")
            return answer
        raise _Refused("supplier refused the data-plane pull")

    async def _ask(self, did: str, lot: str) -> tuple[str, int, dict[str, Any]] | str:
        """One supplier lot: (signed summary, tiers) or the tombstone reason."""
        async with self._sem:
            try:
                answer = await self._pull(did, lot)
                token = str(answer["summary"])
                summary = verify_summary(token, self.ledger.resolve_key)
            except _Refused as r:
                return r.reason
            except BatpassError:
                return "supplier's summary does not verify"
        if summary["issuer"] != did or summary["subject"]["id"] != lot:
            return "supplier's summary is not about the lot it shipped"
        tiers = answer.get("tiers")
        return token, tiers if isinstance(tiers, int) and tiers >= 1 else 1, summary

    async def upstream(self, subject: str) -> Upstream:
        """Ask the direct suppliers of ``subject`` (a lot or battery of this node), fold their
        summaries in, and return this node's summary (signed) with its tombstones."""
        trace = self.ledger.trace(self.owner, subject)
        branches: list[tuple[str, str]] = []
        for b in trace["boundaries"]:
            receipt = self._event_of(str(b["lot"])).get("receipt") or {}
            key = (str(receipt.get("from_owner", "")), str(receipt.get("from_lot", "")))
            if key[0] and key[1] and key[0] != self.owner and key not in branches:
                branches.append(key)
        answers = await asyncio.gather(*(self._ask(did, lot) for did, lot in branches))
        deeper: list[dict[str, Any]] = []
        failed: dict[str, str] = {}
        tiers = 0
        tombstones: list[dict[str, Any]] = []
        for (did, _lot), ans in zip(branches, answers, strict=True):
            if isinstance(ans, str):
                failed.setdefault(did, ans)
                tombstones.append({"tier": 1, "reason": ans})
                continue
            token, sub_tiers, received = ans
            content = json.dumps({k: v for k, v in received.items() if k != "computedAt"}, sort_keys=True)
            if self._folded.get((did, _lot)) != content:  # fold (and recompute) only what changed
                self.ledger.receive_summary(self.owner, token)
                self._folded[(did, _lot)] = content
            tiers = max(tiers, sub_tiers)
            deeper.extend({"tier": int(t["tier"]) + 1, "reason": str(t["reason"])} for t in received["tombstones"])
        summary = self.ledger.summary(self.owner, subject)
        # the ledger marks lots received without a summary; the live answer says why instead
        own = [t for t in summary["tombstones"] if t.get("reason") != _GENERIC_TOMBSTONE]
        summary["tombstones"] = own + tombstones + deeper
        suppliers: list[str] = []
        for did, _ in branches:
            if did not in suppliers:
                suppliers.append(did)
        return Upstream(summary, sign_summary(summary, self.identity), tiers + 1, suppliers, failed)

    def _event_of(self, lot_id: str) -> dict[str, Any]:
        """The event that produced one of this node's lots (its body, as recorded)."""
        lot = self.ledger.lot(self.owner, lot_id)
        rows = self.ledger.events(self.owner, after_seq=lot.seq - 1, limit=1) if lot.seq >= 1 else []
        event: dict[str, Any] = rows[0]["event"] if rows and rows[0]["seq"] == lot.seq else {}
        return event

    # -- provider side (QueryAssetSource) ---------------------------------------------------

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("the upstream summary needs ?lot=ID", field="lot", rule="upstream-summary asset query")

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
            raise InvalidInput("the upstream summary needs ?lot=ID", field="lot", rule="upstream-summary asset query")
        hidden = NotFound(f"no lot {lot_id} shipped to you", field="lot", rule="upstream summary: lots shipped to you")
        try:
            ev = self._event_of(lot_id)
        except NotFound as exc:
            raise hidden from exc
        if ev.get("kind") != "shipment" or (ev.get("shipment") or {}).get("to_owner") != consumer_did:
            raise hidden
        up = await self.upstream(lot_id)
        return {"summary": up.token, "tiers": up.tiers}

    # -- the requester's view -----------------------------------------------------------------

    async def trace(self, subject: str) -> dict[str, Any]:
        """The federated trace of one of this node's lots or batteries, as its operator sees it."""
        started = time.perf_counter()
        up = await self.upstream(subject)
        s = up.summary
        tombstones = [dict(t) for t in s["tombstones"]]
        return {
            "subject": s["subject"],
            "complete": not tombstones,
            "hops": up.tiers - 1,
            "path": [self.owner, *up.suppliers],
            "mines_reached": s["minesReached"],
            "tombstones": tombstones,
            "unreachable_suppliers": [{"did": d, "reason": r} for d, r in up.failed.items()],
            "shares_by_country": {el: v["originByCountry"] for el, v in s["elements"].items()},
            "high_risk_share": {el: v["highRiskShare"] for el, v in s["elements"].items()},
            "summary": s,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }


router = APIRouter(tags=["federation"])


@router.get("/v1/trace/federated/{subject:path}")
async def federated_trace(subject: str, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Recursive federated trace of a lot or battery of this node (DESIGN §4 flow 2)."""
    return await ctx.service(FederatedTrace).trace(subject)
