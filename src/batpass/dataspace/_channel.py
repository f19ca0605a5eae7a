"""The consumer's journey with a provider, written once: catalog → contract negotiation → (await
FINALIZED or TERMINATED) → pull transfer → (await STARTED with a data address, TERMINATED or
COMPLETED) → pulls, proxied requests and data addresses (:class:`ConsumerChannels`).

One agreement and one started transfer are kept per (provider participant, asset) and reused by
every later question — and by the node's other workers, which take up a transfer still STARTED in
the shared store before negotiating one of their own; concurrent askers of the same pair share one
journey. When the provider has ended the transfer (its data plane refuses the tokens even refreshed:
:class:`~batpass.dataspace.errors.TransferEnded`, or a 401 to a proxied request) the pair is
negotiated once more, once. The provider's callbacks are awaited through the consumer's
:class:`~batpass.dataspace.ports.ProcessNotifier`, with a re-read of the stored process every
``recheck_s`` (250 ms) so a lost notification cannot hang a question; the whole journey has one
deadline (``timeout_s``). Every failure is a typed
:class:`~batpass.dataspace.errors.ChannelError` (stage, partner, the provider's status and
reason): callers map types and fields, never messages.

Sources: DSP 2025-1 catalog / contract negotiation / transfer process (state machines: the final
states of ``_states``), the Tractus-X ``HttpData`` pull and proxy (CX-0018). Knows nothing of what
the assets mean.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from batpass.dataspace._catalogs import locate
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._states import NEGOTIATION, TRANSFER
from batpass.dataspace._versions import ServiceEndpoint, VersionDiscovery
from batpass.dataspace.errors import (
    ChannelError,
    ChannelTimeout,
    NegotiationRefused,
    NotOffered,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.dataspace.model import DataAddress, NegotiationState, TransferState
from batpass.dataspace.ports import PresentationPrefetch

__all__ = ["Channel", "ConsumerChannels", "Endpoint"]

#: the provider's DSP base URL, its DID document's ``DataService`` endpoint (the version metadata
#: endpoint, read through :class:`~batpass.dataspace._versions.VersionDiscovery`), or how to find
#: either (called only when a journey starts)
Endpoint = str | ServiceEndpoint | Callable[[], Awaitable[str | ServiceEndpoint]]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Channel:
    """An agreement and a started pull transfer with one provider for one asset."""

    partner: str  # the provider's participant (DID): catalog, negotiation and tokens address it
    asset: str
    dsp_url: str
    negotiation_pid: str  # this node's process ids
    agreement_id: str
    transfer_pid: str


class ConsumerChannels:
    """This node's channels to providers, over its :class:`DspConsumer`.

    ``timeout_s``: the deadline of one journey (catalog to started transfer); ``recheck_s``: how
    often an awaited process is re-read even without a notification.
    """

    def __init__(
        self,
        consumer: DspConsumer,
        *,
        timeout_s: float = 20.0,
        recheck_s: float = 0.25,
        discovery: VersionDiscovery | None = None,
    ) -> None:
        self.consumer = consumer
        # the DSP base of each partner named by its DID document's DataService entry
        self.discovery = discovery or VersionDiscovery(consumer.client)
        self.timeout_s = timeout_s
        self.recheck_s = recheck_s
        self._open: dict[tuple[str, str], Channel] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # transfers found ended (dropped): never taken up again from the store
        self._ended: set[str] = set()

    # -- the journey ----------------------------------------------------------------------------

    def cached(self, partner: str, asset: str) -> Channel | None:
        """The channel kept for (``partner``, ``asset``), if any."""
        return self._open.get((partner, asset))

    def forget(self, partner: str, asset: str, *, transfer_pid: str | None = None) -> None:
        """Drop the channel kept for (``partner``, ``asset``) — only if it is still the one of
        ``transfer_pid`` when given (a concurrent asker may have opened a new one already)."""
        hit = self._open.get((partner, asset))
        if transfer_pid is not None:
            self._ended.add(transfer_pid)
        if hit is not None and (transfer_pid is None or hit.transfer_pid == transfer_pid):
            self._ended.add(hit.transfer_pid)
            del self._open[(partner, asset)]

    async def open(self, partner: str, asset: str, endpoint: Endpoint) -> Channel:
        """The channel for (``partner``, ``asset``): the kept one, else a transfer of the node's
        still STARTED in the store (another worker's, or one from before a restart; the provider
        still decides: a transfer it ended is dropped at its first refused pull and not taken up
        again), else a new journey through the provider's DSP ``endpoint``. Raises a
        :class:`~batpass.dataspace.errors.ChannelError`: ``PartnerUnreachable``,
        ``NoCommonVersion``, ``CatalogRefused``, ``NotOffered``, ``NegotiationRefused``,
        ``TransferRefused`` or ``ChannelTimeout``."""
        key = (partner, asset)
        async with self._locks.setdefault(key, asyncio.Lock()):
            hit = self._open.get(key)
            if hit is not None:
                return hit
            stored = self.consumer.started_channel(partner, asset, skip=frozenset(self._ended))
            if stored is not None:  # opened by another worker or before a restart: reused
                negotiation_pid, agreement_id, transfer_pid, dsp = stored
                channel = Channel(partner, asset, dsp, negotiation_pid, agreement_id, transfer_pid)
            else:
                if isinstance(self.consumer.verifier, PresentationPrefetch):
                    # the provider's callbacks need its presentation: asked while the versions,
                    # the catalog and the request go out, not when its agreement arrives
                    self.consumer.verifier.prefetch(partner)
                try:
                    channel = await self._journey(partner, asset, await self.dsp_base(partner, endpoint))
                except ChannelError:
                    self.discovery.forget(partner)  # its versions are read again next time
                    raise
            self._open[key] = channel
            return channel

    async def dsp_base(self, partner: str, endpoint: Endpoint) -> str:
        """The DSP base URL ``endpoint`` stands for: given, or discovered from the partner's
        version metadata (raises ``PartnerUnreachable`` or ``NoCommonVersion``)."""
        found = endpoint if isinstance(endpoint, str | ServiceEndpoint) else await endpoint()
        if isinstance(found, ServiceEndpoint):
            return await self.discovery.dsp_base(partner, found.url)
        return found

    async def _journey(self, partner: str, asset: str, dsp: str) -> Channel:
        deadline = time.monotonic() + self.timeout_s
        catalog = await self.consumer.catalog(dsp, partner)
        found = locate(catalog, asset)  # nested catalogs too
        if found is None or not found.dataset.get("hasPolicy"):
            raise NotOffered(
                f"{partner} offers no {asset} to this node",
                stage=Stage.CATALOG,
                partner=partner,
                rule="DSP catalog (access policy)",
            )
        # a dataset of a nested catalog is negotiated with the connector that catalog names
        dsp = found.dsp_url or dsp
        provider = found.participant or partner
        pid = await self.consumer.negotiate(dsp, provider, found.dataset["hasPolicy"][0], target=asset)
        negotiation = await self._settled(pid, self._final_negotiation, deadline, Stage.NEGOTIATION, partner)
        if NegotiationState(negotiation["state"]) is not NegotiationState.FINALIZED or not negotiation["agreementId"]:
            reason = negotiation.get("error") or str(negotiation["state"])
            raise NegotiationRefused(
                f"{partner} terminated the negotiation of {asset}: {reason}",
                stage=Stage.NEGOTIATION,
                partner=partner,
                reason=reason,
                rule="DSP contract negotiation",
            )
        agreement = str(negotiation["agreementId"])
        tpid = await self.consumer.transfer(agreement)
        transfer = await self._settled(tpid, self._final_transfer, deadline, Stage.TRANSFER, partner)
        if TransferState(transfer["state"]) is not TransferState.STARTED:
            reason = transfer.get("error") or str(transfer["state"])
            raise TransferRefused(
                f"{partner} ended the transfer of {asset}: {reason}",
                stage=Stage.TRANSFER,
                partner=partner,
                reason=reason,
                rule="DSP transfer process",
            )
        return Channel(partner, asset, dsp, pid, agreement, tpid)

    def _final_negotiation(self, pid: str) -> dict[str, Any] | None:
        """The negotiation once it reached a final state (FINALIZED or TERMINATED), else None."""
        found = self.consumer.negotiation(pid)
        return found if NegotiationState(found["state"]) in NEGOTIATION.finals else None

    def _final_transfer(self, pid: str) -> dict[str, Any] | None:
        """The transfer once started with a data address, or ended (TERMINATED, COMPLETED)."""
        found = self.consumer.transfer_state(pid)
        state = TransferState(found["state"])
        started = state is TransferState.STARTED and found["hasDataAddress"]
        return found if started or state in TRANSFER.finals else None

    async def _settled(
        self, pid: str, settled: Callable[[str], T | None], deadline: float, stage: Stage, partner: str
    ) -> T:
        """Await the provider's callbacks on process ``pid`` until ``settled`` gives a result: on
        each notification, and at least every ``recheck_s`` (a lost notification only delays)."""
        with self.consumer.notifier.watch(pid) as watch:
            while True:
                found = settled(pid)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout(
                        f"{partner}'s connector did not answer in time ({stage})",
                        stage=stage,
                        partner=partner,
                        rule="DSP",
                    )
                await watch.wait(min(self.recheck_s, left))

    # -- using a channel --------------------------------------------------------------------------

    async def pull(
        self,
        partner: str,
        asset: str,
        endpoint: Endpoint,
        *,
        query: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """Pull ``asset`` from ``partner`` with ``query``, negotiating once more if the provider
        ended the transfer; ``timeout_s`` replaces the HTTP client's timeout for the pull itself.
        Raises what :meth:`open` raises, and ``NotEntitled`` (404), ``PullFailed`` or
        ``PartnerUnreachable`` from the data plane."""
        for attempt in (0, 1):
            channel = await self.open(partner, asset, endpoint)
            try:
                return await self.consumer.pull(channel.transfer_pid, query=query, timeout_s=timeout_s)
            except TransferEnded:
                self.forget(partner, asset, transfer_pid=channel.transfer_pid)
                if attempt == 1:
                    raise
        raise AssertionError("not reached")

    async def request(
        self,
        partner: str,
        asset: str,
        endpoint: Endpoint,
        method: str,
        *,
        path: str = "",
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """Send one request through the channel's data plane (the Tractus-X ``HttpData`` proxy
        pattern) and return the provider's response as is; a 401 even after a token refresh
        means the provider ended the transfer: negotiated once more, and the second answer
        returned whatever it is."""
        for attempt in (0, 1):
            channel = await self.open(partner, asset, endpoint)
            try:
                resp = await self.consumer.request(channel.transfer_pid, method, path=path, query=query, body=body)
            except TransferEnded:
                self.forget(partner, asset, transfer_pid=channel.transfer_pid)
                if attempt == 1:
                    raise
                continue
            if resp.status_code != 401 or attempt == 1:
                return resp
            self.forget(partner, asset, transfer_pid=channel.transfer_pid)
        raise AssertionError("not reached")

    async def address(self, partner: str, asset: str, endpoint: Endpoint, *, fresh_for_s: float = 120.0) -> DataAddress:
        """The data address (endpoint, bearer token) of the channel, its token valid for at
        least ``fresh_for_s`` more seconds (refreshed, or negotiated once more if the provider
        ended the transfer): for a request sent later by the outbox rather than at once."""
        for attempt in (0, 1):
            channel = await self.open(partner, asset, endpoint)
            address = self.consumer.data_address(channel.transfer_pid)
            soon = self.consumer.clock.now() + dt.timedelta(seconds=fresh_for_s)
            if address is not None and address.expires_at is not None and address.expires_at > soon:
                return address
            try:
                if address is None or not address.refresh_token or not address.refresh_endpoint:
                    raise TransferEnded(
                        f"{partner} gave no refreshable data address for {asset}",
                        stage=Stage.DATA_PLANE,
                        partner=partner,
                        rule="DSP 2025-1 DataAddress (refreshToken, refreshEndpoint)",
                    )
                return await self.consumer.refresh_data_address(channel.transfer_pid)
            except TransferEnded:
                self.forget(partner, asset, transfer_pid=channel.transfer_pid)
                if attempt == 1:
                    raise
        raise AssertionError("not reached")
