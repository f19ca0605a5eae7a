"""Passport and footprint over the connector: the Catena-X battery pass and the
Catena-X PCF request/response flow, served through this node's Dataspace Protocol provider to
entitled partners.

Composition-level: it joins the passport and footprint packages (content) with the connector and
the digital twin registry (transport, visibility), which must not import each other.

- Asset ``catenax-battery-pass`` (source :class:`BatteryPassSource`): a data-plane pull names a
  battery (``?battery=<digital link or gtin/serial path>``); the answer is the Catena-X
  ``io.catenax.battery.battery_pass:6.1.0`` aspect, the *full view* (the aspect requires the
  restricted-tier sections), validated against the bundled schema. Offer
  ``catenax-battery-pass:dpp``: access ``Membership eq active``; usage ``Membership eq active``,
  ``FrameworkAgreement eq DataExchangeGovernance:1.0`` and ``UsagePurpose isAnyOf
  cx.circular.dpp:1`` (CX-0152; the Saturn profile refuses a usage policy without
  ``FrameworkAgreement`` and ``UsagePurpose``). The framework agreement is evaluated from the
  ``DataExchangeGovernanceCredential`` (``contractVersion`` 1.0) that trust's DCP verifier fetches
  from the consumer's credential service with its membership and verifies against the trust list
  (its issuer must be listed for that type): a member without one sees the offer but its
  negotiation is refused, the reason naming the missing (or expired, or revoked) credential.
- Asset ``catenax-pcf`` (source :class:`PcfSource`): the response side of the Catena-X PCF
  exchange (CX-0136): the consumer asks by product id (``?productId=<id>``, optional
  ``requestId``); the answer is the Catena-X PCF 9.0 (``io.catenax.pcf:9.0.0``) of the newest
  active PACT v3 footprint of that product in the node's PACT store, mapped with
  ``batpass.footprint.write_catenax``. Offer ``catenax-pcf:pcf``: ``Membership``,
  ``FrameworkAgreement eq DataExchangeGovernance:1.0`` and ``UsagePurpose isAnyOf cx.pcf.base:1``.
- Entitlement: both are served only if this node's twin registry holds the battery's (product's)
  twin and one of its non-public specific asset ids names the consumer's BPNL (as verified by DCP
  at negotiation) in its ``externalSubjectId``; otherwise the same 404 as for what does not exist.
  The twin is registered (admin: ``POST /v1/connector/twins/batteries`` /
  ``/v1/connector/twins/products``) with a submodel descriptor pointing at the DSP asset, Catena-X
  style: ``subprotocol: DSP``, ``subprotocolBody: id=<asset id>;dspEndpoint=<DSP URL>``, ``href``
  the data plane with the query.
- Consumer side (admin): ``POST /v1/connector/passports/requests`` ``{provider, battery}`` and
  ``POST /v1/connector/pcf/requests`` ``{provider, productId}``: catalog → negotiation under the
  offer's policy → pull transfer → pull with the query; one agreement and one started transfer per
  provider and asset are reused. A refusal answers 403 (not offered, negotiation refused) or 404
  (nothing this node is entitled to).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from batpass.core.errors import (
    BatpassError,
    Forbidden,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    UpstreamUnavailable,
)
from batpass.core.ids import BatteryId
from batpass.dataspace import (
    OWNER,
    Asset,
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    ConsumerChannels,
    DataAddress,
    DspProvider,
    Endpoint,
    NegotiationRefused,
    NotEntitled,
    NotOffered,
    OfferDefinition,
    PullFailed,
    ServiceEndpoint,
    TransferEnded,
    TransferRefused,
    TwinRegistry,
)
from batpass.footprint import FootprintFilter, PactService, read_pact, write_catenax
from batpass.passport import PassportService, Tier, to_catenax

__all__ = [
    "BATTERY_PASS_ASSET",
    "BATTERY_PASS_SEMANTIC_ID",
    "DPP_PURPOSE",
    "FRAMEWORK_AGREEMENT",
    "PCF_ASSET",
    "PCF_PURPOSE",
    "PCF_SEMANTIC_ID",
    "BatteryPassSource",
    "ConnectorClient",
    "PcfSource",
    "battery_twin",
    "install_passport_offer",
    "install_pcf_offer",
    "product_twin",
    "register_twin",
]

BATTERY_PASS_ASSET = "catenax-battery-pass"
PCF_ASSET = "catenax-pcf"
BATTERY_PASS_SEMANTIC_ID = "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass"
PCF_SEMANTIC_ID = "urn:samm:io.catenax.pcf:9.0.0#Pcf"
DPP_PURPOSE = "cx.circular.dpp:1"
PCF_PURPOSE = "cx.pcf.base:1"
_PUBLIC = "PUBLIC_READABLE"
_NS = uuid.UUID("6c1b5f52-61c4-4f5e-9a54-7d3c3b0f6a11")  # batpass connector twins (uuid5 namespace)
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
#: CX-0152 framework agreement (spelling of ``framework-agreement-constraint-schema.json``)
FRAMEWORK_AGREEMENT = "DataExchangeGovernance:1.0"
_FRAMEWORK = {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": FRAMEWORK_AGREEMENT}
_BPNL = re.compile(r"^BPNL[0-9A-Z]{8}[0-9A-Z]{4}$")
_TAXONOMY = "https://w3id.org/catenax/taxonomy#"


def _offer(asset_id: str, name: str, purpose: str) -> OfferDefinition:
    """Access: members; usage: members who signed the Data Exchange Governance, for ``purpose``."""
    usage = {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": [purpose]}
    return OfferDefinition(
        id=f"{asset_id}:{name}",
        asset_id=asset_id,
        access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
        usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP, _FRAMEWORK, usage]}]}]},
    )


def install_passport_offer(provider: DspProvider, source: BatteryPassSource) -> None:
    """Register the battery-pass source, asset and offer (Membership, DataExchangeGovernance:1.0,
    ``cx.circular.dpp:1``) on this node's provider; idempotent (run at every start)."""
    provider.register_source(BATTERY_PASS_ASSET, source)
    provider.register_asset(
        Asset(
            id=BATTERY_PASS_ASSET,
            source=BATTERY_PASS_ASSET,
            source_key="battery",
            title="Catena-X battery pass",
            properties={
                "dct:type": _TAXONOMY + "Submodel",
                "semanticId": BATTERY_PASS_SEMANTIC_ID,
                "description": "io.catenax.battery.battery_pass:6.1.0 of a battery (?battery=ID), full view",
            },
        )
    )
    provider.register_offer(_offer(BATTERY_PASS_ASSET, "dpp", DPP_PURPOSE))


