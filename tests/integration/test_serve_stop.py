"""Stopping ``batpass serve`` (a spawned node, as a container or a service manager runs it):
SIGTERM is a clean stop, so the process exits 0 as on SIGINT, not by the signal again (-15); and an
idle keep-alive connection from a partner (a pooled client between requests) does not hold the
stopping node for uvicorn's graceful timeout: nothing is in flight on it."""

from __future__ import annotations

import signal
import ssl
import time
from pathlib import Path

import httpx
import pytest

from batpass.demo.harness import NodeSpec, federation, federation_ca

pytestmark = pytest.mark.integration

SPEC = NodeSpec("stop-alpha", ("catena-x",), legal_name="Alpha GmbH", bpnl="BPNL0000000ALPHA")


def test_a_served_node_stopped_by_sigterm_exits_0_promptly_with_an_idle_keep_alive_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATPASS_NODE_START", "spawn")  # ``batpass serve`` itself, not a fork
    # a graceful timeout far beyond any stop's own time, however loaded the machine: a node held
    # by the idle connection would take all of it
    monkeypatch.setenv("BATPASS_GRACEFUL_SHUTDOWN_S", "60")
    with federation(tmp_path, [SPEC]) as runs:
        (run,) = runs
        assert run.process is not None
        ctx = ssl.create_default_context(cafile=str(federation_ca(tmp_path)))
        with httpx.Client(verify=ctx, timeout=10) as client:
            assert client.get(run.base_url + "/health").status_code == 200  # the connection stays pooled
            t0 = time.monotonic()
            run.process.send_signal(signal.SIGTERM)
            code = run.process.wait(timeout=90)
            took = time.monotonic() - t0
        assert code == 0, "a clean stop on SIGTERM exits 0, not by the signal"
        # an idle connection is closed at once, not waited for until the graceful timeout (60 s)
        assert took < 20, f"stopping took {took:.2f} s with an idle keep-alive connection open"
