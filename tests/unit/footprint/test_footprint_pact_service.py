"""PactService: a RequestCreatedEvent enqueues its answer in the outbox, addressed to the
requester's /3/events (derived from the event's source), in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from batpass.core.errors import InvalidInput
from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint.service import events_endpoint
from batpass.store import outbox_table

FP1 = {
    "id": "b1f8c0d2-7c4e-4e67-9a9c-2e4c12345678",
    "specVersion": "3.0.0",
    "created": "2023-01-15T10:15:30Z",
    "status": "Active",
    "companyName": "Acme Corp",
    "companyIds": ["urn:uuid:abc12345-6789-4def-0123-456789abcdef"],
    "productDescription": "Renewable Diesel",
    "productIds": ["urn:gtin:1234567890123"],
    "productNameCompany": "Renewable Diesel",
    "pcf": {
        "declaredUnitOfMeasurement": "liter",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "25",
        "referencePeriodStart": "2024-02-28T00:00:00+00:00",
        "referencePeriodEnd": "2024-09-30T00:00:00+00:00",
        "pcfExcludingBiogenicUptake": "77.0",
        "pcfIncludingBiogenicUptake": "77.0",
        "fossilGhgEmissions": "77.0",
        "fossilCarbonContent": "11.72",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
    },
}
REQUEST_CREATED = {
    "specversion": "1.0",
    "id": "test-run-id-12345",
    "source": "https://webhook.example.com",
    "time": "2023-05-19T10:30:00Z",
    "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
    "data": {"productId": ["urn:gtin:1234567890123"]},
}


def test_request_created_enqueues_fulfilled_event(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    engine = make_store([MIGRATIONS_DIR])
    svc = PactService(engine, base_url="https://owner.example:8443/")
    svc.store_document(FP1)
    event = {**REQUEST_CREATED, "source": "https://requester.example:8443/pact"}
    msg_id = svc.receive_event(event, client_id="c1")
    with engine.connect() as conn:
        row = conn.execute(select(outbox_table)).one()
    assert row.id == msg_id and row.status == "pending" and row.method == "POST"
    assert row.destination == "https://requester.example:8443/pact/3/events"
    assert row.body["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert row.body["source"] == "https://owner.example:8443/pact/3/events"
    assert row.body["data"]["pfs"] == [FP1]
    assert svc.receive_event(event, client_id="c1") is None  # replay: nothing new


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://a.example", "https://a.example/3/events"),
        ("https://a.example/pact/3/events/", "https://a.example/pact/3/events"),
        ("//a.example/3/events", "https://a.example/3/events"),
    ],
)
def test_events_endpoint(source: str, expected: str) -> None:
    assert events_endpoint(source) == expected


@pytest.mark.parametrize("source", ["/pact/api/v3/events", "http://a.example", "urn:x"])
def test_events_endpoint_refuses_non_https(source: str) -> None:
    with pytest.raises(InvalidInput) as info:
        events_endpoint(source)
    assert info.value.field == "source"
