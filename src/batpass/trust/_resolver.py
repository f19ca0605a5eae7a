"""DID resolution with a cache and an allow-list of federation hosts (no arbitrary outbound
fetches), and the same guarded HTTPS fetch for status-list credentials.

``did:key`` resolves locally (the DID is the key). ``did:web`` is fetched over HTTPS from
``https://{host}/.well-known/did.json`` or ``https://{host}/{path}/did.json`` (did:web method
spec §3.2.1) only when ``host[:port]`` is on the allow-list, through an injected httpx client
(the node's client trusting the federation CA; tests pass ``httpx.MockTransport``). Documents
are cached for ``ttl_s``; pinned documents (the node's own, its hosted subjects') never expire.

Verification itself is synchronous and reads the cache only; async callers ``await
resolver.resolve(did)`` first (``prefetch``), so the hot path never does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from batpass.core.errors import InvalidIdentifier
from batpass.core.ids import Did
from batpass.trust._keys import jwk_from_did_key
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason, VerificationMethod, parse_time

__all__ = ["DidResolver", "GuardedFetcher"]


class GuardedFetcher:
    """HTTPS GET restricted to allow-listed ``host[:port]`` values."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str],
        client: httpx.AsyncClient | None = None,
        sync_client: httpx.Client | None = None,
    ) -> None:
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self._client = client
        self._sync = sync_client

    def allow(self, host: str) -> None:
        self.allowed_hosts.add(host.lower())

    def check_url(self, url: str) -> None:
        """Raise ``host-not-allowed`` unless ``url`` is https on an allow-listed host."""
        parts = urlsplit(url)
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        if parts.scheme != "https":
            raise CredentialRejected(
                f"{url} is not https",
                reason=RejectReason.HOST_NOT_ALLOWED,
                rule="HTTPS only (did:web method specification)",
            )
        if netloc.lower() not in self.allowed_hosts and (parts.hostname or "").lower() not in self.allowed_hosts:
            raise CredentialRejected(
                f"{netloc} is not on the federation allow-list; not fetched",
                reason=RejectReason.HOST_NOT_ALLOWED,
                rule="outbound fetches only to allow-listed federation hosts",
            )

    @staticmethod
    def _body(url: str, resp: httpx.Response) -> bytes:
        if resp.status_code != 200:
            raise CredentialRejected(f"GET {url} answered {resp.status_code}", reason=RejectReason.DID_RESOLUTION)
        return resp.content

    async def get(self, url: str) -> bytes:
        self.check_url(url)
        if self._client is None:
            raise CredentialRejected(f"no HTTPS client to fetch {url}", reason=RejectReason.DID_RESOLUTION)
        try:
            resp = await self._client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise CredentialRejected(f"GET {url} failed: {exc}", reason=RejectReason.DID_RESOLUTION) from exc
        return self._body(url, resp)

    def get_sync(self, url: str) -> bytes:
        self.check_url(url)
        if self._sync is None:
            raise CredentialRejected(f"no HTTPS client to fetch {url}", reason=RejectReason.DID_RESOLUTION)
        try:
            resp = self._sync.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise CredentialRejected(f"GET {url} failed: {exc}", reason=RejectReason.DID_RESOLUTION) from exc
        return self._body(url, resp)


