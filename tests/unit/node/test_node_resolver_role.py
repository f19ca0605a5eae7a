"""The ``resolver`` profile: a node started with it answers Digital Links of the GTINs its config
routes to other nodes (docs/resolver.md); a malformed route keeps it from starting, naming the
field; every answer stays a problem detail or a page, never a plain 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from batpass.core.errors import ConfigurationError
from batpass.core.settings import Settings
from batpass.node import create_app, init_node
from batpass.node._config import NodeConfig

BATTERY = "/01/04012345000016/21/SN1"


def _resolver(settings: Settings, routes: object) -> NodeConfig:
    node, _ = init_node("res", profiles=["catena-x", "resolver"], settings=settings, legal_name="Resolver GmbH")
    node.close()
    node.config.extra["resolver"] = {"routes": routes, "deadlineSeconds": 0.5}
    node.config.save(node.paths.config)
    return node.config


def test_a_routed_gtin_whose_operator_and_backup_are_unreachable_is_a_503(settings: Settings) -> None:
    # nothing listens on these ports: both connections are refused
    cfg = _resolver(
        settings,
        [{"gtinPrefix": "04012345", "operator": "https://127.0.0.1:9", "backup": "https://127.0.0.1:7"}],
    )
    assert "resolver" in cfg.profiles
    with TestClient(create_app(settings, node_name="res"), base_url=cfg.base_url) as client:
        r = client.get(BATTERY, headers={"Accept": "application/json"})
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        assert "https://127.0.0.1:9" in r.json()["detail"] and "did not answer either" in r.json()["detail"]
        page = client.get(BATTERY, headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        # a GTIN without a route: the node's own store answers
        assert client.get("/01/09506000134352/21/X1", headers={"Accept": "application/json"}).status_code == 404
        assert "resolver" in client.get("/health").json()["profiles"]
        # the front door's search takes a routed battery to its Digital Link, answered here
        found = client.get("/search", params={"q": "(01)04012345000016(21)SN1"}, follow_redirects=False)
        assert found.status_code == 303 and found.headers["location"] == BATTERY
        assert client.get("/search", params={"q": "(01)09506000134352(21)X1"}).status_code == 404


def test_a_malformed_route_keeps_the_node_from_starting(settings: Settings) -> None:
    _resolver(settings, [{"gtinPrefix": "0401", "operator": "http://plain.example"}])
    with (
        pytest.raises(ConfigurationError, match=r"routes\[0\]\.operator"),
        TestClient(create_app(settings, node_name="res")),
    ):
        pass