def install_pcf_offer(provider: DspProvider, source: PcfSource) -> None:
    """Register the PCF source, asset and offer (Membership, DataExchangeGovernance:1.0,
    ``cx.pcf.base:1``); idempotent."""
    provider.register_source(PCF_ASSET, source)
    provider.register_asset(
        Asset(
            id=PCF_ASSET,
            source=PCF_ASSET,
            source_key="productId",
            title="Catena-X product carbon footprint",
            properties={
                "dct:type": _TAXONOMY + "PcfExchange",
                "semanticId": PCF_SEMANTIC_ID,
                "description": "io.catenax.pcf:9.0.0 of a product (?productId=ID)",
            },
        )
    )
    provider.register_offer(_offer(PCF_ASSET, "pcf", PCF_PURPOSE))


# -- twins ------------------------------------------------------------------------------------


def _twin_id(kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, f'{kind}:{key}')}"


def _subject(readers: Sequence[str]) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": r} for r in readers]}


def _check_readers(readers: Iterable[str]) -> list[str]:
    out = sorted(set(readers))
    for r in out:
        if not _BPNL.match(r):
            raise InvalidInput(
                f"readers: '{r}' is not a BPNL", field="readers", rule="Catena-X BPNL (CX-0010)", value=r
            )
    if not out:
        raise InvalidInput(
            "readers: name at least one partner BPNL", field="readers", rule="twins are closed by default"
        )
    return out


def _submodel(kind: str, key: str, semantic_id: str, asset_id: str, dsp_url: str, href: str) -> dict[str, Any]:
    return {
        "id": _twin_id(f"{kind}-submodel", key),
        "idShort": semantic_id.rsplit("#", 1)[-1],
        "semanticId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": semantic_id}]},
        "endpoints": [
            {
                "interface": "SUBMODEL-3.0",
                "protocolInformation": {
                    "href": href,
                    "endpointProtocol": "HTTP",
                    "endpointProtocolVersion": ["1.1"],
                    "subprotocol": "DSP",
                    "subprotocolBody": f"id={asset_id};dspEndpoint={dsp_url}",
                    "subprotocolBodyEncoding": "plain",
                    "securityAttributes": [{"type": "NONE", "key": "NONE", "value": "NONE"}],
                },
            }
        ],
    }


