"""Typed, validated identifiers used across both data spaces.

Each identifier is a ``str`` subclass whose constructor validates, so a value of the type is
always valid and serialises as the plain string on every wire. An invalid value raises
:class:`~batpass.core.errors.InvalidIdentifier` naming the value, the kind of identifier and the
rule broken.

Sources:
- BPNL / BPNS / BPNA: Catena-X CX-0010, ``BPN[LSA]`` + 12 upper-case letters or digits.
- Japanese corporate number (法人番号): 13 digits, the first a check digit (National Tax Agency
  rule, validated by ``stdnum.jp.cn``).
- Ouranos ``openOperatorId``: 1-20 characters, no check digit on that API (its own examples fail
  the corporate-number check); ``openPlantId``: 6-26 characters ending in 6 digits (published
  OpenAPI, ``PlantModel``).
- GTIN: GS1 General Specifications, mod-10 check digit (``stdnum.ean``); GS1 Digital Link URI
  ``{resolver}/01/{gtin14}/21/{serial}`` (ISO/IEC 15459 via GS1, GS1 Digital Link 1.4).
- DIDs: W3C DID Core; ``did:web`` (W3C CCG did:web method), ``did:key`` (W3C CCG did:key).

This module is pure: no I/O.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import ClassVar, Self
from urllib.parse import quote, unquote, urlsplit

from stdnum import ean
from stdnum.exceptions import ValidationError as _StdnumError
from stdnum.jp import cn as _jp_cn

from batpass.core.errors import InvalidIdentifier

__all__ = [
    "BatteryId",
    "Bpna",
    "Bpnl",
    "Bpns",
    "CorporateNumber",
    "Did",
    "Gtin",
    "OuranosOperatorId",
    "OuranosPlantId",
    "Serial",
    "new_uuid7",
]


class _ValidatedStr(str):
    """Base of identifier value types: validation happens once, in ``__new__``."""

    id_kind: ClassVar[str] = "identifier"

    def __new__(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="must be a string")
        normalised = cls._normalise(value)
        cls._check(normalised)
        return super().__new__(cls, normalised)

    @classmethod
    def _normalise(cls, value: str) -> str:
        return value

    @classmethod
    def _check(cls, value: str) -> None:  # pragma: no cover - every identifier type defines its rule
        raise TypeError(f"{cls.__name__} defines no validation rule; identifier types must override _check")

    @classmethod
    def is_valid(cls, value: object) -> bool:
        try:
            cls(value)
        except InvalidIdentifier:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class _Bpn(_ValidatedStr):
    prefix: ClassVar[str] = "BPN"
    _pattern: ClassVar[re.Pattern[str]]

    @classmethod
    def _check(cls, value: str) -> None:
        if not cls._pattern.fullmatch(value):
            raise InvalidIdentifier(
                value,
                id_kind=cls.id_kind,
                rule=f"'{cls.prefix}' followed by 12 upper-case letters or digits (CX-0010)",
            )


class Bpnl(_Bpn):
    """Business partner number of a legal entity."""

    id_kind = "BPNL"
    prefix = "BPNL"
    _pattern = re.compile(r"BPNL[A-Z0-9]{12}")


class Bpns(_Bpn):
    """Business partner number of a site."""

    id_kind = "BPNS"
    prefix = "BPNS"
    _pattern = re.compile(r"BPNS[A-Z0-9]{12}")


class Bpna(_Bpn):
    """Business partner number of an address."""

    id_kind = "BPNA"
    prefix = "BPNA"
    _pattern = re.compile(r"BPNA[A-Z0-9]{12}")


class CorporateNumber(_ValidatedStr):
    """Japanese corporate number (法人番号): 13 digits, the first one a check digit."""

    id_kind = "Japanese corporate number"

    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.replace("-", "").replace(" ", "").strip()

    @classmethod
    def _check(cls, value: str) -> None:
        if not re.fullmatch(r"[0-9]{13}", value):
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="exactly 13 digits")
        try:
            _jp_cn.validate(value)
        except _StdnumError as exc:
            raise InvalidIdentifier(
                value,
                id_kind=cls.id_kind,
                rule="the first digit is the check digit of the other 12 (NTA rule)",
            ) from exc


class OuranosOperatorId(_ValidatedStr):
    """Ouranos ``openOperatorId`` as the data transaction API limits it: 1-20 characters."""

    id_kind = "Ouranos openOperatorId"

    @classmethod
    def _check(cls, value: str) -> None:
        if not 1 <= len(value) <= 20:
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="1 to 20 characters")


class OuranosPlantId(_ValidatedStr):
    """Ouranos ``openPlantId``: 6-26 characters ending in 6 digits."""

    id_kind = "Ouranos openPlantId"

    @classmethod
    def _check(cls, value: str) -> None:
        if not 6 <= len(value) <= 26 or not re.search(r"[0-9]{6}$", value):
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="6 to 26 characters ending in 6 digits")


_DID_RE = re.compile(r"did:([a-z0-9]+):([A-Za-z0-9._:%\-]+)")
# did:web host with optional percent-encoded port, then optional ':'-separated path segments
_DID_WEB_RE = re.compile(r"[A-Za-z0-9.\-]+(%3A[0-9]{1,5})?(:[A-Za-z0-9._\-%]+)*")


class Did(_ValidatedStr):
    """A decentralised identifier; ``did:web`` and ``did:key`` are checked in detail."""

    id_kind = "DID"

    @classmethod
    def _check(cls, value: str) -> None:
        m = _DID_RE.fullmatch(value)
        if not m:
            raise InvalidIdentifier(
                value, id_kind=cls.id_kind, rule="'did:' method ':' method-specific-id (DID Core 3.1)"
            )
        method, rest = m.group(1), m.group(2)
        if method == "web" and not _DID_WEB_RE.fullmatch(rest):
            raise InvalidIdentifier(
                value,
                id_kind=cls.id_kind,
                rule="did:web is a host, optional %3A-encoded port, then ':'-separated path",
            )
        if method == "key" and not re.fullmatch(r"z[1-9A-HJ-NP-Za-km-z]+", rest):
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="did:key is 'z' + base58btc multibase key")

    @property
    def method(self) -> str:
        return self.split(":", 2)[1]

    @classmethod
    def web(cls, host: str, port: int | None = None, *path: str) -> Did:
        """Build a ``did:web`` from a host, an optional port and path segments."""
        ident = host.lower()
        if port is not None and port != 443:
            ident += f"%3A{port}"
        for seg in path:
            ident += ":" + quote(seg, safe="")
        return cls(f"did:web:{ident}")

    def web_document_url(self) -> str:
        """The HTTPS URL of a ``did:web`` document (did:web method spec, section 3.2.1)."""
        if self.method != "web":
            raise InvalidIdentifier(self, id_kind=self.id_kind, rule="only did:web has a URL")
        parts = self.split(":")[2:]
        host = unquote(parts[0])
        path = [unquote(p) for p in parts[1:]]
        if path:
            return f"https://{host}/{'/'.join(path)}/did.json"
        return f"https://{host}/.well-known/did.json"


class Gtin(_ValidatedStr):
    """A GTIN-8, -12, -13 or -14 with a valid check digit, held as the 14-digit form."""

    id_kind = "GTIN"

    @classmethod
    def _normalise(cls, value: str) -> str:
        v = value.strip()
        if re.fullmatch(r"[0-9]{8}|[0-9]{12}|[0-9]{13}|[0-9]{14}", v):
            return v.zfill(14)
        return v

    @classmethod
    def _check(cls, value: str) -> None:
        if not re.fullmatch(r"[0-9]{14}", value):
            raise InvalidIdentifier(value, id_kind=cls.id_kind, rule="8, 12, 13 or 14 digits")
        try:
            ean.validate(value)
        except _StdnumError as exc:
            raise InvalidIdentifier(
                value, id_kind=cls.id_kind, rule="the last digit is the GS1 mod-10 check digit"
            ) from exc

    @classmethod
    def with_check_digit(cls, body: str) -> Gtin:
        """Complete a GTIN body (7, 11, 12 or 13 digits) with its check digit."""
        return cls(body + ean.calc_check_digit(body))


# GS1 AI (21) serial: up to 20 characters of GS1 AI encodable character set 82
_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")


class Serial(_ValidatedStr):
    """GS1 serial number, AI (21): 1-20 characters of character set 82."""

    id_kind = "GS1 serial (AI 21)"

    @classmethod
    def _check(cls, value: str) -> None:
        if not _CSET82.fullmatch(value):
            raise InvalidIdentifier(
                value,
                id_kind=cls.id_kind,
                rule="1 to 20 characters of GS1 character set 82 (GS1 General Specifications 7.11)",
            )


@dataclass(frozen=True, slots=True)
class BatteryId:
    """The battery's unique identifier: GTIN + serial (ISO/IEC 15459 through GS1).

    Rendered as a GS1 Digital Link URI on a configurable resolver base, so the identity does not
    change when a node's host or port does: the key is ``(gtin, serial)``; the URI is a view.
    """

    gtin: Gtin
    serial: Serial

    def __init__(self, gtin: str, serial: str) -> None:
        object.__setattr__(self, "gtin", Gtin(gtin))
        object.__setattr__(self, "serial", Serial(serial))

    @property
    def path(self) -> str:
        return f"/01/{self.gtin}/21/{quote(self.serial, safe='')}"

    def digital_link(self, resolver: str) -> str:
        return resolver.rstrip("/") + self.path

    def __str__(self) -> str:
        return f"01{self.gtin}21{self.serial}"

    @classmethod
    def from_digital_link(cls, uri: str) -> BatteryId:
        """Parse ``.../01/{gtin}/21/{serial}`` (any resolver base, query ignored)."""
        path = urlsplit(uri).path if "://" in uri else uri
        m = re.search(r"/01/([0-9]{8,14})/21/([^/?#]+)/?$", path)
        if not m:
            raise InvalidIdentifier(
                uri,
                id_kind="GS1 Digital Link URI",
                rule="path ends in /01/{gtin}/21/{serial} (GS1 Digital Link 1.4)",
            )
        return cls(m.group(1), unquote(m.group(2)))

    @classmethod
    def parse(cls, text: str) -> BatteryId:
        """Accept a Digital Link URI, a path, or the element string ``01{gtin14}21{serial}``."""
        if "/01/" in text:
            return cls.from_digital_link(text)
        m = re.fullmatch(r"01([0-9]{14})21(.{1,20})", text)
        if m:
            return cls(m.group(1), m.group(2))
        raise InvalidIdentifier(
            text,
            id_kind="battery identifier",
            rule="a GS1 Digital Link URI or the element string 01{gtin14}21{serial}",
        )


#: the random bits of a version-7 UUID (12 of ``rand_a``, 62 of ``rand_b``)
_UUID7_RAND_BITS = 74
#: the (millisecond, random bits) of the last id :func:`new_uuid7` gave in this process
_uuid7_last = (0, 0)
_uuid7_lock = threading.Lock()


def _uuid7_after_fork() -> None:
    global _uuid7_lock, _uuid7_last
    _uuid7_lock = threading.Lock()  # a fork while another thread held it leaves it held
    # a child starts afresh: stepping from its parent's last id, two processes would share
    # that id's random bits and differ only by their random steps within a millisecond
    _uuid7_last = (0, 0)


os.register_at_fork(after_in_child=_uuid7_after_fork)


def new_uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): index appends stay cheap, and the ids one process
    gives sort in the order it gave them, within one millisecond too (RFC 9562 6.2, method 2:
    the previous id's random bits increased by a random step). Rows listed by id (the audit
    logs) come back in the order written; with fresh random bits in each id, those written
    within one millisecond came back shuffled."""
    global _uuid7_last
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big") >> (80 - _UUID7_RAND_BITS)
    with _uuid7_lock:
        last_ms, last_rand = _uuid7_last
        if ms <= last_ms:  # the same millisecond (or the clock stepped back): after the last id
            ms, rand = last_ms, last_rand + 1 + (rand >> 42)  # a step of 1 to 2^32
            if rand >> _UUID7_RAND_BITS:  # the random bits ran out: the next millisecond
                ms, rand = ms + 1, rand & ((1 << (_UUID7_RAND_BITS - 1)) - 1)
        _uuid7_last = (ms, rand)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
