"""The composition root: ``create_app(settings)`` builds one node's FastAPI application.

The lifespan opens the node (configuration, migrated engine, keys), builds the outbound HTTPS
clients that trust the federation CA (once, warmed at start), registers each capability's
services for the node's profiles, mounts the routers under the URL layout of docs/architecture.md and
starts the background jobs (the outbox dispatcher, resumed PCF answers) on the one worker that
leads (docs/workers.md). Errors are translated at this edge: RFC 9457 problem details on
``/v1`` and elsewhere, and each standard API's own shape on its prefix (``ERROR_SHAPES``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import anyio.to_thread
import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from batpass import __version__
from batpass.accounts import AccountService
from batpass.bridge import (
    BridgeAnswers,
    BridgeCourier,
    BridgeRelay,
    BridgeTrades,
    CrosswalkService,
    EntryKind,
    HubFederation,
    HubLink,
    HubSites,
    TrustedAsserters,
    dqr_mapping_from_config,
    hub_relay,
    hub_relay_many,
)
from batpass.bridge import routes as bridge_routes
from batpass.compliance import RemotePassports, load_ruleset
from batpass.compliance import routes as compliance_routes
from batpass.core.errors import InvalidInput
from batpass.core.findings import Finding
from batpass.core.settings import Settings
from batpass.dataspace import (
    ConsumerChannels,
    DataspaceSettings,
    DiscoveryService,
    DspConsumer,
    DspProvider,
    EdcManagement,
    InProcessNotifier,
    PgNotifier,
    ProcessNotifier,
    TwinRegistry,
    discovery_routes,
    management_routes,
    prepare_message_checks,
)
from batpass.dataspace import routes as dataspace_routes
from batpass.exchange import (
    PCF_ASSET,
    BatteryPassSource,
    BomReleases,
    ConnectorClient,
    CreditAccounts,
    CreditClaims,
    IndustryCore,
    PartnerBpnls,
    PassportFetcher,
    PcfExchange,
    ReconciliationCourier,
    ReconciliationInbox,
    RegistryProxy,
    SiteRegisterSource,
    dsp_endpoints_of,
    install_credit_offer,
    install_industry_core_offers,
    install_passport_offer,
    install_pcf_offer,
    install_reconciliation_offer,
    install_sites_offer,
)
from batpass.exchange import routes as exchange_routes
from batpass.federation import (
    ChannelKeeper,
    DigitalLinkResolver,
    DspPartners,
    FederatedTrace,
    ResolverRoutes,
    install_upstream_offer,
)
from batpass.federation import routes as federation_routes
from batpass.footprint import PactService
from batpass.footprint import routes as footprint_routes
from batpass.http import (
    ADMIN_KEY_CHECKS,
    AccessLogMiddleware,
    AdminKey,
    BodyLimit,
    Ctx,
    ErrorDoc,
    ErrorShape,
    MetricsMiddleware,
    NodeContext,
    PayloadLog,
    PayloadLogMiddleware,
    RequestIdMiddleware,
    forward_request_id,
    install_error_handlers,
    install_openapi,
    require_json,
    require_storable_params,
    warm_routes,
)
from batpass.ledger import (
    RECONCILIATION_OUTBOX_KIND,
    LedgerService,
    Reconciliation,
    SummaryPushers,
    recheck_with,
)
from batpass.ledger import routes as ledger_routes
from batpass.node._adapters import (
    DcpParticipantAdapter,
    DidKeyResolver,
    DidSignerKeys,
    LedgerSummarySource,
    MemberPushers,
    PactFootprintSource,
    SelfIssuedCaller,
    SelfIssuedTokenIssuer,
    federation_fetches,
    resolves,
)
from batpass.node._composition import migration_dirs
from batpass.node._config import NodeConfig, NodePaths
from batpass.node._integrity import Integrity, IntegrityGate
from batpass.node._metrics import CONTENT_TYPE_LATEST, NodeMetrics
from batpass.node.local import LocalNode, open_node
from batpass.ouranos import OuranosHub
from batpass.ouranos import routes as ouranos_routes
from batpass.participants import ParticipantService
from batpass.participants import routes as participants_routes
from batpass.passport import (
    BatteryResolver,
    CallerVerifier,
    PageRenderer,
    PassportRules,
    PassportService,
    RoleVerifier,
)
from batpass.passport import routes as passport_routes
from batpass.sites import SiteService
from batpass.sites import routes as sites_routes
from batpass.store import (
    OUTBOX_CHANNEL,
    Leadership,
    Listener,
    OutboxDispatcher,
    exclusive,
    node_schema,
    pending_heads,
)
from batpass.trust import SecretBox, TrustService, UsedTokens, client_ssl_context, verify_self_issued_token
from batpass.trust import routes as trust_routes
from batpass.web import PassportPages, legal_names, mount_api_docs, mount_public_pages
from batpass.web.console import mount_console

__all__ = ["BODY_LIMITS", "ERROR_DOCS", "create_app"]

#: routes that take more than the node's default body limit (``BATPASS_MAX_BODY_BYTES``)
BODY_LIMITS: dict[str, int] = {
    "/v1/ledger/events": 64 * 1024 * 1024,  # bulk ingest of event batches
}

#: how the OpenAPI document names each API's error shape, by path prefix (the longest wins; the
#: rest, batpass's own API, is RFC 9457): the ``ERROR_SHAPES`` of the routes modules, documented
_DSP_ERROR, _OAUTH_ERROR, _OURANOS_ERROR = ErrorDoc("DspError"), ErrorDoc("OAuthError"), ErrorDoc("OuranosError")
ERROR_DOCS: dict[str, ErrorDoc] = {
    "/management/": ErrorDoc("EdcError", own=True, never=["422"]),  # EDC's shape: 422 is 400
    "/pact/": ErrorDoc("PactError", own=True),
    "/pact/auth/": _OAUTH_ERROR,
    "/api/dsp/": _DSP_ERROR,
    "/.well-known/dspace-version": _DSP_ERROR,
    "/api/public": _OAUTH_ERROR,
    "/api/v3/": ErrorDoc("AasError"),
    "/dcp/": _OAUTH_ERROR,
    "/auth/": _OURANOS_ERROR,
    "/api/v1/authInfo": _OURANOS_ERROR,
    "/api/v1/datatransport": _OURANOS_ERROR,
    "/api/v1.0/administration/": ErrorDoc("DiscoveryError"),  # Tractus-X discovery services
    "/api/administration/connectors/discovery": ErrorDoc("DiscoveryError"),
}

log = logging.getLogger("batpass.node")


class Readiness(BaseModel):
    """``/ready``'s answer (200 ready, 503 not ready)."""

    status: Literal["ready", "not ready"]
    reasons: list[str]


