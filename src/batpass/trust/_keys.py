"""A holder's signing keys: Ed25519 (default signatures) and P-256 (ES256, for partners that
need it). Keys live in files of mode 600 in the node's folder, never in the database.

Key rotation keeps retired keys as verification methods so old signatures stay verifiable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey, OKPKey

from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError

__all__ = [
    "KeyPair",
    "NodeIdentity",
    "did_key_from_jwk",
    "generate_keypair",
    "jwk_from_did_key",
    "load_or_create_identity",
    "new_did_key_identity",
    "rotate_key",
    "write_private_pem",
]

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyPair:
    """One signing key with its id (the DID URL fragment) and JOSE algorithm."""

    kid: str  # fragment, e.g. "key-ed25519-1"
    alg: str  # "Ed25519" | "ES256"
    private: PrivateKey
    retired: bool = False
    #: when the key was retired (rotation): signatures made after this instant are refused
    retired_at: dt.datetime | None = None

    @cached_property
    def jwk(self) -> OKPKey | ECKey:
        """The key in joserfc's form, imported once per key pair (signing runs on hot paths:
        the ledger signs a batch root per thousand events)."""
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
    write_private_file(path, pem)


def write_private_file(path: Path, data: bytes) -> None:
    """Write secret bytes readable by their owner only (mode 600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def check_private_file(path: Path) -> None:
    """Refuse a private key file that users other than its owner and group may access. A group
    bit is accepted: a secret mounted by an orchestrator is often readable by the pod's group."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o007:
        raise ConfigurationError(
            f"key file {path} is readable by others (mode {mode:o})", rule="key files are mode 600"
        )


def read_private_file(path: Path) -> bytes:
    """The bytes of a key file, refused if others may read it (:func:`check_private_file`)."""
    check_private_file(path)
    return path.read_bytes()


def _read_private_pem(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(read_private_file(path), password=None)
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigurationError(f"key file {path} holds an unsupported key type")
    return key


@dataclass
class NodeIdentity:
    """A DID with its keys. The first active Ed25519 key signs by default.

    An identity loaded from a key folder (``folder``) follows a rotation made there by another
    process (``batpass keys rotate`` while the node serves, or another worker): :meth:`refresh`
    reads ``keys.json`` again when the file changed, and :meth:`active` and :meth:`find` call it,
    so a running node signs with the new key and lists it in its DID document without a restart.
    """

    did: str
    keys: list[KeyPair] = field(default_factory=list)
    folder: Path | None = field(default=None, compare=False, repr=False)
    #: bumped whenever :attr:`keys` changes (a rotation here or a reload): caches key on it
    generation: int = field(default=0, compare=False, repr=False)
    _stamp: tuple[int, int, int] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # the index's path as a string, joined once: refresh runs before every signature
        self._index = str(self.folder / "keys.json") if self.folder is not None else None

    def refresh(self) -> bool:
        """Reload the keys when the folder's ``keys.json`` was replaced since they were read
        (a rotation writes it atomically, so a new inode or mtime means a new index); True
        when the keys changed. Costs one ``stat`` when nothing changed."""
        if self._index is None or self.folder is None:
            return False
        stamp = _index_stamp(self._index)
        if stamp is None or stamp == self._stamp:
            return False
        self.keys = _read_index(self.folder)
        self._stamp = stamp
        self.generation += 1
        return True

    def active(self, alg: str = "Ed25519") -> KeyPair:
        self.refresh()
        for k in reversed(self.keys):
            if k.alg == alg and not k.retired:
                return k
        raise ConfigurationError(f"{self.did} has no active {alg} key")

    def find(self, kid: str) -> KeyPair | None:
        """The key a DID URL (``did#fragment``) names, active or retired; the index is read again
        once when it names none (another process may have rotated)."""
        for attempt in range(2):
            for k in self.keys:
                if self.key_id(k) == kid:
                    return k
            if attempt == 0 and not self.refresh():
                break
        return None

    def key_id(self, key: KeyPair) -> str:
        return f"{self.did}#{key.kid}"


def _index_stamp(index: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(index)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_index(folder: Path) -> list[KeyPair]:
    entries = json.loads((folder / "keys.json").read_text())
    return [
        KeyPair(
            e["kid"],
            e["alg"],
            _read_private_pem(folder / f"{e['kid']}.pem"),
            bool(e.get("retired")),
            dt.datetime.fromisoformat(e["retiredAt"]) if e.get("retiredAt") else None,
        )
        for e in entries
    ]


def load_or_create_identity(folder: Path, did: str) -> NodeIdentity:
    """Load the keys in ``folder`` (``keys.json`` lists them), creating the first pair if empty."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    index = folder / "keys.json"
    if not index.exists():
        pairs = [generate_keypair("Ed25519", "key-ed25519-1"), generate_keypair("ES256", "key-p256-1")]
        for p in pairs:
            write_private_pem(folder / f"{p.kid}.pem", p.private)
        _write_index(folder, pairs)
    identity = NodeIdentity(did, folder=folder)
    identity.refresh()
    return identity


def rotate_key(folder: Path, identity: NodeIdentity, alg: str = "Ed25519") -> KeyPair:
    """Key rotation: add a new active ``alg`` key and retire the current one.

    The retired key stays in ``keys.json`` and in the DID document (with ``expires`` set to the
    retirement instant), so signatures made before stay verifiable for as long as records are
    kept (ten years, Art. 77(8) of Regulation (EU) 2023/1542); signatures dated after it are
    refused.
    """
    now = utc_now()
    old = identity.active(alg)
    prefix = "key-ed25519-" if alg == "Ed25519" else "key-p256-"
    used = {k.kid for k in identity.keys}
    n = 1
    while f"{prefix}{n}" in used:
        n += 1
    new = generate_keypair(alg, f"{prefix}{n}")
    write_private_pem(folder / f"{new.kid}.pem", new.private)
    keys = [replace(k, retired=True, retired_at=now) if k is old else k for k in identity.keys]
    keys.append(new)
    _write_index(folder, keys)
    identity.keys = keys
    identity.generation += 1
    if identity.folder == folder:
        identity._stamp = _index_stamp(str(folder / "keys.json"))
    return new


def _write_index(folder: Path, keys: list[KeyPair]) -> None:
    """Write ``keys.json`` atomically (a new file renamed over the old: readers in other
    processes see the old index or the new one, and :meth:`NodeIdentity.refresh` sees a change)."""
    index = folder / "keys.json"
    tmp = index.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps(
            [
                {
                    "kid": k.kid,
                    "alg": k.alg,
                    "retired": k.retired,
                    **({"retiredAt": k.retired_at.isoformat()} if k.retired_at else {}),
                }
                for k in keys
            ],
            indent=2,
        )
    )
    os.replace(tmp, index)


# --- did:key (W3C CCG did:key method: multicodec-prefixed public key, base58btc multibase) ---

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PUB = b"\xed\x01"  # multicodec ed25519-pub (varint 0xed)
_P256_PUB = b"\x80\x24"  # multicodec p256-pub (varint 0x1200)


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        idx = _B58.find(ch)
        if idx < 0:
            raise ValueError(f"{ch!r} is not a base58btc character")
        n = n * 58 + idx
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def did_key_from_jwk(jwk: dict[str, Any]) -> str:
    """The ``did:key`` of an Ed25519 (OKP) or P-256 (EC) public JWK."""
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        raw = ed25519.Ed25519PublicKey.from_public_bytes(_b64d(jwk["x"])).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return "did:key:z" + _b58encode(_ED25519_PUB + raw)
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        x, y = int.from_bytes(_b64d(jwk["x"]), "big"), int.from_bytes(_b64d(jwk["y"]), "big")
        pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        raw = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        return "did:key:z" + _b58encode(_P256_PUB + raw)
    raise ConfigurationError("did:key needs an Ed25519 or P-256 public key", rule="did:key method")


def jwk_from_did_key(did: str) -> dict[str, Any]:
    """The public JWK a ``did:key`` encodes (raises ``ValueError`` when it is not one we know)."""
    if not did.startswith("did:key:z"):
        raise ValueError(f"{did!r} is not a base58btc did:key")
    data = _b58decode(did[len("did:key:z") :].split("#", 1)[0])
    if data[:2] == _ED25519_PUB and len(data) == 34:
        return OKPKey.import_key(ed25519.Ed25519PublicKey.from_public_bytes(data[2:])).as_dict(private=False)
    if data[:2] == _P256_PUB and len(data) == 35:
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[2:])
        return ECKey.import_key(pub).as_dict(private=False)
    raise ValueError(f"{did!r} encodes a key type batpass does not accept (Ed25519 or P-256 only)")


def new_did_key_identity(alg: str = "Ed25519") -> NodeIdentity:
    """A holder identity on ``did:key`` (no document to publish; the DID is the key)."""
    kp = generate_keypair(alg, "tmp")
    did = did_key_from_jwk(kp.public_jwk())
    return NodeIdentity(did, [replace(kp, kid=did[len("did:key:") :])])


def _b64d(s: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
