"""How a node reaches its direct partners' answers: :class:`PartnerPort` (one pull about one lot)
and :class:`DspPartners`, the port over the node's own Dataspace Protocol consumer channels. A
failed branch becomes :class:`Refused` with a reason category that is safe to pass on (never an
identity or an address).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

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
    ServiceEndpoint,
    TransferEnded,
    TransferRefused,
)
from batpass.federation._deadline import DEADLINE_FIELD, MIN_ASK_S, Deadline, deadline_reason, parse_deadline_ms
from batpass.federation._wire import UPSTREAM_ASSET

__all__ = [
    "LOTS_FIELD",
    "LOT_FIELD",
    "BatchPartnerPort",
    "DspPartners",
    "PartnerPort",
    "Refused",
    "answers_by_lot",
    "encode_lots",
]

#: the pull's query parameter naming one lot, and the one naming several (a JSON array)
LOT_FIELD = "lot"
LOTS_FIELD = "lots"

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


@runtime_checkable
class BatchPartnerPort(PartnerPort, Protocol):
    """A partner port that asks one partner about several lots in one pull."""

    async def pull_many(
        self, did: str, lots: Sequence[str], asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> list[dict[str, Any] | Refused]: ...


class DspPartners:
    """A :class:`PartnerPort` over this node's Dataspace Protocol consumer channels: the
    partner's connector from its DID document (its ``DataService`` entry names the version
    metadata endpoint; the channels discover the DSP base there), one agreement and one started transfer per
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
        # partner DID → (its DataService endpoint, connector participant), resolved once while it works
        self._endpoints: dict[str, tuple[ServiceEndpoint, str]] = {}

    async def _dsp_endpoint(self, did: str, role: str) -> tuple[ServiceEndpoint, str]:
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
                found = (
                    ServiceEndpoint(str(svc["serviceEndpoint"])),
                    operated_by if isinstance(operated_by, str) else did,
                )
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
        try:
            return await self._pull(did, {**(extra or {}), LOT_FIELD: lot}, asset, role)
        except ChannelError as exc:
            raise Refused(self._category(exc, asset, role)) from exc

    async def prepare(self, did: str, asset: str, role: str) -> None:
        """Open the channel to ``did`` for ``asset`` now (catalog, negotiation, transfer), before
        a question needs it; a failure is the :class:`Refused` a pull would have raised."""
        try:
            dsp, connector = await self._dsp_endpoint(did, role)
            await self.channels.open(connector, asset, dsp)
        except ChannelError as exc:
            self._endpoints.pop(did, None)
            raise Refused(self._category(exc, asset, role)) from exc

    async def renew(self, did: str, asset: str, role: str, *, fresh_for_s: float) -> None:
        """Keep the channel to ``did`` for ``asset`` usable for ``fresh_for_s`` more seconds: its
        access token refreshed before it expires, or the pair negotiated once more if the
        partner ended the transfer."""
        try:
            dsp, connector = await self._dsp_endpoint(did, role)
            await self.channels.address(connector, asset, dsp, fresh_for_s=fresh_for_s)
        except ChannelError as exc:
            self._endpoints.pop(did, None)
            raise Refused(self._category(exc, asset, role)) from exc

    async def pull_many(
        self, did: str, lots: Sequence[str], asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> list[dict[str, Any] | Refused]:
        """Every one of ``lots`` from one partner in one pull (``?lots=["A","B"]``): its answer
        (the envelope of a single pull) or the :class:`Refused` of that lot alone, in the order
        of ``lots``. One lot is asked the single way (``?lot=ID``); a partner whose data plane
        refuses the list (a node that predates it: 400) is asked lot by lot."""
        if len(lots) == 1:
            return [await _settle(self.pull(did, lots[0], asset, role, extra))]
        try:
            answer = await self._pull(did, {**(extra or {}), LOTS_FIELD: encode_lots(lots)}, asset, role)
        except PullFailed as exc:
            if isinstance(exc, TransferEnded) or exc.partner_status != 400:
                raise Refused(self._category(exc, asset, role)) from exc
            return list(await asyncio.gather(*(_settle(self.pull(did, lot, asset, role, extra)) for lot in lots)))
        except ChannelError as exc:
            raise Refused(self._category(exc, asset, role)) from exc
        return answers_by_lot(answer, lots, role)

    async def _pull(self, did: str, query: dict[str, str], asset: str, role: str) -> dict[str, Any]:
        """One pull from ``did``'s data plane with ``query``: raises a ``ChannelError`` (or the
        deadline's :class:`Refused`)."""
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
            raise
        if not isinstance(answer, dict):
            raise Refused(f"{role}'s answer is not an object")
        return answer


async def _settle(pull: Awaitable[dict[str, Any]]) -> dict[str, Any] | Refused:
    try:
        return await pull
    except Refused as r:
        return r


def encode_lots(lots: Sequence[str]) -> str:
    """The ``lots`` query parameter: a JSON array of lot ids."""
    return json.dumps(list(lots), separators=(",", ":"))


def answers_by_lot(answer: Mapping[str, Any], lots: Sequence[str], role: str) -> list[dict[str, Any] | Refused]:
    """Each of ``lots``' answer in a list answer (``{"answers": [{"lot": ID, ...envelope} |
    {"lot": ID, "refused": "not-found"}]}``), in the order of ``lots``; a lot the answer left out
    or refused is a :class:`Refused` of that lot."""
    items = answer.get("answers")
    found: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("lot"), str):
            found.setdefault(item["lot"], item)
    out: list[dict[str, Any] | Refused] = []
    for lot in lots:
        item = found.get(lot)
        if item is None:
            out.append(Refused(f"{role}'s answer is not an object"))
        elif item.get("refused") is not None:
            out.append(Refused(f"{role} refused: no answer about this lot for this node"))
        else:
            out.append(item)
    return out
