"""The EDC management API v3 facade between two in-process nodes: assets, policies, contract
definitions, catalog, negotiation, transfer, EDRs, and EDC's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _dsp_harness import ADMIN_KEY, CONSUMER_BPN, CX_USAGE, PROVIDER_DID, access_for
from sqlalchemy import func, select

from batpass.dataspace import EdcManagement, management_routes, routes
from batpass.dataspace import _sql as t
from batpass.http import install_error_handlers

pytestmark = pytest.mark.anyio
M = "/management/v3"
ADMIN = {"X-Api-Key": ADMIN_KEY}
EDC = "https://w3id.org/edc/v0.0.1/ns/"
DSP = "https://provider.test/api/dsp/2025-1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mgmt(network: Any) -> Any:
    """The harness's two nodes with the management router mounted and the node's error edge
    (EDC's error array on ``/management/``, DSP's shapes on the DSP paths)."""
    net, provider, consumer, directory = network
    shapes = {**routes.ERROR_SHAPES, **management_routes.ERROR_SHAPES}
    for node in (provider, consumer):
        node.app.include_router(management_routes.router)
        node.app.state.ctx.services[EdcManagement] = EdcManagement(node.provider, node.consumer)
        install_error_handlers(node.app, shapes)
    return net, provider, consumer, directory


def asset_body(aid: str, **props: Any) -> dict[str, Any]:
    return {
        "@context": {"edc": EDC, "dct": "http://purl.org/dc/terms/"},
        "@type": "Asset",
        "@id": aid,
        "properties": {"dct:type": {"@id": "https://w3id.org/catenax/taxonomy#Submodel"}, **props},
        "privateProperties": {"secret": "never in a catalog"},
        "dataAddress": {"@type": "DataAddress", "type": "BatpassSource", "source": "json", "sourceKey": "doc-1"},
    }


def policy_body(pid: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://w3id.org/catenax/2025/9/policy/context.jsonld", {"@vocab": EDC}],
        "@type": "PolicyDefinition",
        "@id": pid,
        "policy": {"@type": "Set", **policy, "prohibition": [], "obligation": []},
    }


def definition_body(did: str, aid: str, access: str = "pol-access", usage: str = "pol-usage") -> dict[str, Any]:
    return {
        "@context": {"@vocab": EDC},
        "@type": "ContractDefinition",
        "@id": did,
        "accessPolicyId": access,
        "contractPolicyId": usage,
        "assetsSelector": [{"operandLeft": EDC + "id", "operator": "=", "operandRight": aid}],
    }


async def provision(c: httpx.AsyncClient, aid: str = "asset-m", access: dict[str, Any] | None = None) -> None:
    base = "https://provider.test" + M
    r = await c.post(base + "/assets", json=asset_body(aid), headers=ADMIN)
    assert r.status_code == 200 and r.json()["@id"] == aid and r.json()["@type"] == "IdResponse"
    r = await c.post(base + "/policydefinitions", json=policy_body("pol-access", access or access_for()), headers=ADMIN)
    assert r.status_code == 200, r.text
    r = await c.post(base + "/policydefinitions", json=policy_body("pol-usage", CX_USAGE), headers=ADMIN)
    assert r.status_code == 200, r.text
    r = await c.post(base + "/contractdefinitions", json=definition_body("cd-1", aid), headers=ADMIN)
    assert r.status_code == 200, r.text


async def catalog(c: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "@context": {"@vocab": EDC},
        "@type": "CatalogRequest",
        "counterPartyAddress": DSP,
        "counterPartyId": PROVIDER_DID,
        "protocol": "dataspace-protocol-http:2025-1",
        "querySpec": {},
        **extra,
    }
    r = await c.post("https://consumer.test" + M + "/catalog/request", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def offer_for(cat: dict[str, Any], aid: str) -> dict[str, Any]:
    ds = next(d for d in cat["dataset"] if d["@id"] == aid)
    offer: dict[str, Any] = ds["hasPolicy"][0]
    return offer


def contract_request(offer: dict[str, Any], aid: str) -> dict[str, Any]:
    """As tractusx-sdk's saturn ContractNegotiationModel writes it."""
    return {
        "@context": ["https://w3id.org/catenax/2025/9/policy/odrl.jsonld", {"@vocab": EDC}],
        "@type": "ContractRequest",
        "counterPartyAddress": DSP,
        "protocol": "dataspace-protocol-http:2025-1",
        "policy": {
            **{k: v for k, v in offer.items() if k not in ("@id", "@type")},
            "@id": offer["@id"],
            "@type": "Offer",
            "assigner": {"@id": PROVIDER_DID},
            "target": {"@id": aid},
        },
        "callbackAddresses": [],
    }


