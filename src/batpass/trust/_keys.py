"""A holder's signing keys: Ed25519 (default signatures) and P-256 (ES256, for partners that
need it). Keys live in files of mode 600 in the node's folder, never in the database.

Key rotation keeps retired keys as verification methods so old signatures stay verifiable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey, OKPKey

from batpass.core.errors import ConfigurationError

__all__ = ["KeyPair", "NodeIdentity", "generate_keypair", "load_or_create_identity", "write_private_pem"]

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyPair:
    """One signing key with its id (the DID URL fragment) and JOSE algorithm."""

    kid: str  # fragment, e.g. "key-ed25519-1"
    alg: str  # "Ed25519" | "ES256"
    private: PrivateKey
    retired: bool = False

    @property
    def jwk(self) -> OKPKey | ECKey:
        if self.alg == "Ed25519":
            return OKPKey.import_key(self.private)  # type: ignore[arg-type]
        return ECKey.import_key(self.private)  # type: ignore[arg-type]

    def public_jwk(self) -> dict[str, Any]:
        d = dict(self.jwk.as_dict(private=False))
        d.pop("kid", None)
        return d


def generate_keypair(alg: str, kid: str) -> KeyPair:
    if alg == "Ed25519":
        return KeyPair(kid, alg, ed25519.Ed25519PrivateKey.generate())
    if alg == "ES256":
        return KeyPair(kid, alg, ec.generate_private_key(ec.SECP256R1()))
    raise ConfigurationError(f"unknown key algorithm {alg!r}", rule="Ed25519 or ES256")


def write_private_pem(path: Path, key: PrivateKey) -> None:
    """Write a private key readable by its owner only (mode 600), atomically."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)


def _read_private_pem(path: Path) -> PrivateKey:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            f"key file {path} is readable by others (mode {mode:o})", rule="key files are mode 600"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigurationError(f"key file {path} holds an unsupported key type")
    return key


@dataclass
class NodeIdentity:
    """A DID with its keys. The first active Ed25519 key signs by default."""

    did: str
    keys: list[KeyPair] = field(default_factory=list)

    def active(self, alg: str = "Ed25519") -> KeyPair:
        for k in reversed(self.keys):
            if k.alg == alg and not k.retired:
                return k
        raise ConfigurationError(f"{self.did} has no active {alg} key")

    def key_id(self, key: KeyPair) -> str:
        return f"{self.did}#{key.kid}"


def load_or_create_identity(folder: Path, did: str) -> NodeIdentity:
    """Load the keys in ``folder`` (``keys.json`` lists them), creating the first pair if empty."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    index = folder / "keys.json"
    if not index.exists():
        pairs = [generate_keypair("Ed25519", "key-ed25519-1"), generate_keypair("ES256", "key-p256-1")]
        for p in pairs:
            write_private_pem(folder / f"{p.kid}.pem", p.private)
        index.write_text(json.dumps([{"kid": p.kid, "alg": p.alg, "retired": False} for p in pairs], indent=2))
        return NodeIdentity(did, pairs)
    entries = json.loads(index.read_text())
    pairs = [
        KeyPair(e["kid"], e["alg"], _read_private_pem(folder / f"{e['kid']}.pem"), bool(e.get("retired")))
        for e in entries
    ]
    return NodeIdentity(did, pairs)
