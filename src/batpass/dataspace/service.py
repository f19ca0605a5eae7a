"""Dataspace use cases: the DSP 2025-1 provider, the consumer and its channels, the test mode.

The public use-case module of the package; the work lives in private modules:

- :class:`DspProvider` (``_provider``): catalog filtered in the database, contract negotiation
  and transfer process driven by the tables of ``_states``, agreements, the data plane with its
  short-lived refreshable tokens.
- :class:`DspConsumer` (``_consumer``): one protocol step at a time against another node (catalog
  request, contract request, transfer request, the callbacks, pulls and proxied requests).
- :class:`ConsumerChannels` (``_channel``): the consumer's whole journey, catalog → negotiate →
  transfer → pull, written once: it awaits the callbacks through a
  :class:`~batpass.dataspace.ports.ProcessNotifier`, keeps one agreement and one started transfer
  per provider and asset, and raises the typed errors of ``errors`` (never a message to parse).
- :class:`VersionDiscovery` (``_versions``): a partner's DSP base from the version metadata its
  DID document's ``DataService`` entry (a :class:`ServiceEndpoint`) names; refuses a partner with
  no common version.
- :class:`ConsumerCallbacks` (``_callbacks``) and :class:`ProviderOffers` (``_offers``): a
  provider-initiated negotiation, received (OFFERED, accepted) and sent; the consumer's process
  state at its callback.
- :class:`FixedTokenVerifier` (here): the test mode for the public DSP test kit.

Sources: DSP 2025-1 catalog / negotiation / transfer specifications and their HTTPS bindings;
CX-0018 (Catena-X connector), CX-0152 (policies). Knows nothing of passports: asset content
comes from :class:`~batpass.dataspace.ports.AssetSource` providers registered by name.
"""

from __future__ import annotations

import secrets

from batpass.core.errors import ConfigurationError, Unauthorized
from batpass.dataspace._callbacks import ConsumerCallbacks
from batpass.dataspace._channel import Channel, ConsumerChannels, Endpoint
from batpass.dataspace._common import DSP_PATH, PULL_FORMAT, DataspaceSettings
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._dsp_messages import prepare_message_checks
from batpass.dataspace._offers import ProviderOffers
from batpass.dataspace._provider import DspProvider
from batpass.dataspace._versions import ServiceEndpoint, VersionDiscovery
from batpass.dataspace.model import Participant

__all__ = [
    "DSP_PATH",
    "PULL_FORMAT",
    "Channel",
    "ConsumerCallbacks",
    "ConsumerChannels",
    "DataspaceSettings",
    "DspConsumer",
    "DspProvider",
    "Endpoint",
    "FixedTokenVerifier",
    "ProviderOffers",
    "ServiceEndpoint",
    "VersionDiscovery",
    "prepare_message_checks",
]


class FixedTokenVerifier:
    """Test mode: accepts one fixed ``Authorization`` value as a fixed participant.

    Exists so the public DSP test kit could be pointed at a node. Refused in production mode and
    in the demo (production mode refuses fixed test tokens: docs/architecture.md "The node");
    constructing it there raises :class:`ConfigurationError`.
    """

    def __init__(self, token: str, participant: Participant, *, production: bool, demo: bool) -> None:
        if production or demo:
            raise ConfigurationError(
                "the fixed-token test mode is refused in production mode and in the demo",
                rule='production mode refuses fixed test tokens (docs/architecture.md "The node")',
            )
        if len(token) < 16:
            raise ConfigurationError("the test token must have at least 16 characters", rule="test mode")
        self._token = token
        self._participant = participant

    async def verify(self, authorization: str | None) -> Participant:
        presented = (authorization or "").removeprefix("Bearer ").strip()
        if not presented or not secrets.compare_digest(presented, self._token):
            raise Unauthorized("the Authorization header does not carry the test token", rule="DSP test mode")
        return self._participant
