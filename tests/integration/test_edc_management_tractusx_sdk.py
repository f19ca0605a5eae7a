"""tractusx-sdk 0.8.3 (saturn, DSP 2025-1) drives two running batpass nodes through their EDC
management API facade over HTTPS: the provider's asset, policies and contract definition are
created with the SDK's provider service, then the consumer's management API is asked for the
provider's catalog with the SDK's consumer service and the new offer must be in it.

The SDK needs Python ≥ 3.12 (the project runs 3.11), so it lives in its own virtual environment
under ``tests/.venv312`` (created once, reused; gitignored) and runs as a separate process that
trusts the federation CA (``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``). Outside CI the test is
skipped, saying why, when no Python 3.12 is found; under ``CI=true`` it must run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from venv312_testkit import venv312

from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca

pytestmark = pytest.mark.integration

SDK_VERSION = "0.8.3"

SCRIPT = r"""
import json, logging, sys
from tractusx_sdk.dataspace.services.connector import ServiceFactory

cfg = json.loads(sys.argv[1])
logging.basicConfig(level=logging.WARNING)
provider = ServiceFactory.get_connector_provider_service(
    dataspace_version="saturn", base_url=cfg["provider"], dma_path="/management",
    headers={"X-Api-Key": cfg["provider_key"], "Content-Type": "application/json"}, verbose=False,
)
consumer = ServiceFactory.get_connector_consumer_service(
    dataspace_version="saturn", base_url=cfg["consumer"], dma_path="/management",
    headers={"X-Api-Key": cfg["consumer_key"], "Content-Type": "application/json"}, verbose=False,
)
out = {}
out["asset"] = provider.create_asset(
    asset_id="sdk-asset-1", base_url="https://backend.example/submodel",
    dct_type="https://w3id.org/catenax/taxonomy#Submodel",
)
out["access"] = provider.create_policy(
    policy_id="sdk-access",
    permissions=[{"action": "access", "constraint": {"and": [
        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
        {"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": [cfg["consumer_bpn"]]},
    ]}}],
)
out["usage"] = provider.create_policy(
    policy_id="sdk-usage",
    permissions=[{"action": "use", "constraint": {"and": [
        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
        {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"},
        {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": "cx.circular.dpp:1"},
    ]}}],
)
out["definition"] = provider.create_contract(
    contract_id="sdk-cd-1", usage_policy_id="sdk-usage", access_policy_id="sdk-access", asset_id="sdk-asset-1",
)
out["read_back"] = provider.assets.get_by_id("sdk-asset-1").json()
catalog = consumer.get_catalog(counter_party_id=cfg["provider_did"], counter_party_address=cfg["provider_dsp"])
out["catalog"] = catalog if isinstance(catalog, dict) else catalog.json()
print("RESULT " + json.dumps(out))
"""


def _sdk_python() -> str:
    """The shared Python 3.12 venv's interpreter, with tractusx-sdk installed (skips without 3.12)."""
    return str(venv312({"tractusx-sdk": SDK_VERSION}, why="tractusx-sdk") / "python")


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _memberships(home: Path, provider: RunningNode, consumer: RunningNode) -> None:
    """The provider operates the Catena-X trust list (issuer of memberships) and gives both
    nodes a MembershipCredential naming their BPNL, as the demo's trust step does."""
    now = dt.datetime.now(dt.UTC)
    trust_list = {
        "trustListVersion": "1.0",
        "ecosystem": "catena-x",
        "operator": provider.did,
        "sequence": 1,
        "issuedAt": _iso(now),
        "nextUpdate": _iso(now + dt.timedelta(days=30)),
        "issuers": [
            {
                "did": provider.did,
                "name": "Provider GmbH (Catena-X operator)",
                "credentialTypes": ["MembershipCredential"],
                "validFrom": _iso(now - dt.timedelta(days=1)),
                "validUntil": _iso(now + dt.timedelta(days=30)),
            }
        ],
    }
    ctx = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ctx, timeout=30) as c:
        r = c.post(provider.base_url + "/v1/trust/lists/sign", json=trust_list, headers=provider.admin_headers())
        assert r.status_code == 201, r.text
        jws = r.json()["jws"]
        for node in (provider, consumer):
            r = c.post(
                node.base_url + "/v1/trust/lists",
                json={"ecosystem": "catena-x", "jws": jws},
                headers=node.admin_headers(),
            )
            assert r.status_code == 201, r.text
            subject = {
                "id": node.did,
                "memberOf": "catena-x",
                "holderIdentifier": node.node.config.bpnl,
                "since": _iso(now),
            }
            body = {"type": "MembershipCredential", "subject": subject, "format": "vc+jwt"}
            r = c.post(provider.base_url + "/v1/credentials/issue", json=body, headers=provider.admin_headers())
            assert r.status_code == 201, r.text
            r = c.post(
                node.base_url + "/v1/credentials/wallet",
                json={"credential": r.json()["credential"]},
                headers=node.admin_headers(),
            )
            assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RunningNode]]]:
    home = tmp_path_factory.mktemp("edc")
    specs = [
        NodeSpec("sdk-provider", ("catena-x",), legal_name="Provider GmbH", bpnl="BPNL00000000PRV1"),
        NodeSpec("sdk-consumer", ("catena-x",), legal_name="Consumer GmbH", bpnl="BPNL00000000CNS1"),
    ]

    def operators(runs: list[RunningNode]) -> None:
        for r in runs:
            r.node.config.extra["trust_operators"] = {"catena-x": runs[0].did}

    with federation(home, specs, configure=operators) as runs:
        _memberships(home, runs[0], runs[1])
        yield home, runs