def _routers(profiles: tuple[str, ...]) -> list[tuple[Any, dict[str, ErrorShape]]]:
    """The capability routers a node with these profiles serves, with the error shapes of the
    standard API each one speaks."""
    mods: list[Any] = [participants_routes, trust_routes, ledger_routes, passport_routes, compliance_routes]
    mods.append(sites_routes)  # the site register, on every node
    if "ouranos" in profiles:
        mods.append(ouranos_routes)
    if "bridge" in profiles:
        mods.append(bridge_routes)
    if "catena-x" in profiles:
        mods.extend([dataspace_routes, management_routes, footprint_routes, federation_routes, exchange_routes])
    if "discovery" in profiles:
        mods.append(discovery_routes)
    out: list[tuple[Any, dict[str, ErrorShape]]] = [(m.router, dict(getattr(m, "ERROR_SHAPES", {}))) for m in mods]
    if "ouranos" in profiles:
        out.append((bridge_routes.hub_router, {}))
    return out


def _notifier(engine: Engine) -> ProcessNotifier:
    """How the connector's consumer hears its callbacks: PostgreSQL ``LISTEN``/``NOTIFY`` when
    the node's database is PostgreSQL (several workers may share it), in-process on SQLite."""
    return PgNotifier(engine) if engine.dialect.name == "postgresql" else InProcessNotifier()


