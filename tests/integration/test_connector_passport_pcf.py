"""Passport and footprint over the connector (issue 8 item 7) across three real Catena-X nodes over
HTTPS: the provider builds a battery passport and stores a PCF; a member partner finds the twins
in the provider's registry with its DCP token, negotiates under ``cx.circular.dpp:1`` (and
``cx.pcf.base:1``), pulls the Catena-X battery pass and asks for the PCF by product id. Both are
checked against the Catena-X schemas vendored in ``tests/specs`` (not the package's copies). A node
without a membership credential, a member that never signed the Data Exchange Governance (no
``DataExchangeGovernanceCredential``, so the usage policy's ``FrameworkAgreement`` does not hold),
a request dropping the usage purpose and a product the partner is not entitled to are refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from batpass.core.ids import BatteryId, new_uuid7
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.footprint import (
    BomInput,
    DeclaredUnit,
    FootprintHeader,
    OwnEmissions,
    Quantity,
    Stage,
    aggregate,
    write_pact_v3,
)
from batpass.trust import issue_self_issued_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "src/batpass/passport/_data/demo-ev-model.yaml"
SPECS = ROOT / "tests/specs/catenax/semantic-models"  # vendored (tests/specs/PROVENANCE.md)
BATTERY_PASS_SCHEMA = SPECS / "io.catenax.battery.battery_pass/6.1.0/gen/BatteryPass-schema.json"
PCF_SCHEMA = SPECS / "io.catenax.pcf/9.0.0/gen/Pcf-schema.json"
DSP = "/api/dsp/2025-1"
ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2026-10-20",
    "manufacturing_facility": "BPNA000000000NC1",
}


@dataclass
class Setup:
    home: Path
    provider: RunningNode
    partner: RunningNode
    outsider: RunningNode  # no membership credential
    member: RunningNode  # a member without the framework-agreement credential
    battery: BatteryId
    passport_id: str
    product: str
    other_product: str

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(self.home))), timeout=60)

    def token(self, who: RunningNode) -> dict[str, str]:
        """``who``'s DCP self-issued token for the provider (as its connector would send it)."""
        tok = issue_self_issued_token(who.node.identity, audience=self.provider.did, bpn=who.node.config.bpnl)
        return {"Authorization": f"Bearer {tok}"}


def _summary(battery_link: str, issuer: str) -> dict[str, Any]:
    """A minimal ledger-free upstream summary (the shape of docs/contracts.md) for the passport build."""
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": battery_link, "material": "battery"},
        "issuer": issuer,
        "computedAt": "2026-11-01T10:00:00Z",
        "elements": {
            "Co": {
                "originByCountry": {"CD": 0.7, "AU": 0.3},
                "highRiskShare": 0.7,
                "recycled": {"preConsumer": 0.05, "postConsumer": 0.12},
                "custodyModels": {"mass_balance": 1.0},
            },
            "Li": {
                "originByCountry": {"CL": 0.6, "AU": 0.4},
                "highRiskShare": 0.0,
                "recycled": {"preConsumer": 0.02, "postConsumer": 0.04},
                "custodyModels": {"segregated": 1.0},
            },
        },
        "minesReached": 3,
        "tombstones": [],
        "footprint": {
            "kg_co2e_per_kwh": 71.5,
            "stages": {
                "raw_material_and_preprocessing": 50.0,
                "main_production": 20.0,
                "distribution": 1.5,
                "end_of_life": None,
            },
        },
        "credentials": [],
        "foldedSupplierSummaries": 2,
    }


def _pact(product: str, bpnl: str, kg: str) -> dict[str, Any]:
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(product,),
        product_name="EV battery pack",
        company_name="provider node",
        company_ids=(f"urn:bpn:id:{bpnl}",),
        reference_period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime.now(dt.UTC),
        product_description="EV battery pack, 75 kWh",
        geography="DE",
        standards=("ISO14067",),
    )
    inputs: list[BomInput] = []
    fp = aggregate(
        inputs,
        own=OwnEmissions(
            by_stage={Stage.RAW_MATERIAL: Decimal(kg), Stage.MAIN_PRODUCTION: Decimal("1200")},
            primary_data_share=Decimal("0.4"),
        ),
        output=Quantity(Decimal(1), DeclaredUnit.PIECE),
        header=header,
        mass_per_declared_unit_kg=Decimal("450"),
    )
    return write_pact_v3(fp)


