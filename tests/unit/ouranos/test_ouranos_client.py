"""The typed client against the hub in process: login, lookup, paging over Link, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from batpass.core.errors import Forbidden, InvalidInput, NotFound
from batpass.ouranos import OuranosClient, OuranosHub
from batpass.ouranos._harness import build_app, seed_operator

BASE = "https://hub.test:8443"


def test_client_round_trip(hub: OuranosHub) -> None:
    a, b = seed_operator(hub, 0), seed_operator(hub, 1)
    _, key = hub.issue_api_key()
    with TestClient(build_app(hub, base_url=BASE), base_url=BASE) as http:
        c = OuranosClient(http, api_key=key)
        c.login(a.account_id, a.password)
        assert c.operator()["operatorId"] == a.operator_id
        assert c.operator(open_operator_id=b.open_operator_id)["operatorId"] == b.operator_id
        assert [o["operatorId"] for o in c.operators([b.operator_id])] == [b.operator_id]
        assert c.operators([]) == []  # the hub refuses a blank operatorIds; the client asks nothing
        for i in range(5):
            c.put(
                "parts",
                {
                    "operatorId": a.operator_id,
                    "plantId": a.plant_id,
                    "partsName": f"N{i}",
                    "supportPartsName": None,
                    "terminatedFlag": True,
                    "amountRequired": None,
                    "amountRequiredUnit": "unit",
                    "traceId": None,
                },
            )
        assert [p["partsName"] for p in c.pages("parts", limit="2")] == [f"N{i}" for i in range(5)]
        assert c.last_track
        c.refresh()
        with pytest.raises(InvalidInput, match="partsName"):
            c.put(
                "parts",
                {
                    "operatorId": a.operator_id,
                    "plantId": a.plant_id,
                    "partsName": "",
                    "supportPartsName": None,
                    "terminatedFlag": True,
                    "amountRequired": None,
                    "amountRequiredUnit": "unit",
                    "traceId": None,
                },
            )
        with pytest.raises(NotFound):
            c.operator(open_operator_id="nobody")
        bad = OuranosClient(http, api_key="wrong")
        with pytest.raises(Forbidden):
            bad.login(a.account_id, a.password)