def _register_services(ctx: NodeContext, node: LocalNode, notifier: ProcessNotifier) -> None:
    cfg = node.config
    ctx.services[ParticipantService] = ParticipantService(ctx.engine)
    ctx.services[SiteService] = SiteService(ctx.engine)
    ctx.services[AccountService] = AccountService(ctx.engine)  # the console's people (docs/console.md)
    trust = node.trust_service(client=ctx.client, sync_client=ctx.sync_client)
    # partners are found by their DIDs under the federation's TLS trust; config extra
    # "federation_hosts" only narrows the hosts (docs/decisions/2026-12-06-partners-by-identity.md)
    federation_fetches(trust, cfg.extra.get("federation_hosts"), own=f"{cfg.host}:{cfg.port}")
    ctx.services[TrustService] = trust
    # passports on other nodes, read with this node's access-role credentials (console, compliance)
    ctx.services[RemotePassports] = PassportFetcher(trust)
    if "catena-x" in cfg.profiles:
        ctx.services[PactService] = PactService(ctx.engine, base_url=node.base_url, client=ctx.sync_client)
        ds = DataspaceSettings(did=node.did, base_url=node.base_url, bpnl=cfg.bpnl)
        verifier = DcpParticipantAdapter(trust)
        issuer = SelfIssuedTokenIssuer(node.identity, bpn=cfg.bpnl)
        ctx.services[DspProvider] = DspProvider(ctx.engine, settings=ds, verifier=verifier, token_issuer=issuer)
        ctx.services[DspConsumer] = consumer = DspConsumer(
            ctx.engine, settings=ds, verifier=verifier, token_issuer=issuer, client=ctx.client, notifier=notifier
        )
        # one agreement and one started transfer per partner and asset, shared by every workflow
        ctx.services[ConsumerChannels] = ConsumerChannels(consumer)
        ctx.services[TwinRegistry] = TwinRegistry(ctx.engine, verifier=verifier)
        ctx.services[EdcManagement] = EdcManagement(ctx.services[DspProvider], ctx.services[DspConsumer])
        if "discovery" in cfg.profiles:  # the federation operator's directory and discovery services
            ctx.services[DiscoveryService] = DiscoveryService(
                ctx.engine,
                base_url=node.base_url,
                verifier=verifier,
                dsp_endpoints=dsp_endpoints_of(
                    trust.resolver.resolve, ctx.services[ConsumerChannels].discovery.dsp_base
                ),
            )
    hub = node.ouranos_hub()
    if hub is not None:
        ctx.services[OuranosHub] = hub
    pact = ctx.services.get(PactService)
    ledger = node.ledger_service(
        hub=hub,
        footprints=PactFootprintSource(pact) if pact is not None else None,
        # a pushed summary's signer key, through its DID document
        signer_keys=DidSignerKeys(trust),
        # a held authorisation credential is verified again for each shipment (docs/outflows.md)
        authorisation_check=recheck_with(trust.verifier.verify),
    )
    ctx.services[LedgerService] = ledger
    # shipments reconciled with their receivers' nodes (config "reconciliation", docs/outflows.md)
    # their messages travel through the receivers' connectors, or across the hub's bridge
    hub_link, bridge_link = cfg.extra.get("bridge"), cfg.extra.get("hub")
    courier: ReconciliationCourier | BridgeCourier | None = None
    if "catena-x" in cfg.profiles:
        courier = ReconciliationCourier(ctx.services[ConsumerChannels], trust.resolver.resolve)
    elif hub is not None and isinstance(hub_link, dict) and hub_link.get("url"):
        courier = BridgeCourier(
            identity=node.identity, client=ctx.client, bridge_url=str(hub_link["url"]), bridge_did=str(hub_link["did"])
        )
    ctx.services[Reconciliation] = reconciliation = Reconciliation(
        ledger,
        settings=node.reconciliation_settings,
        signer_keys=DidSignerKeys(trust),
        prefetch=trust.resolver.resolve,
        reachable=lambda did: courier is not None and resolves(trust, did),
    )
    ctx.services[ReconciliationInbox] = ReconciliationInbox(reconciliation)
    if courier is not None:
        ctx.services[type(courier)] = courier
    if hub is not None and isinstance(hub_link, dict) and hub_link.get("url"):
        # the hub's operators trace through the bridge (Europe → Japan) and answer it (Japan → Europe)
        ctx.services[HubFederation] = HubFederation(
            hub=hub,
            ledger=ledger,
            resolver=trust.resolver,
            client=ctx.client,
            bridge_url=str(hub_link["url"]),
            bridge_did=str(hub_link["did"]),
            wallet=trust,
        )
    if "catena-x" in cfg.profiles and "bridge" in cfg.profiles and isinstance(bridge_link, dict):
        # a bridge's connector answers for hub operators, from the hub
        link = HubLink(
            identity=node.identity, client=ctx.client, hub_url=str(bridge_link["url"]), hub_did=str(bridge_link["did"])
        )
        ctx.services[HubLink] = link
        install_upstream_offer(ctx.services[DspProvider], BridgeAnswers(link))
        ctx.services[ReconciliationInbox].relay = hub_relay(link)  # messages for hub operators
        ctx.services[ReconciliationInbox].relay_many = hub_relay_many(link)  # a batch's, together
    elif "catena-x" in cfg.profiles:
        # the recursive trace: answers customers for lots shipped to them, asking direct suppliers
        federated = FederatedTrace(
            ledger=ledger,
            identity=node.identity,
            channels=ctx.services[ConsumerChannels],
            resolve_did=trust.resolver.resolve,
            cached_did=trust.resolver.cached,
            verify_delegation=lambda token, aud: verify_self_issued_token(token, audience=aud, resolver=trust.resolver),
            metrics=ctx.services.get(NodeMetrics),
        )
        ctx.services[FederatedTrace] = federated
        install_upstream_offer(ctx.services[DspProvider], federated)
        ahead, on_contact = (
            cfg.extra.get("federation_prenegotiate", True),
            cfg.extra.get("federation_open_on_contact", True),
        )
        if isinstance(federated.partners, DspPartners) and (ahead or on_contact):
            # channels negotiated before the first question needs them: a background job (unless
            # "federation_prenegotiate" is false), and a tier's own when a partner contacts it
            keeper = ChannelKeeper(ledger=ledger, owner=node.did, partners=federated.partners, ahead=bool(ahead))
            ctx.services[ChannelKeeper] = keeper
            if on_contact:
                ctx.services[DspProvider].contacts.add(keeper.contacted)
    # the node that keeps a signed copy of every version (config extra "passport_backup_url");
    # until a partner is named, the node keeps its own copies
    backup_url = cfg.extra.get("passport_backup_url", node.base_url)
    if backup_url.startswith("https://"):
        ctx.services[PassportService] = PassportService(
            ctx.engine,
            node.identity,
            rules=PassportRules.from_ruleset(load_ruleset()),
            resolver_base=node.resolver_base,
            backup_url=backup_url,
            key_resolver=DidKeyResolver(trust),
            summaries=(ledger_source := LedgerSummarySource(ledger, node.did, node.resolver_base)),
            recycled=ledger_source,  # the Art. 8 figure: the one the API and the compliance report show
            # one size limit for operator and backup node: nothing is signed that cannot be copied
            max_copy_bytes=ctx.settings.max_body_bytes,
        )
    else:
        log.warning("passports are off on this plain-HTTP development node: backup copies travel only over HTTPS")
    if "catena-x" in cfg.profiles:
        # the Catena-X battery pass (cx.circular.dpp:1) and PCF exchange over the connector
        provider, registry = ctx.services[DspProvider], ctx.services[TwinRegistry]
        channels = ctx.services[ConsumerChannels]
        # partners by BPNL: the participant register, then the operator's BPN-DID directory (config extra "bdrs")
        bpnls = ctx.services[PartnerBpnls] = PartnerBpnls(
            ctx.services[ParticipantService],
            node.identity,
            own_bpnl=cfg.bpnl,
            client=ctx.client,
            bdrs=cfg.extra.get("bdrs"),
        )
        connector = ctx.services[ConnectorClient] = ConnectorClient(
            channels, trust.resolver.resolve, did_of_bpnl=bpnls.did_of
        )
        # the PCF exchange asset: the synchronous pull and the CX-0136 asynchronous request/response
        pcf = PcfExchange(ctx.services[PactService], registry, engine=ctx.engine, connector=connector)
        ctx.services[PcfExchange] = pcf
        install_pcf_offer(provider, pcf)  # its interrupted answers resume on the leading worker
        # recycled-content claims: this node's credit accounts, and its claims at recyclers
        install_credit_offer(provider, CreditAccounts(ledger))
        ctx.services[CreditClaims] = CreditClaims(connector)
        if PassportService in ctx.services:
            install_passport_offer(provider, BatteryPassSource(ctx.services[PassportService], registry))
            # Industry Core (SerialPart, usage and bill of material) and the registry as assets
            releases = ctx.services[BomReleases] = BomReleases(ctx.engine)
            core = IndustryCore(
                ctx.services[PassportService], ledger, registry, releases, owner=node.did, bpnl_of=bpnls.bpnl_of
            )
            install_industry_core_offers(provider, core, RegistryProxy(registry))
        # the site register under a usage policy: full records to the partners a site names
        # on a bridge, also the hub operators' registers, under each operator's release (docs/bridge.md)
        hub_sites = HubSites(ctx.services[HubLink]) if HubLink in ctx.services else None
        install_sites_offer(provider, SiteRegisterSource(ctx.services[SiteService], operators=hub_sites))
        # reconciliation messages from the partners config "reconciliation.partners" names
        install_reconciliation_offer(provider, ctx.services[ReconciliationInbox])
    ctx.services[RoleVerifier] = trust
    ctx.services[PageRenderer] = pages = PassportPages(names=legal_names(ctx.services[ParticipantService]))
    if "resolver" in cfg.profiles:
        # GS1 Digital Links of batteries operated elsewhere: the operator's node, else the
        # backup node's signed copy (config extra "resolver", docs/resolver.md)
        routes = ResolverRoutes.from_config(cfg.extra)
        ctx.services[BatteryResolver] = DigitalLinkResolver(routes, ctx.client, pages)
    # writers on other nodes: the verified DID of their DCP self-issued token is the actor
    caller = SelfIssuedCaller(trust.resolver, audience=node.did, used=UsedTokens(ctx.engine))
    ctx.services[CallerVerifier] = caller
    # suppliers pushing their signed summaries: the same token check, and their membership
    ctx.services[SummaryPushers] = MemberPushers(caller, trust)
    if "bridge" in cfg.profiles:
        ctx.services[CrosswalkService] = CrosswalkService(
            ctx.engine,
            public_jwk_resolver=DidKeyResolver(trust).jwk_or_none,
            policy=_crosswalk_policy(cfg.extra),
            identity=node.identity,
        )
        if ConsumerChannels in ctx.services:
            ctx.services[BridgeRelay] = BridgeRelay(
                did=node.did,
                partners=DspPartners(ctx.services[ConsumerChannels], trust.resolver.resolve),
                resolver=trust.resolver,
                crosswalk=ctx.services[CrosswalkService],
            )
        if ConnectorClient in ctx.services and isinstance(bridge_link, dict) and bridge_link.get("url"):
            # Europe → Japan: hub trades addressed to the Catena-X suppliers this bridge represents
            ctx.services[BridgeTrades] = _bridge_trades(node, ctx.services[ConnectorClient])