def battery_twin(
    battery: BatteryId, *, model_id: str, base_url: str, dsp_url: str, readers: Sequence[str]
) -> dict[str, Any]:
    """The shell descriptor of a battery (instance) with its battery-pass submodel descriptor;
    ``partInstanceId`` and ``manufacturerPartId`` are visible to ``readers`` only (CX-0002)."""
    who = _subject(_check_readers(readers))
    key = str(battery)
    href = f"{base_url.rstrip('/')}/api/public?battery={quote(key, safe='')}"
    return {
        "id": _twin_id("battery", key),
        "idShort": f"battery_{battery.serial}",
        "globalAssetId": _twin_id("battery-asset", key),
        "assetKind": "Instance",
        "assetType": "Battery",
        "specificAssetIds": [
            {"name": "manufacturerPartId", "value": model_id, "externalSubjectId": who},
            {"name": "partInstanceId", "value": str(battery.serial), "externalSubjectId": who},
            {"name": "digitalTwinType", "value": "PartInstance", "externalSubjectId": who},
        ],
        "submodelDescriptors": [_submodel("battery", key, BATTERY_PASS_SEMANTIC_ID, BATTERY_PASS_ASSET, dsp_url, href)],
    }


def product_twin(product_id: str, *, base_url: str, dsp_url: str, readers: Sequence[str]) -> dict[str, Any]:
    """The shell descriptor of a product (type) with its PCF submodel descriptor; its ids are
    visible to ``readers`` only, who are the partners entitled to its PCF."""
    who = _subject(_check_readers(readers))
    href = f"{base_url.rstrip('/')}/api/public?productId={quote(product_id, safe='')}"
    return {
        "id": _twin_id("product", product_id),
        "idShort": "product",
        "globalAssetId": _twin_id("product-asset", product_id),
        "assetKind": "Type",
        "specificAssetIds": [
            {"name": "manufacturerPartId", "value": product_id, "externalSubjectId": who},
            {"name": "digitalTwinType", "value": "PartType", "externalSubjectId": who},
        ],
        "submodelDescriptors": [_submodel("product", product_id, PCF_SEMANTIC_ID, PCF_ASSET, dsp_url, href)],
    }


def register_twin(registry: TwinRegistry, descriptor: Mapping[str, Any]) -> dict[str, Any]:
    """Create the twin, or replace it when its id is registered already."""
    try:
        registry.get_shell(str(descriptor["id"]), OWNER)
    except NotFound:
        return registry.create_shell(dict(descriptor))
    registry.replace_shell(str(descriptor["id"]), dict(descriptor))
    return dict(descriptor)


def _entitled(registry: TwinRegistry, twin_id: str, bpnl: str | None) -> bool:
    """Whether the twin exists and a non-public id of it names ``bpnl``."""
    if not bpnl:
        return False
    try:
        shell = registry.get_shell(twin_id, OWNER)
    except NotFound:
        return False
    for sai in shell.get("specificAssetIds") or []:
        keys = ((sai.get("externalSubjectId") or {}).get("keys")) or []
        if any(k.get("value") == bpnl for k in keys if isinstance(k, Mapping)):
            return True
    return False


def _one(query: Mapping[str, str], name: str, rule: str) -> str:
    value = query.get(name, "")
    if not value or len(value) > 512:
        raise InvalidInput(f"the pull needs ?{name}=ID", field=name, rule=rule)
    return value


def _battery(raw: str) -> BatteryId:
    try:
        return BatteryId.parse(raw)
    except (InvalidIdentifier, InvalidInput) as exc:
        raise InvalidInput(f"battery: '{raw}' is not a battery id", field="battery", rule="GS1 GTIN + serial") from exc


# -- provider side ----------------------------------------------------------------------------


class BatteryPassSource:
    """``QueryAssetSource`` of ``catenax-battery-pass``: the full Catena-X battery pass of the
    battery named by ``?battery=``, for a consumer its twin names (else a 404)."""

    def __init__(self, passports: PassportService, registry: TwinRegistry) -> None:
        self.passports = passports
        self.registry = registry

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("the battery pass needs ?battery=ID", field="battery", rule="battery-pass asset query")

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        battery = _battery(_one(query, "battery", "battery-pass asset query"))
        hidden = NotFound(
            f"no battery pass of {battery} for you", field="battery", rule="battery pass: twins naming you"
        )
        if not _entitled(self.registry, _twin_id("battery", str(battery)), consumer_bpnl):
            raise hidden
        passport = self.passports.find_by_battery(battery)
        if passport is None:
            raise hidden
        tiers = frozenset(Tier)
        self.passports.audit(passport, roles=(f"dsp:{consumer_bpnl}",), tiers=tiers, channel=f"dsp:{agreement_id}")
        issued = self.passports.versions(passport.passport_id)[0].created_at.date()
        return to_catenax(passport, issued=issued, tiers=tiers)


