"""Secrets sealed at rest (trust.SecretBox): what a node stores in its database opens only with
the node's own key file, in the place it was stored for, and unaltered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batpass.core.errors import ConfigurationError
from batpass.trust import SecretBox


def test_a_sealed_secret_opens_where_it_was_stored_and_nowhere_else(tmp_path: Path) -> None:
    box = SecretBox.load_or_create(tmp_path / "keys")
    sealed = box.seal("s3cret-API-key", context="represented_suppliers/BPNL000000000001/api_key")
    assert SecretBox.is_sealed(sealed) and "s3cret" not in sealed
    assert box.open(sealed, context="represented_suppliers/BPNL000000000001/api_key") == "s3cret-API-key"
    # two seals of one secret differ (random nonce): equal secrets cannot be spotted in a dump
    assert box.seal("s3cret-API-key", context="x") != box.seal("s3cret-API-key", context="x")
    with pytest.raises(ConfigurationError, match="moved from another row"):
        box.open(sealed, context="represented_suppliers/BPNL000000000002/api_key")
    with pytest.raises(ConfigurationError, match="does not open"):
        SecretBox.generate().open(sealed, context="represented_suppliers/BPNL000000000001/api_key")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(ConfigurationError, match="does not open"):
        box.open(flipped, context="represented_suppliers/BPNL000000000001/api_key")
    with pytest.raises(ConfigurationError, match="not sealed"):
        box.open("s3cret-API-key", context="represented_suppliers/BPNL000000000001/api_key")


def test_the_key_file_is_kept_private_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    sealed = SecretBox.load_or_create(folder).seal("pw", context="c")
    key = folder / "secrets.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    assert SecretBox.load_or_create(folder).open(sealed, context="c") == "pw"  # a restart reads the same key
    os.chmod(key, 0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        SecretBox.load_or_create(folder)
