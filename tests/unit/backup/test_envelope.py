"""The backup file's envelope alone: chunks round-trip at every size around a chunk boundary, and a
chunk dropped, moved or cut off at a boundary fails."""

from __future__ import annotations

import io
import os

import pytest

from batpass.backup._envelope import CHUNK, EncryptingWriter, KdfParams, open_envelope
from batpass.core.errors import InvalidInput

FAST = KdfParams(n=2**10)
SEALED = CHUNK + 16


def _seal(plain: bytes) -> bytes:
    buf = io.BytesIO()
    writer = EncryptingWriter(buf, "passphrase", kdf=FAST)
    for i in range(0, len(plain), 100_000):
        writer.write(plain[i : i + 100_000])
    writer.close()
    return buf.getvalue()


def _open(sealed: bytes) -> bytes:
    reader = open_envelope(io.BytesIO(sealed), "passphrase")
    out = b"".join(iter(lambda: reader.read(70_000), b""))
    reader.verify_to_end()
    return out


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5])
def test_every_size_round_trips(size: int) -> None:
    plain = os.urandom(size)
    assert _open(_seal(plain)) == plain


def _split(sealed: bytes) -> tuple[bytes, list[bytes]]:
    end = 14 + int.from_bytes(sealed[10:14], "big")
    body = sealed[end:]
    return sealed[:end], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


def test_a_cut_at_a_chunk_boundary_a_dropped_or_swapped_chunk_fails() -> None:
    header, chunks = _split(_seal(os.urandom(3 * CHUNK + 10)))
    assert len(chunks) == 4
    for label, body in {
        "cut": chunks[:2],
        "dropped": [chunks[0], chunks[2], chunks[3]],
        "swapped": [chunks[1], chunks[0], chunks[2], chunks[3]],
    }.items():
        with pytest.raises(InvalidInput, match="fails its authentication tag"):
            _open(header + b"".join(body))
        assert label


def test_a_header_from_another_file_does_not_open_its_chunks() -> None:
    header_a, _ = _split(_seal(b"a" * 10))
    _, chunks_b = _split(_seal(b"b" * 10))
    with pytest.raises(InvalidInput, match=r"passphrase does not open|fails its authentication tag"):
        _open(header_a + b"".join(chunks_b))


def test_scrypt_parameters_out_of_bounds_are_refused() -> None:
    sealed = _seal(b"x")
    forged = sealed.replace(b'"n":1024', b'"n":2097152')
    forged = forged[:10] + len(forged[14 : forged.index(b"}") + 1]).to_bytes(4, "big") + forged[14:]
    with pytest.raises(InvalidInput, match="scrypt parameters"):
        _open(forged)
