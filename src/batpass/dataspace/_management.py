"""The EDC management API v3 facade: Tractus-X EDC's management resources mapped onto this
node's DSP provider and consumer.

Apps written for a Tractus-X EDC (tractusx-sdk, tractusx-testlab, Industry Core Hub, DPP-style
viewers) drive a batpass node through this facade unchanged. Mapping (EDC resource → batpass),
one module per resource:

- **Asset** (``_mgmt_assets``) → :class:`~batpass.dataspace.model.Asset` (``properties`` are the
  public catalog metadata) plus its ``dataAddress`` and ``privateProperties`` (never shown in a
  catalog). A ``dataAddress`` of type ``BatpassSource`` names an :class:`AssetSource` (``source``)
  and its key (``sourceKey``); any other type (e.g. ``HttpData``) names the source after the type,
  whose key is the ``baseUrl``.
- **PolicyDefinition** (``_mgmt_policies``) → a stored ODRL ``Set``; **ContractDefinition**
  (``_mgmt_contracts``: ``accessPolicyId``, ``contractPolicyId``, ``assetsSelector``) → one
  catalog offer per selected asset, written in the same transaction and re-written whenever an
  asset, a policy or the definition changes (so the catalog stays filtered in the database, see
  ``_sql.visible_offers``).
- **Catalog request**, **ContractNegotiation** (``_mgmt_negotiations``), **TransferProcess**
  (``_mgmt_transfers``) → :class:`DspConsumer` against the counter-party
  (``counterPartyAddress`` = its DSP 2025-1 URL, ``counterPartyId`` = its DID); processes of both
  roles are read from the store.
- **EDR** (``_mgmt_transfers``; ``POST /v3/edrs``: negotiate, then pull-transfer) → a negotiation
  remembered in ``dsp_mgmt_edrs``; its transfer is started as soon as the negotiation is
  FINALIZED, checked whenever EDRs are read (restart-safe, no background task). An EDR entry is a
  consumer transfer holding the provider's ``DataAddress``.

JSON-LD as clients send it and the ``QuerySpec`` are ``_mgmt_jsonld``. Sources: Eclipse EDC
management API v3 (``/v3/assets``, ``/v3/policydefinitions``, ``/v3/contractdefinitions``,
``/v3/catalog/request``, ``/v3/contractnegotiations``, ``/v3/transferprocesses``; ``QuerySpec``
with ``filterExpression``; ``IdResponse``), Tractus-X EDC ``/v3/edrs``
(docs/usage/management-api-walkthrough, EDR API). Knows no HTTP framework.
"""

from __future__ import annotations

from batpass.core.clock import Clock
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._mgmt_assets import ManagedAssets
from batpass.dataspace._mgmt_contracts import ContractDefinitions
from batpass.dataspace._mgmt_jsonld import EDC_NAMESPACE, MANAGEMENT_CONTEXT, PROTOCOL
from batpass.dataspace._mgmt_negotiations import Negotiations
from batpass.dataspace._mgmt_policies import PolicyDefinitions
from batpass.dataspace._mgmt_transfers import Edrs, Transfers
from batpass.dataspace._provider import DspProvider

__all__ = ["EDC_NAMESPACE", "MANAGEMENT_CONTEXT", "PROTOCOL", "EdcManagement"]


class EdcManagement:
    """The management API v3 use cases of one node (constructed from its provider and consumer):
    one object per resource, and their use cases under the names the routes call."""

    def __init__(self, provider: DspProvider, consumer: DspConsumer, *, clock: Clock | None = None) -> None:
        self.provider = provider
        self.consumer = consumer
        self.engine = provider.engine
        self.clock: Clock = clock or provider.clock
        self.contract_definitions = ContractDefinitions(provider, clock=self.clock)
        reconcile = self.contract_definitions.reconcile
        self.assets = ManagedAssets(self.engine, clock=self.clock, reconcile=reconcile)
        self.policies = PolicyDefinitions(self.engine, clock=self.clock, reconcile=reconcile)
        self.negotiations = Negotiations(consumer, clock=self.clock)
        self.transfers = Transfers(provider, consumer, clock=self.clock)
        self.edrs = Edrs(self.negotiations, self.transfers, clock=self.clock)
        # assets
        self.create_asset = self.assets.create_asset
        self.update_asset = self.assets.update_asset
        self.get_asset = self.assets.get_asset
        self.query_assets = self.assets.query_assets
        self.delete_asset = self.assets.delete_asset
        # policy definitions
        self.create_policy = self.policies.create_policy
        self.update_policy = self.policies.update_policy
        self.get_policy = self.policies.get_policy
        self.query_policies = self.policies.query_policies
        self.delete_policy = self.policies.delete_policy
        # contract definitions
        self.create_contract_definition = self.contract_definitions.create_contract_definition
        self.update_contract_definition = self.contract_definitions.update_contract_definition
        self.get_contract_definition = self.contract_definitions.get_contract_definition
        self.query_contract_definitions = self.contract_definitions.query_contract_definitions
        self.delete_contract_definition = self.contract_definitions.delete_contract_definition
        # catalog and contract negotiations
        self.catalog = self.negotiations.catalog
        self.start_negotiation = self.negotiations.start_negotiation
        self.get_negotiation = self.negotiations.get_negotiation
        self.negotiation_state = self.negotiations.negotiation_state
        self.query_negotiations = self.negotiations.query_negotiations
        self.negotiation_agreement = self.negotiations.negotiation_agreement
        # transfer processes
        self.start_transfer = self.transfers.start_transfer
        self.get_transfer = self.transfers.get_transfer
        self.transfer_state = self.transfers.transfer_state
        self.query_transfers = self.transfers.query_transfers
        self.transfer_action = self.transfers.transfer_action
        # EDRs (Tractus-X)
        self.start_edr = self.edrs.start_edr
        self.advance_edrs = self.edrs.advance_edrs
        self.query_edrs = self.edrs.query_edrs
        self.edr_data_address = self.edrs.edr_data_address
        self.refresh_edr = self.edrs.refresh_edr
