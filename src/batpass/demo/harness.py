"""Start a federation of nodes as separate uvicorn processes on free loopback ports.

Used by the integration tests (as a fixture) and by the demo. Each node gets its own folder,
database, keys and certificate from one per-federation CA; the harness waits until every node
answers ``/health`` over HTTPS and stops them cleanly (SIGTERM, then SIGKILL after a grace).
Nodes talk to each other only over HTTPS, never through Python objects.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from batpass.core.errors import UpstreamUnavailable
from batpass.core.settings import Settings
from batpass.demo._fork import ForkedProcess, can_fork, fork_node
from batpass.http import UNEXPECTED_LOGGER
from batpass.node._composition import migration_dirs
from batpass.node.local import LocalNode, ca_folder, init_node
from batpass.node.serve import preload
from batpass.store import make_engine, upgrade
from batpass.trust import client_ssl_context

# How long a starting node may take to answer /health. It is a deadline, not a wait: a healthy
# node returns at once; a loaded 2-core machine starting eight nodes side by side (imports,
# migrations, key loading) was seen to need more than 60 s for the hub.
START_TIMEOUT_S = 180.0

__all__ = ["NodeSpec", "RunningNode", "distinct_ports", "federation", "start_node", "stop_node"]


@dataclass(frozen=True)
class NodeSpec:
    name: str
    profiles: tuple[str, ...]
    legal_name: str | None = None
    country: str = "DE"
    bpnl: str | None = None
    corporate_number: str | None = None
    insecure_http: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    #: merged into the node's config ``extra`` (e.g. ``ecosystem``, ``passport_backup_url``)
    config_extra: dict[str, Any] = field(default_factory=dict)
    #: the node's database (default: a SQLite file in its folder) and PostgreSQL schema
    db_url: str | None = None
    db_schema: str | None = None
    #: ``batpass serve --workers N`` (more than one needs PostgreSQL: docs/workers.md)
    workers: int = 1


@dataclass
class RunningNode:
    spec: NodeSpec
    node: LocalNode
    admin_key: str
    #: ``batpass serve`` spawned, or this process forked (``federation(..., fork=True)``)
    process: subprocess.Popen[bytes] | ForkedProcess | None = None
    log_path: Path | None = None
    #: start this node by forking the (pre-imported) harness process when it safely can
    fork: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def base_url(self) -> str:
        return self.node.base_url

    @property
    def did(self) -> str:
        return self.node.did

    def admin_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.admin_key}

    def worker_pids(self) -> set[int]:
        """The worker processes uvicorn runs under ``batpass serve --workers N`` (Linux ``/proc``;
        multiprocessing's resource tracker, also a child, is left out)."""
        if self.process is None:
            return set()
        children: set[int] = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children |= {int(pid) for pid in (task / "children").read_text().split()}
        return {pid for pid in children if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()}


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["BATPASS_HOME"] = str(home)
    env.setdefault("BATPASS_LOG_LEVEL", "warning")
    if extra:
        env.update(extra)
    return env


def start_node(
    run: RunningNode, *, extra_args: Sequence[str] = (), timeout: float = START_TIMEOUT_S, wait: bool = True
) -> RunningNode:
    """Start ``batpass serve`` for a node in its own process and wait until it is healthy: a
    fork of this process when ``run.fork`` and it safely can (``batpass.demo._fork``), else spawned."""
    home = run.node.settings.home
    run.log_path = run.node.home / "serve.log"
    if run.fork and not extra_args and can_fork(run.spec.workers):
        env = _env(home, run.spec.extra_env)
        run.process = fork_node(run.name, env=env, log_path=run.log_path, insecure_http=run.spec.insecure_http)
        if wait:
            wait_healthy(run, timeout=timeout)
        return run
    args = [sys.executable, "-m", "batpass", "serve", "--node", run.name, "--workers", str(run.spec.workers)]
    args += extra_args
    if run.spec.insecure_http and "--insecure-http" not in extra_args:
        args.append("--insecure-http")
    log = open(run.log_path, "ab")  # noqa: SIM115 - handed to the child; closed with it
    run.process = subprocess.Popen(args, env=_env(home, run.spec.extra_env), stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if wait:
        wait_healthy(run, timeout=timeout)
    return run


def wait_healthy(run: RunningNode, *, timeout: float = START_TIMEOUT_S) -> None:
    verify: Any = client_ssl_context(run.node.paths.ca_cert)
    deadline = time.monotonic() + timeout
    last: str = ""
    with httpx.Client(verify=verify, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if run.process is not None and run.process.poll() is not None:
                raise UpstreamUnavailable(
                    f"node {run.name} exited with code {run.process.returncode} while starting: {_tail(run.log_path)}"
                )
            try:
                r = client.get(run.base_url + "/health")
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            time.sleep(0.05)
    raise UpstreamUnavailable(f"node {run.name} not healthy after {timeout:.0f} s ({last}): {_tail(run.log_path)}")


def _tail(path: Path | None, n: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_bytes()[-n:].decode(errors="replace")


def stop_node(run: RunningNode, *, grace: float = 10.0) -> None:
    proc = run.process
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def federation(
    home: Path,
    specs: Sequence[NodeSpec],
    *,
    start: bool = True,
    timeout: float = START_TIMEOUT_S,
    configure: Callable[[list[RunningNode]], None] | None = None,
    fork: bool = False,
) -> Iterator[list[RunningNode]]:
    """Initialise the nodes in ``home`` (one CA for all) and run them; stop them on exit.

    Every node's DID resolution is narrowed to the federation's nodes (config
    ``federation_hosts``, an extra restriction: without it a node reaches any host the federation
    CA vouches for); ``configure`` may change the configs (knowing every node's DID and
    URL) before the processes start. ``fork`` starts the nodes by forking this process once it
    has imported the app (:func:`batpass.node.serve.preload`) instead of spawning ``batpass
    serve`` nine times over (each node still its own process, port, home and log); it falls back
    to spawning where forking is unsafe or unavailable (``batpass.demo._fork.can_fork``)."""
    settings = Settings(home=home)
    runs: list[RunningNode] = []
    # migrate once: each SQLite node copies the result (a PostgreSQL node migrates its schema)
    template = schema_template(home / "_schema.db") if any(s.db_url is None for s in specs) else None
    ports = distinct_ports(len(specs))
    try:
        for spec, port in zip(specs, ports, strict=True):
            node, key = init_node(
                spec.name,
                port=port,
                profiles=spec.profiles,
                settings=settings,
                legal_name=spec.legal_name,
                country=spec.country,
                bpnl=spec.bpnl,
                corporate_number=spec.corporate_number,
                insecure_http=spec.insecure_http,
                db_url=spec.db_url,
                db_schema=spec.db_schema,
                schema_template=template,
            )
            node.close()
            runs.append(RunningNode(spec, node, key, fork=fork))
    finally:
        if template is not None:
            for suffix in ("", "-wal", "-shm"):
                template.with_name(template.name + suffix).unlink(missing_ok=True)
    hosts = sorted(f"{r.node.config.host}:{r.node.config.port}" for r in runs)
    for r in runs:
        r.node.config.extra.update(r.spec.config_extra)
        r.node.config.extra["federation_hosts"] = hosts
    if configure is not None:
        configure(runs)
    for r in runs:
        r.node.config.save(r.node.paths.config)
    try:
        if start:
            if fork and can_fork():
                preload()
            for r in runs:
                start_node(r, wait=False)
            for r in runs:
                wait_healthy(r, timeout=timeout)
        yield runs
    finally:
        # signal every node first, then wait: they shut down side by side, not one after another
        for r in runs:
            if r.process is not None and r.process.poll() is None:
                r.process.send_signal(signal.SIGTERM)
        for r in runs:
            stop_node(r)
        if os.environ.get("BATPASS_FAIL_ON_UNEXPECTED") == "1":  # the test suite's rule (tests/conftest.py)
            _raise_on_unexpected(runs)


def distinct_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` free ports, all different: each is held while the next is asked for (the
    kernel may answer a port it just handed out and got back, as two ``free_port`` calls did)."""
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for _ in range(count):
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(int(s.getsockname()[1]))
    return ports


def schema_template(path: Path) -> Path:
    """A SQLite database at ``path`` migrated to every head of this code's migrations, as a new
    node's database is: copied, it spares each node of a federation running the migrations (0.2–0.3
    s of CPU each); the copy's own upgrade at start still checks it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine, migration_dirs())
    finally:
        engine.dispose()
    return path


def _raise_on_unexpected(runs: Sequence[RunningNode]) -> None:
    """Fail when a node answered a plain 500: an exception no handler knew (a bug)."""
    for r in runs:
        if r.log_path is None or not r.log_path.exists():
            continue
        for line in r.log_path.read_text(errors="replace").splitlines():
            if UNEXPECTED_LOGGER in line:
                raise AssertionError(f"node {r.name} answered 500 for an unexpected exception: {line[:400]}")


def federation_ca(home: Path) -> Path:
    return ca_folder(Settings(home=home)) / "ca.pem"