def _ok(r: httpx.Response, *codes: int) -> Any:
    assert r.status_code in (codes or (200,)), r.text[:2000]
    return r.json()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("cxassets")
    specs = [
        NodeSpec("cxa-provider", ("catena-x",), legal_name="battery maker", bpnl="BPNL00000000701C"),
        NodeSpec("cxa-partner", ("catena-x",), legal_name="recycler", bpnl="BPNL00000000702C"),
        NodeSpec("cxa-outsider", ("catena-x",), legal_name="not a member", bpnl="BPNL00000000703C"),
        NodeSpec("cxa-member", ("catena-x",), legal_name="member, no framework", bpnl="BPNL00000000704C"),
    ]
    with federation(home, specs, configure=operator_config(0)) as runs:
        provider, partner, outsider, member = runs
        catenax_memberships(home, provider, [provider, partner, member], framework_holders=[provider, partner])
        static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
        battery = BatteryId(str(static["gtin"]), "CXA0001")
        product = f"urn:gtin:{battery.gtin}"
        s = Setup(home, provider, partner, outsider, member, battery, "", product, f"urn:gtin:{battery.gtin}:variant-b")
        admin = provider.admin_headers()
        with s.client() as c:
            link = battery.digital_link(provider.node.resolver_base)
            body = {"static": static, "battery": battery.path, "item": ITEM, "summary": _summary(link, provider.did)}
            s.passport_id = _ok(c.post(provider.base_url + "/v1/passports", json=body, headers=admin), 201)[
                "passportId"
            ]
            for pid, kg in ((s.product, "5000"), (s.other_product, "6100")):
                doc = _pact(pid, str(provider.node.config.bpnl), kg)
                _ok(c.post(provider.base_url + "/v1/footprints/pact/footprints", json=doc, headers=admin), 201)
            # the member is a reader too: its refusal below is about the framework agreement only
            readers = [partner.node.config.bpnl, outsider.node.config.bpnl, member.node.config.bpnl]
            twin = {"battery": battery.path, "readers": readers}
            _ok(c.post(provider.base_url + "/v1/connector/twins/batteries", json=twin, headers=admin), 201)
            twin = {"productId": s.product, "readers": readers}
            _ok(c.post(provider.base_url + "/v1/connector/twins/products", json=twin, headers=admin), 201)
            # the other product's PCF is entitled to the outsider only, not to the partner
            twin = {"productId": s.other_product, "readers": [outsider.node.config.bpnl]}
            _ok(c.post(provider.base_url + "/v1/connector/twins/products", json=twin, headers=admin), 201)
        yield s


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _lookup(s: Setup, c: httpx.Client, headers: dict[str, str], **ids: str) -> httpx.Response:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("assetIds", _b64(json.dumps({"name": k, "value": v}))) for k, v in ids.items()
    ]
    return c.get(s.provider.base_url + "/api/v3/lookup/shells", params=params, headers=headers)


def _twin(s: Setup, c: httpx.Client, **ids: str) -> dict[str, Any]:
    """The partner's view of the twin with these specific asset ids (lookup, then descriptor)."""
    found = _ok(_lookup(s, c, s.token(s.partner), **ids))
    assert len(found["result"]) == 1, found
    r = c.get(s.provider.base_url + "/api/v3/shell-descriptors/" + _b64(found["result"][0]), headers=s.token(s.partner))
    out: dict[str, Any] = _ok(r)
    return out


def _endpoint(shell: dict[str, Any], semantic_id: str) -> dict[str, str]:
    sub = next(d for d in shell["submodelDescriptors"] if d["semanticId"]["keys"][0]["value"] == semantic_id)
    info = sub["endpoints"][0]["protocolInformation"]
    assert info["subprotocol"] == "DSP"
    body = dict(part.split("=", 1) for part in info["subprotocolBody"].split(";"))
    return body


def _validator(path: Path) -> Any:
    return jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8")))


