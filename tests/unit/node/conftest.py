from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from batpass.core.settings import Settings
from batpass.node import create_app, init_node


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def node_client(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    node, key = init_node(
        "n1", profiles=["catena-x"], settings=settings, legal_name="Node One", bpnl="BPNL00000003AYRE"
    )
    node.close()
    with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as client:
        yield client, key
