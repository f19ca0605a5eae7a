"""The stored form of an origin profile's text: zlib with a preset dictionary.

A profile (``ledger_profiles.body``) is JSON of a few kB whose key names and structure repeat in
every row; deflate alone finds little to reuse inside one profile, and a preset dictionary of
the common fragments (``zdict``) gives it that context: 1,349 characters on average became 317
bytes (23.5 %, level 1) on a generated scenario at 10⁴ lots (no dictionary: 34 %).

A stored body is one byte naming the dictionary version that compressed it, then the zlib
stream (its Adler-32 checksum included: a changed body almost always fails to decompress, and
one that does decompress differs from its digest). Dictionaries are vendored files
(``_data/profile-zdict-N.bin``, built by ``scripts/build-zdict.py profile``) and never change:
a later dictionary is a new version, and rows compressed with an older one keep reading with
theirs. Reading gives back the exact text that was written.

Compression runs once per distinct profile (``_sql.intern_profiles`` compresses only texts the
owner does not hold yet); decompression per read, about a fifth of the cost of parsing the JSON.

Event bodies (``ledger_events.body``, the exact JSON text the hash chain covers) are stored the
same way on PostgreSQL (:class:`EventText`, migration ``ledger_0013``), with a dictionary of their
own (``_data/event-zdict-N.bin``, ``scripts/build-zdict.py event``): 516 characters on average
became 190 bytes at 10⁴ lots. PostgreSQL compresses a value only in rows over ~2 kB (TOAST), and
an event row is ~660 bytes; SQLite keeps the text (its store is under its target without it, and
its ingest CPU is the scarcer figure there).
"""

from __future__ import annotations

import zlib
from importlib import resources
from typing import Any

from sqlalchemy import LargeBinary, Text
from sqlalchemy.types import TypeDecorator

from batpass.core.errors import IntegrityViolation

__all__ = [
    "CURRENT",
    "EVENT_ZDICTS",
    "LEVEL",
    "ZDICTS",
    "EventText",
    "ProfileText",
    "pack",
    "pack_event",
    "unpack",
    "unpack_event",
    "unpack_or_none",
]


def _load(version: int, kind: str = "profile") -> bytes:
    return resources.files("batpass.ledger").joinpath(f"_data/{kind}-zdict-{version}.bin").read_bytes()


#: the dictionaries by version (the first byte of a stored body); a version is never changed
ZDICTS: dict[int, bytes] = {1: _load(1)}
#: the event bodies' dictionaries by version, likewise
EVENT_ZDICTS: dict[int, bytes] = {1: _load(1, "event")}
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


def unpack_or_none(body: bytes, zdicts: dict[int, bytes] = ZDICTS) -> str | None:
    """The text of a stored body; None for one that does not decode (an unknown version, a
    stream that fails to decompress or is cut short, text that is not UTF-8)."""
    if not body:
        return None
    zdict = zdicts.get(body[0])
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


#: one compressor per event dictionary version with the dictionary set, copied per body (a new
#: compressor loads the dictionary again: ~20 % of the time of one 500-character body); a 4 KiB
#: window holds the 2 KiB dictionary and a body, and compresses them as the full one does
_EVENT_BASES: dict[int, Any] = {}


def pack_event(text: str, version: int = CURRENT) -> bytes:
    """The stored body (PostgreSQL) of an event's text: the version byte, then the text
    compressed with that version's event dictionary."""
    base = _EVENT_BASES.get(version)
    if base is None:
        base = _EVENT_BASES[version] = zlib.compressobj(LEVEL, zlib.DEFLATED, 12, 8, zdict=EVENT_ZDICTS[version])
    c = base.copy()
    return bytes((version,)) + c.compress(text.encode()) + c.flush()


def unpack_event(body: bytes) -> str:
    """The text of a stored event body; one that does not decode is refused (the chain check
    reports it as an edited event)."""
    text = unpack_or_none(body, EVENT_ZDICTS)
    if text is None:
        raise IntegrityViolation(
            "a stored event body does not decompress",
            table="ledger_events",
            rule="ledger.chain.hash",
        )
    return text


class EventText(TypeDecorator[str]):
    """An event's body: on PostgreSQL stored as :func:`pack_event` writes it (``bytea``), on
    SQLite as the text itself; Core reads and writes give the text on both."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "postgresql" else Text())

    # SQLite: no processing at all (not even an identity call per value on the ingest path)
    def bind_processor(self, dialect: Any) -> Any:
        return super().bind_processor(dialect) if dialect.name == "postgresql" else None

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return super().result_processor(dialect, coltype) if dialect.name == "postgresql" else None

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else pack_event(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else unpack_event(value)