def test_partner_finds_the_battery_twin_with_its_dsp_asset(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        shell = _twin(s, c, partInstanceId=str(s.battery.serial))
        ep = _endpoint(shell, "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass")
        assert ep == {"id": "catenax-battery-pass", "dspEndpoint": s.provider.base_url + DSP}
        # closed by default: anonymous readers see nothing, and a wrong serial finds nothing
        assert _ok(_lookup(s, c, {}, partInstanceId=str(s.battery.serial)))["result"] == []
        assert _ok(_lookup(s, c, s.token(s.partner), partInstanceId="NOPE"))["result"] == []
        # the outsider has no membership: its DCP token does not verify
        assert _lookup(s, c, s.token(s.outsider), partInstanceId=str(s.battery.serial)).status_code == 401


def test_partner_pulls_the_battery_pass_under_the_dpp_purpose(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        ep = _endpoint(
            _twin(s, c, partInstanceId=str(s.battery.serial)),
            "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass",
        )
        # the catalog offer names cx.circular.dpp:1, Membership and the framework agreement
        cat = _ok(
            c.post(
                ep["dspEndpoint"] + "/catalog/request",
                json={
                    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                    "@type": "CatalogRequestMessage",
                    "filter": [],
                },
                headers=s.token(s.partner),
            )
        )
        ds = next(d for d in cat["dataset"] if d["@id"] == ep["id"])
        text = json.dumps(ds["hasPolicy"])
        assert "cx.circular.dpp:1" in text and "Membership" in text
        assert '"FrameworkAgreement"' in text and '"DataExchangeGovernance:1.0"' in text
        body = {"provider": s.provider.did, "battery": s.battery.path, "dspEndpoint": ep["dspEndpoint"]}
        out = _ok(
            c.post(
                s.partner.base_url + "/v1/connector/passports/requests", json=body, headers=s.partner.admin_headers()
            )
        )
        export = s.provider.base_url + f"/v1/passports/{s.passport_id.removeprefix('urn:uuid:')}/export/catenax"
        full = _ok(c.get(export, headers=s.provider.admin_headers()))
        public = _ok(c.get(export))
        # the partner's agreement (EDC management view) carries the usage purpose
        mgmt = s.partner.base_url + "/management/v3/contractnegotiations"
        negs = _ok(c.post(mgmt + "/request", json={}, headers=s.partner.admin_headers()))
        agreements = [
            json.dumps(_ok(c.get(f"{mgmt}/{n['@id']}/agreement", headers=s.partner.admin_headers())))
            for n in negs
            if n.get("state") == "FINALIZED"
        ]
        assert any("catenax-battery-pass" in a and "cx.circular.dpp:1" in a for a in agreements), agreements
    doc = out["batteryPass"]
    errors = sorted(_validator(BATTERY_PASS_SCHEMA).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    ident = doc["identification"]["identification"]
    assert ident["serial"] == [{"key": "partInstanceId", "value": str(s.battery.serial)}]
    assert ident["codes"] == [{"key": "GTIN", "value": str(s.battery.gtin)}]
    # the full view (every tier, as the operator's own export), not the public one
    assert doc == full and doc != public


def test_a_request_dropping_the_usage_purpose_is_refused(setup: Setup) -> None:
    s = setup
    headers = s.token(s.partner)
    with s.client() as c:
        ctx = ["https://w3id.org/dspace/2025/1/context.jsonld"]
        cat = _ok(
            c.post(
                s.provider.base_url + DSP + "/catalog/request",
                json={"@context": ctx, "@type": "CatalogRequestMessage", "filter": []},
                headers=headers,
            )
        )
        offer = dict(next(d for d in cat["dataset"] if d["@id"] == "catenax-battery-pass")["hasPolicy"][0])
        # keep Membership, drop UsagePurpose
        perm = offer["permission"][0]
        text = json.dumps(perm)
        assert "UsagePurpose" in text
        kept = [c_ for c_ in perm["constraint"][0]["and"] if "UsagePurpose" not in json.dumps(c_)]
        offer["permission"] = [{**perm, "constraint": [{"and": kept}]}]
        offer["target"] = "catenax-battery-pass"
        msg = {
            "@context": ctx,
            "@type": "ContractRequestMessage",
            "consumerPid": f"urn:uuid:{new_uuid7()}",
            "offer": offer,
            "callbackAddress": s.partner.base_url + DSP + "/callback",
        }
        r = c.post(s.provider.base_url + DSP + "/negotiations/request", json=msg, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["@type"] == "ContractNegotiationError"
        # the same message with the purpose is accepted (the refusal is about the purpose)
        offer["permission"] = [perm]
        msg["consumerPid"] = f"urn:uuid:{new_uuid7()}"
        r = c.post(s.provider.base_url + DSP + "/negotiations/request", json=msg, headers=headers)
        assert r.status_code == 201, r.text


def test_a_node_without_membership_is_refused(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        r = c.post(
            s.provider.base_url + DSP + "/catalog/request",
            json={
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@type": "CatalogRequestMessage",
                "filter": [],
            },
            headers=s.token(s.outsider),
        )
        assert r.status_code == 401, r.text
        body = {"provider": s.provider.did, "battery": s.battery.path}
        r = c.post(
            s.outsider.base_url + "/v1/connector/passports/requests", json=body, headers=s.outsider.admin_headers()
        )
        assert r.status_code == 403 and "membership" in r.text, r.text
        body = {"provider": s.provider.did, "productId": s.product}
        r = c.post(s.outsider.base_url + "/v1/connector/pcf/requests", json=body, headers=s.outsider.admin_headers())
        assert r.status_code == 403 and "pcf" not in r.json(), r.text


def _catalog_offer(s: Setup, c: httpx.Client, who: RunningNode, asset: str) -> dict[str, Any]:
    cat = _ok(
        c.post(
            s.provider.base_url + DSP + "/catalog/request",
            json={
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@type": "CatalogRequestMessage",
                "filter": [],
            },
            headers=s.token(who),
        )
    )
    offer: dict[str, Any] = next(d for d in cat["dataset"] if d["@id"] == asset)["hasPolicy"][0]
    return offer


def _contract_request(who: RunningNode, offer: dict[str, Any], asset: str) -> dict[str, Any]:
    return {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "ContractRequestMessage",
        "consumerPid": f"urn:uuid:{new_uuid7()}",
        "offer": {**offer, "target": asset},
        "callbackAddress": who.base_url + DSP + "/callback",
    }


def test_a_member_without_the_framework_agreement_is_refused(setup: Setup) -> None:
    s = setup
    reason = "FrameworkAgreement DataExchangeGovernance:1.0: no verified DataExchangeGovernanceCredential"
    with s.client() as c:
        for asset in ("catenax-battery-pass", "catenax-pcf"):
            # a member: its DCP token verifies and the offer is in its catalog (access: Membership)
            offer = _catalog_offer(s, c, s.member, asset)
            assert '"DataExchangeGovernance:1.0"' in json.dumps(offer)
            # its contract request is refused with the ODRL reason, nothing is agreed
            r = c.post(
                s.provider.base_url + DSP + "/negotiations/request",
                json=_contract_request(s.member, offer, asset),
                headers=s.token(s.member),
            )
            assert r.status_code == 400, r.text
            assert r.json()["@type"] == "ContractNegotiationError" and reason in r.json()["reason"][0], r.text
            # the partner's same request, with its framework credential, is agreed
            r = c.post(
                s.provider.base_url + DSP + "/negotiations/request",
                json=_contract_request(s.partner, _catalog_offer(s, c, s.partner, asset), asset),
                headers=s.token(s.partner),
            )
            assert r.status_code == 201, r.text
        # through its own connector: 403 with the reason; its negotiation ended TERMINATED with it
        body = {"provider": s.provider.did, "battery": s.battery.path}
        r = c.post(s.member.base_url + "/v1/connector/passports/requests", json=body, headers=s.member.admin_headers())
        assert r.status_code == 403 and reason in r.text and "batteryPass" not in r.text, r.text
        mgmt = s.member.base_url + "/management/v3/contractnegotiations/request"
        negs = _ok(c.post(mgmt, json={}, headers=s.member.admin_headers()))
        assert [n["state"] for n in negs] == ["TERMINATED"] and reason in negs[0]["errorDetail"], negs
        body = {"provider": s.provider.did, "productId": s.product}
        r = c.post(s.member.base_url + "/v1/connector/pcf/requests", json=body, headers=s.member.admin_headers())
        assert r.status_code == 403 and reason in r.text and "pcf" not in r.json(), r.text


def test_pcf_request_answers_a_catenax_pcf_for_an_entitled_product(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        shell = _twin(s, c, manufacturerPartId=s.product)
        ep = _endpoint(shell, "urn:samm:io.catenax.pcf:9.0.0#Pcf")
        assert ep["id"] == "catenax-pcf"
        body = {"provider": s.provider.did, "productId": s.product}
        out = _ok(
            c.post(s.partner.base_url + "/v1/connector/pcf/requests", json=body, headers=s.partner.admin_headers())
        )
        pcf = out["pcf"]
        errors = sorted(_validator(PCF_SCHEMA).iter_errors(pcf), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
        info = pcf["companyAndProductInformation"][0]["productInformation"][0]
        assert info["productIds"] == [s.product]
        assert pcf["scopeOfPcfForm"][0]["specVersion"] == "urn:io.catenax.pcf:datamodel:version:9.0.0"
        gate = pcf["productLifeCycleStagesAndEmissions"][0]["productionStage"][0]["pcfExcludingBiogenicUptake"]
        assert Decimal(str(gate)) == Decimal("6200")  # 5000 raw material + 1200 production, per piece
        # the other product's twin names only the outsider: the partner is refused (as unknown)
        assert _ok(_lookup(s, c, s.token(s.partner), manufacturerPartId=s.other_product))["result"] == []
        body = {"provider": s.provider.did, "productId": s.other_product}
        r = c.post(s.partner.base_url + "/v1/connector/pcf/requests", json=body, headers=s.partner.admin_headers())
        assert r.status_code == 404, r.text
        body = {"provider": s.provider.did, "productId": "urn:gtin:00000000000000"}
        r = c.post(s.partner.base_url + "/v1/connector/pcf/requests", json=body, headers=s.partner.admin_headers())
        assert r.status_code == 404, r.text


def _site(site_id: str, region: str, shared_with: list[str]) -> dict[str, Any]:
    return {
        "siteId": site_id,
        "name": f"{site_id} cobalt mine",
        "operator": f"Operator of {site_id} SARL",
        "siteType": "mine",
        "country": "CD",
        "region": region,
        "location": {"latitude": -10.72, "longitude": 25.47},
        "minerals": ["cobalt"],
        "certifications": [{"scheme": "IRMA", "status": "certified", "level": "IRMA 75"}],
        "dueDiligence": [{"kind": "risk assessment", "reference": "doc:ra-2026", "date": "2026-03-01"}],
        "sharedWith": shared_with,
    }


def test_the_site_register_is_shared_under_its_usage_policy(setup: Setup) -> None:
    """The provider's site register is a connector asset under ``cx.circular.materialaccounting:1``:
    the partner negotiates and pulls it, reading the full record of the site shared with it and the
    public summary of the other; a member without the framework agreement and a node without
    membership read nothing."""
    s = setup
    with s.client() as c:
        admin = s.provider.admin_headers()
        for site in (_site("CXA-MINE-1", "CD-HL", [s.partner.did]), _site("CXA-MINE-2", "CD-LU", [])):
            _ok(c.put(s.provider.base_url + "/v1/sites", json=site, headers=admin), 200, 201)
        offer = json.dumps(_catalog_offer(s, c, s.partner, "batpass-site-register"))
        assert "cx.circular.materialaccounting:1" in offer and '"DataExchangeGovernance:1.0"' in offer
        body = {"provider": s.provider.did}
        out = _ok(
            c.post(s.partner.base_url + "/v1/connector/sites/requests", json=body, headers=s.partner.admin_headers())
        )
        by_id = {x["siteId"]: x for x in out["sites"]["sites"]}
        assert by_id["CXA-MINE-1"]["operator"] == "Operator of CXA-MINE-1 SARL"
        assert by_id["CXA-MINE-1"]["location"] == {"latitude": -10.72, "longitude": 25.47}
        public = by_id["CXA-MINE-2"]
        assert public["region"] == "CD-LU" and public["certified"] is True
        assert not {"operator", "location", "dueDiligence", "name"} & set(public), public
        one = _ok(
            c.post(
                s.partner.base_url + "/v1/connector/sites/requests",
                json={**body, "site": "CXA-MINE-2"},
                headers=s.partner.admin_headers(),
            )
        )
        assert one["sites"] == public
        missing = c.post(
            s.partner.base_url + "/v1/connector/sites/requests",
            json={**body, "site": "CXA-MINE-9"},
            headers=s.partner.admin_headers(),
        )
        assert missing.status_code == 404, missing.text
        for who, why in ((s.member, "DataExchangeGovernanceCredential"), (s.outsider, "membership")):
            r = c.post(who.base_url + "/v1/connector/sites/requests", json=body, headers=who.admin_headers())
            assert r.status_code == 403 and why in r.text and "Operator of" not in r.text, r.text
