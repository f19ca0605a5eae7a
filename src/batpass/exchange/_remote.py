"""A passport on another node, read with this node's credentials — the one fetch the console's
"open a passport" page and ``batpass comply --passport URL`` (and the compliance API) share.

The serving node is the one the URL names (the car maker's node, or its backup node when the
URL is the backup's); when a resolver answers for another node (docs/resolver.md) it names that
node in ``Content-Location`` and the presentation goes there, since a resolver forwards none.
This node takes a nonce from that node (``/v1/auth/nonce``, which also names
the DID the presentation must be addressed to: a ``did:web`` of the URL's host, which this node
resolves before it presents anything), presents one ``vp+jwt`` holding every
access-role credential it holds (an SD-JWT one as itself, with key binding, if it holds no
``vc+jwt``), and reads the passport. The serving node decides the tiers (``tiers`` in its
answer); each tier beyond the public one is attributed to the held credentials whose role opens
it (``passport.ROLE_TIERS``), so a reader sees which credential opened which tier.

Failures are named, never raised raw: :class:`~batpass.core.errors.NotFound` (no passport
there), :class:`~batpass.core.errors.Forbidden` (the serving node refused the presentation),
:class:`~batpass.core.errors.UpstreamUnavailable` (the node did not answer, or answered
something else), :class:`~batpass.core.errors.InvalidInput` (not an https URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from batpass.core.errors import BatpassError, Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from batpass.passport import ROLE_TIERS, Tier
from batpass.trust import CredentialType, TrustService, issue_vp_jwt, peek

__all__ = ["HeldRole", "OpenedTier", "PassportFetcher", "RemotePassport", "fetch_passport", "held_roles", "opened_by"]


@dataclass(frozen=True, slots=True)
class HeldRole:
    """An access-role credential this node holds: its role, type and issuer (read from the token
    this node verified when it took it into its wallet)."""

    role: str
    credential_type: str
    issuer: str


@dataclass(frozen=True, slots=True)
class OpenedTier:
    """A tier the serving node opened, and the held credentials whose role opens it (none for
    the public tier)."""

    tier: str
    by: tuple[HeldRole, ...]


@dataclass(frozen=True, slots=True)
class RemotePassport:
    """What the serving node answered: its document (``passportId``, ``batteryId``, ``status``,
    ``version``, ``tiers``, ``data``), the tiers and who opened them, the DID the presentation
    was addressed to (``None`` when this node presented nothing), and whether it serves a QR code."""

    url: str
    origin: str
    document: Mapping[str, Any]
    opened: tuple[OpenedTier, ...]
    audience: str | None
    presented: tuple[HeldRole, ...]
    has_qr: bool

    @property
    def tiers(self) -> frozenset[str]:
        return frozenset(t.tier for t in self.opened)


def held_roles(tokens: Iterable[str]) -> tuple[HeldRole, ...]:
    """The role, type and issuer of each held access-role credential (``vc+jwt`` or SD-JWT)."""
    out: list[HeldRole] = []
    for token in tokens:
        try:
            _, payload = peek(token.split("~", 1)[0])
        except Exception:  # a token the wallet holds but that does not parse opens nothing
            continue
        subject = payload.get("credentialSubject") or {}
        role = str(subject.get("role") or payload.get("role") or "")
        types = payload.get("type") or payload.get("vct") or CredentialType.ACCESS_ROLE.value
        ctype = (
            next((t for t in types if t != "VerifiableCredential"), str(types)) if isinstance(types, list) else types
        )
        issuer = payload.get("issuer") or payload.get("iss") or ""
        if isinstance(issuer, Mapping):
            issuer = issuer.get("id", "")
        out.append(HeldRole(role, str(ctype), str(issuer)))
    return tuple(out)


def opened_by(tiers: Iterable[str], held: Sequence[HeldRole]) -> tuple[OpenedTier, ...]:
    """Each tier the serving node opened, with the held credentials whose role opens it (the
    public tier needs none), in the order of Annex XIII."""
    granted = set(tiers) | {Tier.PUBLIC.value}
    out = []
    for tier in Tier:
        if tier.value not in granted:
            continue
        by = () if tier is Tier.PUBLIC else tuple(h for h in held if tier in ROLE_TIERS.get(h.role, frozenset()))
        out.append(OpenedTier(tier.value, by))
    return tuple(out)


async def fetch_passport(url: str, *, trust: TrustService | None, client: httpx.AsyncClient) -> RemotePassport:
    """Read the passport at ``url`` (``https://…/v1/passports/{id}`` or a GS1 Digital Link URL on
    another node) with every access-role credential this node holds; without any, the public
    tier. See the module docstring for the failures."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise InvalidInput(f"{url!r} is not an https URL", field="passport", rule="a passport URL on another node")
    url = url.strip()
    origin = f"{parts.scheme}://{parts.netloc}"
    headers = {"Accept": "application/json"}
    tokens = [] if trust is None else trust.held([CredentialType.ACCESS_ROLE.value])
    held = held_roles(tokens)
    audience: str | None = None
    try:
        if tokens and trust is not None:
            # a resolver answers from the node that serves the passport and names it
            # (Content-Location); the presentation is addressed to that node and read there
            url = await _serving_url(client, url)
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            nonce = (await client.get(f"{origin}/v1/auth/nonce")).raise_for_status().json()
            audience = await _serving_did(trust, str(nonce["audience"]), parts.hostname or "", origin)
            vcs = [t for t in tokens if "~" not in t]
            token = (
                issue_vp_jwt(trust.identity, vcs, audience=audience, nonce=nonce["nonce"])
                if vcs
                else trust.present(tokens[0], audience=audience, nonce=nonce["nonce"])
            )
            presented = held if vcs else held[:1]
            headers["Authorization"] = f"Bearer {token}"
        else:
            presented = ()
        r = await client.get(url, headers=headers)
        qr = None
        body = r.json() if r.status_code == 200 else None
        if isinstance(body, dict):
            pid = str(body.get("passportId", "")).removeprefix("urn:uuid:")
            qr = await client.get(f"{origin}/v1/passports/{pid}/qr.svg")
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamUnavailable(f"{origin} did not serve the passport: {exc}", partner=origin) from exc
    if r.status_code == 404:
        raise NotFound(f"{url}: no passport there", rule="passport lookup")
    if r.status_code in (401, 403):
        raise Forbidden(
            f"{origin} refused this node's presentation ({r.status_code})",
            rule="the serving node's recognition of access roles (Art. 77(2))",
        )
    if r.status_code != 200:
        raise UpstreamUnavailable(f"{origin} answered {r.status_code} for the passport", partner=origin)
    doc = r.json()
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise UpstreamUnavailable(f"{origin} answered something that is not a passport", partner=origin)
    return RemotePassport(
        url=url,
        origin=origin,
        document=doc,
        opened=opened_by([str(t) for t in doc.get("tiers") or ()], presented),
        audience=audience,
        presented=presented,
        has_qr=qr is not None and qr.status_code == 200,
    )


