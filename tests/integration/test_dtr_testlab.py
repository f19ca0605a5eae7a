"""A batpass node's digital twin registry checked from outside with tractusx-testlab's registry
steps (issue 8, item 5).

tractusx-testlab 1.0.0a22 (the newest on PyPI, an alpha; it needs Python ≥ 3.12) runs the Test
Case Kit in ``dtr_testlab_tck/`` with its own CLI (``testlab run``) in the shared Python 3.12 venv
(:mod:`venv312_testkit`), against a real provider node over HTTPS that trusts the federation CA
(``SSL_CERT_FILE`` for the testlab's httpx calls, ``REQUESTS_CA_BUNDLE`` for the SDK's). The twins
are the node's own battery and product descriptors (``battery_twin`` / ``product_twin``) plus a
material twin with a ``PUBLIC_READABLE`` part id, registered through ``POST /api/v3/shell-descriptors``
with the owner's key.

What the kit can and cannot carry:
- the consumer steps (``digital-twin-registry/consumer/dataplane/*``: lookup, asset-link search,
  listing, descriptor by id) take the registry URL and the ``Authorization`` value a data plane
  would hand out; the partner's DCP self-issued token goes there, so they read as that partner;
- the provider steps (``digital-twin-registry/provider/*``) go through the SDK's ``AasService``,
  which the testlab builds without credentials (its DTR binding has no key or token field), so
  against batpass they are anonymous callers: they can read PUBLIC_READABLE ids only, and a delete
  must be refused (401; the kit asserts the status, the test then checks with the owner's key that
  the twin is still there). ``create_shell_descriptor`` / ``create_submodel_descriptor`` are not
  in the kit: a refused create raises in the step (``expects: fail`` is only a label in testlab
  1.0.0a22), so they cannot pass against a registry that, like batpass, requires its owner's key.

The testlab's CloudEvents trace (``--data-dir``) is read back: every step of the kit must have
passed, and the partner's descriptors must not carry ``externalSubjectId``.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from venv312_testkit import venv312

from batpass.core.ids import BatteryId
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.exchange import battery_twin, product_twin
from batpass.trust import issue_self_issued_token

pytestmark = pytest.mark.integration

PINS = {"tractusx-sdk": "0.8.3", "tractusx-testlab": "1.0.0a22"}
TCK = Path(__file__).resolve().parent / "dtr_testlab_tck"
GTIN = "4006381333931"
OTHER_PARTNER = "BPNL00000000OTHR"
PUBLIC_PART = "CO-SULPHATE-7"


@dataclass
class Registry:
    home: Path
    testlab: Path  # the venv's bin folder with the pinned testlab
    provider: RunningNode
    partner: RunningNode
    twins: dict[str, dict[str, Any]]  # role → registered descriptor

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(self.home))), timeout=30)


def _material_twin(part_id: str) -> dict[str, Any]:
    """A material (type) twin whose ``manufacturerPartId`` anyone may read (CX-0002 allows
    PUBLIC_READABLE on that name only); its type marker stays with the owner."""
    key = f"material:{part_id}"
    return {
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
        "idShort": "material",
        "globalAssetId": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key + ':asset')}",
        "assetKind": "Type",
        "specificAssetIds": [
            {
                "name": "manufacturerPartId",
                "value": part_id,
                "externalSubjectId": {
                    "type": "ExternalReference",
                    "keys": [{"type": "GlobalReference", "value": "PUBLIC_READABLE"}],
                },
            },
            {"name": "digitalTwinType", "value": "PartType"},
        ],
        "submodelDescriptors": [],
    }


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    testlab = venv312(PINS, why="tractusx-testlab")  # first: a skip starts no node
    home = tmp_path_factory.mktemp("dtrtl")
    specs = [
        NodeSpec("dtrtl-provider", ("catena-x",), legal_name="battery maker", bpnl="BPNL00000000T1AB"),
        NodeSpec("dtrtl-partner", ("catena-x",), legal_name="recycler", bpnl="BPNL00000000T2AB"),
    ]
    with federation(home, specs, configure=operator_config(0)) as runs:
        provider, partner = runs
        catenax_memberships(home, provider, [provider, partner])
        base, dsp = provider.base_url, provider.base_url + "/api/dsp/2025-1"
        mine = [str(partner.node.config.bpnl)]
        twins = {
            "battery": battery_twin(
                BatteryId(GTIN, "TLAB0001"), model_id="EVP-75", base_url=base, dsp_url=dsp, readers=mine
            ),
            "battery2": battery_twin(
                BatteryId(GTIN, "TLAB0002"), model_id="EVP-75", base_url=base, dsp_url=dsp, readers=mine
            ),
            "hidden": battery_twin(
                BatteryId(GTIN, "TLAB0003"), model_id="EVP-75", base_url=base, dsp_url=dsp, readers=[OTHER_PARTNER]
            ),
            "product": product_twin(f"urn:gtin:{GTIN}", base_url=base, dsp_url=dsp, readers=mine),
            "material": _material_twin(PUBLIC_PART),
        }
        reg = Registry(home, testlab, provider, partner, twins)
        with reg.client() as c:
            for twin in twins.values():
                r = c.post(base + "/api/v3/shell-descriptors", json=twin, headers=provider.admin_headers())
                assert r.status_code == 201, r.text
        yield reg


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _serial(twin: dict[str, Any]) -> str:
    return next(str(s["value"]) for s in twin["specificAssetIds"] if s["name"] == "partInstanceId")


def _kit_steps() -> set[str]:
    """Every ``test/step`` id the kit declares, read from its YAML (so none can be left out)."""
    manifest = yaml.safe_load((TCK / "index.yaml").read_text(encoding="utf-8"))
    out = set()
    for entry in manifest["tests"]:
        test = yaml.safe_load((TCK / "tests" / entry["id"]).read_text(encoding="utf-8"))
        out |= {f"{test['id']}/{step['id']}" for step in test["execution"]}
    return out


def _trace(data_dir: Path) -> list[dict[str, Any]]:
    files = sorted(data_dir.rglob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines() if line.strip()]


def _step(event: dict[str, Any]) -> str:
    """``test/step`` from an event id ``<tck>/<test>/<phase>/<step>/<type>/<hash>``."""
    parts = str(event["id"]).split("/")
    return f"{parts[1]}/{parts[3]}"


def test_testlab_registry_steps_pass(registry: Registry, tmp_path: Path) -> None:
    provider, partner, twins = registry.provider, registry.partner, registry.twins
    token = issue_self_issued_token(partner.node.identity, audience=provider.did, bpn=partner.node.config.bpnl)
    variables = {
        "registry_url": provider.base_url + "/api/v3",
        "partner_token": f"Bearer {token}",
        "battery_twin_id": twins["battery"]["id"],
        "battery_serial": _serial(twins["battery"]),
        "battery_model": "EVP-75",
        "hidden_twin_id": twins["hidden"]["id"],
        "hidden_serial": _serial(twins["hidden"]),
        "public_twin_id": twins["material"]["id"],
        "public_part_id": PUBLIC_PART,
    }
    ca = str(federation_ca(registry.home))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TESTLAB_"))}
    env.update(
        SSL_CERT_FILE=ca,  # httpx (the testlab's own calls)
        REQUESTS_CA_BUNDLE=ca,  # requests (the SDK's AasService)
        TESTLAB_SUT_DTR_BASE_URL=provider.base_url,  # the provider steps' registry (+ /api/v3)
    )
    data_dir, logs_dir = tmp_path / "data", tmp_path / "logs"
    args = [str(registry.testlab / "testlab"), "run", str(TCK / "index.yaml"), "--yes"]
    args += ["--data-dir", str(data_dir), "--logs-dir", str(logs_dir)]
    for name, value in variables.items():
        args += ["--var", f"{name}={value}"]
    p = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL
    )
    assert p.returncode == 0, f"testlab run failed ({p.returncode}):\n{p.stdout[-6000:]}\n{p.stderr[-3000:]}"

    events = _trace(data_dir)
    assert events[-1]["type"] == "tck.end" and events[-1]["data"]["status"] == "PASSED", events[-1]
    passed = {_step(e): e["data"].get("outputs") or {} for e in events if e["type"] == "tck.test.step.passed"}
    failed = [_step(e) for e in events if e["type"] == "tck.test.step.failed"]
    assert not failed, failed
    assert set(passed) == _kit_steps(), sorted(_kit_steps() - set(passed))

    # what the partner was shown: its own ids, with nobody's visibility list on them
    (seen,) = passed["partner-reads/lookup"]["shell_descriptors"]
    assert seen["id"] == twins["battery"]["id"]
    assert {s["name"] for s in seen["specificAssetIds"]} == {"manufacturerPartId", "partInstanceId", "digitalTwinType"}
    assert "externalSubjectId" not in json.dumps(seen)
    listed = [i for page in ("list_page1", "list_page2") for i in passed[f"partner-reads/{page}"]["shell_ids"]]
    assert sorted(listed) == sorted(twins[k]["id"] for k in ("battery", "battery2", "product", "material"))
    # the anonymous view of the material twin: its public id only
    (public,) = passed["anonymous-reads/public_lookup"]["shell_descriptors"]
    assert public["specificAssetIds"] == [{"name": "manufacturerPartId", "value": PUBLIC_PART}]

    # the refused delete changed nothing
    with registry.client() as c:
        kept = c.get(
            provider.base_url + "/api/v3/shell-descriptors/" + _b64(twins["battery"]["id"]),
            headers=provider.admin_headers(),
        )
    assert kept.status_code == 200, kept.text
    assert kept.json()["submodelDescriptors"] == twins["battery"]["submodelDescriptors"]
