"""The Ouranos hub's use cases: the published data transaction API's operations and the platform
rules behind them, for many operators at once.

Rules enforced by the hub, in the domain (the published OpenAPI of ``ouranos-ecosystem-idi/data-transaction-system``
and the traceability back end its client code shows; docs/rules.md "Ouranos CFP"):

- an operator reads and writes only its own records; ids of others' records answer "not found";
- a trade link exists only once the supplier accepts by linking its own part
  (``PUT tradeResponse``); the buyer cancels, the supplier rejects (with a reply message);
- the supplier never sees the buyer's ``amountRequired`` (``GET tradeResponse`` nulls it);
- a buyer sees one tier up, and only the totals per stage, ratings and certificate files the
  supplier released to that buyer (``cfpAcl`` ``TOTALCFP``/``TOTALDQR``, ``cfpCertificationAcl``);
- parts structures are two levels deep; a part in a structure or a live trade cannot be deleted;
- a CFP write carries all four own/parts values; values keep 5 decimals, rounded up at the 6th
  (:func:`batpass.footprint.ouranos_round`).

Each use case is one unit of work: it commits once or leaves nothing behind. The hub is split by
data target, one component per target or group of targets, each in its private module:

- ``hub.accounts`` (:class:`Accounts`): ``/auth/*``, the hub's tokens, API keys and accounts;
- ``hub.directory`` (:class:`OperatorDirectory`): ``operator``, onboarding, operators' keys and DIDs;
- ``hub.plants`` (:class:`Plants`): ``plant``;
- ``hub.parts`` (:class:`Parts`): ``parts``, ``partsStructure``;
- ``hub.trades`` (:class:`Trades`): ``tradeRequest``, ``tradeResponse``, ``status``, ``replyMessage``;
- ``hub.cfp`` (:class:`Cfps`): ``cfp`` and its PACT v3 export;
- ``hub.certificates`` (:class:`Certificates`): ``cfpCertification``, ``cfpCertificationInfo``,
  ``cfpCertificationFile``;
- ``hub.releases`` (:class:`Releases`): ``cfpAcl``, ``cfpCertificationAcl``, releases to Catena-X
  partners through the bridge, upstream summaries;
- ``hub.notifications`` (:class:`Notifications`): ``notifications``;
- ``hub.sites`` (:class:`OperatorSites`): operators' site registers and their releases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput
from batpass.footprint import OuranosDqrMapping
from batpass.ouranos._accounts import Accounts
from batpass.ouranos._certificates import Certificates
from batpass.ouranos._cfp import Cfps
from batpass.ouranos._context import BridgeLink, HubContext, Principal
from batpass.ouranos._notifications import Notifications
from batpass.ouranos._operators import OperatorDirectory
from batpass.ouranos._parts import Parts
from batpass.ouranos._plants import Plants
from batpass.ouranos._releases import BRIDGE_SCOPES, BridgeRelease, Releases
from batpass.ouranos._sites import OperatorSites
from batpass.ouranos._trades import Trades
from batpass.ouranos.model import Operator, Plant
from batpass.trust import NodeIdentity

__all__ = ["BRIDGE_SCOPES", "BridgeLink", "BridgeRelease", "OuranosHub", "Principal"]


class OuranosHub:
    """The hub service. Construct with the node's engine, the node identity (signs the hub's
    access tokens), the folder holding hosted operators' keys, and the hub's public base URL
    (its host and port make each operator's ``did:web``).

    A thin facade: it builds one :class:`HubContext` and the components that share it. The
    published API's routes reach the component of the data target they serve
    (``hub.trades.put_trade_response(...)``). What other packages, the admin API, the CLI and
    the test harness call stays here — onboarding, operators' identities, the bridge's consent
    check, the PACT export — each an explicit one-line delegation, so mypy sees the types.
    """

    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        hub_home: Path,
        base_url: str,
        clock: Clock = SystemClock(),
        pact_dqr_mapping: OuranosDqrMapping | None = None,
        bridge: BridgeLink | None = None,
    ) -> None:
        split = urlsplit(base_url)
        if not split.hostname:
            raise InvalidInput(f"base_url {base_url!r} has no host", field="base_url", rule="an absolute URL")
        context = HubContext(
            engine=engine,
            identity=identity,
            hub_home=hub_home,
            host=split.hostname,
            port=split.port,
            clock=clock,
            bridge=bridge,
            pact_dqr_mapping=pact_dqr_mapping,
        )
        self.context = context
        self.engine = engine
        self.identity = identity
        self.accounts = Accounts(context)
        self.directory = OperatorDirectory(context)
        self.plants = Plants(context)
        self.parts = Parts(context)
        self.trades = Trades(context)
        self.cfp = Cfps(context)
        self.certificates = Certificates(context)
        self.releases = Releases(context)
        self.notifications = Notifications(context)
        self.sites = OperatorSites(context)

    @property
    def pact_dqr_mapping(self) -> OuranosDqrMapping | None:
        """How raw Ouranos ratings map onto 1–5 in the PACT export (none configured: no ``dqi``)."""
        return self.context.pact_dqr_mapping

    @pact_dqr_mapping.setter
    def pact_dqr_mapping(self, mapping: OuranosDqrMapping | None) -> None:
        self.context.pact_dqr_mapping = mapping

    # ---------------------------------------------------------------- operators (admin, bridge, node)

    def onboard_operator(
        self,
        *,
        open_operator_id: str,
        operator_name: str,
        operator_address: str,
        global_operator_id: str | None = None,
        operator_id: str | None = None,
    ) -> Operator:
        return self.directory.onboard_operator(
            open_operator_id=open_operator_id,
            operator_name=operator_name,
            operator_address=operator_address,
            global_operator_id=global_operator_id,
            operator_id=operator_id,
        )

    def operators(self) -> list[Operator]:
        return self.directory.operators()

    def operator_identity(self, operator_id: str) -> NodeIdentity:
        return self.directory.operator_identity(operator_id)

    def operator_did_document(self, operator_id: str) -> dict[str, Any]:
        return self.directory.operator_did_document(operator_id)

    def operator_id_of(self, did: str) -> str | None:
        return self.directory.operator_id_of(did)

    # ---------------------------------------------------------------- plants, accounts, keys (admin)

    def add_plant(
        self,
        operator_id: str,
        *,
        open_plant_id: str,
        plant_name: str,
        plant_address: str,
        global_plant_id: str | None = None,
        plant_id: str | None = None,
    ) -> Plant:
        return self.plants.add_plant(
            operator_id,
            open_plant_id=open_plant_id,
            plant_name=plant_name,
            plant_address=plant_address,
            global_plant_id=global_plant_id,
            plant_id=plant_id,
        )

    def add_account(self, operator_id: str, account_id: str, password: str) -> None:
        self.accounts.add_account(operator_id, account_id, password)

    def issue_api_key(self, *, operator_id: str | None = None, label: str = "application") -> tuple[str, str]:
        return self.accounts.issue_api_key(operator_id=operator_id, label=label)

    def revoke_api_key(self, key_id: str) -> None:
        self.accounts.revoke_api_key(key_id)

    # ---------------------------------------------------------------- the bridge

    def bridge_released(self, operator_id: str, partner_bpnl: str | None, scope: str) -> bool:
        return self.releases.bridge_released(operator_id, partner_bpnl, scope)

    def export_pact(
        self,
        operator_id: str,
        trace_id: str,
        *,
        caller: Principal | None,
        period_start: dt.datetime | None = None,
        period_end: dt.datetime | None = None,
        primary_data_share: Decimal | None = None,
        bridge_partner: str | None = None,
    ) -> dict[str, Any]:
        return self.cfp.export_pact(
            operator_id,
            trace_id,
            caller=caller,
            period_start=period_start,
            period_end=period_end,
            primary_data_share=primary_data_share,
            bridge_partner=bridge_partner,
        )