def test_tractusx_sdk_provisions_and_reads_the_catalog(nodes: tuple[Path, list[RunningNode]], tmp_path: Path) -> None:
    python = _sdk_python()
    home, (provider, consumer) = nodes
    ca = str(federation_ca(home))
    script = tmp_path / "sdk_drive.py"
    script.write_text(SCRIPT)
    cfg = {
        "provider": provider.base_url,
        "provider_key": provider.admin_key,
        "consumer": consumer.base_url,
        "consumer_key": consumer.admin_key,
        "provider_did": provider.did,
        "provider_dsp": provider.base_url + "/api/dsp/2025-1",
        "consumer_bpn": consumer.node.config.bpnl,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(REQUESTS_CA_BUNDLE=ca, SSL_CERT_FILE=ca, CURL_CA_BUNDLE=ca)
    p = subprocess.run(
        [python, str(script), json.dumps(cfg)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    lines = [line for line in p.stdout.splitlines() if line.startswith("RESULT ")]
    if p.returncode != 0 or not lines:  # say what the node answered
        with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=30) as c:
            body = {"counterPartyAddress": cfg["provider_dsp"], "counterPartyId": provider.did}
            r = c.post(
                consumer.base_url + "/management/v3/catalog/request", json=body, headers=consumer.admin_headers()
            )
        pytest.fail(f"SDK run failed ({p.returncode}):\n{p.stderr[-3000:]}\nthe node answers {r.status_code}: {r.text}")
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["asset"]["@id"] == "sdk-asset-1" and out["asset"]["@type"] == "IdResponse"
    assert out["definition"]["@id"] == "sdk-cd-1"
    back = out["read_back"]
    assert back["properties"]["dct:type"] == {"@id": "https://w3id.org/catenax/taxonomy#Submodel"}
    assert back["dataAddress"]["baseUrl"] == "https://backend.example/submodel"
    catalog = out["catalog"]
    assert catalog["participantId"] == provider.did
    datasets = {d["@id"]: d for d in catalog["dataset"]}
    offer = datasets["sdk-asset-1"]["hasPolicy"][0]
    assert offer["@id"] == "sdk-cd-1:sdk-asset-1"
    purposes = str(offer["permission"])
    assert "cx.circular.dpp:1" in purposes and "FrameworkAgreement" in purposes
    assert "backend.example" not in json.dumps(catalog)  # the data address never leaves the provider
