"""PACT v3 between two real Catena-X nodes over HTTPS (separate uvicorn processes).

Node A asks node B for a footprint with a RequestCreatedEvent; B answers with a
RequestFulfilledEvent POSTed back to A's ``/pact/3/events`` by its outbox dispatcher, carrying a
token B obtained from A's ``/pact/auth/token`` at send time (with the client A gave B). Also the
mandatory v3 conformance cases #9–#11 and #17 (PACT over plain HTTP is refused), against a node.

Source: specs/pact/v3/conformance-service/v3-test-cases-expected-results.md (cases #9–#13, #17).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca

pytestmark = pytest.mark.integration

FP: dict[str, Any] = {
    "id": "0b8a3c6e-2f41-4c7d-9a55-8e1f2d3c4b5a",
    "specVersion": "3.0.0",
    "created": "2025-01-15T10:15:30Z",
    "status": "Active",
    "companyName": "Beta Cells GmbH",
    "companyIds": ["urn:bpn:id:BPNL00000000BETA"],
    "productDescription": "NMC 811 pouch cell",
    "productIds": ["urn:gtin:4012345000016"],
    "productNameCompany": "Cell 811-P",
    "pcf": {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2024-12-31T00:00:00Z",
        "geographyCountry": "DE",
        "pcfExcludingBiogenicUptake": "12.5",
        "pcfIncludingBiogenicUptake": "12.5",
        "fossilGhgEmissions": "12.5",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
    },
}
FULFILLED = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, RunningNode, RunningNode]]:
    home = tmp_path_factory.mktemp("pact")
    specs = [
        NodeSpec("pacta", ("catena-x",), legal_name="Alpha Packs GmbH", bpnl="BPNL0000000ALPHA"),
        NodeSpec("pactb", ("catena-x",), legal_name="Beta Cells GmbH", bpnl="BPNL00000000BETA"),
    ]
    with (
        federation(home, specs) as (a, b),
        httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(home))), timeout=10.0) as client,
    ):
        yield client, a, b


def _admin(client: httpx.Client, node: RunningNode, path: str, body: Any | None = None) -> Any:
    if body is None:
        r = client.get(node.base_url + path, headers=node.admin_headers())
    else:
        r = client.post(node.base_url + path, json=body, headers=node.admin_headers())
    assert r.status_code < 300, f"{node.name} {path}: {r.status_code} {r.text}"
    return r.json()


def _introduce(client: httpx.Client, owner: RunningNode, requester: RunningNode) -> dict[str, str]:
    """``owner`` makes a PACT client for ``requester``, which stores the credentials."""
    creds = _admin(client, owner, "/v1/footprints/pact/clients", {"name": requester.name})
    peer = _admin(
        client,
        requester,
        "/v1/footprints/pact/peers",
        {
            "base_url": owner.base_url + "/pact",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "name": owner.name,
        },
    )
    assert creds["client_secret"] not in str(peer)
    return dict(creds)


def test_request_created_is_fulfilled_back_to_the_requester(
    nodes: tuple[httpx.Client, RunningNode, RunningNode],
) -> None:
    client, a, b = nodes
    _admin(client, b, "/v1/footprints/pact/footprints", FP)
    _introduce(client, b, a)  # A calls B's PACT API
    _introduce(client, a, b)  # B posts its answers to A's /3/events
    listed = _admin(client, a, "/v1/footprints/pact/peers")
    assert [p["base_url"] for p in listed] == [b.base_url + "/pact"]
    assert all("client_secret" not in p for p in listed)

    request = _admin(
        client,
        a,
        "/v1/footprints/pact/requests",
        {"peer": b.base_url + "/pact", "data": {"productId": ["urn:gtin:4012345000016"]}},
    )
    assert request["status"] in ("sent", "fulfilled")

    deadline = time.monotonic() + 20
    answers: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answers = [
            e
            for e in _admin(client, a, "/v1/footprints/pact/events")
            if e["data"].get("requestEventId") == request["event_id"]
        ]
        if answers:
            break
        time.sleep(0.1)
    assert answers, f"no answer reached {a.name}; {b.name} log: {_tail(b)}"
    (answer,) = answers
    assert answer["type"] == FULFILLED and answer["source"] == b.base_url + "/pact/3/events"
    assert [pf["id"] for pf in answer["data"]["pfs"]] == [FP["id"]]
    (sent,) = _admin(client, a, "/v1/footprints/pact/requests")
    assert sent["status"] == "fulfilled" and sent["answer_event_id"] == answer["id"]


def _tail(node: RunningNode) -> str:
    return "" if node.log_path is None else node.log_path.read_text(errors="replace")[-3000:]


@pytest.mark.parametrize(
    ("case", "method", "path", "body"),
    [
        ("#9 token over HTTP", "POST", "/pact/auth/token", None),
        ("#10 ListFootprints over HTTP", "GET", "/pact/3/footprints", None),
        ("#11 GetFootprint over HTTP", "GET", f"/pact/3/footprints/{FP['id']}", None),
        (
            "#17 Events over HTTP",
            "POST",
            "/pact/3/events",
            {
                "specversion": "1.0",
                "id": "test-run-id-12345",
                "source": "https://webhook.example.com",
                "time": "2023-05-19T13:30:00Z",
                "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
                "data": {"pfIds": [FP["id"]]},
            },
        ),
    ],
)
def test_pact_over_plain_http_is_refused(
    nodes: tuple[httpx.Client, RunningNode, RunningNode],
    case: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    client, _, b = nodes
    _admin(client, b, "/v1/footprints/pact/footprints", FP)
    creds = _admin(client, b, "/v1/footprints/pact/clients", {"name": "conformance"})
    basic = httpx.BasicAuth(creds["client_id"], creds["client_secret"])
    # the same requests over HTTPS succeed, so a refusal below is the scheme's doing
    token = client.post(b.base_url + "/pact/auth/token", data={"grant_type": "client_credentials"}, auth=basic)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    if path != "/pact/auth/token":
        ok = client.request(method, b.base_url + path, json=body, headers=bearer)
        assert ok.status_code == 200, ok.text

    plain = b.base_url.replace("https://", "http://") + path
    with httpx.Client(timeout=5.0) as insecure:
        try:
            if path == "/pact/auth/token":
                r = insecure.post(plain, data={"grant_type": "client_credentials"}, auth=basic)
            else:
                r = insecure.request(method, plain, json=body, headers=bearer)
        except httpx.HTTPError:
            return  # connection rejected: the expected behaviour
    assert r.status_code >= 400, f"{case}: plain HTTP answered {r.status_code}"
    assert "access_token" not in r.text and '"data"' not in r.text, case
