"""PactService: a RequestCreatedEvent enqueues its answer in the outbox, addressed to the
requester's /3/events (derived from the event's source), in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from footprint_testkit import FOOTPRINT as FP1
from sqlalchemy import Engine, select

from batpass.core.errors import InvalidInput
from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint.service import events_endpoint
from batpass.store import outbox_table

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
