"""What the dataspace package needs from outside, as Protocols wired by the composition root.

- :class:`ParticipantVerifier`: turns the ``Authorization`` header of a DSP / registry request
  into a verified :class:`~batpass.dataspace.model.Participant` (contracts §5; trust's DCP
  implementation: self-issued token → DID resolved → membership presentation fetched from the
  caller's credential service and verified). The requester's BPN comes only from here.
- :class:`TokenIssuer`: the self-issued token this node sends to a counterparty (audience = its DID).
- :class:`AssetSource`: produces an asset's content (opaque JSON) for the data plane. The
  composition root registers one per ``Asset.source`` name; dataspace never knows what it is.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from batpass.dataspace.model import Participant

__all__ = ["AssetSource", "ParticipantVerifier", "TokenIssuer"]


@runtime_checkable
class ParticipantVerifier(Protocol):
    async def verify(self, authorization: str | None) -> Participant:
        """The verified participant; raise ``Unauthorized`` for a missing, bad or expired token."""
        ...


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
