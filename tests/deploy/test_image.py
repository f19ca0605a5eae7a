"""The node image (issue 24, "Image"): configuration comes from the environment and mounted
files, a missing or malformed setting is named and the container exits 2 before it serves, and
a node created on the host serves from its volume over HTTPS as a non-root user."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploy_kit import IMAGE_UID

from batpass.core.settings import Settings
from batpass.node.local import init_node
from batpass.trust import client_ssl_context

# a cold build bootstraps the Debian base image first
pytestmark = pytest.mark.timeout(1800)


def _run(image: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    flags = [f for k, v in (env or {}).items() for f in ("-e", f"{k}={v}")]
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "host", *flags, image, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "BATPASS_NODE"),
        ({"BATPASS_NODE": "carmaker", "BATPASS_LOG_FORMAT": "xml"}, "BATPASS_LOG_FORMAT"),
        ({"BATPASS_NODE": "carmaker", "BATPASS_METRICS_PORT": "none"}, "BATPASS_METRICS_PORT"),
        ({"BATPASS_NODE": "carmaker", "BATPASS_SETTINGS_DIR": "/run/no-such-folder"}, "BATPASS_SETTINGS_DIR"),
    ],
    ids=["node-missing", "log-format", "metrics-port", "settings-dir"],
)
def test_a_missing_or_malformed_setting_is_named_before_serving(image: str, env: dict[str, str], named: str) -> None:
    out = _run(image, env=env)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and named in errors[0], out.stderr
    assert "serving" not in out.stderr and "Traceback" not in out.stderr


def test_the_image_runs_the_compiled_ingest_path(image: str) -> None:
    # the wheelhouse is built on the host for its Python; the image's Python (Debian's 3.11) loads it
    out = _run(image, "compiled")
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout).values()) == {"compiled"}, out.stdout
    pure = _run(image, "compiled", env={"BATPASS_PURE": "1"})
    assert set(json.loads(pure.stdout).values()) == {"pure (BATPASS_PURE=1)"}, pure.stdout


def test_a_node_without_its_folder_in_the_volume_is_refused(image: str) -> None:
    out = _run(image, env={"BATPASS_NODE": "carmaker"})
    assert out.returncode == 2
    assert "no node configuration at /data/carmaker/config.json" in out.stderr


@pytest.fixture
def node_home(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A node created on the host, its folder handed to the image's user (the volume's owner)."""
    home = tmp_path / "data"
    node, _ = init_node("carmaker", profiles=["catena-x"], settings=Settings(home=home), bpnl="BPNL00000003CAR1")
    base_url, did = node.base_url, node.did
    node.close()
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", f"{IMAGE_UID}:{IMAGE_UID}", str(home)], check=True)
    yield home, base_url, did


def test_a_node_serves_from_its_volume_as_a_non_root_user(image: str, node_home: tuple[Path, str, str]) -> None:
    home, base_url, did = node_home
    name = f"batpass-test-{uuid.uuid4().hex[:8]}"
    user = [] if os.getuid() == 0 else ["--user", f"{os.getuid()}:{os.getgid()}"]
    volume, env = f"{home}:/data", "BATPASS_NODE=carmaker"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--network", "host", *user, "-v", volume, "-e", env, image],
        check=True,
        capture_output=True,
    )
    try:
        ctx = client_ssl_context(home / "carmaker" / "tls" / "ca.pem")
        with httpx.Client(verify=ctx, timeout=5) as client:
            ready = _wait_ready(client, base_url, name)
            assert ready.json() == {"status": "ready", "reasons": []}
            # the node the host created: its keys, certificate and database came from the volume
            health = client.get(base_url + "/health").json()
            assert (health["name"], health["did"]) == ("carmaker", did)
        uid = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True)
        assert uid.stdout.strip() != "0"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _wait_ready(client: httpx.Client, base_url: str, container: str) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        try:
            r = client.get(base_url + "/ready")
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", container], capture_output=True, text=True
        ).stdout.strip()
        if state != "true" or time.monotonic() > deadline:
            logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stderr
            raise AssertionError(f"the container is not ready (running: {state}): {logs[-2000:]}")
        time.sleep(0.2)
