"""IETF Token Status List (``draft-ietf-oauth-status-list-20``, the newest revision whose text
batpass holds; the datatracker lists ``-21`` of 2026-11-03 as the current one) for SD-JWT VCs.

The Status List (§4) is a byte array of ``bits`` (1, 2, 4 or 8) per Referenced Token, packed
from the least significant bit of each byte, DEFLATE-compressed in the ZLIB format (level 9, as
recommended) and base64url-encoded without padding (``lst``). The Status List Token (§5.1) is a
JWT of ``typ`` ``statuslist+jwt`` with ``sub`` (its own URI), ``iat``, ``exp``, ``ttl`` and
``status_list`` ``{bits, lst}``; a Referenced Token carries ``status.status_list {idx, uri}``
(§6.1). Status types (§7): 0x00 VALID, 0x01 INVALID, 0x02 SUSPENDED.

batpass keeps one bit array per list (the W3C Bitstring Status List's, index 0 in the most
significant bit); :func:`from_bitstring` re-packs it for the token, so revoking a credential flips
the one stored bit that both lists show.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batpass.core.clock import utc_now
from batpass.trust._jose import b64e, peek, sign_compact, verify_peeked
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason

__all__ = [
    "DRAFT",
    "STATUS_NAMES",
    "TYP",
    "compress",
    "decompress",
    "from_bitstring",
    "get_status",
    "parse_reference",
    "set_status",
    "status_list_token",
    "token_status_entry",
    "verify_status_list_token",
]

DRAFT = "draft-ietf-oauth-status-list-20"
TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
ALLOWED_BITS = (1, 2, 4, 8)
STATUS_NAMES = {0: "VALID", 1: "INVALID", 2: "SUSPENDED"}
LEEWAY_S = 60
_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _check_bits(bits: int) -> None:
    if bits not in ALLOWED_BITS:
        raise ValueError(f"bits must be one of {ALLOWED_BITS} ({DRAFT} §4.2)")


def set_status(raw: bytearray, idx: int, value: int, *, bits: int) -> None:
    """Set the status of ``idx`` in the uncompressed byte array (LSB-first packing, §4.1)."""
    _check_bits(bits)
    if not 0 <= value < 1 << bits:
        raise ValueError(f"status {value} does not fit in {bits} bit(s)")
    byte, slot = divmod(idx * bits, 8)
    mask = ((1 << bits) - 1) << slot
    raw[byte] = (raw[byte] & ~mask) | (value << slot)


def get_status(raw: bytes, idx: int, *, bits: int) -> int:
    """The status of ``idx``; an index outside the list is refused (§8.3 step 6)."""
    _check_bits(bits)
    byte, slot = divmod(idx * bits, 8)
    if idx < 0 or byte >= len(raw):
        raise CredentialRejected(
            f"status index {idx} is outside the status list",
            reason=RejectReason.STATUS_UNAVAILABLE,
            rule=f"{DRAFT} §8.3: an out-of-bounds index is rejected",
        )
    return (raw[byte] >> slot) & ((1 << bits) - 1)


def compress(raw: bytes) -> str:
    """Uncompressed byte array → ``lst`` (ZLIB/DEFLATE at the highest level, base64url)."""
    return b64e(zlib.compress(raw, 9))


def decompress(lst: str, *, limit: int = 1 << 24) -> bytes:
    """``lst`` → the byte array; refuses what is not base64url ZLIB data, or inflates past
    ``limit`` bytes (a compression bomb, §11.1)."""
    try:
        data = binascii.a2b_base64(lst.replace("-", "+").replace("_", "/") + "=" * (-len(lst) % 4), strict_mode=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, limit)
        if inflater.unconsumed_tail or not inflater.eof:
            raise CredentialRejected(
                "status list is truncated or larger than allowed", reason=RejectReason.STATUS_UNAVAILABLE
            )
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise CredentialRejected(
            f"status list lst is not base64url ZLIB data: {exc}",
            reason=RejectReason.STATUS_UNAVAILABLE,
            rule=f"{DRAFT} §4.1",
        ) from exc
    return raw


def from_bitstring(bitstring: bytes) -> bytes:
    """A W3C bitstring (index 0 = most significant bit) as a 1-bit Token Status List byte array
    (index 0 = least significant bit): the same statuses at the same indices."""
    return bitstring.translate(_REVERSED)


def token_status_entry(uri: str, idx: int) -> dict[str, Any]:
    """The ``status`` claim of a Referenced Token at ``idx`` of the list at ``uri`` (§6.1)."""
    return {"status_list": {"idx": idx, "uri": uri}}


def parse_reference(entry: Mapping[str, Any]) -> tuple[str, int]:
    """(uri, idx) of a ``status`` claim's ``status_list``, checked as §6.1 requires."""
    ref = entry.get("status_list")
    idx = ref.get("idx") if isinstance(ref, Mapping) else None
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str) or ":" not in uri:
        raise CredentialRejected(
            "status.status_list needs a non-negative integer idx and a uri",
            reason=RejectReason.MALFORMED,
            rule=f"{DRAFT} §6.1",
        )
    return uri, idx