async def test_assets_crud_query_and_private_properties(mgmt: Any) -> None:
    net, provider, *_ = mgmt
    base = "https://provider.test" + M
    async with net.client() as c:
        await provision(c)
        got = (await c.get(base + "/assets/asset-m", headers=ADMIN)).json()
        assert got["@type"] == "Asset" and got["properties"]["id"] == "asset-m"
        assert got["privateProperties"] == {"secret": "never in a catalog"}
        assert got["dataAddress"]["type"] == "BatpassSource" and got["@context"]["edc"] == EDC
        # query by a property path, as the SDK filters on dct:type
        spec = {
            "@type": "QuerySpec",
            "filterExpression": [
                {
                    "operandLeft": "'http://purl.org/dc/terms/type'.'@id'",
                    "operator": "=",
                    "operandRight": "https://w3id.org/catenax/taxonomy#Submodel",
                }
            ],
        }
        found = (await c.post(base + "/assets/request", json=spec, headers=ADMIN)).json()
        assert [a["@id"] for a in found] == ["asset-m"]
        spec["filterExpression"][0]["operandRight"] = "nothing"
        assert (await c.post(base + "/assets/request", json=spec, headers=ADMIN)).json() == []
        # the CLI-registered asset of the harness is listed too
        everything = (await c.post(base + "/assets/request", headers=ADMIN)).json()
        assert {a["@id"] for a in everything} == {"asset-1", "asset-m"}
        # update, then a duplicate create is a conflict in EDC's error shape
        changed = asset_body("asset-m", name="renamed")
        assert (await c.put(base + "/assets/asset-m", json=changed, headers=ADMIN)).status_code == 204
        assert (await c.get(base + "/assets/asset-m", headers=ADMIN)).json()["properties"]["name"] == "renamed"
        dup = await c.post(base + "/assets", json=asset_body("asset-m"), headers=ADMIN)
        assert dup.status_code == 409 and dup.json()[0]["type"] == "ObjectConflict"
        # delete: the asset's offers go with it
        assert (await c.delete(base + "/assets/asset-m", headers=ADMIN)).status_code == 204
        gone = await c.get(base + "/assets/asset-m", headers=ADMIN)
        assert gone.status_code == 404 and gone.json()[0]["type"] == "ObjectNotFound"
    with provider.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(t.offers).where(t.offers.c.asset_id == "asset-m")).scalar()
            == 0
        )


async def test_admin_key_and_error_shape(mgmt: Any) -> None:
    net, *_ = mgmt
    base = "https://provider.test" + M
    async with net.client() as c:
        r = await c.post(base + "/assets", json=asset_body("x"))
        assert r.status_code == 401
        assert r.json() == [
            {"message": r.json()[0]["message"], "type": "AuthenticationFailed", "path": None, "invalidValue": None}
        ]
        assert (await c.get(base + "/assets/x", headers={"X-Api-Key": "wrong"})).status_code == 401
        bad = await c.post(base + "/assets", json={"@type": "Asset", "@id": "x"}, headers=ADMIN)
        assert bad.status_code == 400 and bad.json()[0]["path"] == "dataAddress"
        wrong_type = await c.post(base + "/assets", json={**asset_body("x"), "@type": "Policy"}, headers=ADMIN)
        assert wrong_type.status_code == 400 and wrong_type.json()[0]["path"] == "@type"
        not_json = await c.post(base + "/assets", content=b"{", headers=ADMIN)
        assert not_json.status_code == 400 and not_json.json()[0]["type"] == "InvalidRequest"
        unknown = await c.get(base + "/nothing-here", headers=ADMIN)
        assert unknown.status_code == 404 and unknown.json()[0]["type"] == "ObjectNotFound"


