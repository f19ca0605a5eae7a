"""Real nodes as separate uvicorn processes on loopback, talking HTTPS with the federation CA."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RunningNode]]]:
    home = tmp_path_factory.mktemp("fed")
    specs = [
        NodeSpec("alpha", ("catena-x",), legal_name="Alpha GmbH", bpnl="BPNL0000000ALPHA"),
        NodeSpec("beta", ("ouranos",), legal_name="Beta KK", country="JP"),
    ]
    with federation(home, specs) as runs:
        yield home, runs


def test_nodes_answer_https_with_the_federation_ca(two_nodes: tuple[Path, list[RunningNode]]) -> None:
    home, runs = two_nodes
    ctx = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ctx) as client:
        for r in runs:
            assert r.base_url.startswith("https://localhost:")
            h = client.get(r.base_url + "/health").json()
            assert h["name"] == r.name and h["did"] == r.did
            doc = client.get(r.base_url + "/.well-known/did.json").json()
            assert doc["id"] == r.did
        # each node's admin key works only on that node
        a, b = runs
        assert client.get(a.base_url + "/v1/participants", headers=a.admin_headers()).status_code == 200
        assert client.get(b.base_url + "/v1/participants", headers=a.admin_headers()).status_code == 401


def test_certificates_from_another_ca_are_not_trusted(two_nodes: tuple[Path, list[RunningNode]]) -> None:
    _, runs = two_nodes
    with httpx.Client(verify=ssl.create_default_context()) as client, pytest.raises(httpx.ConnectError):
        client.get(runs[0].base_url + "/health")


def test_plain_http_is_refused_by_an_https_node(two_nodes: tuple[Path, list[RunningNode]]) -> None:
    _, runs = two_nodes
    plain = runs[0].base_url.replace("https://", "http://")
    with httpx.Client() as client:
        try:
            r = client.get(plain + "/health")
        except httpx.HTTPError:
            return  # the TLS listener drops a plain-HTTP request
        assert r.status_code >= 400, "a TLS node must never serve plain HTTP"


def test_plain_http_only_with_the_development_flag(tmp_path: Path) -> None:
    specs = [NodeSpec("devnode", ("catena-x",), insecure_http=True)]
    with federation(tmp_path, specs) as (run,):
        assert run.base_url.startswith("http://")
        assert httpx.get(run.base_url + "/health").json()["status"] == "ok"
        assert run.log_path is not None
        assert "plain HTTP" in run.log_path.read_text()


def test_production_mode_refuses_the_development_flag(two_nodes: tuple[Path, list[RunningNode]]) -> None:
    home, runs = two_nodes
    env = dict(os.environ, BATPASS_HOME=str(home), BATPASS_ENV="production")
    p = subprocess.run(
        [sys.executable, "-m", "batpass", "serve", "--node", runs[0].name, "--insecure-http"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "refused in production" in p.stderr


def test_serve_says_where_it_listens_and_logs_each_request(two_nodes: tuple[Path, list[RunningNode]]) -> None:
    """``batpass serve`` prints its URL, DID and profiles when it starts, then one access line per
    request with an ISO timestamp, method, path, status, duration and request id (never the query
    string): JSON, one object per line, as its standard error is a file here, not a terminal. The
    caller's ``X-Request-Id`` comes back on the answer and is the one on the line."""
    import json
    import re
    import time

    home, runs = two_nodes
    alpha = runs[0]
    ctx = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ctx) as client:
        r = client.get(alpha.base_url + "/v1/no-such-route?secret=s3cr3t", headers={"X-Request-Id": "it-trace-1"})
        assert r.status_code == 404 and r.headers["x-request-id"] == "it-trace-1"
    assert alpha.log_path is not None
    deadline = time.monotonic() + 10  # the node writes the line after it answered
    while "/v1/no-such-route" not in (log := alpha.log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"serving {alpha.base_url}" in log and alpha.did in log and "profiles  catena-x" in log
    docs = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [d for d in docs if d["logger"] == "batpass.access" and d["path"] == "/v1/no-such-route"]
    assert len(access) == 1, log[-2000:]
    line = access[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line.pop("ts"))
    assert isinstance(line.pop("duration_ms"), float)
    assert line == {
        "level": "info",
        "logger": "batpass.access",
        "message": line["message"],
        "request_id": "it-trace-1",
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/v1/no-such-route",
        "status": 404,
    }
    assert line["message"].startswith("127.0.0.1 GET /v1/no-such-route 404 ")
    assert "s3cr3t" not in log
