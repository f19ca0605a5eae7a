"""Fixtures of the Ouranos hub tests: a hub on every store, with seeded operators and clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from batpass.ouranos import MIGRATIONS_DIR, OuranosHub
from batpass.ouranos._harness import SeededOperator, build_app, seed_operator
from batpass.trust import load_or_create_identity

BASE = "https://hub.test:8443"


@pytest.fixture
def hub(make_store: Callable[[Sequence[Path]], Engine], tmp_path: Path) -> OuranosHub:
    engine = make_store([MIGRATIONS_DIR])
    identity = load_or_create_identity(tmp_path / "node-keys", "did:web:hub.test%3A8443")
    return OuranosHub(engine, identity, hub_home=tmp_path / "hub", base_url=BASE)


class Api:
    """One operator's session on the published API (both credentials, as the tutorials send them)."""

    def __init__(self, client: TestClient, op: SeededOperator, api_key: str) -> None:
        self.client, self.op, self.api_key = client, op, api_key
        r = client.post(
            "/auth/login",
            json={"operatorAccountId": op.account_id, "accountPassword": op.password},
            headers={"apiKey": api_key},
        )
        assert r.status_code == 201, r.text
        self.token = r.json()["accessToken"]

    @property
    def headers(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers)

    def put(self, path: str, body: Any, **params: Any) -> Any:
        return self.client.put(path, params=params, json=body, headers=self.headers)

    def delete(self, path: str, **params: Any) -> Any:
        return self.client.delete(path, params=params, headers=self.headers)


@pytest.fixture
def apis(hub: OuranosHub) -> Iterator[list[Api]]:
    ops = [seed_operator(hub, n) for n in range(3)]
    _, key = hub.issue_api_key()
    with TestClient(build_app(hub, base_url=BASE), base_url=BASE) as client:
        yield [Api(client, op, key) for op in ops]