async def test_policies_definitions_and_the_catalog(mgmt: Any) -> None:
    net, provider, _consumer, _ = mgmt
    base = "https://provider.test" + M
    async with net.client() as c:
        await provision(c, access=access_for(CONSUMER_BPN))
        # a rule and its constraint given as objects (as tractusx-sdk writes them) become arrays
        single = {"permission": {"action": "odrl:use", "constraint": CX_USAGE["permission"][0]["constraint"][0]}}
        r = await c.post(base + "/policydefinitions", json=policy_body("pol-single", single), headers=ADMIN)
        assert r.status_code == 200
        got = (await c.get(base + "/policydefinitions/pol-single", headers=ADMIN)).json()["policy"]
        assert got["permission"] == [{"action": "use", "constraint": CX_USAGE["permission"][0]["constraint"]}]
        pol = (await c.get(base + "/policydefinitions/pol-usage", headers=ADMIN)).json()
        assert pol["@type"] == "PolicyDefinition" and pol["policy"]["permission"][0]["action"] == "use"
        assert "prohibition" not in pol["policy"]  # empty rule lists are dropped
        cd = (await c.get(base + "/contractdefinitions/cd-1", headers=ADMIN)).json()
        assert cd["accessPolicyId"] == "pol-access" and cd["assetsSelector"][0]["operandRight"] == "asset-m"
        listed = (await c.post(base + "/contractdefinitions/request", json={}, headers=ADMIN)).json()
        assert [d["@id"] for d in listed] == ["cd-1"]
        # the consumer's management API runs its DSP consumer against the provider
        cat = await catalog(c)
        assert cat["participantId"] == PROVIDER_DID and cat["originator"] == DSP
        assert {d["@id"] for d in cat["dataset"]} == {"asset-1", "asset-m"}
        offer = offer_for(cat, "asset-m")
        assert offer["@id"] == "cd-1:asset-m" and "secret" not in str(cat)
        # querySpec filters the datasets on the consumer side
        only = await catalog(
            c, querySpec={"filterExpression": [{"operandLeft": EDC + "id", "operator": "=", "operandRight": "asset-m"}]}
        )
        assert [d["@id"] for d in only["dataset"]] == ["asset-m"]
        # a policy in use cannot be deleted; an access policy that cannot gate a catalog is refused
        r = await c.delete(base + "/policydefinitions/pol-access", headers=ADMIN)
        assert r.status_code == 409 and r.json()[0]["type"] == "ObjectConflict"
        odd = {"permission": [{"action": "access", "constraint": [{"leftOperand": "Foo", "operator": "eq"}]}]}
        r = await c.put(base + "/policydefinitions/pol-access", json=policy_body("pol-access", odd), headers=ADMIN)
        assert r.status_code == 400 and "cd-1" in r.json()[0]["message"]
        assert (await c.get(base + "/policydefinitions/pol-access", headers=ADMIN)).json()["policy"]["permission"][0][
            "action"
        ] == "access"  # unchanged
        # narrowing the access policy to another BPN hides the offer from this consumer
        other = policy_body("pol-access", access_for("BPNL000000000OTH"))
        assert (await c.put(base + "/policydefinitions/pol-access", json=other, headers=ADMIN)).status_code == 204
        assert {d["@id"] for d in (await catalog(c))["dataset"]} == {"asset-1"}
        # unknown policies are refused; deleting the definition removes its offers
        r = await c.post(base + "/contractdefinitions", json=definition_body("cd-2", "asset-m", "nope"), headers=ADMIN)
        assert r.status_code == 400 and r.json()[0]["path"] == "accessPolicyId"
        assert (await c.delete(base + "/contractdefinitions/cd-1", headers=ADMIN)).status_code == 204
    with provider.engine.connect() as conn:
        assert conn.execute(select(t.offers.c.id).where(t.offers.c.asset_id == "asset-m")).first() is None


async def test_negotiation_transfer_and_pull_through_the_management_api(mgmt: Any) -> None:
    net, _provider, _consumer, _ = mgmt
    cm = "https://consumer.test" + M
    async with net.client() as c:
        await provision(c)
        offer = offer_for(await catalog(c), "asset-m")
        r = await c.post(cm + "/contractnegotiations", json=contract_request(offer, "asset-m"), headers=ADMIN)
        assert r.status_code == 200 and r.json()["@type"] == "IdResponse"
        nid = r.json()["@id"]
        await net.pump()
        assert (await c.get(f"{cm}/contractnegotiations/{nid}/state", headers=ADMIN)).json()["state"] == "FINALIZED"
        neg = (await c.get(f"{cm}/contractnegotiations/{nid}", headers=ADMIN)).json()
        assert neg["type"] == "CONSUMER" and neg["counterPartyId"] == PROVIDER_DID and neg["assetId"] == "asset-m"
        agreement = (await c.get(f"{cm}/contractnegotiations/{nid}/agreement", headers=ADMIN)).json()
        assert agreement["@id"] == neg["contractAgreementId"] and agreement["assetId"] == "asset-m"
        # the provider sees its side of the same negotiation
        pn = (await c.post("https://provider.test" + M + "/contractnegotiations/request", headers=ADMIN)).json()
        assert [n["type"] for n in pn] == ["PROVIDER"] and pn[0]["correlationId"] == nid
        transfer = {
            "@context": {"@vocab": EDC},
            "@type": "TransferRequest",
            "counterPartyAddress": DSP,
            "protocol": "dataspace-protocol-http:2025-1",
            "contractId": agreement["@id"],
            "transferType": "HttpData-PULL",
            "dataDestination": {"type": "HttpProxy"},
        }
        r = await c.post(cm + "/transferprocesses", json=transfer, headers=ADMIN)
        assert r.status_code == 200, r.text
        tid = r.json()["@id"]
        await net.pump()
        assert (await c.get(f"{cm}/transferprocesses/{tid}/state", headers=ADMIN)).json()["state"] == "STARTED"
        tp = (await c.get(f"{cm}/transferprocesses/{tid}", headers=ADMIN)).json()
        assert tp["assetId"] == "asset-m" and tp["transferType"] == "HttpData-PULL"
        # the EDR of the manual transfer, and a pull with it
        addr = (await c.get(f"{cm}/edrs/{tid}/dataaddress", headers=ADMIN)).json()
        pulled = await c.get(addr["endpoint"], headers={"Authorization": addr["authorization"]})
        assert pulled.json() == {"key": "doc-1", "for": CONSUMER_BPN, "value": 42}
        # push is not offered; an agreement this node does not hold is refused
        r = await c.post(cm + "/transferprocesses", json={**transfer, "transferType": "HttpData-PUSH"}, headers=ADMIN)
        assert r.status_code == 400 and r.json()[0]["path"] == "transferType"
        r = await c.post(cm + "/transferprocesses", json={**transfer, "contractId": "urn:uuid:none"}, headers=ADMIN)
        assert r.status_code == 400 and r.json()[0]["path"] == "agreementId"
        # terminate through the management API
        assert (await c.post(f"{cm}/transferprocesses/{tid}/terminate", json={}, headers=ADMIN)).status_code == 204
        await net.pump()
        assert (await c.get(f"{cm}/transferprocesses/{tid}/state", headers=ADMIN)).json()["state"] == "TERMINATED"