def status_list_token(
    identity: NodeIdentity,
    *,
    uri: str,
    raw: bytes,
    bits: int = 1,
    ttl_s: int = 300,
    valid_for: dt.timedelta = dt.timedelta(days=1),
    now: dt.datetime | None = None,
) -> str:
    """The signed Status List Token (§5.1) served at ``uri``, as of ``now``."""
    _check_bits(bits)
    now = now or utc_now()
    key = identity.active("Ed25519")
    payload = {
        "iss": identity.did,
        "sub": uri,
        "iat": int(now.timestamp()),
        "exp": int((now + valid_for).timestamp()),
        "ttl": ttl_s,
        "status_list": {"bits": bits, "lst": compress(raw)},
    }
    return sign_compact(
        {"typ": TYP, "kid": identity.key_id(key)}, json.dumps(payload, separators=(",", ":")).encode(), key
    )


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    """A Status List Token that passed §8.3 step 3–4: its signer, ``bits``, the inflated byte
    array and how long it may be cached (the shorter of its ``ttl`` and the time to ``exp``)."""

    issuer: str
    bits: int
    raw: bytes
    fresh_for_s: float


def _refuse(message: str, section: str) -> CredentialRejected:
    return CredentialRejected(message, reason=RejectReason.STATUS_UNAVAILABLE, rule=f"{DRAFT} {section}")


def verify_status_list_token(
    token: str, uri: str, resolver: DidResolver, *, now: dt.datetime | None = None
) -> VerifiedStatusList:
    """Validate a Status List Token fetched from ``uri`` (§8.3): ``typ``, the signature of a key
    of the signer's DID (``kid``; ``iss``, when present, is that DID), ``sub`` equal to ``uri``,
    ``iat`` present and not in the future, ``exp`` not passed, a positive ``ttl``, and a
    ``status_list`` with allowed ``bits`` and a well-formed ``lst``."""
    t_now = int((now or utc_now()).timestamp())
    header, unverified = peek(token)
    kid = header.get("kid")
    signer = kid.split("#", 1)[0] if isinstance(kid, str) else None
    if signer is None or unverified.get("iss", signer) != signer:
        raise _refuse("status list token names no signing key of its issuer (kid, iss)", "§5.1")
    vm = resolver.method(str(kid), controller=signer, fetch=True)
    _, payload = verify_peeked(token, vm.jwk, typ=TYP, parsed=(header, unverified))
    iat, exp, ttl = payload.get("iat"), payload.get("exp"), payload.get("ttl")
    if not isinstance(iat, int) or isinstance(iat, bool) or iat > t_now + LEEWAY_S:
        raise _refuse("status list token iat is missing or in the future", "§5.1 (iat REQUIRED)")
    check_key_time(vm, dt.datetime.fromtimestamp(iat, dt.UTC))
    if payload.get("sub") != uri:
        raise _refuse(f"status list token sub {payload.get('sub')!r} is not the URI it came from", "§8.3 step 4a")
    fresh = float("inf")
    if exp is not None:
        if not isinstance(exp, int) or isinstance(exp, bool) or t_now - LEEWAY_S > exp:
            raise _refuse("status list token has expired", "§8.3 step 4c")
        fresh = float(exp - t_now)
    if ttl is not None:
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            raise _refuse("status list token ttl is not a positive number", "§5.1 (ttl)")
        fresh = min(fresh, float(ttl))
    sl = payload.get("status_list")
    bits = sl.get("bits") if isinstance(sl, Mapping) else None
    lst = sl.get("lst") if isinstance(sl, Mapping) else None
    if bits not in ALLOWED_BITS or not isinstance(lst, str):
        raise _refuse("status_list needs bits (1, 2, 4 or 8) and lst", "§4.2")
    return VerifiedStatusList(signer, int(bits), decompress(lst), max(fresh, 0.0))
