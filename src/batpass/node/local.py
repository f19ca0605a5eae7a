"""Local node folders: create a node (``batpass init``) and open one (every ``--node NAME`` command).

A node lives in ``$BATPASS_HOME/<name>/``: ``config.json``, ``node.db`` (SQLite, unless a
PostgreSQL URL is configured), ``keys/`` (mode 600 PEM files, never in the database) and ``tls/``
(its certificate from the federation CA, and the CA certificate it trusts).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from batpass.core.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from batpass.core.findings import Finding
from batpass.core.ids import Bpnl, CorporateNumber, Did
from batpass.core.settings import Settings, load_settings
from batpass.ledger import (
    CATALOGUE,
    AuthorisationCheck,
    Catalogue,
    FootprintSource,
    LedgerService,
    OutflowPolicy,
    ReconciliationSettings,
    SignerKeyResolver,
    load_extension,
    parse_policy,
    parse_reconciliation,
)
from batpass.node._composition import migration_dirs
from batpass.node._config import NodeConfig, NodePaths, validate_name, validate_profiles
from batpass.ouranos import BridgeLink, OuranosHub
from batpass.participants import Participant, ParticipantService
from batpass.sites import SiteService
from batpass.store import make_engine, upgrade
from batpass.trust import (
    NodeIdentity,
    SecretBox,
    TrustService,
    init_ca,
    issue_node_certificate,
    load_or_create_identity,
)

__all__ = ["LocalNode", "ca_folder", "free_port", "init_node", "open_node", "port_in_use"]


def ca_folder(settings: Settings) -> Path:
    return settings.home / "_ca"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class LocalNode:
    """A node opened from its folder: configuration, migrated engine and identity."""

    config: NodeConfig
    paths: NodePaths
    settings: Settings

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def home(self) -> Path:
        return self.paths.home

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def resolver_base(self) -> str:
        return self.config.resolver_base

    @property
    def did(self) -> str:
        return self.config.did

    @property
    def db_url(self) -> str:
        return self.settings.db_url or self.config.db_url or f"sqlite:///{self.paths.database}"

    @property
    def db_schema(self) -> str | None:
        return self.settings.db_schema or self.config.db_schema

    @cached_property
    def engine(self) -> Engine:
        if self.db_url == f"sqlite:///{self.paths.database}" and not self.paths.database.exists():
            # the node's database holds its ledger and passports: readable by its owner only
            os.close(os.open(self.paths.database, os.O_CREAT | os.O_WRONLY, 0o600))
        eng = make_engine(self.db_url, schema=self.db_schema)
        upgrade(eng, migration_dirs())
        return eng

    @cached_property
    def identity(self) -> NodeIdentity:
        return load_or_create_identity(self.paths.keys, self.config.did)

    def ouranos_hub(self) -> OuranosHub | None:
        """The hub service on an ``ouranos`` node (the operators' keys live under ``ouranos/``)."""
        if "ouranos" not in self.config.profiles:
            return None
        link = self.config.extra.get("bridge")  # {"did", "dsp_url"}: the hub's Catena-X connector
        bridge = BridgeLink(str(link["did"]), str(link["dsp_url"])) if isinstance(link, dict) else None
        return OuranosHub(
            self.engine, self.identity, hub_home=self.home / "ouranos", base_url=self.base_url, bridge=bridge
        )

    def ledger_service(
        self,
        *,
        hub: OuranosHub | None = None,
        footprints: FootprintSource | None = None,
        signer_keys: SignerKeyResolver | None = None,
        authorisation_check: AuthorisationCheck | None = None,
    ) -> LedgerService:
        """The ledger as this node runs it: its own partition, and on a hub every hosted
        operator's partition with the keys the hub holds for it; ``signer_keys`` resolves the
        keys of partners pushing their signed summaries (the served node wires trust's resolver);
        ``authorisation_check`` verifies held authorisation credentials again per shipment."""
        hub = hub if hub is not None else self.ouranos_hub()
        prefix = self.did + ":operators:"

        def identities(owner_did: str) -> NodeIdentity | None:
            if hub is None or not owner_did.startswith(prefix):
                return None
            try:
                return hub.operator_identity(owner_did[len(prefix) :])
            except NotFound:
                return None

        return LedgerService(
            self.engine,
            self.identity,
            identities=identities,
            # the register's sites in a region the CAHRA data set in use lists (docs/sites.md)
            high_risk_sites=SiteService(self.engine).site_facts,
            footprints=footprints,
            secrets=SecretBox.load_or_create(self.paths.keys),
            signer_keys=signer_keys,
            outflow_policy=self.outflow_policy,
            catalogue=self.catalogue,
            authorisation_check=authorisation_check,
        )

    @property
    def catalogue(self) -> Catalogue:
        """The node's material catalogue: the shipped one, extended by the file config
        ``materials`` names (relative to the node's home; docs/ledger-events.md "Materials")."""
        ext = self.config.extra.get("materials")
        if ext is None:
            return CATALOGUE
        try:
            return load_extension(self.home / str(ext))
        except InvalidInput as exc:
            raise ConfigurationError(f"config.json materials: {exc.message}", rule=exc.rule) from exc

    @property
    def reconciliation_settings(self) -> ReconciliationSettings:
        """The node's reconciliation (config ``reconciliation``: ``window_days``, ``authority``;
        docs/outflows.md "Reconciliation across nodes"); a bad value is a configuration error."""
        return parse_reconciliation(self.config.extra.get("reconciliation"))

    @property
    def outflow_policy(self) -> OutflowPolicy:
        """The node's outflow policy (config ``outflows``: ``mode`` warn or block, and the
        ``controlled_materials`` of its own policy; docs/outflows.md)."""
        try:
            return parse_policy(self.config.extra.get("outflows"))
        except InvalidInput as exc:
            raise ConfigurationError(f"config.json: {exc.message}", rule=exc.rule) from exc

    @property
    def ecosystem(self) -> str:
        """The ecosystem whose trust list this node follows (config ``ecosystem``; by default
        ``ouranos`` for a hub without a connector, else ``catena-x``)."""
        profiles = self.config.profiles
        default = "ouranos" if "ouranos" in profiles and "catena-x" not in profiles else "catena-x"
        return str(self.config.extra.get("ecosystem", default))

    def trust_service(self, **clients: Any) -> TrustService:
        """The trust capability as this node runs it; ``clients`` (``client``, ``sync_client``,
        ``allowed_hosts``) are what it reaches other nodes with (none: offline)."""
        cfg = self.config
        return TrustService(
            self.engine,
            self.identity,
            base_url=self.base_url,
            ecosystem=self.ecosystem,
            operators=cfg.extra.get("trust_operators", {}),
            profiles=cfg.profiles,
            bpn=cfg.bpnl,
            # the other markets' recognition rules, applied when this node judges for them
            market_policies=cfg.extra.get("market_recognition", ()),
            # a hub names its bridge in its DID document (its operators are reached through it)
            bridge=self._bridge_did(),
            **clients,
        )

    def _bridge_did(self) -> str | None:
        link = self.config.extra.get("bridge")  # an Ouranos hub's {"did", "dsp_url"}
        if "ouranos" not in self.config.profiles or not isinstance(link, dict) or not link.get("did"):
            return None
        return str(link["did"])

    def self_audits(self) -> dict[str, Callable[[], list[Finding]]]:
        """The self-audits of this node's store, by area, without serving it (``batpass verify``)."""
        from batpass.compliance import load_ruleset
        from batpass.passport import PassportRules, PassportService

        audits: dict[str, Callable[[], list[Finding]]] = {
            "ledger": self.ledger_service().self_audit,
            "trust": self.trust_service().self_audit,
        }
        backup_url = str(self.config.extra.get("passport_backup_url", self.base_url))
        if backup_url.startswith("https://"):  # a plain-HTTP development node keeps no passports
            passports = PassportService(
                self.engine,
                self.identity,
                rules=PassportRules.from_ruleset(load_ruleset()),
                resolver_base=self.resolver_base,
                backup_url=backup_url,
            )
            audits["passport"] = passports.self_audit
        return audits

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def open_node(name: str, *, settings: Settings | None = None) -> LocalNode:
    settings = settings or load_settings()
    validate_name(name)
    paths = NodePaths(settings.home / name)
    config = NodeConfig.load(paths.config)
    return LocalNode(config, paths, settings)


def init_node(
    name: str,
    *,
    profiles: list[str] | tuple[str, ...],
    settings: Settings | None = None,
    port: int | None = None,
    host: str = "localhost",
    legal_name: str | None = None,
    country: str = "DE",
    bpnl: str | None = None,
    corporate_number: str | None = None,
    lei: str | None = None,
    resolver_base: str | None = None,
    insecure_http: bool = False,
    db_url: str | None = None,
    db_schema: str | None = None,
    schema_template: Path | None = None,
) -> tuple[LocalNode, str]:
    """Create a node folder; returns the opened node and its admin key (shown once, stored hashed).

    Everything is validated before anything is written, and a failure half-way removes the
    folder again, so a node is created whole or not at all. ``schema_template``, a SQLite file
    migrated by this code (and nothing else), becomes a SQLite node's database before the usual
    upgrade, which then only checks it (the federation harness migrates once for all its nodes).
    """
    settings = settings or load_settings()
    validate_name(name)
    profs = validate_profiles(profiles)
    if not profs:
        raise InvalidInput(
            "a node needs at least one profile", field="profile", rule="one of catena-x, ouranos, bridge"
        )
    if insecure_http and settings.production:
        raise InvalidInput(
            "plain HTTP is refused in production mode", field="insecure_http", rule="BATPASS_ENV=production forbids it"
        )
    if port is not None:
        if not 1 <= port <= 65535:
            raise InvalidInput(f"port {port} out of range", field="port", rule="1..65535")
        if port_in_use(port):
            raise InvalidInput(f"port {port} is in use", field="port", rule="a node needs a free port")
    else:
        port = free_port()
    did = Did.web(host, port)
    bpnl_v = Bpnl(bpnl) if bpnl else None
    cn_v = CorporateNumber(corporate_number) if corporate_number else None
    participant = Participant(
        legal_name=legal_name or name, country=country, did=did, bpnl=bpnl_v, corporate_number=cn_v, lei=lei
    )
    paths = NodePaths(settings.home / name)
    if paths.home.exists():
        raise Conflict(
            f"a node named '{name}' already exists in {paths.home}", rule="node names are unique per BATPASS_HOME"
        )
    admin_key = secrets.token_urlsafe(32)
    scheme = "http" if insecure_http else "https"
    config = NodeConfig(
        name=name,
        profiles=profs,
        host=host,
        port=port,
        did=str(did),
        resolver_base=(resolver_base or f"{scheme}://{host}:{port}").rstrip("/"),
        admin_key_sha256=hashlib.sha256(admin_key.encode()).hexdigest(),
        legal_name=participant.legal_name,
        country=participant.country,
        bpnl=bpnl_v,
        corporate_number=cn_v,
        lei=participant.lei,
        db_url=db_url,
        db_schema=db_schema,
        insecure_http=insecure_http,
    )
    try:
        paths.home.mkdir(parents=True)
        paths.home.chmod(0o700)
        ca = init_ca(ca_folder(settings))
        issue_node_certificate(ca, paths.tls, hosts=sorted({host, "localhost", "127.0.0.1"}, key=lambda h: h != host))
        shutil.copyfile(ca.cert_path, paths.ca_cert)
        config.save(paths.config)
        node = LocalNode(config, paths, settings)
        if schema_template is not None and node.db_url == f"sqlite:///{paths.database}":
            os.close(os.open(paths.database, os.O_CREAT | os.O_WRONLY, 0o600))
            with closing(sqlite3.connect(schema_template)) as src, closing(sqlite3.connect(paths.database)) as dst:
                src.backup(dst)
        _ = node.identity
        ParticipantService(node.engine).register(participant, is_self=True)
    except BaseException:
        shutil.rmtree(paths.home, ignore_errors=True)
        raise
    return node, admin_key