class DidResolver:
    """Resolves DIDs to documents and DID URLs to verification methods."""

    def __init__(
        self,
        fetcher: GuardedFetcher | None = None,
        *,
        ttl_s: float = 300.0,
        refetch_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetcher = fetcher or GuardedFetcher(allowed_hosts=())
        self.ttl_s = ttl_s
        #: a key id missing from a fetched document fetches it again (the DID's controller may
        #: have rotated), at most once per this many seconds per DID: a caller naming unknown
        #: keys cannot make the node fetch a partner's document in a loop
        self.refetch_after_s = refetch_after_s
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._pinned: dict[str, dict[str, Any]] = {}
        self._live: dict[str, Callable[[], dict[str, Any]]] = {}
        #: when a document was last fetched again for a key it lacked (failed fetches too)
        self._refetched: dict[str, float] = {}
        self._methods: dict[str, tuple[Mapping[str, Any], VerificationMethod]] = {}
        #: the fetch under way per DID (and the loop it runs on): concurrent resolutions of a DID
        #: not cached (a caller's catalog request and its answer to this node's presentation
        #: query arrive together) await one fetch rather than each opening a connection of its own
        self._fetching: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[dict[str, Any]]]] = {}

    def pin(self, document: Mapping[str, Any]) -> None:
        """Hold a document without expiry (the node's own, its hosted subjects', test fixtures)."""
        self._pinned[str(document["id"])] = dict(document)

    def pin_live(self, did: str, document: Callable[[], dict[str, Any]]) -> None:
        """Hold a document that its owner keeps current (the node's own, whose keys a rotation
        changes while it runs): ``document()`` answers it at every look-up, so it must be cheap
        and return the same object while the document is unchanged."""
        self._live[did] = document

    def forget(self, did: str) -> None:
        self._cache.pop(did, None)

    def cached(self, did: str) -> dict[str, Any] | None:
        live = self._live.get(did)
        if live is not None:
            return live()
        if did in self._pinned:
            return self._pinned[did]
        if did.startswith("did:key:"):
            return _did_key_document(did)  # the same object for the same DID (cached)
        hit = self._cache.get(did)
        if hit and self._clock() - hit[0] < self.ttl_s:
            return hit[1]
        return None

    def _url(self, did: str) -> str:
        try:
            d = Did(did)
            if d.method != "web":
                raise CredentialRejected(
                    f"DID method of {did} is not supported (did:web, did:key)",
                    reason=RejectReason.DID_RESOLUTION,
                )
            return d.web_document_url()
        except InvalidIdentifier as exc:
            raise CredentialRejected(str(exc), reason=RejectReason.DID_RESOLUTION) from exc

    def _store(self, did: str, body: bytes) -> dict[str, Any]:
        import json

        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise CredentialRejected(f"DID document of {did} is not JSON", reason=RejectReason.DID_RESOLUTION) from exc
        if not isinstance(doc, dict) or doc.get("id") != did:
            raise CredentialRejected(
                f"DID document fetched for {did} names another subject",
                reason=RejectReason.DID_RESOLUTION,
                rule="DID Core §5.1.1: document id equals the DID",
            )
        self._cache[did] = (self._clock(), doc)
        return doc

    def _stale_for(self, did: str, kid: str | None, doc: Mapping[str, Any]) -> bool:
        """True when ``kid`` is not in ``doc``, a document fetched (not pinned) at least
        ``refetch_after_s`` ago: a rotated key is looked up in a fresh copy."""
        if kid is None or did in self._live or did in self._pinned:
            return False
        hit = self._cache.get(did)
        if hit is None or hit[1] is not doc:
            return False
        last = max(hit[0], self._refetched.get(did, hit[0]))
        if self._clock() - last < self.refetch_after_s:
            return False
        if any(_vm_id(did, vm) == kid for vm in doc.get("verificationMethod", [])):
            return False
        if len(self._refetched) > 4096:
            self._refetched.clear()
        self._refetched[did] = self._clock()
        return True

    async def resolve(self, did: str, *, kid: object = None) -> dict[str, Any]:
        """The document of ``did``; with ``kid`` (the key a token's header names; anything but
        a string is ignored), a cached document that lacks it is fetched again
        (:attr:`refetch_after_s`)."""
        doc = self.cached(did)
        if doc is None:
            return await self._fetch_once(did)
        if self._stale_for(did, kid if isinstance(kid, str) else None, doc):
            try:
                return self._store(did, await self.fetcher.get(self._url(did)))
            except CredentialRejected:  # unreachable now: the cached copy answers (the key stays unknown)
                return doc
        return doc

    async def _fetch_once(self, did: str) -> dict[str, Any]:
        """Fetch and store ``did``'s document, sharing a fetch already under way on this loop:
        every waiter gets its document or its refusal (the same checks, made once). The fetch is
        a task of its own, so a waiter cancelled (its request gone) does not cancel the others'."""
        loop = asyncio.get_running_loop()
        under_way = self._fetching.get(did)
        if under_way is None or under_way[0] is not loop:
            fetch = loop.create_task(self._fetch(did))
            self._fetching[did] = under_way = (loop, fetch)
            fetch.add_done_callback(lambda done: self._fetched(did, done))
        return await asyncio.shield(under_way[1])

    async def _fetch(self, did: str) -> dict[str, Any]:
        return self._store(did, await self.fetcher.get(self._url(did)))

    def _fetched(self, did: str, done: asyncio.Future[dict[str, Any]]) -> None:
        if self._fetching.get(did, (None, None))[1] is done:
            del self._fetching[did]
        if not done.cancelled():
            done.exception()  # retrieved: a refusal nobody waited for any more is not logged

    def resolve_sync(self, did: str) -> dict[str, Any]:
        doc = self.cached(did)
        if doc is not None:
            return doc
        return self._store(did, self.fetcher.get_sync(self._url(did)))

    def method(self, kid: str, *, controller: str | None = None, fetch: bool = True) -> VerificationMethod:
        """The verification method ``kid`` (a DID URL ``did#fragment``) names.

        ``controller`` (the token's issuer) must be the DID part of ``kid``; a key of another
        DID can never vouch for an issuer.
        """
        if not isinstance(kid, str) or "#" not in kid:
            raise CredentialRejected(f"kid {kid!r} is not a DID URL with a fragment", reason=RejectReason.UNKNOWN_KEY)
        did = kid.split("#", 1)[0]
        if controller is not None and did != controller:
            raise CredentialRejected(
                f"key {kid} does not belong to issuer {controller}",
                reason=RejectReason.UNKNOWN_KEY,
                rule="the signing key is a verification method of the issuer's DID",
            )
        doc = self.cached(did)
        if doc is None:
            if not fetch:
                raise CredentialRejected(f"DID {did} is not resolved", reason=RejectReason.UNKNOWN_ISSUER)
            doc = self.resolve_sync(did)
        # the method found in this very document object (a document fetched again, pinned again
        # or expired is another object, so a rotated or removed key is looked up afresh)
        hit = self._methods.get(kid)
        if hit is not None and hit[0] is doc:
            return hit[1]
        if fetch and self._stale_for(did, kid, doc):
            # unreachable now: the cached copy answers (and the key stays unknown)
            with contextlib.suppress(CredentialRejected):
                doc = self._store(did, self.fetcher.get_sync(self._url(did)))
        vm = self._find(did, kid, doc)
        if len(self._methods) > 4096:
            self._methods.clear()
        self._methods[kid] = (doc, vm)
        return vm

    @staticmethod
    def _find(did: str, kid: str, doc: Mapping[str, Any]) -> VerificationMethod:
        for vm in doc.get("verificationMethod", []):
            if _vm_id(did, vm) == kid and isinstance(vm.get("publicKeyJwk"), dict):
                expires = vm.get("expires")
                return VerificationMethod(
                    id=kid,
                    controller=str(vm.get("controller", did)),
                    jwk=vm["publicKeyJwk"],
                    expires=parse_time(expires) if isinstance(expires, str) else None,
                )
        raise CredentialRejected(f"{did} has no verification method {kid}", reason=RejectReason.UNKNOWN_KEY)


def _vm_id(did: str, vm: Mapping[str, Any]) -> str:
    """A verification method's id as a DID URL (a relative ``#fragment`` joined to ``did``)."""
    vm_id = str(vm.get("id", ""))
    return did + vm_id if vm_id.startswith("#") else vm_id


@functools.lru_cache(maxsize=4096)
def _did_key_document(did: str) -> dict[str, Any]:
    try:
        jwk = jwk_from_did_key(did)
    except ValueError as exc:
        raise CredentialRejected(str(exc), reason=RejectReason.DID_RESOLUTION) from exc
    vm_id = f"{did}#{did[len('did:key:') :]}"
    return {
        "id": did,
        "verificationMethod": [{"id": vm_id, "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk}],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
    }


def check_key_time(vm: VerificationMethod, signed_at: dt.datetime | None) -> None:
    """A retired key verifies only signatures dated before its retirement."""
    if vm.expires is None:
        return
    if signed_at is None or signed_at > vm.expires:
        raise CredentialRejected(
            f"key {vm.id} was retired at {vm.expires.isoformat()}; the token is dated after",
            reason=RejectReason.KEY_RETIRED,
            rule="key rotation: retired keys verify only earlier signatures",
        )
