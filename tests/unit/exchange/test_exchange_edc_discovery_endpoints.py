"""The operator's EDC discovery answers, for a BPNL, the DSP URL a connector posts its catalog
request to — not the DID document's ``DataService`` entry, which since DSP 2025-1's DID binding
names the connector's version metadata (``/.well-known/dspace-version``). A connector (the
IRS-like walker's, an EDC) given the entry itself posted to ``…/dspace-version/catalog/request``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from batpass.dataspace import VersionDiscovery
from batpass.exchange._directory import dsp_endpoints_of

CAR = "did:web:car.example%3A8443"
DOC: dict[str, Any] = {
    "id": CAR,
    "service": [
        {
            "id": CAR + "#dsp",
            "type": "DataService",
            "serviceEndpoint": "https://car.example:8443/.well-known/dspace-version",
        },
        {
            "id": CAR + "#old",
            "type": "DataService",
            "serviceEndpoint": "https://gone.example:8443/.well-known/dspace-version",
        },
        {"id": CAR + "#cs", "type": "CredentialService", "serviceEndpoint": "https://car.example:8443/dcp"},
    ],
}
VERSIONS = {
    "protocolVersions": [
        {
            "version": "2025-1",
            "path": "/api/dsp/2025-1",
            "binding": "HTTPS",
            "serviceId": CAR + "#dsp",
            "identifierType": "did:web",
            "auth": {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]},
        }
    ]
}


def _handler(request: httpx.Request) -> httpx.Response:
    if request.url.host == "car.example" and request.url.path == "/.well-known/dspace-version":
        return httpx.Response(200, json=VERSIONS)
    raise httpx.ConnectError("connection refused", request=request)


def test_edc_discovery_answers_the_dsp_base_the_version_metadata_names() -> None:
    async def resolve(did: str) -> dict[str, Any]:
        assert did == CAR
        return DOC

    async def go() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_handler)) as client:
            return await dsp_endpoints_of(resolve, VersionDiscovery(client).dsp_base)(CAR)

    # the reachable connector's DSP base; the entry whose versions cannot be read is left out
    assert asyncio.run(go()) == ["https://car.example:8443/api/dsp/2025-1"]