async def test_refused_negotiation_is_terminated_not_an_error(mgmt: Any) -> None:
    net, *_ = mgmt
    cm = "https://consumer.test" + M
    async with net.client() as c:
        await provision(c)
        offer = offer_for(await catalog(c), "asset-m")
        offer["permission"] = [{"action": "use"}]  # not the policy offered
        r = await c.post(cm + "/contractnegotiations", json=contract_request(offer, "asset-m"), headers=ADMIN)
        assert r.status_code == 200
        neg = (await c.get(f"{cm}/contractnegotiations/{r.json()['@id']}", headers=ADMIN)).json()
        assert neg["state"] == "TERMINATED" and "does not match" in neg["errorDetail"]
        missing = await c.get(f"{cm}/contractnegotiations/urn:uuid:none", headers=ADMIN)
        assert missing.status_code == 404 and missing.json()[0]["type"] == "ObjectNotFound"


async def test_edr_negotiates_then_transfers_and_refreshes(mgmt: Any) -> None:
    net, *_ = mgmt
    cm = "https://consumer.test" + M
    async with net.client() as c:
        await provision(c)
        offer = offer_for(await catalog(c), "asset-m")
        r = await c.post(cm + "/edrs", json=contract_request(offer, "asset-m"), headers=ADMIN)
        assert r.status_code == 200, r.text
        nid = r.json()["@id"]
        query = {"filterExpression": [{"operandLeft": "contractNegotiationId", "operator": "=", "operandRight": nid}]}
        assert (await c.post(cm + "/edrs/request", json=query, headers=ADMIN)).json() == []  # not agreed yet
        await net.pump()  # agreement, verification, finalized
        assert (await c.post(cm + "/edrs/request", json=query, headers=ADMIN)).json() == []  # transfer requested
        await net.pump()  # transfer start with the data address
        entries = (await c.post(cm + "/edrs/request", json=query, headers=ADMIN)).json()
        assert len(entries) == 1 and entries[0]["assetId"] == "asset-m"
        tid = entries[0]["transferProcessId"]
        addr = (await c.get(f"{cm}/edrs/{tid}/dataaddress", headers=ADMIN)).json()
        assert addr["@type"] == "DataAddress" and addr["authType"] == "bearer"
        assert addr["endpoint"] == "https://provider.test/api/public"
        fresh = (await c.post(f"{cm}/edrs/{tid}/refresh", headers=ADMIN)).json()
        assert fresh["authorization"] != addr["authorization"]
        old = await c.get(addr["endpoint"], headers={"Authorization": addr["authorization"]})
        assert old.status_code == 401  # the refreshed-away token no longer pulls
        new = await c.get(fresh["endpoint"], headers={"Authorization": fresh["authorization"]})
        assert new.json()["value"] == 42
        # reading again does not start a second transfer
        assert len((await c.post(cm + "/edrs/request", json={}, headers=ADMIN)).json()) == 1
        missing = await c.get(f"{cm}/edrs/urn:uuid:none/dataaddress", headers=ADMIN)
        assert missing.status_code == 404
