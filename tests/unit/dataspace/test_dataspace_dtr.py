"""Digital twin registry over HTTP: BPN-scoped visibility (closed by default), lookups, paging, errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from _dsp_harness import ADMIN_KEY, CONSUMER_DID, OTHER_DID, PROVIDER_DID, token

from batpass.core.errors import InvalidInput
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.dataspace import TwinRegistry

pytestmark = pytest.mark.anyio

B = "https://provider.test/api/v3"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def shell(i: int, *, reader: str | None) -> dict[str, Any]:
    ext = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": reader}]} if reader else None
    sai: dict[str, Any] = {"name": "partInstanceId", "value": f"SN-{i}"}
    if ext:
        sai["externalSubjectId"] = ext
    return {
        "id": f"urn:uuid:shell-{i}",
        "idShort": f"battery{i}",
        "globalAssetId": f"urn:uuid:cx-{i}",
        "specificAssetIds": [
            sai,
            {
                "name": "manufacturerPartId",
                "value": "MPN-1",
                "externalSubjectId": {
                    "type": "ExternalReference",
                    "keys": [{"type": "GlobalReference", "value": "PUBLIC_READABLE"}],
                },
            },
        ],
        "submodelDescriptors": [
            {
                "id": f"urn:uuid:sm-{i}",
                "semanticId": {
                    "type": "ExternalReference",
                    "keys": [
                        {
                            "type": "GlobalReference",
                            "value": "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass",
                        }
                    ],
                },
                "endpoints": [
                    {
                        "interface": "SUBMODEL-3.0",
                        "protocolInformation": {
                            "href": "https://provider.test/api/public",
                            "subprotocol": "DSP",
                            "subprotocolBody": "id=asset-1;dspEndpoint=https://provider.test/api/dsp/2025-1",
                        },
                    }
                ],
            }
        ],
    }


async def test_visibility_lookup_paging(network: Any) -> None:
    net, *_ = network
    admin = {"X-Api-Key": ADMIN_KEY}
    async with net.client() as c:
        for i in range(5):
            r = await c.post(
                B + "/shell-descriptors", json=shell(i, reader="BPNL000000000CNS" if i < 3 else None), headers=admin
            )
            assert r.status_code == 201, r.text
        r = await c.post(B + "/shell-descriptors", json=shell(0, reader=None), headers=admin)
        assert r.status_code == 409 and r.json()["messages"][0]["messageType"] == "Error"
        r = await c.post(B + "/shell-descriptors", json=shell(9, reader=None))
        assert r.status_code == 401  # writes need the admin key
        as_consumer = token(CONSUMER_DID, PROVIDER_DID)
        link = b64(json.dumps({"name": "partInstanceId", "value": "SN-1"}))
        r = await c.get(B + "/lookup/shells", params={"assetIds": link}, headers=as_consumer)
        assert r.json()["result"] == ["urn:uuid:shell-1"]
        # a closed id (SN-4: no externalSubjectId) is invisible to partners, visible to the owner
        r = await c.post(
            B + "/lookup/shellsByAssetLink", json=[{"name": "partInstanceId", "value": "SN-4"}], headers=as_consumer
        )
        assert r.json()["result"] == []
        r = await c.post(
            B + "/lookup/shellsByAssetLink", json=[{"name": "partInstanceId", "value": "SN-4"}], headers=admin
        )
        assert r.json()["result"] == ["urn:uuid:shell-4"]
        # another partner sees SN-1 neither by lookup nor by a spoofed Edc-Bpn header
        r = await c.get(
            B + "/lookup/shells",
            params={"assetIds": link},
            headers={**token(OTHER_DID, PROVIDER_DID), "Edc-Bpn": "BPNL000000000CNS"},
        )
        assert r.json()["result"] == []
        # the consumer's view of a shell hides externalSubjectIds; another partner gets the reduced view
        r = await c.get(B + f"/shell-descriptors/{b64('urn:uuid:shell-1')}", headers=as_consumer)
        body = r.json()
        assert body["globalAssetId"] == "urn:uuid:cx-1" and all(
            "externalSubjectId" not in s for s in body["specificAssetIds"]
        )
        r = await c.get(B + f"/shell-descriptors/{b64('urn:uuid:shell-1')}", headers=token(OTHER_DID, PROVIDER_DID))
        assert "globalAssetId" not in r.json() and [s["name"] for s in r.json()["specificAssetIds"]] == [
            "manufacturerPartId"
        ]
        # cursor paging over the owner's list
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await c.get(B + "/shell-descriptors", params=params, headers=admin)
            seen += [s["id"] for s in r.json()["result"]]
            cursor = r.json()["paging_metadata"].get("cursor")
            if not cursor:
                break
        assert seen == [f"urn:uuid:shell-{i}" for i in range(5)]
        r = await c.get(B + "/shell-descriptors", params={"limit": 0}, headers=admin)
        assert r.status_code == 400 and "messages" in r.json()
        r = await c.get(B + f"/shell-descriptors/{b64('urn:uuid:nope')}", headers=admin)
        assert r.status_code == 404 and r.json()["messages"][0]["text"]


async def test_public_readable_only_for_allowed_names(network: Any) -> None:
    net, *_ = network
    bad = shell(7, reader="PUBLIC_READABLE")
    async with net.client() as c:
        r = await c.post(B + "/shell-descriptors", json=bad, headers={"X-Api-Key": ADMIN_KEY})
    assert r.status_code == 400


async def test_an_asset_id_query_with_a_lone_surrogate_is_refused_naming_it(network: Any) -> None:
    """``assetIds`` is JSON the registry reads itself (``parse_asset_ids_query``), whose escapes
    may spell a lone surrogate no store can take as a parameter: refused (400, RFC 8259 §8.2,
    naming the member) before any query. Before: it reached the lookup's query."""
    spoilt = json.dumps({"name": "partInstanceId", "value": "SN-\ud800"})  # the escape kept
    with pytest.raises(InvalidInput) as ei:
        TwinRegistry.parse_asset_ids_query([b64(spoilt)])
    assert (ei.value.field, ei.value.rule, ei.value.status) == ("assetIds[0].value", SCALAR_TEXT_RULE, 400)
    net, *_ = network
    async with net.client() as c:
        r = await c.get(B + "/lookup/shells", params={"assetIds": b64(spoilt)}, headers={"X-Api-Key": ADMIN_KEY})
        assert r.status_code == 400, r.text
        r = await c.get(B + "/lookup/shells", params={"assetIds": spoilt}, headers={"X-Api-Key": ADMIN_KEY})
        assert r.status_code == 400, r.text