def _bridge_trades(node: LocalNode, connector: ConnectorClient) -> BridgeTrades:
    """The represented suppliers' trades of a bridge node: its hub (config ``hub.url``), its
    connector, the federation's TLS trust and the configured ``ouranos_dqr_mapping``."""
    hub = node.config.extra["hub"]
    url, verify = str(hub["url"]).rstrip("/"), client_ssl_context(node.paths.ca_cert)

    def hub_http() -> httpx.Client:
        return httpx.Client(base_url=url, verify=verify, timeout=httpx.Timeout(30.0))

    async def pull(did: str, product_id: str, request_id: str) -> Any:
        return await connector.fetch(did, PCF_ASSET, {"productId": product_id, "requestId": request_id})

    svc = BridgeTrades(
        node.engine,
        hub_http=hub_http,
        pull_pcf=pull,
        secrets=SecretBox.load_or_create(node.paths.keys),
        dqr_mapping=dqr_mapping_from_config(node.config.extra),
    )
    svc.seal_stored()
    return svc


def _integrity(ctx: NodeContext) -> Integrity:
    """The node's self-audits, by area (what each covers: ``node/_integrity.py``)."""
    audits: dict[str, Callable[[], list[Finding]]] = {
        "ledger": ctx.service(LedgerService).self_audit,
        "trust": ctx.service(TrustService).self_audit,
    }
    passports = ctx.services.get(PassportService)
    if passports is not None:
        audits["passport"] = passports.self_audit
    # origin profiles stored before upstream summary 2.0 are recomputed before the first audit
    return Integrity(audits, upgrades={"ledger": ctx.service(LedgerService).upgrade_profiles})


