"""The PACT v2.3 API beside v3, in-process on both stores: the official tool's v2 cases
(specs: the tool's ``docs/v2-test-cases-expected-results.md``) and the conversions between the
versions, each stated in the served document.

Every v2 document served is validated against the v2.3 ``ProductFootprint`` of the official tool's
``src/schemas/openapi_v2_3.yaml`` (vendored in ``pact_conformance/``), every v3 one against the
bundled v3 OpenAPI, and every conversion extension against the schema the node serves.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint._harness import ADMIN_KEY, build_app
from batpass.store import outbox_table

BASE = "https://api.example.com"
HERE = Path(__file__).resolve().parent
SCHEMA_URL = f"{BASE}/pact/extensions/batpass-pact-conversion/1.0.0/schema.json"

V3: dict[str, Any] = {
    "id": "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e01",
    "specVersion": "3.0.0",
    "created": "2026-02-01T08:00:00Z",
    "status": "Active",
    "companyName": "Kathoden AG",
    "companyIds": ["urn:bpn:id:BPNL0000000KATH"],
    "productDescription": "NMC811 cathode active material, bulk",
    "productIds": ["urn:gtin:4012345000031"],
    "productNameCompany": "KA-811",
    "productClassifications": ["urn:pact:productclassification:un-cpc:34290"],
    "comment": "Cradle-to-gate",
    "pcf": {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "2000",
        "productMassPerDeclaredUnit": "2000",
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-12-31T00:00:00Z",
        "geographyCountry": "DE",
        "pcfExcludingBiogenicUptake": "600000",
        "pcfIncludingBiogenicUptake": "600000",
        "fossilGhgEmissions": "590000",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0.5",
        "primaryDataShare": "40",
        "dqi": {"technologicalDQR": "5", "geographicalDQR": "3", "temporalDQR": "1"},
        "boundaryProcessesDescription": "Cradle-to-gate",
    },
}
V3_PIECE: dict[str, Any] = {
    **V3,
    "id": "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e02",
    "productIds": ["urn:gtin:4012345000048"],
    "pcf": {
        **V3["pcf"],
        "declaredUnitOfMeasurement": "piece",
        "declaredUnitAmount": "10",
        "productMassPerDeclaredUnit": "9",
        "pcfExcludingBiogenicUptake": "486",
        "pcfIncludingBiogenicUptake": "486",
        "fossilGhgEmissions": "486",
    },
}
V3_PIECE_NO_MASS: dict[str, Any] = {
    **V3_PIECE,
    "id": "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e03",
    "productIds": ["urn:gtin:4012345000055"],
    "pcf": {**V3_PIECE["pcf"], "productMassPerDeclaredUnit": "0"},
}
V2: dict[str, Any] = {
    "id": "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e04",
    "specVersion": "2.3.0",
    "version": 2,
    "created": "2026-01-15T10:15:30Z",
    "status": "Active",
    "companyName": "Raffinerie SA",
    "companyIds": ["urn:bpn:id:BPNL0000000RAFF"],
    "productDescription": "Nickel sulphate hexahydrate",
    "productIds": ["urn:gtin:4012345000062"],
    "productCategoryCpc": "34210",
    "productNameCompany": "NiSO4-6H2O",
    "comment": "Hydrometallurgical route",
    "pcf": {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": "1000",
        "pCfExcludingBiogenic": "4.2",
        "pCfIncludingBiogenic": "4.2",
        "fossilGhgEmissions": "4.1",
        "fossilCarbonContent": "0",
        "biogenicCarbonContent": "0",
        "characterizationFactors": "AR6",
        "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": ["ISO Standard 14067"],
        "boundaryProcessesDescription": "Cradle-to-gate",
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-12-31T00:00:00Z",
        "geographyCountry": "FI",
        "exemptedEmissionsPercent": 1.0,
        "exemptedEmissionsDescription": "",
        "packagingEmissionsIncluded": False,
        "primaryDataShare": 55.0,
        "dqi": {
            "coveragePercent": 90,
            "technologicalDQR": 3,
            "temporalDQR": 2,
            "geographicalDQR": 1,
            "completenessDQR": 2,
            "reliabilityDQR": 2,
        },
    },
}


def _validator(path: Path | None, name: str) -> jsonschema.Draft202012Validator:
    if path is None:
        text = resources.files("batpass.footprint").joinpath("_data/pact-openapi-3.0.4.yaml").read_text()
    else:
        text = path.read_text()
    doc = yaml.safe_load(text)
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


V2_SCHEMA = _validator(HERE / "pact_conformance" / "src" / "schemas" / "openapi_v2_3.yaml", "ProductFootprint")
V2_FULFILLED = _validator(HERE / "pact_conformance" / "src" / "schemas" / "openapi_v2_3.yaml", "RequestFulfilledEvent")
V3_SCHEMA = _validator(None, "ProductFootprint")


class Host:
    def __init__(self, client: TestClient, service: PactService, client_id: str, secret: str) -> None:
        self.client, self.service = client, service
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        token = client.post(
            "/pact/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic}
        ).json()["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/pact{path}", params=params, headers=self.auth)


@pytest.fixture
def host(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[Host]:
    engine = make_store([MIGRATIONS_DIR])
    service = PactService(engine, base_url=BASE)
    creds = service.create_client("v2 cases")
    with TestClient(build_app(service, base_url=BASE), base_url=BASE) as client:
        for doc in (V3, V3_PIECE, V3_PIECE_NO_MASS):
            assert service.store_document(doc)
        # a v2 footprint arrives through the admin route, as an operator gives it
        r = client.post("/v1/footprints/pact/footprints", json=V2, headers={"X-Api-Key": ADMIN_KEY})
        assert r.status_code == 201, r.text
        yield Host(client, service, creds.client_id, creds.client_secret)


def _extension(doc: dict[str, Any]) -> dict[str, Any]:
    [ext] = [e for e in doc.get("extensions", ()) if e["dataSchema"] == SCHEMA_URL]
    return ext


def _conversion(ext: dict[str, Any], prop: str) -> dict[str, Any]:
    [row] = [c for c in ext["data"]["conversions"] if c["property"] == prop]
    return row


def test_a_v3_footprint_served_as_v2_states_each_conversion(host: Host) -> None:
    r = host.get(f"/2/footprints/{V3['id']}")
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    V2_SCHEMA.validate(doc)
    pcf = doc["pcf"]
    # v3's 600,000 kg CO2e for 2,000 kg is 300 per kilogram in v2
    assert (pcf["declaredUnit"], pcf["unitaryProductAmount"], pcf["pCfExcludingBiogenic"]) == (
        "kilogram",
        "2000",
        "300",
    )
    ext = _extension(doc)
    assert ext["data"]["convertedFrom"] == "3.0.0" and ext["data"]["convertedTo"] == "2.3.0"
    row = _conversion(ext, "pcf.pCfExcludingBiogenic")
    assert row["sourceProperty"] == "pcf.pcfExcludingBiogenicUptake" and (row["from"], row["to"]) == ("600000", "300")
    assert "÷ 2000" in row["rule"]
    # v2's dqi needs three ratings v3 lacks: not served, and each v3 rating says what it is on 1–3
    assert "dqi" not in pcf
    dropped = {d["property"]: d for d in ext["data"]["notCarried"]}
    assert dropped["pcf.dqi.technologicalDQR"]["value"] == "5"
    assert "on the v2 scale this rating is 3" in dropped["pcf.dqi.technologicalDQR"]["reason"]
    assert doc["productCategoryCpc"] == "34290"
    assert doc["comment"].startswith(
        "Cradle-to-gate [Converted by https://api.example.com from PACT 3.0.0 to PACT 2.3.0"
    )
    jsonschema.Draft202012Validator(host.client.get(SCHEMA_URL).json()).validate(ext["data"])


def test_a_footprint_per_piece_is_served_per_kilogram_in_v2(host: Host) -> None:
    doc = host.get(f"/2/footprints/{V3_PIECE['id']}").json()["data"]
    V2_SCHEMA.validate(doc)
    # 486 kg CO2e for 10 pieces weighing 9 kg: 54 per kilogram
    assert (doc["pcf"]["declaredUnit"], doc["pcf"]["unitaryProductAmount"]) == ("kilogram", "9")
    assert doc["pcf"]["pCfExcludingBiogenic"] == "54"
    unit = _conversion(_extension(doc), "pcf.declaredUnit")
    assert (unit["from"], unit["to"]) == ("piece", "kilogram") and "productMassPerDeclaredUnit" in unit["rule"]


def test_a_footprint_v2_cannot_express_is_not_offered_there(host: Host) -> None:
    r = host.get(f"/2/footprints/{V3_PIECE_NO_MASS['id']}")
    assert r.status_code == 404 and r.json()["code"] == "NoSuchFootprint"
    assert "'piece'" in r.json()["message"] and "v3 API" in r.json()["message"]
    listed = [d["id"] for d in host.get("/2/footprints").json()["data"]]
    assert V3_PIECE_NO_MASS["id"] not in listed and V3["id"] in listed and V2["id"] in listed
    assert host.get(f"/3/footprints/{V3_PIECE_NO_MASS['id']}").status_code == 200


def test_a_v2_footprint_is_served_as_given_in_v2_and_says_it_was_converted_in_v3(host: Host) -> None:
    assert host.get(f"/2/footprints/{V2['id']}").json()["data"] == V2
    doc = host.get(f"/3/footprints/{V2['id']}").json()["data"]
    V3_SCHEMA.validate(doc)
    ext = _extension(doc)
    assert ext["data"]["convertedFrom"] == "2.3.0" and ext["data"]["convertedTo"] == "3.0.0"
    assert doc["comment"].startswith("Hydrometallurgical route [Converted by https://api.example.com from PACT 2.3.0")
    # 4.2 per kilogram, 1,000 kilograms declared: 4,200 in v3
    assert doc["pcf"]["pcfExcludingBiogenicUptake"] == "4200"
    # ratings 3, 1 on 1–3 are 5, 1 on 1–5 — the conversion the issue found unstated
    assert doc["pcf"]["dqi"] == {"technologicalDQR": "5", "geographicalDQR": "1", "temporalDQR": "3"}
    row = _conversion(ext, "pcf.dqi.technologicalDQR")
    assert (row["from"], row["to"]) == (3, "5") and "x5 = 1 + 2 (x3 − 1)" in row["rule"]
    dropped = {d["property"] for d in ext["data"]["notCarried"]}
    assert {"pcf.dqi.completenessDQR", "pcf.dqi.reliabilityDQR", "pcf.dqi.coveragePercent"} <= dropped
    assert "urn:pact:productclassification:un-cpc:34210" in doc["productClassifications"]


def test_v2_list_pagination_and_filter(host: Host) -> None:
    r = host.get("/2/footprints", limit=1)
    assert r.status_code == 200 and len(r.json()["data"]) == 1
    link = r.headers["link"]
    assert link.startswith(f"<{BASE}/pact/2/footprints?") and link.endswith('>; rel="next"')
    for doc in host.get("/2/footprints").json()["data"]:
        V2_SCHEMA.validate(doc)
    # the tool's v2 TC20
    r = host.get("/2/footprints", **{"$filter": "created ge '2026-02-01T08:00:00Z'"})
    assert sorted(d["id"] for d in r.json()["data"]) == sorted([V3["id"], V3_PIECE["id"]])
    r = host.get("/2/footprints", **{"$filter": "productIds/any(productId:(productId eq 'urn:gtin:4012345000062'))"})
    assert [d["id"] for d in r.json()["data"]] == [V2["id"]]
    r = host.get("/2/footprints", **{"$filter": "startswith(companyName, 'K')"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequest" and "$filter" in r.json()["message"]


def test_v2_errors(host: Host) -> None:
    r = host.get("/2/footprints/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["code"] == "NoSuchFootprint"
    r = host.client.get("/pact/2/footprints", headers={"Authorization": "Bearer very-invalid"})
    assert r.status_code == 401 and r.json()["code"] == "BadRequest"


CE = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}


def _created(event_id: str, product_ids: list[str]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://webhook.example.com",
        "time": "2026-05-19T10:30:00Z",
        "type": "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        "data": {"pf": {"productIds": product_ids}, "comment": "Please send PCF data for this year."},
    }


def _outbox(host: Host) -> list[Any]:
    with host.service.engine.connect() as conn:
        return list(conn.execute(select(outbox_table.c.destination, outbox_table.c.body)))


def test_v2_request_created_is_fulfilled_at_the_requesters_2_events(host: Host) -> None:
    event = _created("run-1/12", ["urn:gtin:4012345000031"])
    r = host.client.post("/pact/2/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == 200 and r.content == b""
    [(destination, body)] = _outbox(host)
    assert destination == "https://webhook.example.com/2/events"
    assert body["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
    assert body["source"] == f"{BASE}/pact/2/events" and body["data"]["requestEventId"] == "run-1/12"
    V2_FULFILLED.validate(body)
    assert [pf["id"] for pf in body["data"]["pfs"]] == [V3["id"]]


def test_v2_request_for_an_unknown_product_is_rejected(host: Host) -> None:
    event = _created("run-1/14.A", ["urn:pact:null"])
    assert host.client.post("/pact/2/events", json=event, headers={**host.auth, **CE}).status_code == 200
    [(_, body)] = _outbox(host)
    assert body["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1"
    assert body["data"]["error"]["code"] == "NotFound" and body["data"]["error"]["message"]


def test_v2_request_with_a_criterion_not_applied_is_refused(host: Host) -> None:
    event = _created("run-1/x", ["urn:gtin:4012345000031"])
    event["data"]["pf"]["pcf"] = {"declaredUnit": "kilogram"}
    r = host.client.post("/pact/2/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == 400 and "data.pf.pcf" in r.json()["message"]
    assert _outbox(host) == []


@pytest.mark.parametrize(("pf_ids", "status"), [(["3a6c14a7-4deb-498a-b5ea-16ce2535b576"], 200), (["urn:gtin:1"], 400)])
def test_v2_published_event(host: Host, pf_ids: list[str], status: int) -> None:
    """TC15 (accepted) and TC21 (a pfId that is not a UUID is malformed)."""
    event = copy.deepcopy(_created("pub-1", []))
    event["type"] = "org.wbcsd.pathfinder.ProductFootprint.Published.v1"
    event["data"] = {"pfIds": pf_ids}
    r = host.client.post("/pact/2/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == status, r.text


def test_a_v3_event_type_on_the_v2_endpoint_is_400(host: Host) -> None:
    event = _created("run-2", ["urn:gtin:4012345000031"])
    event["type"] = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
    r = host.client.post("/pact/2/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == 400 and "not a PACT v2 event" in r.json()["message"]


def test_a_v2_footprint_without_the_optional_biogenic_figure_is_a_valid_v3_one(host: Host) -> None:
    """v2.3 leaves ``pCfIncludingBiogenic`` optional, v3 requires ``pcfIncludingBiogenicUptake``
    (the official tool's TC4 caught the gap): without biogenic carbon it is the same figure,
    stated; with biogenic carbon it cannot be derived and the footprint is refused."""
    doc = copy.deepcopy(V2)
    doc["id"] = "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e05"
    del doc["pcf"]["pCfIncludingBiogenic"]
    r = host.client.post("/v1/footprints/pact/footprints", json=doc, headers={"X-Api-Key": ADMIN_KEY})
    assert r.status_code == 201, r.text
    served = host.get(f"/3/footprints/{doc['id']}").json()["data"]
    V3_SCHEMA.validate(served)
    assert served["pcf"]["pcfIncludingBiogenicUptake"] == served["pcf"]["pcfExcludingBiogenicUptake"] == "4200"
    assert "biogenicCarbonContent is 0" in _conversion(_extension(served), "pcf.pcfIncludingBiogenicUptake")["rule"]
    doc["id"] = "7c0e8f1a-3b2d-4c5e-9f60-1a2b3c4d5e06"
    doc["pcf"]["biogenicCarbonContent"] = "0.3"
    r = host.client.post("/v1/footprints/pact/footprints", json=doc, headers={"X-Api-Key": ADMIN_KEY})
    assert r.status_code == 400 and r.json()["field"] == "pcf.pCfIncludingBiogenic", r.text
    assert "pCfIncludingBiogenic" in r.text
    assert host.get(f"/3/footprints/{doc['id']}").status_code == 404
