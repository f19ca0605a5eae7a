"""How a node reaches its direct partners' answers: :class:`PartnerPort` (one pull about one lot)
and :class:`DspPartners`, the port over the node's own Dataspace Protocol consumer channels. A
failed branch becomes :class:`Refused` with a reason category that is safe to pass on (never an
identity or an address).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from batpass.core.errors import BatpassError
from batpass.dataspace import (
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    ConsumerChannels,
    NegotiationRefused,
    NotEntitled,
    NotOffered,
    PullFailed,
    TransferEnded,
    TransferRefused,
)
from batpass.federation._deadline import DEADLINE_FIELD, MIN_ASK_S, Deadline, deadline_reason, parse_deadline_ms
from batpass.federation._wire import UPSTREAM_ASSET

__all__ = ["DspPartners", "PartnerPort", "Refused"]

#: how much longer than the partner's deadline its pull may take (the way back)
_PULL_GRACE_S = 1.0
#: the statuses of a DSP error message (DSP 2025-1 HTTPS bindings): a refusal of that step
_DSP_REFUSAL = frozenset({400, 404})


class Refused(Exception):
    """A branch that becomes a tombstone: ``reason`` is a category safe to pass on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
