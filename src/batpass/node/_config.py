"""A node's configuration file (``$BATPASS_HOME/<name>/config.json``) and folder layout."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batpass.core.errors import ConfigurationError, InvalidInput

__all__ = ["PROFILES", "NodeConfig", "NodePaths", "validate_name", "validate_profiles"]

#: node profiles (docs/architecture.md "The node"); ``bridge`` implies ``catena-x``; ``resolver``
#: answers the Digital Links of batteries operated elsewhere (docs/resolver.md); ``discovery`` (implies
#: ``catena-x``) serves the federation operator's BPN-DID directory and discovery services (docs/dataspace.md)
PROFILES: tuple[str, ...] = ("catena-x", "ouranos", "bridge", "resolver", "discovery")
CONFIG_VERSION = 1


def validate_name(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        raise InvalidInput(
            f"node name '{name}' is not allowed",
            field="name",
            rule="lower-case letters, digits and '-', starting with a letter or digit, at most 63",
        )
    return name


def validate_profiles(profiles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for p in profiles:
        if p not in PROFILES:
            raise InvalidInput(f"unknown profile '{p}'", field="profile", rule=f"one of {', '.join(PROFILES)}")
        if p not in out:
            out.append(p)
    if ("bridge" in out or "discovery" in out) and "catena-x" not in out:
        out.insert(0, "catena-x")
    return tuple(out)


@dataclass(frozen=True)
class NodePaths:
    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config.json"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def tls(self) -> Path:
        return self.home / "tls"

    @property
    def cert(self) -> Path:
        return self.tls / "cert.pem"

    @property
    def key(self) -> Path:
        return self.tls / "key.pem"

    @property
    def ca_cert(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def database(self) -> Path:
        return self.home / "node.db"


@dataclass
class NodeConfig:
    name: str
    profiles: tuple[str, ...]
    host: str
    port: int
    did: str
    resolver_base: str
    admin_key_sha256: str
    legal_name: str
    country: str
    bpnl: str | None = None
    corporate_number: str | None = None
    lei: str | None = None
    db_url: str | None = None
    db_schema: str | None = None
    insecure_http: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = CONFIG_VERSION

    @property
    def scheme(self) -> str:
        return "http" if self.insecure_http else "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["profiles"] = list(self.profiles)
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"no node configuration at {path}", rule="create the node with 'batpass init'"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read node configuration {path}: {exc}", rule="config.json is JSON"
            ) from exc
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{path} does not hold a JSON object", rule="config.json is a JSON object")
        if raw.get("version", 1) > CONFIG_VERSION:
            raise ConfigurationError(
                f"{path} was written by a newer batpass (config version {raw.get('version')})",
                rule=f"this batpass reads config version {CONFIG_VERSION}",
            )
        try:
            raw["profiles"] = tuple(raw["profiles"])
            return cls(**raw)
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path} is missing or has unknown fields: {exc}", rule="config.json fields"
            ) from exc
