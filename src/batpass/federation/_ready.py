"""Channels ready before they are needed: the node negotiates its DSP agreements with a partner
before the first question that needs them (issue 22; docs/dataspace.md "Channels ready before
they are needed").

:class:`ChannelKeeper` is one of the node's background jobs (it runs on the worker that leads,
docs/workers.md). It reads the node's own ledger events as they are recorded — at start-up all of
them, then each new one within about ``interval_s`` — and for every partner a receipt or a
shipment names it opens the channel a federated question will take: the partner's
``upstream-summary`` for a supplier (the ``from_owner`` of a receipt), its ``downstream-recall``
for a customer (the ``to_owner`` of a shipment). The channel is the connector's one
(:class:`~batpass.dataspace.ConsumerChannels`: one agreement and one started transfer per partner
and asset, reused by every later question). Every ``renew_every_s`` it renews what it opened
before the access token expires (refreshed ``fresh_for_s`` ahead, or negotiated once more when
the partner ended the transfer). A partner that cannot be reached or refuses is tried again
later, each time after twice as long (``retry_s`` up to ``retry_max_s``); a question that comes
first opens the channel itself, as before.

**Opened on first contact** (:meth:`ChannelKeeper.contacted`): when a partner contacts this
node's connector (a catalog or contract request, verified), the keeper opens at once the channels
the question that partner is about to send will need next, one tier below: a customer asks for
upstream summaries, so this node's own supplier channels; a supplier asks for recall answers, so
its customer channels. A DID the ledger names as neither opens nothing. It works whether or not
the keeper runs as a background job (``start``): a node that does not negotiate ahead
(``federation_prenegotiate: false``) still opens a tier's channels while the tier above is
negotiating with it, rather than after it asked. Each channel is opened once at a time (a contact
while it is being opened, or a question through the connector's per-pair lock, waits for the same
journey), a failed one waits for its retry time, and at most ``concurrency`` journeys run at once.

A failure here never fails a question: the keeper only does early what the first question would
otherwise do on its critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from batpass.federation._partners import DspPartners, Refused
from batpass.federation._wire import RECALL_ASSET, UPSTREAM_ASSET
from batpass.ledger import LedgerService

__all__ = ["ChannelKeeper", "KeptChannel"]

log = logging.getLogger(__name__)


@dataclass
class KeptChannel:
    """One channel the keeper wants open: a partner, the asset asked of it and its role."""

    did: str
    asset: str
    role: str  # supplier | customer
    ready: bool = False
    failures: int = 0
    retry_at: float = 0.0
    reason: str = ""  # the last failure's category

    def view(self) -> dict[str, Any]:
        state = "ready" if self.ready else ("failed" if self.failures else "pending")
        out: dict[str, Any] = {"partner": self.did, "asset": self.asset, "role": self.role, "state": state}
        if self.reason and not self.ready:
            out["reason"] = self.reason
        return out


class ChannelKeeper:
    """Opens and renews this node's channels to the partners its ledger names (see the module)."""

    def __init__(
        self,
        *,
        ledger: LedgerService,
        owner: str,
        partners: DspPartners,
        interval_s: float = 1.0,
        renew_every_s: float = 30.0,
        fresh_for_s: float = 120.0,
        retry_s: float = 5.0,
        retry_max_s: float = 600.0,
        concurrency: int = 4,
        page: int = 500,
        ahead: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ahead = ahead  # opens every channel its ledger names as a background job (else on contact only)
        self.ledger = ledger
        self.owner = owner
        self.partners = partners
        self.interval_s = interval_s
        self.renew_every_s = renew_every_s
        self.fresh_for_s = fresh_for_s
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self.page = page
        self._clock = clock
        self._sem = asyncio.Semaphore(concurrency)
        self._read_to = 0  # the owner's events read, up to this sequence number
        self._renewed_at = clock()
        self.channels: dict[tuple[str, str], KeptChannel] = {}
        self._task: asyncio.Task[None] | None = None
        self._reading = asyncio.Lock()  # one reader of the ledger's events at a time
        self._opening: set[tuple[str, str]] = set()  # channels being opened now
        self._contacts: set[asyncio.Task[None]] = set()  # contact work still running
        self.contacts = 0  # contacts that opened channels (the operator's view)

    # -- the job ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this worker runs the keeper (the one that leads the background jobs)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Run the job (on the worker that leads); a keeper that does not open ahead
        (``ahead=False``) only answers contacts."""
        if self._task is None and self.ahead:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="federation-channels")

    async def stop(self) -> None:
        for contact in list(self._contacts):
            contact.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # the keeper only saves time: a failure must not stop it
                log.warning("keeping the federation's channels failed; trying again", exc_info=True)
            await asyncio.sleep(self.interval_s)

    async def step(self) -> None:
        """One round: read the events recorded since the last round, open every wanted channel
        not yet open whose retry time has come, and renew the open ones when due."""
        await self._read_events()
        await self._open_due(self.channels.values())
        now = self._clock()
        if now - self._renewed_at >= self.renew_every_s:
            self._renewed_at = now
            await asyncio.gather(*(self._renew(c) for c in self.channels.values() if c.ready))

    def status(self) -> dict[str, Any]:
        """What the keeper wants open and how far it got (the operator's view)."""
        kept = sorted(self.channels.values(), key=lambda c: (c.did, c.asset))
        return {
            "wanted": len(kept),
            "ready": sum(c.ready for c in kept),
            "events_read": self._read_to,
            "ahead": self.ahead,
            "contacts": self.contacts,
            "channels": [c.view() for c in kept],
        }

    # -- first contact --------------------------------------------------------------------------

    def contacted(self, did: str) -> None:
        """``did`` (verified) contacted this node's connector: open, in the background, the
        channels its question will need of this node next (see the module). Returns at once;
        called on the event loop (the provider's routes)."""
        task = asyncio.get_running_loop().create_task(self._on_contact(did), name="federation-contact")
        self._contacts.add(task)
        task.add_done_callback(self._contacts.discard)

    async def settle_contacts(self) -> None:
        """Wait for the contact work started so far (tests, and a clean stop)."""
        while self._contacts:
            await asyncio.gather(*list(self._contacts), return_exceptions=True)

    async def _on_contact(self, did: str) -> None:
        try:
            await self._read_events()
            roles = set()
            if (did, RECALL_ASSET) in self.channels:  # one of its customers: asks for upstream summaries
                roles.add("supplier")
            if (did, UPSTREAM_ASSET) in self.channels:  # one of its suppliers: asks for recall answers
                roles.add("customer")
            if roles:
                self.contacts += 1
                await self._open_due(c for c in self.channels.values() if c.role in roles)
        except Exception:  # the contact only saves time: its request has been answered regardless
            log.warning("opening channels on a partner's contact failed", exc_info=True)

    # -- steps ----------------------------------------------------------------------------------

    async def _read_events(self) -> None:
        async with self._reading:
            mark = await anyio.to_thread.run_sync(self.ledger.change_mark, self.owner)
            while self._read_to < mark:
                rows = await anyio.to_thread.run_sync(self._page, self._read_to)
                if not rows:
                    break
                for row in rows:
                    self._note(row["event"])
                    self._read_to = int(row["seq"])
                if len(rows) < self.page:
                    break

    def _page(self, after: int) -> list[dict[str, Any]]:
        return self.ledger.events(self.owner, after_seq=after, limit=self.page)

    def _note(self, event: dict[str, Any]) -> None:
        """The partner a receipt or a shipment names, and what a question would ask of it."""
        receipt, shipment = event.get("receipt"), event.get("shipment")
        if isinstance(receipt, dict):
            self._want(receipt.get("from_owner"), UPSTREAM_ASSET, "supplier")
        if isinstance(shipment, dict):
            self._want(shipment.get("to_owner"), RECALL_ASSET, "customer")

    def _want(self, did: object, asset: str, role: str) -> None:
        if isinstance(did, str) and did and did != self.owner and (did, asset) not in self.channels:
            self.channels[(did, asset)] = KeptChannel(did, asset, role)

    async def _open_due(self, kept: Iterable[KeptChannel]) -> None:
        """Open each of ``kept`` not open, not being opened and whose retry time has come."""
        now = self._clock()
        due = [c for c in kept if not c.ready and c.retry_at <= now and (c.did, c.asset) not in self._opening]
        self._opening.update((c.did, c.asset) for c in due)  # before any await: a concurrent caller skips them
        if due:
            await asyncio.gather(*(self._open(c) for c in due))

    async def _open(self, kept: KeptChannel) -> None:
        try:
            await self._open_now(kept)
        finally:
            self._opening.discard((kept.did, kept.asset))

    async def _open_now(self, kept: KeptChannel) -> None:
        async with self._sem:
            try:
                await self.partners.prepare(kept.did, kept.asset, kept.role)
            except Refused as r:
                self._failed(kept, r.reason)
                return
            except Exception:  # anything else waits its turn too, rather than every round
                log.warning("opening a channel to a %s failed", kept.role, exc_info=True)
                self._failed(kept, f"{kept.role} channel failed")
                return
        kept.ready, kept.failures, kept.reason = True, 0, ""

    async def _renew(self, kept: KeptChannel) -> None:
        async with self._sem:
            try:
                await self.partners.renew(kept.did, kept.asset, kept.role, fresh_for_s=self.fresh_for_s)
            except Refused as r:
                kept.ready = False
                self._failed(kept, r.reason)
            except Exception:
                log.warning("renewing a channel to a %s failed", kept.role, exc_info=True)
                kept.ready = False
                self._failed(kept, f"{kept.role} channel failed")

    def _failed(self, kept: KeptChannel, reason: str) -> None:
        kept.failures += 1
        kept.reason = reason
        wait = min(self.retry_max_s, self.retry_s * 2 ** (kept.failures - 1))
        kept.retry_at = self._clock() + wait
        log.info("channel to a %s not ready (%s); next try in %.0f s", kept.role, reason, wait)