def _background_jobs(ctx: NodeContext, dispatcher: OutboxDispatcher) -> tuple[Leadership, Listener | None]:
    """The jobs one worker runs for the node (the outbox dispatcher, interrupted PCF answers, the
    federation's channels kept ready), elected by an advisory lock on PostgreSQL, and the
    listener through which every worker's committed messages wake that dispatcher at once
    (docs/workers.md)."""
    pcf = ctx.services.get(PcfExchange)
    keeper = ctx.services.get(ChannelKeeper)

    async def lead() -> None:
        await dispatcher.start()
        if pcf is not None:
            pcf.resume()
        if keeper is not None:
            await keeper.start()

    async def step_down() -> None:
        if keeper is not None:
            await keeper.stop()
        await dispatcher.stop()

    leader = Leadership(ctx.engine, "background-jobs", lead=lead, step_down=step_down)
    if ctx.engine.dialect.name != "postgresql":
        return leader, None
    schema = node_schema(ctx.engine)
    return leader, Listener(ctx.engine, OUTBOX_CHANNEL, lambda note: dispatcher.wake() if note == schema else None)


def _crosswalk_policy(extra: dict[str, Any]) -> TrustedAsserters:
    """Who may assert crosswalk entries: the Ouranos operator for every kind, the Catena-X
    operator for operators (BPNLs), plus any grants in config ``crosswalk_asserters``
    (DID -> list of kinds)."""
    grants: dict[str, frozenset[EntryKind]] = {}
    ops = extra.get("trust_operators", {})
    if "ouranos" in ops:
        grants[ops["ouranos"]] = frozenset(EntryKind)
    if "catena-x" in ops:
        grants[ops["catena-x"]] = grants.get(ops["catena-x"], frozenset()) | {EntryKind.OPERATOR}
    for did, kinds in extra.get("crosswalk_asserters", {}).items():
        grants[did] = grants.get(did, frozenset()) | frozenset(EntryKind(k) for k in kinds)
    return TrustedAsserters(grants)


