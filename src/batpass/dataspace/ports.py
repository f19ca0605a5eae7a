"""What the dataspace package needs from outside, as Protocols wired by the composition root.

- :class:`ParticipantVerifier`: turns the ``Authorization`` header of a DSP / registry request
  into a verified :class:`~batpass.dataspace.model.Participant` (contracts §5; trust's DCP
  implementation: self-issued token → DID resolved → membership presentation fetched from the
  caller's credential service and verified). The requester's BPN comes only from here.
- :class:`TokenIssuer`: the self-issued token this node sends to a counterparty (audience = its DID).
- :class:`AssetSource`: produces an asset's content (opaque JSON) for the data plane. The
  composition root registers one per ``Asset.source`` name; dataspace never knows what it is.
- :class:`QueryAssetSource`: a source whose content depends on the pull request's query string
  (the consumer's ``DspConsumer.pull(pid, query=...)``, as an EDC data plane proxies query
  parameters); it also learns the consumer's DID from the agreement. The query is opaque here.
- :class:`ProxyAssetSource`: a source that also takes requests with a method, a sub-path and a
  body (``POST``/``PUT``/``GET /api/public/<path>``), as a Tractus-X EDC data plane forwards them
  for an ``HttpData`` asset with ``proxyMethod``, ``proxyPath``, ``proxyQueryParams`` and
  ``proxyBody`` set (CX-0018; the Catena-X PCF exchange asset of CX-0136 requires all four). The
  same transfer token authorises it; the consumer's DID comes from the agreement, never the body.
- :class:`ProcessNotifier`: tells a waiting consumer that one of its processes (negotiation or
  transfer, by this node's process id) changed state. The consumer's callback handlers call
  :meth:`ProcessNotifier.changed` inside the transaction that stores the change; waiters hear of
  it only once that transaction commits. A waiter still re-reads the stored state every 250 ms,
  so a lost notification delays an answer and never hangs it. The composition root wires
  ``InProcessNotifier`` (one worker) or ``PgNotifier`` (PostgreSQL ``LISTEN``/``NOTIFY``, several
  workers sharing one database).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from batpass.dataspace.model import DataPlaneReply, Participant
from batpass.store import UnitOfWork

__all__ = [
    "AssetSource",
    "IdentifyingVerifier",
    "ParticipantVerifier",
    "PresentationPrefetch",
    "ProcessNotifier",
    "ProcessWatch",
    "ProxyAssetSource",
    "QueryAssetSource",
    "TokenIssuer",
]


@runtime_checkable
class ParticipantVerifier(Protocol):
    async def verify(self, authorization: str | None) -> Participant:
        """The verified participant; raise ``Unauthorized`` for a missing, bad or expired token."""
        ...


@runtime_checkable
class PresentationPrefetch(Protocol):
    """A :class:`ParticipantVerifier` that can ask a participant for its credentials before its
    first message arrives: a consumer opening a channel calls :meth:`prefetch` with the
    provider's DID, whose callbacks (agreement, events, transfer start) then find its verified
    presentation kept. Optional; the answer is the one :meth:`ParticipantVerifier.verify` would
    keep, never more."""

    def prefetch(self, did: str) -> None: ...


@runtime_checkable
class IdentifyingVerifier(Protocol):
    """A :class:`ParticipantVerifier` that can tell who the caller is before the rest of its
    check is done: :meth:`verify_identified` calls ``identified`` with the caller's DID once its
    token is verified (signature, audience, time) and before its credentials are asked for, then
    answers what :meth:`ParticipantVerifier.verify` would (and raises what it would). Optional;
    ``identified`` must return at once and never raise."""

    async def verify_identified(self, authorization: str | None, identified: Callable[[str], None]) -> Participant: ...


@runtime_checkable
class TokenIssuer(Protocol):
    def issue(self, *, audience: str) -> str:
        """A short-lived self-issued token (compact JWS) for ``audience`` (a DID)."""
        ...


@runtime_checkable
class AssetSource(Protocol):
    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        """The JSON content of the asset ``key`` for the consumer of ``agreement_id``.

        Raise ``NotFound`` when it no longer exists.
        """
        ...


@runtime_checkable
class QueryAssetSource(Protocol):
    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        """The JSON content of the asset ``key`` for the query of one data-plane pull by the
        consumer of ``agreement_id`` (its DID and BPNL as verified at negotiation).

        Raise ``NotFound`` for what the query names but this consumer may not have (the same
        answer as for what does not exist), ``InvalidInput`` for a malformed query.
        """
        ...


@runtime_checkable
class ProxyAssetSource(Protocol):
    async def proxy(
        self,
        key: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
    ) -> DataPlaneReply:
        """Answer one request the consumer of ``agreement_id`` sent through the data plane:
        ``method`` (``GET``, ``POST`` or ``PUT``), ``path`` below the data-plane endpoint (no
        leading slash, may be empty), the query parameters and the JSON body (``None`` for a GET).

        Raise ``NotFound`` for what this consumer may not reach (the same answer as for what does
        not exist), ``InvalidInput`` for a malformed request; otherwise return the reply.
        """
        ...


@runtime_checkable
class ProcessWatch(Protocol):
    async def wait(self, timeout_s: float) -> bool:
        """Wait until the watched process is notified as changed, at most ``timeout_s`` seconds.

        True when a notification came since the watch began or since the last ``wait`` returned
        True; False when the time ran out. Either way the caller re-reads the stored state."""
        ...


@runtime_checkable
class ProcessNotifier(Protocol):
    def changed(self, uow: UnitOfWork, process_id: str) -> None:
        """Within ``uow``'s transaction: the process ``process_id`` changed state. Its watchers
        hear of it once the transaction commits, never if it rolls back."""
        ...

    def watch(self, process_id: str) -> AbstractContextManager[ProcessWatch]:
        """Watch one process (from inside a running event loop) for as long as the block lasts;
        start watching before reading the stored state, so no change falls in between."""
        ...

    async def start(self) -> None:
        """Begin delivering notifications (the composition root's lifespan)."""
        ...

    async def stop(self) -> None:
        """Stop delivering notifications and release what :meth:`start` took."""
        ...
