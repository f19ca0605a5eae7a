"""The encrypted backup file: a versioned header, then the payload in AES-256-GCM chunks under a key
derived from a passphrase with scrypt.

Layout (format version 1)::

    magic      8 bytes   b"BATPBKUP"
    version    2 bytes   big-endian, 1
    length     4 bytes   big-endian, the header's JSON length (at most 64 KiB)
    header     JSON      {"kdf": "scrypt", "n", "r", "p", "salt", "cipher": "AES-256-GCM",
                          "chunk", "nonce_prefix", "key_check"} (bytes as unpadded base64url)
    chunks     ...       each chunk's plaintext is ``chunk`` bytes, the last one fewer (maybe 0),
                         followed by its 16-byte tag

scrypt gives 48 bytes: the first 32 are the AES key, the last 16 are stored as ``key_check``, so
a wrong passphrase is told apart from an altered file before anything is decrypted. Chunk ``i``
is sealed with the nonce ``nonce_prefix (7 bytes) || i (4 bytes, big-endian) || last (1 byte)``
and the whole header (magic to JSON) as associated data — the STREAM construction (Hoang et al.,
2015): a chunk moved, dropped or cut off, or a header field changed, fails its tag. The node's
:class:`~batpass.trust.SecretBox` seals short values the same way (AES-256-GCM, the storage place
as associated data) but one value at a time; a backup of any size needs the chunks.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import struct
from dataclasses import dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from batpass.core.errors import InvalidInput

__all__ = ["FORMAT_VERSION", "MAGIC", "DecryptingReader", "EncryptingWriter", "KdfParams", "open_envelope"]

MAGIC = b"BATPBKUP"
FORMAT_VERSION = 1
CHUNK = 1024 * 1024
_TAG = 16
_PREFIX = 7
_MAX_HEADER = 64 * 1024
_FIXED = struct.Struct(">8sHI")
FORMAT_RULE = "a batpass backup (BATPBKUP format version 1: scrypt, AES-256-GCM chunks)"


@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost: the default (n = 2^17, r = 8, p = 1: 128 MiB and about half a second)
    follows OWASP's recommendation; tests pass a cheaper one."""

    n: int = 2**17
    r: int = 8
    p: int = 1

    def check(self) -> None:
        """Bounds on what a file may ask for (a forged header must not exhaust memory)."""
        if not (2**10 <= self.n <= 2**20 and self.n & (self.n - 1) == 0 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise InvalidInput(
                f"the backup's scrypt parameters (n={self.n}, r={self.r}, p={self.p}) are out of bounds",
                field="header.kdf",
                rule="n a power of two in 2^10..2^20, r 1..32, p 1..16",
            )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: object, name: str) -> bytes:
    if not isinstance(text, str):
        raise _corrupt(f"header field {name} is not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise _corrupt(f"header field {name} is not base64url") from exc


def _corrupt(detail: str) -> InvalidInput:
    return InvalidInput(
        f"the backup file is damaged or not a batpass backup: {detail}", field="backup", rule=FORMAT_RULE
    )


def _derive(passphrase: str, salt: bytes, kdf: KdfParams) -> tuple[bytes, bytes]:
    out = Scrypt(salt=salt, length=48, n=kdf.n, r=kdf.r, p=kdf.p).derive(passphrase.encode("utf-8"))
    return out[:32], out[32:]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise InvalidInput("the backup is too large (2^32 chunks)", field="backup", rule=FORMAT_RULE)
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class EncryptingWriter:
    """A write-only binary stream that encrypts what it is given into ``out`` (header first).
    :meth:`close` seals the last chunk; without it the file does not open (truncated)."""

    def __init__(self, out: IO[bytes], passphrase: str, *, kdf: KdfParams | None = None) -> None:
        kdf = kdf or KdfParams()
        kdf.check()
        salt, prefix = os.urandom(16), os.urandom(_PREFIX)
        key, check = _derive(passphrase, salt, kdf)
        header = {
            "kdf": "scrypt",
            "n": kdf.n,
            "r": kdf.r,
            "p": kdf.p,
            "salt": _b64(salt),
            "cipher": "AES-256-GCM",
            "chunk": CHUNK,
            "nonce_prefix": _b64(prefix),
            "key_check": _b64(check),
        }
        body = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        self._aad = _FIXED.pack(MAGIC, FORMAT_VERSION, len(body)) + body
        self._out, self._aead, self._prefix = out, AESGCM(key), prefix
        self._buf = bytearray()
        self._index = 0
        self._closed = False
        out.write(self._aad)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buf += data
        while len(self._buf) > CHUNK:  # keep at least one byte back: the last chunk is sealed on close
            self._seal(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def _seal(self, plain: bytes, *, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), plain, self._aad))
        self._index += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._seal(bytes(self._buf), last=True)
            self._buf.clear()
            self._out.flush()


