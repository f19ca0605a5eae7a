"""The mandatory PACT v3 conformance cases (specs/pact/v3/conformance-service/
v3-test-cases-expected-results.md), run against the ``/pact`` router in-process on both stores.

Cases #9–#11 and #17 (plain HTTP rejected) are the node's TLS listener's business (the node
serves HTTPS only) and cannot be exercised in-process; #18/#19 (OpenID Connect) are not mandatory.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint._harness import build_app
from batpass.store import outbox_table

BASE = "https://api.example.com"
API = "/pact"

FP1: dict[str, Any] = {
    "id": "b1f8c0d2-7c4e-4e67-9a9c-2e4c12345678",
    "specVersion": "3.0.0",
    "version": 1,
    "created": "2023-01-15T10:15:30Z",
    "status": "Active",
    "validityPeriodStart": "2023-01-15T10:15:30Z",
    "validityPeriodEnd": "2025-12-31T00:00:00Z",
    "companyName": "Acme Corp",
    "companyIds": ["urn:uuid:abc12345-6789-4def-0123-456789abcdef", "urn:epc:id:sgln:123456.00000.1"],
    "productDescription": "Renewable Diesel, soybean feedstock (bulk - no packaging)",
    "productIds": ["urn:gtin:1234567890123"],
    "productNameCompany": "Renewable Diesel",
    "productClassifications": ["urn:eclass:0173-1#01-AAA123#005"],
    "pcf": {
        "declaredUnitOfMeasurement": "liter",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "25",
        "referencePeriodStart": "2024-02-28T00:00:00+00:00",
        "referencePeriodEnd": "2024-09-30T00:00:00+00:00",
        "geographyCountry": "DE",
        "boundaryProcessesDescription": "Cradle-to-gate",
        "pcfExcludingBiogenicUptake": "77.0",
        "pcfIncludingBiogenicUptake": "77.0",
        "fossilGhgEmissions": "77.0",
        "fossilCarbonContent": "11.72",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
    },
}


def _variant(n: int, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FP1)
    doc["id"] = f"c2e9d1f3-8d5f-4f78-8b0d-3f5e2345678{n}"
    doc["productIds"] = [f"urn:gtin:12345678904{n:02d}"]
    doc["productClassifications"] = [f"urn:eclass:0173-1#01-BBB{n:03d}#005"]
    doc["created"] = f"2023-01-{16 + n:02d}T14:30:45Z"
    doc["validityPeriodStart"] = f"2023-01-{16 + n:02d}T14:30:45Z"
    doc["pcf"]["geographyCountry"] = "FR"
    doc.update(changes)
    return doc


DOCS = [FP1, _variant(1), _variant(2), _variant(3, status="Deprecated"), _variant(4)]


class Host:
    def __init__(self, client: TestClient, service: PactService, client_id: str, secret: str) -> None:
        self.client, self.service, self.client_id, self.secret = client, service, client_id, secret
        token = self.client.post(
            f"{API}/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": self.basic()}
        ).json()["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def basic(self, secret: str | None = None) -> str:
        raw = f"{self.client_id}:{secret or self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def ids(self, path: str, **params: Any) -> list[str]:
        r = self.client.get(f"{API}{path}", params=params, headers=self.auth)
        assert r.status_code == 200, r.text
        return [d["id"] for d in r.json()["data"]]


@pytest.fixture
def host(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[Host]:
    engine = make_store([MIGRATIONS_DIR])
    service = PactService(engine, base_url=BASE)
    for doc in DOCS:
        service.store_document(doc)
    creds = service.create_client("conformance service")
    with TestClient(build_app(service, base_url=BASE), base_url=BASE) as client:
        yield Host(client, service, creds.client_id, creds.client_secret)


def test_01_token_with_valid_credentials(host: Host) -> None:
    r = host.client.post(
        f"{API}/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": host.basic()}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    # the form-field variant of client authentication (RFC 6749 section 2.3.1)
    r2 = host.client.post(
        f"{API}/auth/token",
        data={"grant_type": "client_credentials", "client_id": host.client_id, "client_secret": host.secret},
    )
    assert r2.status_code == 200 and r2.json()["access_token"] != body["access_token"]


def test_02_token_with_invalid_credentials(host: Host) -> None:
    r = host.client.post(
        f"{API}/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": host.basic("wrong-secret")},
    )
    assert r.status_code in (400, 401)
    assert r.json()["error"] == "invalid_client" and r.json()["error_description"]
    r = host.client.post(f"{API}/auth/token", data={"grant_type": "password"}, headers={"Authorization": host.basic()})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_secret_is_stored_hashed(host: Host) -> None:
    from batpass.footprint._sql import pact_clients

    with host.service.engine.connect() as conn:
        stored = conn.execute(select(pact_clients.c.secret_sha256)).scalar_one()
    assert stored != host.secret and len(stored) == 64


def test_03_get_footprint(host: Host) -> None:
    r = host.client.get(f"{API}/3/footprints/{FP1['id']}", headers=host.auth)
    assert r.status_code == 200
    assert r.json()["data"] == FP1


def test_04_list_footprints(host: Host) -> None:
    assert sorted(host.ids("/3/footprints")) == sorted(d["id"] for d in DOCS)


def test_05_pagination_links(host: Host) -> None:
    r = host.client.get(f"{API}/3/footprints", params={"limit": 2}, headers=host.auth)
    assert r.status_code == 200 and len(r.json()["data"]) == 2
    links = {rel: url for url, rel in _links(r.headers["link"])}
    assert set(links) == {"first", "next", "last"}
    assert links["next"].startswith(f"{BASE}/pact/3/footprints?") and "offset=2" in links["next"]
    seen = [d["id"] for d in r.json()["data"]]
    url: str | None = links["next"]
    while url:
        page = host.client.get(url, headers=host.auth)
        assert page.status_code == 200 and len(page.json()["data"]) <= 2
        seen += [d["id"] for d in page.json()["data"]]
        url = dict((rel, u) for u, rel in _links(page.headers["link"])).get("next")
    assert sorted(seen) == sorted(d["id"] for d in DOCS) and len(seen) == len(DOCS)
    r = host.client.get(f"{API}/3/footprints", params={"offset": 2}, headers=host.auth)
    assert [d["id"] for d in r.json()["data"]] == host.ids("/3/footprints")[2:]


def _links(header: str) -> list[tuple[str, str]]:
    out = []
    for part in header.split(", "):
        url, _, rel = part.partition(">; rel=")
        out.append((url.lstrip("<"), rel.strip('"')))
    return out


@pytest.mark.parametrize("path", ["/3/footprints", f"/3/footprints/{FP1['id']}"])
def test_06_07_invalid_token(host: Host, path: str) -> None:
    r = host.client.get(f"{API}{path}", headers={"Authorization": "Bearer invalid-access-token"})
    assert r.status_code in (400, 401)
    assert r.json()["code"] == "BadRequest" and "Invalid token" in r.json()["message"]
    assert host.client.get(f"{API}{path}").status_code in (400, 401)


def test_08_unknown_footprint(host: Host) -> None:
    r = host.client.get(f"{API}/3/footprints/non-existent-id", headers=host.auth)
    assert r.status_code == 404
    assert r.json() == {"code": "NotFound", "message": r.json()["message"]}
    assert "non-existent-id" in r.json()["message"]


REQUEST_CREATED = {
    "specversion": "1.0",
    "id": "test-run-id-12345",
    "source": "https://webhook.example.com",
    "time": "2023-05-19T10:30:00Z",
    "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
    "data": {"productId": ["urn:gtin:1234567890123"], "comment": "Please send PCF data for this year."},
}
CE = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}


def _outbox(host: Host) -> list[Any]:
    with host.service.engine.connect() as conn:
        return list(conn.execute(select(outbox_table.c.destination, outbox_table.c.body, outbox_table.c.headers)))


def test_12_13_request_created_is_fulfilled(host: Host) -> None:
    r = host.client.post(f"{API}/3/events", json=REQUEST_CREATED, headers={**host.auth, **CE})
    assert r.status_code == 200 and r.content == b""
    [(destination, body, headers)] = _outbox(host)
    assert destination == "https://webhook.example.com/3/events"
    assert headers["Content-Type"].startswith("application/cloudevents+json")
    assert body["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert body["specversion"] == "1.0" and body["source"] == f"{BASE}/pact/3/events"
    assert body["data"]["requestEventId"] == "test-run-id-12345"
    assert [pf["id"] for pf in body["data"]["pfs"]] == [FP1["id"]]
    # a replayed event is answered once
    host.client.post(f"{API}/3/events", json=REQUEST_CREATED, headers={**host.auth, **CE})
    assert len(_outbox(host)) == 1


def test_14_request_for_unknown_product_is_rejected(host: Host) -> None:
    event = {**REQUEST_CREATED, "id": "test-run-id-14", "data": {"productId": ["urn:gtin:4712345060507"]}}
    assert host.client.post(f"{API}/3/events", json=event, headers={**host.auth, **CE}).status_code == 200
    [(_, body, _)] = _outbox(host)
    assert body["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    assert body["data"] == {
        "requestEventId": "test-run-id-14",
        "error": {"code": "NotFound", "message": "The requested footprint could not be found."},
    }


def test_15_published_event_accepted(host: Host) -> None:
    event = {
        "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
        "specversion": "1.0",
        "id": "123e4567-e89b-12d3-a456-426614174000",
        "source": "https://webhook.example.com",
        "time": "2023-05-19T11:30:00Z",
        "data": {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]},
    }
    r = host.client.post(f"{API}/3/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == 200 and r.content == b""
    assert [e["id"] for e in host.service.events_received()] == [event["id"]]
    assert _outbox(host) == []


def test_40_published_event_with_non_uuid_pf_ids_is_400(host: Host) -> None:
    """TC40 of the official tool: ``pfIds`` are ProductFootprint ids (UUIDs), so a product id
    such as a GTIN URN there is a malformed event: 400 BadRequest, nothing recorded."""
    event = {
        "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
        "specversion": "1.0",
        "id": "9f0b7c2e-5a43-4b7e-8f63-1f6c2d0a9e11",
        "source": "https://webhook.example.com",
        "time": "2023-05-19T11:30:00Z",
        "data": {"pfIds": ["urn:gtin:4712345060507"]},
    }
    r = host.client.post(f"{API}/3/events", json=event, headers={**host.auth, **CE})
    assert r.status_code == 400 and r.json()["code"] == "BadRequest"
    assert "data.pfIds" in r.json()["message"] and "urn:gtin:4712345060507" in r.json()["message"]
    assert host.service.events_received() == []


def test_16_events_with_invalid_token(host: Host) -> None:
    event = {
        "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
        "specversion": "1.0",
        "id": "test-run-id-12345",
        "source": "https://webhook.example.com",
        "time": "2023-05-19T12:30:00Z",
        "data": {"pfIds": ["urn:gtin:4712345060507"]},
    }
    r = host.client.post(f"{API}/3/events", json=event, headers={"Authorization": "Bearer invalid-access-token", **CE})
    assert r.status_code in (400, 401) and r.json()["code"] == "BadRequest"
    assert host.service.events_received() == []


def test_malformed_event_is_400(host: Host) -> None:
    bad = {**REQUEST_CREATED, "type": "org.wbcsd.pact.ProductFootprint.Unknown.3"}
    r = host.client.post(f"{API}/3/events", json=bad, headers={**host.auth, **CE})
    assert r.status_code == 400 and r.json()["code"] == "BadRequest" and "type" in r.json()["message"]
    assert _outbox(host) == []


FILTERS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("20 productId", {"productId": "urn:gtin:1234567890123"}, [FP1["id"]]),
    ("20 productId case-insensitive", {"productId": "URN:GTIN:1234567890123"}, [FP1["id"]]),
    ("21 companyId", {"companyId": "urn:uuid:abc12345-6789-4def-0123-456789abcdef"}, [d["id"] for d in DOCS]),
    ("22 geography", {"geography": "DE"}, [FP1["id"]]),
    ("23 classification", {"classification": "urn:eclass:0173-1#01-AAA123#005"}, [FP1["id"]]),
    ("24 validOn", {"validOn": "2023-01-15T10:15:30Z"}, [FP1["id"]]),
    ("25 validAfter", {"validAfter": "2023-01-19T00:00:00Z"}, [DOCS[3]["id"], DOCS[4]["id"]]),
    ("26 validBefore", {"validBefore": "2026-01-01T00:00:00Z"}, [d["id"] for d in DOCS]),
    ("27 status", {"status": "Deprecated"}, [DOCS[3]["id"]]),
    ("28 status and productId", {"status": "Active", "productId": "urn:gtin:1234567890123"}, [FP1["id"]]),
    (
        "29 companyId OR",
        {
            "companyId": ["urn:uuid:abc12345-6789-4def-0123-456789abcdef", "urn:uuid:other-company"],
            "productId": ["urn:gtin:1234567890123", "urn:gtin:1234567890401"],
        },
        [FP1["id"], DOCS[1]["id"]],
    ),
    ("30 productId negative", {"productId": "urn:bogus:product:nonexistent123"}, []),
    ("31 companyId negative", {"companyId": "urn:bogus:company:nonexistent456"}, []),
    ("32 geography negative", {"geography": "XX"}, []),
    ("33 classification negative", {"classification": "urn:bogus:classification:nonexistent789"}, []),
    ("34 validOn negative", {"validOn": "1900-01-01T00:00:00Z"}, []),
    ("35 validAfter negative", {"validAfter": "2099-12-31T23:59:59Z"}, []),
    ("36 validBefore negative", {"validBefore": "1900-01-01T00:00:00Z"}, []),
    ("37 status negative", {"status": "BogusStatusValue"}, []),
    (
        "38 AND negative",
        {"companyId": "urn:bogus:company:5FIi8zS3", "productId": "urn:bogus:product:nonexistent123"},
        [],
    ),
    ("39 OR negative", {"companyId": ["urn:bogus:company:nonexistent1", "urn:bogus:company:nonexistent2"]}, []),
]


@pytest.mark.parametrize(("case", "params", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_20_39_filters(host: Host, case: str, params: dict[str, Any], expected: list[str]) -> None:
    assert sorted(host.ids("/3/footprints", **params)) == sorted(expected), case


@pytest.mark.parametrize("name", ["productId", "companyId", "geography", "classification"])
def test_23_an_empty_filter_value_does_not_filter(host: Host, name: str) -> None:
    """TC22/TC23 of the official tool send ``classification=`` (or ``geography=``) when the first
    footprint has none: an empty criterion constrains nothing, so every footprint is listed."""
    r = host.client.get(f"{API}/3/footprints?{name}=", headers=host.auth)
    assert r.status_code == 200, r.text
    assert sorted(d["id"] for d in r.json()["data"]) == sorted(d["id"] for d in DOCS)
    # an empty value beside a real one: the real one still filters
    r = host.client.get(f"{API}/3/footprints?{name}=&productId=urn:gtin:1234567890123", headers=host.auth)
    assert [d["id"] for d in r.json()["data"]] == [FP1["id"]]


def test_v2_filter_syntax_is_400_on_v3(host: Host) -> None:
    r = host.client.get(
        f"{API}/3/footprints", params={"$filter": "created ge '2023-01-15T10:15:30Z'"}, headers=host.auth
    )
    assert r.status_code == 400 and r.json()["code"] == "BadRequest" and "$filter" in r.json()["message"]


def test_v2_document_refused_as_v3(host: Host) -> None:
    from batpass.core.errors import InvalidInput

    v2 = {**FP1, "specVersion": "2.2.0", "id": "0b6a0c5e-2b17-4c3b-9e1c-51a1e1f0a000"}
    with pytest.raises(InvalidInput):
        host.service.store_document(v2)
    assert host.client.get(f"{API}/3/footprints/{v2['id']}", headers=host.auth).status_code == 404
