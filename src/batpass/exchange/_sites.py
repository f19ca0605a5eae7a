"""The site register over the connector (docs/sites.md "Who sees what"): the node's mines and
processing sites offered as a Catena-X asset under a usage policy, like any other data.

- Asset ``batpass-site-register`` (source :class:`SiteRegisterSource`): a data-plane pull without a
  query answers every site, with ``?site=ID`` the one site. Offer ``batpass-site-register:sites``:
  access ``Membership eq active``; usage ``Membership eq active``, ``FrameworkAgreement eq
  DataExchangeGovernance:1.0`` and ``UsagePurpose isAnyOf cx.circular.materialaccounting:1``
  (CX-0152 purposes: site data serves material accounting and traceability).
- Entitlement: the policy lets a member negotiate; what it then reads is the register's own
  sharing policy. A site that names the consumer (the DID its DCP token proved at negotiation,
  or its BPNL) in ``sharedWith`` comes as its full record; every other site as its public
  summary only (no operator, coordinates, certifiers' credentials or evidence).
- Hub operators (a bridge node): with ``?operator=DID`` the pull answers that Ouranos operator's
  register, which the bridge asks the hub for (:class:`OperatorRegisters`); the hub answers only
  under the operator's release of the scope ``sites`` to the consumer's BPNL (the one the
  connector verified), else the pull is refused (403) and no site crosses.
- Consumer side (admin): ``POST /v1/connector/sites/requests`` ``{provider, site?, operator?}``:
  catalog → negotiation under the offer's policy → pull, through :class:`ConnectorClient`.

Composition-level: it joins the site register (content) with the connector (transport).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from batpass.core.errors import InvalidInput, NotFound
from batpass.dataspace import Asset, DspProvider, OfferDefinition
from batpass.sites import Site, SiteService

__all__ = ["SITES_ASSET", "SITES_PURPOSE", "OperatorRegisters", "SiteRegisterSource", "install_sites_offer"]

SITES_ASSET = "batpass-site-register"
#: the CX-0152 usage purpose the offer names (material accounting and traceability)
SITES_PURPOSE = "cx.circular.materialaccounting:1"
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
_FRAMEWORK = {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}


def install_sites_offer(provider: DspProvider, source: SiteRegisterSource) -> None:
    """Register the site register's source, asset and offer (Membership,
    DataExchangeGovernance:1.0, ``cx.circular.materialaccounting:1``); idempotent."""
    provider.register_source(SITES_ASSET, source)
    provider.register_asset(
        Asset(
            id=SITES_ASSET,
            source=SITES_ASSET,
            source_key="sites",
            title="Mining and processing sites",
            properties={
                "dct:type": "https://w3id.org/catenax/taxonomy#Submodel",
                "description": "the node's site register (?site=ID for one): full records for the partners"
                " a site is shared with, the public summary for other members",
            },
        )
    )
    usage = {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": [SITES_PURPOSE]}
    provider.register_offer(
        OfferDefinition(
            id=f"{SITES_ASSET}:sites",
            asset_id=SITES_ASSET,
            access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
            usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP, _FRAMEWORK, usage]}]}]},
        )
    )


class OperatorRegisters(Protocol):
    """Registers this node serves for others under their release (a bridge: the hub operators')."""

    async def sites(
        self, operator_did: str, *, consumer_did: str, consumer_bpnl: str | None, site: str | None
    ) -> Any: ...


class SiteRegisterSource:
    """``QueryAssetSource`` of ``batpass-site-register``: sites as the consumer may see them;
    ``operators`` answers ``?operator=DID`` (none: this node serves no one else's register)."""

    def __init__(self, sites: SiteService, *, operators: OperatorRegisters | None = None) -> None:
        self.sites = sites
        self.operators = operators

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("the site register is read by query", field="site", rule="site register asset query")

    def _view(self, site: Site, consumer_did: str, consumer_bpnl: str | None) -> dict[str, Any]:
        """The register's own policy, the consumer named by its DID or else its BPNL."""
        caller = consumer_did if consumer_did in site.shared_with else consumer_bpnl
        return self.sites.view(site, caller=caller, operator=False)

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        extra = sorted(set(query) - {"site", "operator"})
        if extra:
            raise InvalidInput(
                f"unknown query parameter {extra[0]!r}", field=extra[0], rule="?site=ID, ?operator=DID or nothing"
            )
        site_id = query.get("site")
        operator = query.get("operator")
        if operator is not None:
            if self.operators is None:
                raise NotFound(f"this node serves no register of {operator}", field="operator", rule="site register")
            return await self.operators.sites(
                operator, consumer_did=consumer_did, consumer_bpnl=consumer_bpnl, site=site_id
            )
        if site_id is None:
            return {"sites": [self._view(s, consumer_did, consumer_bpnl) for s in self.sites.list()]}
        try:
            site = self.sites.get(site_id)
        except NotFound:
            raise NotFound(f"no site {site_id} in this register", field="site", rule="site register") from None
        return self._view(site, consumer_did, consumer_bpnl)