def create_app(settings: Settings, *, node_name: str | None = None) -> FastAPI:
    name = node_name or settings.node
    if not name:
        raise InvalidInput("no node selected", field="node", rule="pass --node NAME or set BATPASS_NODE")
    config = NodeConfig.load(NodePaths(settings.home / name).config)
    profiles = config.profiles
    # every payload this node receives, for the leak scan (config extra "payload_log"; off by default)
    payload_log = PayloadLog.from_config(config.extra)
    routers = _routers(profiles)
    shapes: dict[str, ErrorShape] = {prefix: fn for _, s in routers for prefix, fn in s.items()}
    metrics = NodeMetrics()  # this app's own registry

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        node = open_node(name, settings=settings)
        engine = node.engine
        identity = node.identity
        verify: Any = client_ssl_context(node.paths.ca_cert)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        client = httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(10.0), limits=limits, http2=False)
        sync_client = httpx.Client(verify=verify, timeout=httpx.Timeout(10.0))
        if payload_log is not None:
            payload_log.attach(client, sync_client)
        forward_request_id(client, sync_client)  # X-Request-Id of the request being handled
        ctx = NodeContext(
            name=node.name,
            did=node.did,
            base_url=node.base_url,
            resolver_base=node.resolver_base,
            profiles=node.config.profiles,
            engine=engine,
            admin_key_sha256=node.config.admin_key_sha256,
            production=settings.production,
            client=client,
            sync_client=sync_client,
            identity=identity,
            settings=settings,
        )
        ctx.services[LocalNode] = node
        ctx.services[NodeMetrics] = metrics
        notifier = _notifier(engine)
        with exclusive(engine, "start-up"):  # the services' start-up writes, one worker at a time
            _register_services(ctx, node, notifier)
        ledger = ctx.service(LedgerService)
        metrics.open(engine, lambda: ledger.change_mark(node.did), settings.metrics_port)
        integrity = ctx.services[Integrity] = _integrity(ctx)
        app.state.ctx = ctx
        app.state.integrity = integrity
        # the routers' state FastAPI builds on first use, built now rather than on a partner's first request
        threading.Thread(target=warm_routes, args=(app.router.routes,), name="route-warm-up", daemon=True).start()
        if DspProvider in ctx.services:  # and the DSP message checks, not on a partner's first message
            threading.Thread(target=prepare_message_checks, name="dsp-checks-warm-up", daemon=True).start()
        audit = integrity.start() if settings.startup_audit else None
        pact = ctx.services.get(PactService)
        # PACT events carry a bearer token of the partner, fetched at send time (never stored)
        courier = ctx.services.get(ReconciliationCourier) or ctx.services.get(BridgeCourier)
        dispatcher = OutboxDispatcher(
            engine,
            client,
            sign_headers=pact.outbox_headers if pact else None,
            senders={RECONCILIATION_OUTBOX_KIND: courier.send} if courier is not None else None,
            # the messages due together go out together, one request per partner (a batch)
            batch_senders={RECONCILIATION_OUTBOX_KIND: courier.send_many} if courier is not None else None,
        )
        ctx.services[OutboxDispatcher] = dispatcher
        leader, listener = _background_jobs(ctx, dispatcher)
        await notifier.start()
        if listener is not None:
            await listener.start()
        await leader.start()
        try:
            yield
        finally:
            await leader.stop()
            if listener is not None:
                await listener.stop()
            await notifier.stop()
            metrics.close()
            if audit is not None:  # the start-up audit holds a connection until it is done
                await anyio.to_thread.run_sync(audit.join, 30.0)
            await client.aclose()
            sync_client.close()
            node.close()
            if payload_log is not None:
                payload_log.close()

    docs = settings.api_docs if settings.api_docs is not None else not settings.production
    app = FastAPI(
        title="batpass node",
        version=__version__,
        description="EU battery passports and critical-material traceability (Catena-X and Ouranos).",
        lifespan=lifespan,
        # a JSON route's body in another media type (415) or nested too deep (400) is refused
        # before the route sees it (bodies over their limit: BodyLimit below)
        dependencies=[Depends(require_storable_params), Depends(require_json)],
        docs_url=None,  # served from vendored assets below (offline, no CDN)
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    if docs:
        mount_api_docs(app, openapi_url="/openapi.json")

    shape = install_error_handlers(app, shapes)
    app.add_middleware(IntegrityGate, integrity=lambda: getattr(app.state, "integrity", None))
    if payload_log is not None:
        app.add_middleware(PayloadLogMiddleware, log=payload_log)
    # a body over its limit is refused before anything reads it (the payload log included)
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, limits=BODY_LIMITS, shape=shape)
    app.add_middleware(AccessLogMiddleware)  # its duration covers every layer below
    app.add_middleware(MetricsMiddleware, metrics=metrics.http)
    app.add_middleware(RequestIdMiddleware)  # outermost: every layer and log line sees the id

    @app.get("/health", tags=["node"])
    def health(ctx: Ctx) -> dict[str, Any]:
        return {
            "status": "ok",
            "name": ctx.name,
            "did": ctx.did,
            "profiles": list(ctx.profiles),
            "version": __version__,
        }

    @app.get(
        "/ready",
        tags=["node"],
        responses={200: {"model": Readiness}, 503: {"model": Readiness, "description": "not ready, with the reasons"}},
    )
    def ready(ctx: Ctx) -> JSONResponse:
        """Readiness: the database answers, its schema is at every migration head of this code,
        and the start-up self-audit (ledger, passports, the signed trust store) found nothing
        that puts routes out of service (``/health`` is the liveness probe)."""
        reasons: list[str] = []
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                behind = pending_heads(conn, migration_dirs())
            if behind:
                reasons.append(f"database schema behind this code: migrations {', '.join(sorted(behind))} not applied")
        except SQLAlchemyError as exc:
            reasons.append(f"database unreachable: {type(exc).__name__}")
        reasons += ctx.service(Integrity).readiness()
        body = {"status": "not ready" if reasons else "ready", "reasons": reasons}
        return JSONResponse(body, status_code=503 if reasons else 200)

    @app.get("/v1/admin/verify", tags=["node"])
    async def verify(ctx: Ctx, _: AdminKey) -> dict[str, Any]:
        """The node's self-audit, run now: ledger (hash chain, batch signatures, every derived row
        recomputed from the event log, received summaries), passports (signed chains, served rows,
        backup copies) and trust. Each finding names table, key and rule. Routes of an area with
        findings answer 503 until a later audit finds it repaired."""
        report = await anyio.to_thread.run_sync(ctx.service(Integrity).run)
        return report.to_json()

    @app.get(
        "/metrics",
        tags=["node"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def scrape(_: AdminKey) -> Response:
        """The node's metrics in the Prometheus text format (names and labels: README
        "Operations"). Each worker process answers for itself; the store's figures are the same
        from every worker."""
        return Response(await anyio.to_thread.run_sync(metrics.scrape), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/.well-known/did.json",
        tags=["node"],
        responses={200: {"content": {"application/did+json": {"schema": {"type": "object"}}}}},
    )
    def node_did(ctx: Ctx) -> JSONResponse:
        return JSONResponse(ctx.service(TrustService).did_document(), media_type="application/did+json")

    for router, _ in routers:
        app.include_router(router)
    mount_console(app)  # /console/: people of the node sign in (batpass.web.console)
    mount_public_pages(app)  # "/", search, QR entry; every page's language (batpass.web)
    # every operation documents its API's error shape (RFC 9457 on /v1, EDC, PACT, ...)
    install_openapi(app, ERROR_DOCS, admin=ADMIN_KEY_CHECKS)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (``batpass serve``): the node named by ``BATPASS_NODE``."""
    from batpass.core.settings import load_settings

    return create_app(load_settings())