class PcfSource:
    """``QueryAssetSource`` of ``catenax-pcf``: the Catena-X PCF 9.0 of the product named by
    ``?productId=`` (newest active PACT v3 footprint naming it), for a consumer its twin names."""

    def __init__(self, pact: PactService, registry: TwinRegistry) -> None:
        self.pact = pact
        self.registry = registry

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("the PCF request needs ?productId=ID", field="productId", rule="CX-0136 PCF request")

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        product = _one(query, "productId", "CX-0136 PCF request")
        hidden = NotFound(
            f"no PCF of product {product} for you", field="productId", rule="PCF: product twins naming you"
        )
        if not _entitled(self.registry, _twin_id("product", product), consumer_bpnl):
            raise hidden
        page = self.pact.list_footprints(FootprintFilter(product_ids=(product,), statuses=("Active",)))
        if not page.documents:
            raise hidden
        return write_catenax(read_pact(dict(page.documents[-1]), expect=3))


# -- consumer side ----------------------------------------------------------------------------


class ConnectorClient:
    """Asks a provider's connector for one of these assets (catalog → negotiation → pull
    transfer → pull) through this node's :class:`~batpass.dataspace.ConsumerChannels`, which keep
    one agreement and one started transfer per provider and asset. ``resolve_did`` is trust's
    async DID resolver; the provider's DSP endpoint is discovered from the version metadata its
    DID document's ``DataService`` entry names, unless given.

    The channel's typed errors become this API's: ``Forbidden`` (catalog refused, not offered,
    negotiation or transfer refused), ``NotFound`` (nothing this node is entitled to),
    ``UpstreamUnavailable`` (no answer, no answer in time, a failed data plane), chosen by type
    and fields (:meth:`_mapped`), never by message.
    """

    def __init__(
        self,
        channels: ConsumerChannels,
        resolve_did: Callable[[str], Any],
        *,
        did_of_bpnl: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.channels = channels
        self._resolve_did = resolve_did
        self._did_of_bpnl = did_of_bpnl

    async def provider_did(self, provider: str) -> str:
        """The provider's DID: ``provider`` itself, or the DID the operator's BPN directory
        names for a BPNL (BPN → DID → its DID document's DSP endpoint, as Tractus-X resolves
        a counter-party)."""
        if self._did_of_bpnl is not None and _BPNL.match(provider):
            return await self._did_of_bpnl(provider)
        return provider

    async def _dsp(self, provider: str) -> ServiceEndpoint:
        """The provider's ``DataService`` entry: its version metadata endpoint, where the
        channels discover its DSP base."""
        doc = await self._resolve_did(provider)
        for svc in doc.get("service", []):
            if svc.get("type") == "DataService" and isinstance(svc.get("serviceEndpoint"), str):
                return ServiceEndpoint(str(svc["serviceEndpoint"]))
        raise NotFound(f"provider {provider} publishes no DataService", field="provider", rule="DSP discovery")

    async def _participant(self, provider: str, dsp_url: str | None) -> str:
        """Who operates the provider's connector: the ``participantId`` its ``DataService`` entry
        names when another participant runs it for the DID's subject (a bridge serving a hub
        operator), else the provider itself; the catalog request, negotiation and tokens are
        addressed to it (as :class:`~batpass.federation.DspPartners` does). A DID that does not
        resolve is left to the channel, which reports it as before."""
        if dsp_url:
            return provider
        try:
            doc = await self._resolve_did(provider)
        except BatpassError:
            return provider
        for svc in doc.get("service", []):
            if svc.get("type") == "DataService" and isinstance(svc.get("serviceEndpoint"), str):
                operated_by = svc.get("participantId")
                return operated_by if isinstance(operated_by, str) and operated_by else provider
        return provider

    def _endpoint(self, provider: str, dsp_url: str | None) -> Endpoint:
        if dsp_url is None or dsp_url == "":
            return functools.partial(self._dsp, provider)
        try:  # the outbound client's own parser: what it cannot send to is the caller's mistake, not a 500 or a 502
            url = httpx.URL(dsp_url)
            sendable = url.scheme in ("https", "http") and bool(url.host)
        except httpx.InvalidURL:
            sendable = False
        if not sendable:
            raise InvalidInput(
                f"dspEndpoint {dsp_url[:200]!r} is not an absolute https:// (or http://) URL",
                field="dspEndpoint",
                rule="DSP HTTPS binding: the provider's DSP endpoint URL",
            )
        return dsp_url

    @staticmethod
    def _mapped(exc: ChannelError, provider: str, asset_id: str) -> BatpassError:
        """This API's error for a failed journey with ``provider`` for ``asset_id``."""
        if isinstance(exc, CatalogRefused):
            if exc.partner_status in (401, 403):  # it did not accept this node (no membership)
                return Forbidden(
                    f"{provider} refused this node's catalog request: {exc}", rule="DCP membership (CX-0152)"
                )
            return Forbidden(f"{provider} refused this node's catalog request: {exc}", rule="DSP 2025-1 catalog")
        if isinstance(exc, NotOffered):
            return Forbidden(f"{provider} offers no {asset_id} to this node", rule="DSP catalog (access policy)")
        if isinstance(exc, NegotiationRefused):
            rule = "DSP contract negotiation"
            if exc.partner_status is not None:  # refused outright (e.g. the usage policy): say why
                rule += " (CX-0152 usage policy)"
            return Forbidden(f"{provider} refused the negotiation of {asset_id}: {exc.reason}", rule=rule)
        if isinstance(exc, TransferRefused):
            did = "ended" if exc.partner_status is None else "refused"
            return Forbidden(f"{provider} {did} the transfer of {asset_id}: {exc.reason}", rule="DSP transfer process")
        if isinstance(exc, NotEntitled):
            return NotFound(f"{provider} has no {asset_id} for this node", rule="entitled partners only")
        if isinstance(exc, ChannelTimeout):
            return UpstreamUnavailable("the provider's connector did not answer in time", rule="DSP")
        if isinstance(exc, PullFailed) and not isinstance(exc, TransferEnded) and exc.partner_status == 403:
            # the provider's source refused this consumer (e.g. data its owner did not release to it)
            return Forbidden(f"{provider} refused {asset_id} to this node: {exc.reason}", rule="DSP data plane")
        if isinstance(exc, PullFailed) and not isinstance(exc, TransferEnded) and exc.partner_status == 400:
            return InvalidInput(
                f"{provider} refused the request for {asset_id}: {exc.reason}", field="query", rule="DSP data plane"
            )
        return UpstreamUnavailable(f"{provider}: {exc}", rule=exc.rule or "DSP")

    async def fetch(self, provider: str, asset_id: str, query: Mapping[str, str], *, dsp_url: str | None = None) -> Any:
        """The content of ``asset_id`` at ``provider`` (a DID, or a BPNL the operator's
        directory resolves) for ``query``; a refused pull is a 404."""
        provider = await self.provider_did(provider)
        connector = await self._participant(provider, dsp_url)
        try:
            return await self.channels.pull(connector, asset_id, self._endpoint(provider, dsp_url), query=dict(query))
        except NotEntitled as exc:
            raise NotFound(
                f"{provider} has no {asset_id} for {dict(query)} for this node", rule="entitled partners only"
            ) from exc
        except ChannelError as exc:
            raise self._mapped(exc, provider, asset_id) from exc

    async def address(
        self, provider: str, asset_id: str, *, dsp_url: str | None = None, fresh_for_s: float = 120.0
    ) -> DataAddress:
        """The data address (endpoint, bearer token) of this client's started transfer with
        ``provider`` for ``asset_id``, its token valid for at least ``fresh_for_s`` more seconds
        (refreshed, or the transfer negotiated again if the provider ended it): for a request
        sent later by the outbox rather than at once."""
        provider = await self.provider_did(provider)
        connector = await self._participant(provider, dsp_url)
        try:
            return await self.channels.address(
                connector, asset_id, self._endpoint(provider, dsp_url), fresh_for_s=fresh_for_s
            )
        except ChannelError as exc:
            raise self._mapped(exc, provider, asset_id) from exc

    async def send(
        self,
        provider: str,
        asset_id: str,
        method: str,
        *,
        path: str = "",
        query: Mapping[str, str] | None = None,
        body: Any = None,
        dsp_url: str | None = None,
    ) -> tuple[int, Any]:
        """Send one request (method, sub-path, query, JSON body) through ``provider``'s data
        plane for ``asset_id`` under the agreement and transfer this client keeps (the
        Tractus-X ``HttpData`` proxy pattern); answers the status and the JSON (or text) the
        provider's source gave. A transfer that ended there (401 after a refresh) is negotiated
        once more."""
        provider = await self.provider_did(provider)
        connector = await self._participant(provider, dsp_url)
        try:
            resp = await self.channels.request(
                connector, asset_id, self._endpoint(provider, dsp_url), method, path=path, query=query, body=body
            )
        except ChannelError as exc:
            raise self._mapped(exc, provider, asset_id) from exc
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text[:2000]
