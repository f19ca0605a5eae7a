"""The discovery services over HTTP on a node with profile ``discovery``: the operator writes the
BPN-DID directory with its admin key and reads it gzip-compressed; members' services refuse a
caller without a token in the discovery services' error shape; a node without the profile
serves none of them."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from batpass.core.settings import Settings
from batpass.node import create_app, init_node

BDRS = "/api/management/bpn-directory"


def _client(tmp_path: Path, profiles: list[str]) -> tuple[TestClient, dict[str, str]]:
    settings = Settings(home=tmp_path / "home", startup_audit=False)
    node, key = init_node("op", profiles=profiles, settings=settings, bpnl="BPNL00000003CERT")
    node.close()
    return TestClient(create_app(settings, node_name="op"), base_url=node.base_url), {"X-Api-Key": key}


def test_the_operator_writes_and_reads_the_directory(tmp_path: Path) -> None:
    client, admin = _client(tmp_path, ["catena-x", "discovery"])
    with client:
        entry = {"bpn": "BPNL00000003CAR1", "did": "did:web:car.example"}
        assert client.post(BDRS, json=entry).status_code == 401  # the operator's key only
        assert client.post(BDRS, json=entry, headers=admin).status_code == 204
        assert client.post(BDRS, json=entry, headers=admin).status_code == 409
        bad = client.post(BDRS, json={"bpn": "car", "did": "did:web:car.example"}, headers=admin)
        assert bad.status_code == 400 and bad.json()["field"] == "bpn"
        r = client.get(BDRS, headers=admin)
        assert r.headers["content-encoding"] == "gzip" and r.json() == {entry["bpn"]: entry["did"]}
        moved = {**entry, "did": "did:web:car2.example"}
        assert client.put(BDRS, json=moved, headers=admin).status_code == 204
        raw = client.get(BDRS, headers={**admin, "Accept-Encoding": "identity"})
        assert json.loads(raw.content) == {entry["bpn"]: moved["did"]}
        assert client.delete(f"{BDRS}/{entry['bpn']}", headers=admin).status_code == 204
        assert client.delete(f"{BDRS}/{entry['bpn']}", headers=admin).status_code == 404
        # members' services need a member's token; errors in the discovery services' shape
        r = client.post("/api/v1.0/administration/connectors/discovery/search", json={"types": ["bpn"]})
        assert r.status_code == 401 and set(r.json()["error"]) == {"message", "path", "details"}
        assert client.get("/api/directory/bpn-directory").status_code == 401


def test_a_node_without_the_profile_serves_no_discovery(tmp_path: Path) -> None:
    client, admin = _client(tmp_path, ["catena-x"])
    with client:
        assert client.get(BDRS, headers=admin).status_code == 404
        assert client.post("/api/administration/connectors/discovery", json=[]).status_code == 404
