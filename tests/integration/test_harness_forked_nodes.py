"""The harness's forked start (``federation(..., fork=True)``, what the demo uses): each node is
its own OS process — its own pid, port, home and log — answering its own ``/health``, refusing
the other nodes' admin keys, and stopping leaves no process behind. A node that cannot start
reports its exit code and log, as a spawned ``batpass serve`` does.

A node is forked only from a process with one thread (``can_fork``); after other tests this
process has more (thread pools, servers), so the forked checks run in a fresh interpreter."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from batpass.core.errors import UpstreamUnavailable
from batpass.demo._fork import ForkedProcess, can_fork
from batpass.demo.harness import NodeSpec, federation, federation_ca, start_node, stop_node

pytestmark = pytest.mark.integration

SPECS = [
    NodeSpec("fork-alpha", ("catena-x",), legal_name="Alpha GmbH", bpnl="BPNL0000000ALPHA"),
    NodeSpec("fork-beta", ("ouranos",), legal_name="Beta KK", country="JP"),
    NodeSpec("fork-gamma", ("catena-x",), legal_name="Gamma AG", bpnl="BPNL0000000GAMMA"),
]


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _in_a_fresh_interpreter(check: str, tmp_path: Path) -> None:
    """Run ``check`` of this module in a new Python process (one thread: it may fork)."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        f"import test_harness_forked_nodes as m; m.{check}(Path(sys.argv[2]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_forked_nodes_are_separate_processes_each_answering_its_own_health(tmp_path: Path) -> None:
    _in_a_fresh_interpreter("check_forked_nodes", tmp_path)


def test_a_forked_node_that_cannot_serve_reports_its_exit_and_log(tmp_path: Path) -> None:
    _in_a_fresh_interpreter("check_forked_node_exit", tmp_path)


def test_a_forked_node_stopped_by_sigterm_shuts_down_as_on_sigint(tmp_path: Path) -> None:
    """Before: uvicorn shut the app down on SIGTERM, then raised the signal again under the
    default action the child had set (``SIG_DFL``), killing it there: its own ``finally``
    (flushing its output, exiting with its code) never ran and it ended by the signal (-15),
    where SIGINT ends it with 0."""
    _in_a_fresh_interpreter("check_forked_node_sigterm", tmp_path)


def check_forked_node_sigterm(tmp_path: Path) -> None:
    import signal

    assert can_fork(), "a fresh interpreter can fork"
    with federation(tmp_path, SPECS[:1], fork=True) as runs:
        (run,) = runs
        assert isinstance(run.process, ForkedProcess)
        db = run.node.home / "node.db"
        assert db.with_name("node.db-wal").exists(), "a serving node holds its store open"
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=30) == 0, "ended by the signal, not by its own exit"
        # the store closed (SQLite removes the write-ahead log with its last connection)
        assert not db.with_name("node.db-wal").exists() and not db.with_name("node.db-shm").exists()
        assert "Traceback" not in run.log_path.read_text()  # type: ignore[union-attr]


def check_forked_nodes(tmp_path: Path) -> None:
    assert can_fork(), "a fresh interpreter can fork"
    with federation(tmp_path, SPECS, fork=True) as runs:
        pids = []
        for r in runs:
            assert isinstance(r.process, ForkedProcess), "the node was spawned, not forked"
            assert r.process.poll() is None
            pids.append(r.process.pid)
        assert len(set(pids)) == len(runs) and os.getpid() not in pids
        # the parent of every node is this process: forked, not spawned by a launcher
        for pid in pids:
            assert int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
        ctx = ssl.create_default_context(cafile=str(federation_ca(tmp_path)))
        with httpx.Client(verify=ctx, timeout=10) as client:
            ports = set()
            for r in runs:
                health = client.get(r.base_url + "/health").json()
                assert health["name"] == r.name and health["did"] == r.did
                ports.add(r.node.config.port)
                # each node serves its own home: its admin key, and no other node's
                mine = client.get(r.base_url + "/v1/participants", headers=r.admin_headers())
                assert mine.status_code == 200
                other = next(o for o in runs if o is not r)
                theirs = client.get(r.base_url + "/v1/participants", headers=other.admin_headers())
                assert theirs.status_code == 401
            assert len(ports) == len(runs)
        for r in runs:  # each writes its own log, with the serve banner naming it
            assert r.log_path == r.node.home / "serve.log"
            assert f"batpass node {r.name} serving {r.base_url}" in r.log_path.read_text()
    for r, pid in zip(runs, pids, strict=True):
        assert r.process is not None and r.process.returncode is not None
        assert not _alive(pid), f"node {r.name} (pid {pid}) still running after the federation stopped"


def check_forked_node_exit(tmp_path: Path) -> None:
    assert can_fork(), "a fresh interpreter can fork"
    with federation(tmp_path, SPECS[:1], fork=True) as runs:
        (run,) = runs
        stop_node(run)
        assert run.process is not None and run.process.returncode is not None
        # its port taken by another listener: the restart refuses, exits 2 and says why
        with socket.socket() as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", run.node.config.port))
            busy.listen()
            with pytest.raises(UpstreamUnavailable):
                start_node(run, timeout=30)
            assert isinstance(run.process, ForkedProcess)
            assert run.process.wait(timeout=10) == 2
            assert f"port {run.node.config.port} is in use" in run.log_path.read_text()  # type: ignore[union-attr]


def test_spawn_is_the_fallback_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATPASS_NODE_START", "spawn")
    assert not can_fork()
    with federation(tmp_path, SPECS[:1], fork=True) as runs:
        (run,) = runs
        assert not isinstance(run.process, ForkedProcess)
        ctx = ssl.create_default_context(cafile=str(federation_ca(tmp_path)))
        with httpx.Client(verify=ctx, timeout=10) as client:
            assert client.get(run.base_url + "/health").json()["name"] == run.name
    assert run.process is not None and run.process.poll() is not None
