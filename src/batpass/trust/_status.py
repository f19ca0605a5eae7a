"""W3C Bitstring Status List v1.0: the encoded list, the status-list credential, and the
verifier's cache with a maximum age — which also holds IETF Token Status Lists
(``statuslist+jwt``, :mod:`batpass.trust._tokenstatus`), the status of SD-JWT VCs.

The list is a bitstring of at least 131,072 bits (16 KiB, §6.1 herd privacy), GZIP-compressed
and multibase base64url-encoded (``u`` prefix, §4.1 ``encodedList``); index 0 is the first,
most significant bit. The status-list credential is a ``vc+jwt`` whose issuer must be the
issuer of the credentials it covers. Verifiers fetch it (allow-listed HTTPS), check its
signature, and keep it for the shortest of ``max_age_s``, its ``ttl`` (§4.1) and the time left
to its ``validUntil`` — within its lifetime, never longer. A Token Status List
is kept for the shortest of ``max_age_s``, its ``ttl`` and the time left to its ``exp``; its
``sub`` must be the URI it was fetched from and its signer the referenced token's issuer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import time
from collections.abc import Callable, Mapping
from typing import Any

from batpass.core.clock import Clock, SystemClock, utc_now
from batpass.trust._jose import b64d, b64e, peek
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, GuardedFetcher
from batpass.trust._tokenstatus import DRAFT, STATUS_NAMES, TYP, get_status, parse_reference, verify_status_list_token
from batpass.trust._vc import build_credential, issue_vc_jwt, verify_vc_jwt
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason

__all__ = [
    "MIN_BITS",
    "StatusListCache",
    "decode_list",
    "encode_list",
    "status_entry",
    "status_list_credential",
]

MIN_BITS = 131_072


def encode_list(bits: bytes) -> str:
    """Bytes of the bitstring → ``encodedList`` (multibase ``u`` + base64url(gzip))."""
    return "u" + b64e(gzip.compress(bits, mtime=0))


def decode_list(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise CredentialRejected("encodedList is not multibase base64url", reason=RejectReason.STATUS_UNAVAILABLE)
    try:
        return gzip.decompress(b64d(encoded[1:], what="encodedList"))
    except (OSError, EOFError) as exc:
        raise CredentialRejected("encodedList is not GZIP data", reason=RejectReason.STATUS_UNAVAILABLE) from exc


def bit(bits: bytes, index: int) -> bool:
    byte, off = divmod(index, 8)
    if index < 0 or byte >= len(bits):
        raise CredentialRejected(f"status index {index} is outside the list", reason=RejectReason.STATUS_UNAVAILABLE)
    return bool(bits[byte] >> (7 - off) & 1)


def set_bit(bits: bytearray, index: int) -> None:
    byte, off = divmod(index, 8)
    bits[byte] |= 1 << (7 - off)


def status_entry(list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The ``credentialStatus`` of a credential at ``index`` of the list at ``list_url``."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    identity: NodeIdentity,
    *,
    list_url: str,
    bits: bytes,
    purpose: str = "revocation",
    ttl_s: int = 300,
    now: dt.datetime | None = None,
) -> str:
    """The signed status-list credential (a ``vc+jwt``) the issuing node publishes, as of ``now``
    (default: the current time)."""
    now = now or utc_now()
    vc = build_credential(
        issuer=identity.did,
        ctype="BitstringStatusListCredential",
        subject={
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_list(bits),
            "ttl": ttl_s * 1000,
        },
        valid_from=now - dt.timedelta(seconds=1),
        valid_until=now + dt.timedelta(days=1),
        credential_id=list_url,
    )
    return issue_vc_jwt(identity, vc, validate=False, now=now)


class StatusListCache:
    """Verifier side: fetched, signature-checked, decoded lists, kept at most ``max_age_s``.

    ``local`` maps list URLs this node publishes itself to a function giving the signed list, so a
    node checks its own credentials without a network round trip. ``clock`` (monotonic seconds)
    ages the cached copies; ``wall_clock`` is the time a fetched list's own validity is checked at.
    """

    def __init__(
        self,
        resolver: DidResolver,
        fetcher: GuardedFetcher | None = None,
        *,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        local: Callable[[str], str | None] | None = None,
        wall_clock: Clock = SystemClock(),
    ) -> None:
        self.resolver = resolver
        self.fetcher = fetcher or resolver.fetcher
        self.max_age_s = max_age_s
        self._clock = clock
        self._local = local
        self._wall_clock = wall_clock
        # url → (at, issuer, purpose, bits, fresh for s); a Token Status List's purpose is "tsl:<bits>"
        self._lists: dict[str, tuple[float, str, str, bytes, float]] = {}
        self._generation = 0  # counts invalidations (a fetch that spans one is not cached)
        #: the network fetch under way per URL: (its loop, when it started by :meth:`now`, the
        #: generation it started in, its task). Concurrent prefetches of one list (a node checking
        #: several partners' presentations, whose credentials one operator issued) join it when it
        #: started at or after their ``not_before`` and no invalidation came since
        self._fetching: dict[str, tuple[asyncio.AbstractEventLoop, float, int, asyncio.Task[None]]] = {}

    def now(self) -> float:
        """The cache's clock (monotonic seconds)."""
        return self._clock()

    def invalidate(self, url: str | None = None) -> None:
        """Drop cached lists (the node's own revocation drops its list). A copy fetched before
        this call and accepted after it is used for the verification that fetched it, never
        cached: no cached copy predates the revocation that invalidated it."""
        self._generation += 1
        if url is None:
            self._lists.clear()
        else:
            self._lists.pop(url, None)

    def _accept(self, url: str, token: str, generation: int | None = None) -> tuple[float, str, str, bytes, float]:
        header, _ = peek(token)
        if header.get("typ") == TYP:
            tsl = verify_status_list_token(token, url, self.resolver, now=self._wall_clock.now())
            entry = (self._clock(), tsl.issuer, f"tsl:{tsl.bits}", tsl.raw, min(self.max_age_s, tsl.fresh_for_s))
            if generation is None or generation == self._generation:
                self._lists[url] = entry
            return entry
        _, vc = verify_vc_jwt(token, self.resolver, check_schema=False, now=self._wall_clock.now())
        subj = vc.get("credentialSubject", {})
        if "BitstringStatusListCredential" not in vc.get("type", []) or subj.get("type") != "BitstringStatusList":
            raise CredentialRejected(
                f"{url} is not a BitstringStatusListCredential", reason=RejectReason.STATUS_UNAVAILABLE
            )
        if vc.get("id", url) != url:
            raise CredentialRejected(f"status list at {url} names another id", reason=RejectReason.STATUS_UNAVAILABLE)
        entry = (
            self._clock(),
            str(vc["issuer"]),
            str(subj.get("statusPurpose")),
            decode_list(str(subj.get("encodedList", ""))),
            self._lifetime(vc),
        )
        if generation is None or generation == self._generation:
            self._lists[url] = entry
        return entry

    def _lifetime(self, vc: Mapping[str, Any]) -> float:
        """How long a status-list credential may be kept: the cache's maximum age, its ``ttl``
        (milliseconds, §4.1) and the time left to its ``validUntil``, whichever ends first."""
        out = self.max_age_s
        ttl = vc.get("credentialSubject", {}).get("ttl")
        if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl >= 0:
            out = min(out, ttl / 1000.0)
        until = vc.get("validUntil")
        if isinstance(until, str):
            try:
                end = dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
            except ValueError:
                return out
            if end.tzinfo is not None:
                out = min(out, max(0.0, (end - self._wall_clock.now()).total_seconds()))
        return out

    def _fresh(self, url: str, not_before: float | None = None) -> tuple[float, str, str, bytes, float] | None:
        hit = self._lists.get(url)
        if hit and self._clock() - hit[0] < hit[4] and (not_before is None or hit[0] >= not_before):
            return hit
        return None

    def _get_sync(self, url: str, not_before: float | None = None) -> tuple[float, str, str, bytes, float]:
        hit = self._fresh(url, not_before)
        if hit:
            return hit
        generation = self._generation
        token = self._local(url) if self._local else None
        if token is None:
            try:
                token = self.fetcher.get_sync(url).decode("ascii").strip()
            except UnicodeDecodeError as exc:
                raise CredentialRejected(
                    f"status list at {url} is not a token", reason=RejectReason.STATUS_UNAVAILABLE
                ) from exc
        return self._accept(url, token, generation)

    async def prefetch(self, url: str, not_before: float | None = None) -> None:
        """Fetch the list unless a copy within the maximum age (and, with ``not_before``,
        fetched at or after that :meth:`now` reading) is held."""
        if self._fresh(url, not_before) is not None:
            return
        generation = self._generation
        token = self._local(url) if self._local else None
        if token is not None:
            self._accept(url, token, generation)
            return
        loop = asyncio.get_running_loop()
        under_way = self._fetching.get(url)
        if (
            under_way is None
            or under_way[0] is not loop
            or under_way[2] != generation
            or (not_before is not None and under_way[1] < not_before)
        ):
            task = loop.create_task(self._fetch(url, generation))
            under_way = self._fetching[url] = (loop, self._clock(), generation, task)
            task.add_done_callback(lambda done: self._fetched(url, done))
        await asyncio.shield(under_way[3])  # a waiter gone (its request ended) leaves the others' fetch

    async def _fetch(self, url: str, generation: int) -> None:
        token = (await self.fetcher.get(url)).decode("ascii", errors="replace").strip()
        await self._resolve_signer(token)
        self._accept(url, token, generation)

    def _fetched(self, url: str, done: asyncio.Task[None]) -> None:
        if self._fetching.get(url, (None, None, None, None))[3] is done:
            del self._fetching[url]
        if not done.cancelled():
            done.exception()  # retrieved: a refusal nobody waited for any more is not logged

    async def _resolve_signer(self, token: str) -> None:
        """Resolve the DID whose key the fetched list names (its ``kid``) on the event loop,
        sharing a resolution already under way (the credential's issuer, resolved beside this
        fetch), so that :meth:`_accept` checks the list's signature against a kept document
        rather than fetching one synchronously. Only the look-up moves: the signature, its
        signer and the list's issuer are checked in :meth:`_accept` as before."""
        try:
            header, _ = peek(token)
        except CredentialRejected:
            return  # not a token: _accept refuses it
        kid = header.get("kid")
        if isinstance(kid, str) and "#" in kid:
            await self.resolver.resolve(kid.split("#", 1)[0], kid=kid)

    def check(self, entry: Mapping[str, Any], *, issuer: str, not_before: float | None = None) -> str:
        """Raise ``revoked`` (or ``status-unavailable``) unless the credential's bit is clear.
        ``not_before`` (a :meth:`now` reading) refuses cached copies fetched earlier, so a verifier
        that must know the status as of now gets the list fetched again. An entry with
        ``status_list`` (an SD-JWT VC's ``status`` claim) is checked in its Token Status List."""
        if "status_list" in entry:
            return self._check_token_list(entry, issuer=issuer, not_before=not_before)
        try:
            url = str(entry["statusListCredential"])
            index = int(entry["statusListIndex"])
            purpose = str(entry.get("statusPurpose", "revocation"))
        except (KeyError, ValueError, TypeError) as exc:
            raise CredentialRejected("credentialStatus is malformed", reason=RejectReason.MALFORMED) from exc
        try:
            _at, list_issuer, list_purpose, bits, _ttl = self._get_sync(url, not_before)
        except CredentialRejected as exc:
            raise CredentialRejected(
                f"status list {url} unavailable: {exc}", reason=RejectReason.STATUS_UNAVAILABLE
            ) from exc
        if list_issuer != issuer or list_purpose != purpose:
            raise CredentialRejected(
                f"status list {url} is not the issuer's {purpose} list",
                reason=RejectReason.STATUS_UNAVAILABLE,
            )
        if bit(bits, index):
            raise CredentialRejected(
                f"credential is {'revoked' if purpose == 'revocation' else 'suspended'} "
                f"(status list {url}, index {index})",
                reason=RejectReason.REVOKED,
                rule="W3C Bitstring Status List §3.2",
            )
        return f"{purpose} bit {index} clear in {url}"

    def _check_token_list(self, entry: Mapping[str, Any], *, issuer: str, not_before: float | None) -> str:
        uri, idx = parse_reference(entry)
        try:
            _at, list_issuer, kind, raw, _ttl = self._get_sync(uri, not_before)
        except CredentialRejected as exc:
            raise CredentialRejected(
                f"status list {uri} unavailable: {exc}", reason=RejectReason.STATUS_UNAVAILABLE, rule=exc.rule
            ) from exc
        if not kind.startswith("tsl:"):
            raise CredentialRejected(
                f"{uri} is not a Token Status List", reason=RejectReason.STATUS_UNAVAILABLE, rule=f"{DRAFT} §5.1"
            )
        if list_issuer != issuer:
            raise CredentialRejected(
                f"status list {uri} is signed by {list_issuer}, not by the credential's issuer {issuer}",
                reason=RejectReason.STATUS_UNAVAILABLE,
                rule=f"{DRAFT} §11.3: the Status List Token is the issuer's",
            )
        value = get_status(raw, idx, bits=int(kind[4:]))
        if value != 0:
            name = STATUS_NAMES.get(value, f"0x{value:02X}")
            raise CredentialRejected(
                f"credential is {'revoked' if value == 1 else name.lower()} (status {name} at index {idx} of {uri})",
                reason=RejectReason.REVOKED,
                rule=f"{DRAFT} §7",
            )
        return f"status VALID at index {idx} of Token Status List {uri}"
