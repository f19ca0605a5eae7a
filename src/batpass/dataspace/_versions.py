"""Version discovery on the consumer's side (DSP 2025-1 "Common functionality": Exposure of
Versions, HTTPS binding; Discovery of Service Endpoints).

A partner publishes its connector as a ``DataService`` entry of its DID document; its
``serviceEndpoint`` is the connector's version metadata endpoint (``<root>/.well-known/dspace-version``,
as the spec's example shows). :class:`VersionDiscovery` reads that document, picks the ``2025-1``
entry with the ``HTTPS`` binding and answers ``<root>`` + its ``path`` as the DSP base; a partner
offering no version this node speaks is refused (:class:`~batpass.dataspace.errors.NoCommonVersion`,
"if the Connector can't identify a matching Dataspace Protocol version, it must terminate the
communication"). An endpoint that is not a version endpoint (a DID document written before this
binding named the DSP base itself) is looked up at its origin's ``/.well-known/dspace-version``
(RFC 8615). Answers are kept per partner for ``ttl_s``.

Knows nothing of DID documents (callers hand the service endpoint) nor of what is exchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace.errors import NoCommonVersion, PartnerUnreachable, Stage

__all__ = ["SUPPORTED_VERSIONS", "WELL_KNOWN", "ServiceEndpoint", "VersionDiscovery"]

WELL_KNOWN = "/.well-known/dspace-version"
#: DSP versions this node speaks, preferred first, with the binding it uses
SUPPORTED_VERSIONS = ("2025-1",)
BINDING = "HTTPS"


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """A partner's connector as its DID document's ``DataService`` entry names it: where its
    versions are found, not the DSP base itself."""

    url: str


def version_url(endpoint: str) -> tuple[str, str]:
    """(the version metadata URL, ``<root>``) for a ``DataService`` endpoint."""
    url = httpx.URL(endpoint)
    text = str(url.copy_with(query=None, fragment=None)).rstrip("/")
    if text.endswith(WELL_KNOWN):
        return text, text[: -len(WELL_KNOWN)]
    root = str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")
    return root + WELL_KNOWN, root


class VersionDiscovery:
    """The DSP base of each partner's connector, from its version metadata, kept ``ttl_s``."""

    def __init__(self, client: httpx.AsyncClient, *, ttl_s: float = 600.0) -> None:
        self.client = client
        self.ttl_s = ttl_s
        # partner → (the service endpoint asked, its DSP base, until when it is kept)
        self._bases: dict[str, tuple[str, str, float]] = {}

    def forget(self, partner: str) -> None:
        self._bases.pop(partner, None)

    async def dsp_base(self, partner: str, endpoint: str) -> str:
        """The DSP 2025-1 base URL of ``partner``'s connector published at ``endpoint``."""
        hit = self._bases.get(partner)
        if hit is not None and hit[0] == endpoint and hit[2] > time.monotonic():
            return hit[1]
        try:
            url, root = version_url(endpoint)
        except httpx.InvalidURL as exc:
            raise PartnerUnreachable(
                f"{partner}'s DataService endpoint is not a URL",
                stage=Stage.CATALOG,
                partner=partner,
                reason=endpoint[:200],
                rule="DSP 2025-1 DID service entry",
            ) from exc
        try:
            resp = await self.client.get(url)
        except httpx.HTTPError as exc:
            raise PartnerUnreachable(
                f"{url} unreachable: {type(exc).__name__}",
                stage=Stage.CATALOG,
                partner=partner,
                rule="DSP 2025-1 version metadata endpoint",
            ) from exc
        try:
            document = resp.json() if resp.status_code == 200 else None
        except ValueError:
            document = None
        problems = (
            ["not a JSON object"]
            if not isinstance(document, dict)
            else msgs.schema_errors(document, "protocol-version")
        )
        if resp.status_code != 200 or problems:
            raise PartnerUnreachable(
                f"{url} answered no DSP version document ({resp.status_code})",
                stage=Stage.CATALOG,
                partner=partner,
                partner_status=resp.status_code,
                reason="; ".join(problems)[:500] or resp.text[:200],
                rule="DSP 2025-1 protocol-version-schema",
            )
        assert isinstance(document, dict)
        offered = [v for v in document["protocolVersions"] if v.get("binding") == BINDING]
        for version in SUPPORTED_VERSIONS:
            entry = next((v for v in offered if v.get("version") == version), None)
            if entry is not None:
                base = self._base(root, str(entry["path"]), partner)
                self._bases[partner] = (endpoint, base, time.monotonic() + self.ttl_s)
                return base
        versions = sorted(f"{v.get('version')}/{v.get('binding')}" for v in document["protocolVersions"])
        raise NoCommonVersion(
            f"{partner} offers DSP {', '.join(versions)}; this node speaks "
            f"{', '.join(SUPPORTED_VERSIONS)} over {BINDING}",
            stage=Stage.CATALOG,
            partner=partner,
            partner_status=resp.status_code,
            reason=", ".join(versions),
            rule="DSP 2025-1 Exposure of Versions: no matching version, terminate",
        )

    @staticmethod
    def _base(root: str, path: str, partner: str) -> str:
        """``<root>`` + ``path`` (an absolute URL path, HTTPS binding)."""
        if not path.startswith("/") or "//" in path or ".." in path.split("/"):
            raise PartnerUnreachable(
                f"{partner}'s version path {path[:100]!r} is not an absolute URL path",
                stage=Stage.CATALOG,
                partner=partner,
                reason=path[:200],
                rule="DSP 2025-1 HTTPS binding: path is an absolute URL path segment",
            )
        return root + path.rstrip("/")
