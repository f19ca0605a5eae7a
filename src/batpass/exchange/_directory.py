"""Partners by BPNL: this node's client of the federation operator's BPN-DID directory (the
Tractus-X BDRS served by the operator's node, :mod:`batpass.dataspace._discovery`).

``PartnerBpnls.did_of(bpnl)`` answers a partner's DID from its BPNL — so a connector request may
name the provider by BPNL (BPN → DID → the DID document's DSP endpoint, as a Tractus-X connector
resolves a counter-party through the BDRS); ``bpnl_of(did)`` the reverse, for aspects that name a
partner by BPNL (Industry Core). The node's participant register answers first; the directory is
asked for the one partner only (``?bpn=`` / ``?did=``), never downloaded whole, so a node learns no
member it does not deal with. Access: this node's DCP self-issued token for the operator's DID;
the operator verifies it with this node's membership credential. Configuration: node config
extra ``bdrs`` = ``{"url": <operator base URL>, "did": <operator DID>}``; without it only the
participant register answers. Answers are cached for the node's life (a mapping changes only
when a member's DID does).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from batpass.core.errors import BatpassError, NotFound, UpstreamUnavailable
from batpass.participants import ParticipantService
from batpass.trust import NodeIdentity, issue_self_issued_token

__all__ = ["PartnerBpnls", "dsp_endpoints_of"]

_PATH = "/api/directory/bpn-directory"


class PartnerBpnls:
    """BPNL ⇄ DID of partners: the participant register, then the operator's directory."""

    def __init__(
        self,
        participants: ParticipantService,
        identity: NodeIdentity,
        *,
        own_bpnl: str | None,
        client: httpx.AsyncClient,
        bdrs: Mapping[str, Any] | None,
    ) -> None:
        self.participants = participants
        self.identity = identity
        self.own_bpnl = own_bpnl
        self.client = client
        self.bdrs = dict(bdrs) if isinstance(bdrs, Mapping) and bdrs.get("url") and bdrs.get("did") else None
        self._dids: dict[str, str] = {}
        self._bpnls: dict[str, str] = {}

    async def _ask(self, param: str, value: str) -> dict[str, str]:
        if self.bdrs is None:
            return {}
        token = issue_self_issued_token(self.identity, audience=str(self.bdrs["did"]), bpn=self.own_bpnl)
        url = str(self.bdrs["url"]).rstrip("/") + _PATH
        try:
            r = await self.client.get(url, params={param: value}, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"the BPN directory at {url} did not answer: {exc}", rule="BDRS") from exc
        if r.status_code != 200:
            raise UpstreamUnavailable(f"the BPN directory answered HTTP {r.status_code}", rule="BDRS directory API")
        raw = r.content
        if raw[:2] == b"\x1f\x8b":  # still compressed (the client did not decode Content-Encoding)
            raw = gzip.decompress(raw)
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise UpstreamUnavailable("the BPN directory answered no JSON", rule="BDRS directory API") from exc
        if not isinstance(doc, dict):
            raise UpstreamUnavailable("the BPN directory answered no object", rule="BDRS directory API")
        out = {str(k): str(v) for k, v in doc.items()}
        for bpn, did in out.items():
            self._dids[bpn], self._bpnls[did] = did, bpn
        return out

    async def bpnl_of(self, did: str) -> str | None:
        """The BPNL of the partner ``did`` (None when neither the register nor the directory knows one)."""
        try:
            bpnl = self.participants.get(did).bpnl
            if bpnl is not None:
                return str(bpnl)
        except NotFound:
            pass
        if did not in self._bpnls:
            await self._ask("did", did)
        return self._bpnls.get(did)

    async def did_of(self, bpnl: str) -> str:
        """The DID of the partner ``bpnl``; NotFound when the directory has none."""
        if bpnl not in self._dids:
            await self._ask("bpn", bpnl)
        did = self._dids.get(bpnl)
        if did is None:
            raise NotFound(f"{bpnl} is in no BPN directory this node knows", field="provider", rule="BDRS: BPN → DID")
        return did


def dsp_endpoints_of(
    resolve_did: Callable[[str], Awaitable[Any]],
    dsp_base: Callable[[str, str], Awaitable[str]] | None = None,
) -> Callable[[str], Awaitable[list[str]]]:
    """A DID's DSP endpoints — what the operator's EDC discovery answers for a BPNL: the
    ``DataService`` entries of its DID document (none if it does not resolve), each turned into
    the DSP base its version metadata names by ``dsp_base(did, endpoint)`` (an entry names where
    the versions are, DSP 2025-1; an EDC discovery answers the DSP URL a connector posts to). An
    entry whose versions cannot be read is left out, as a connector that cannot be reached."""

    async def endpoints(did: str) -> list[str]:
        try:
            doc = await resolve_did(did)
        except (NotFound, UpstreamUnavailable):
            return []
        entries = [
            str(s["serviceEndpoint"])
            for s in doc.get("service", [])
            if s.get("type") == "DataService" and isinstance(s.get("serviceEndpoint"), str)
        ]
        if dsp_base is None:
            return entries
        out: list[str] = []
        for entry in entries:
            try:
                out.append(await dsp_base(did, entry))
            except BatpassError:
                continue
        return out

    return endpoints