async def _serving_url(client: httpx.AsyncClient, url: str) -> str:
    """``url``, or the https URL of the node that served it when a resolver answered for that
    node (its ``Content-Location``). Only a GS1 Digital Link path is routed by a resolver: any
    other URL is its node's own, and is not asked twice."""
    if "/01/" not in urlsplit(url).path:
        return url
    r = await client.get(url, headers={"Accept": "application/json"})
    served = str(r.headers.get("content-location") or "")
    if r.status_code != 200 or not served:
        return url
    there = urlsplit(urljoin(url, served))
    if there.scheme != "https" or not there.netloc or there.netloc == urlsplit(url).netloc:
        return url
    return str(there.geturl())


async def _serving_did(trust: TrustService, audience: str, host: str, origin: str) -> str:
    """The serving node's DID, which the presentation is addressed to: the ``did:web`` the nonce
    names must be of the URL's host (so no other node could replay the presentation), and it
    must resolve (its DID document, over HTTPS under the federation's TLS trust)."""
    named = unquote(audience.removeprefix("did:web:").split(":", 1)[0]).rsplit(":", 1)[0]
    if not audience.startswith("did:web:") or named.lower() != host.lower():
        raise Forbidden(
            f"{origin} asked for a presentation addressed to {audience}, not to itself; nothing was presented",
            rule="a presentation is addressed to the serving node's DID",
        )
    try:
        await trust.resolver.resolve(audience)
    except (BatpassError, httpx.HTTPError, ValueError) as exc:
        raise UpstreamUnavailable(f"{origin}: its DID {audience} does not resolve: {exc}", partner=origin) from exc
    return audience


class PassportFetcher:
    """:func:`fetch_passport` with this node's trust service: the compliance capability's
    ``RemotePassports`` port (the node registers one)."""

    def __init__(self, trust: TrustService | None) -> None:
        self.trust = trust

    async def fetch(self, url: str, *, client: httpx.AsyncClient) -> RemotePassport:
        return await fetch_passport(url, trust=self.trust, client=client)

    async def read_passport(self, url: str, *, client: httpx.AsyncClient) -> tuple[Mapping[str, Any], bool]:
        got = await self.fetch(url, client=client)
        return got.document, got.has_qr
