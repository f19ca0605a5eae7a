"""The stored form of an origin profile's text: zlib with a preset dictionary.

A profile (``ledger_profiles.body``) is JSON of a few kB whose key names and structure repeat in
every row; deflate alone finds little to reuse inside one profile, and a preset dictionary of
the common fragments (``zdict``) gives it that context: 1,349 characters on average became 317
bytes (23.5 %, level 1) on a generated scenario at 10⁴ lots (no dictionary: 34 %).

A stored body is one byte naming the dictionary version that compressed it, then the zlib
stream (its Adler-32 checksum included: a changed body almost always fails to decompress, and
one that does decompress differs from its digest). Dictionaries are vendored files
(``_data/profile-zdict-N.bin``, built by ``scripts/build-profile-zdict.py``) and never change:
a later dictionary is a new version, and rows compressed with an older one keep reading with
theirs. Reading gives back the exact text that was written.

Compression runs once per distinct profile (``_sql.intern_profiles`` compresses only texts the
owner does not hold yet); decompression per read, about a fifth of the cost of parsing the JSON.
"""

from __future__ import annotations

import zlib
from importlib import resources
from typing import Any

from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

from batpass.core.errors import IntegrityViolation

__all__ = ["CURRENT", "LEVEL", "ZDICTS", "ProfileText", "pack", "unpack", "unpack_or_none"]


def _load(version: int) -> bytes:
    return resources.files("batpass.ledger").joinpath(f"_data/profile-zdict-{version}.bin").read_bytes()


#: the dictionaries by version (the first byte of a stored body); a version is never changed
ZDICTS: dict[int, bytes] = {1: _load(1)}
#: the version new bodies are written with
CURRENT = 1
#: zlib level: 1, 6 and 9 gave 23.5 %, 18.8 % and 18.8 % of the text at 10⁴ lots in 32, 43 and
#: 45 µs a profile (2.9 %, 4.0 % and 4.2 % of ingest CPU there): the fast level, since ingest
#: CPU is the scarcer figure (docs/benchmarks.md)
LEVEL = 1


def pack(text: str, version: int = CURRENT) -> bytes:
    """The stored body of ``text``: the version byte, then ``text`` compressed with its dictionary."""
    c = zlib.compressobj(LEVEL, zdict=ZDICTS[version])
    return bytes((version,)) + c.compress(text.encode()) + c.flush()


def unpack_or_none(body: bytes) -> str | None:
    """The text of a stored body; None for one that does not decode (an unknown version, a
    stream that fails to decompress or is cut short, text that is not UTF-8)."""
    if not body:
        return None
    zdict = ZDICTS.get(body[0])
    if zdict is None:
        return None
    d = zlib.decompressobj(zdict=zdict)
    try:
        data = d.decompress(bytes(body[1:])) + d.flush()
        return data.decode() if d.eof and not d.unused_data else None
    except (zlib.error, UnicodeDecodeError):
        return None


def unpack(body: bytes) -> str:
    """The text of a stored body; one that does not decode is refused (the self-audit names its row)."""
    text = unpack_or_none(body)
    if text is None:
        raise IntegrityViolation(
            "a stored origin profile does not decompress",
            table="ledger_profiles",
            rule="ledger.derived.profiles",
        )
    return text


class ProfileText(TypeDecorator[str]):
    """A profile's text stored as :func:`pack` writes it; Core reads and writes give the text."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else pack(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else unpack(value)