def _read_exact(src: IO[bytes], n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = src.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _header(src: IO[bytes]) -> tuple[bytes, dict[str, Any]]:
    fixed = _read_exact(src, _FIXED.size)
    if len(fixed) < _FIXED.size or fixed[:8] != MAGIC:
        raise _corrupt("it does not start with the BATPBKUP magic")
    _, version, length = _FIXED.unpack(fixed)
    if version != FORMAT_VERSION:
        raise InvalidInput(
            f"the backup has format version {version}, which this batpass does not read",
            field="backup.version",
            rule=f"this batpass reads backup format version {FORMAT_VERSION}",
        )
    if length > _MAX_HEADER:
        raise _corrupt(f"header length {length} over {_MAX_HEADER}")
    body = _read_exact(src, length)
    if len(body) < length:
        raise _corrupt("the header is cut off")
    try:
        header = json.loads(body)
    except ValueError as exc:
        raise _corrupt("the header is not JSON") from exc
    if not isinstance(header, dict) or header.get("kdf") != "scrypt" or header.get("cipher") != "AES-256-GCM":
        raise _corrupt("the header names another KDF or cipher (scrypt and AES-256-GCM expected)")
    return fixed + body, header


class DecryptingReader:
    """A read-only binary stream of the plaintext; a chunk whose tag fails (altered, moved, cut
    off) raises :class:`InvalidInput` naming the chunk."""

    def __init__(self, src: IO[bytes], aad: bytes, key: bytes, prefix: bytes, chunk: int) -> None:
        self._src, self._aad, self._aead, self._prefix, self._chunk = src, aad, AESGCM(key), prefix, chunk
        self._index = 0
        self._pending = _read_exact(src, chunk + _TAG)
        self._buf = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        sealed = self._pending
        self._pending = _read_exact(self._src, self._chunk + _TAG)
        last = not self._pending
        if len(sealed) < _TAG or (not last and len(sealed) != self._chunk + _TAG):
            raise _corrupt(f"chunk {self._index} is cut off (the file is truncated)")
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._aad)
        except InvalidTag as exc:
            what = "the file was altered or truncated" if self._index or not last else "the file was altered"
            raise _corrupt(f"chunk {self._index} fails its authentication tag ({what})") from exc
        self._index += 1
        self._buf = self._buf[self._pos :] + plain
        self._pos = 0
        self._done = last

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buf) - self._pos < n):
            self._next()
        end = len(self._buf) if n < 0 else min(len(self._buf), self._pos + n)
        out = self._buf[self._pos : end]
        self._pos = end
        return out

    def verify_to_end(self) -> None:
        """Authenticate the rest (what follows the payload's own end, such as tar padding)."""
        while not self._done:
            self._next()
            self._buf, self._pos = b"", 0


def open_envelope(src: IO[bytes], passphrase: str) -> DecryptingReader:
    """The plaintext of a backup file, once its header is read and the passphrase checked: an
    unknown format version, a malformed header or a wrong passphrase are refused before anything
    is decrypted."""
    aad, header = _header(src)
    try:
        kdf = KdfParams(int(header["n"]), int(header["r"]), int(header["p"]))
        chunk = int(header["chunk"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _corrupt("the header lacks its scrypt parameters or chunk size") from exc
    kdf.check()
    if not 1024 <= chunk <= 64 * 1024 * 1024:
        raise _corrupt(f"chunk size {chunk} out of bounds")
    salt, prefix, check = (_unb64(header.get(k), k) for k in ("salt", "nonce_prefix", "key_check"))
    if len(prefix) != _PREFIX or len(check) != 16 or len(salt) < 16:
        raise _corrupt("salt, nonce prefix or key check has the wrong length")
    key, expected = _derive(passphrase, salt, kdf)
    if not hmac.compare_digest(check, expected):
        raise InvalidInput(
            "the passphrase does not open this backup (a wrong passphrase, or the header's salt or"
            " parameters were altered)",
            field="passphrase",
            rule="the passphrase the backup was made with (--passphrase-file or BATPASS_BACKUP_PASSPHRASE)",
        )
    return DecryptingReader(src, aad, key, prefix, chunk)
