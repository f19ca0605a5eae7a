"""Secrets a node must keep in its database but never in the clear there: sealed with AES-GCM
under a key that lives beside the node's signing keys (``keys/secrets.key``, mode 600), so a
copy or backup of the database alone does not give them away.

Each sealed value is bound to where it is stored (the ``context``: table, row key, column) as
associated data: a value copied into another row or column does not open.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from batpass.core.errors import ConfigurationError
from batpass.trust._keys import read_private_file, write_private_file

__all__ = ["SecretBox"]

#: the prefix of a sealed value (format version 1: AES-256-GCM, 96-bit random nonce)
PREFIX = "sealed:v1:"
KEY_FILE = "secrets.key"
_NONCE = 12


class SecretBox:
    """Seals and opens short secrets (API keys, passwords) with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigurationError("a secret box key is 32 bytes", rule="AES-256-GCM")
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> SecretBox:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def load_or_create(cls, folder: Path) -> SecretBox:
        """The key in ``folder/secrets.key``, created (mode 600, atomically) on first use. A key
        file that others may read is refused, as for the signing keys."""
        path = folder / KEY_FILE
        if not path.exists():
            write_private_file(path, AESGCM.generate_key(bit_length=256))
        return cls(read_private_file(path))

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(PREFIX)

    def seal(self, secret: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE)
        ct = self._aead.encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + ct).decode("ascii").rstrip("=")

    def open(self, sealed: str, *, context: str) -> str:
        """The secret in ``sealed``; a :class:`ConfigurationError` if it is not sealed, was sealed
        under another key, was altered or belongs to another ``context``."""
        if not self.is_sealed(sealed):
            raise ConfigurationError(f"{context}: the stored value is not sealed", rule="secrets are sealed at rest")
        raw = sealed[len(PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:
            raise ConfigurationError(
                f"{context}: the sealed value does not open with this node's secrets key "
                "(another key, an altered value, or a value moved from another row)",
                rule="AES-256-GCM with the storage place as associated data",
            ) from exc
        return plain.decode("utf-8")
