"""Shared fixtures.

Store fixtures run every store test twice: on SQLite (a file per test) and on the local
PostgreSQL (each test in its own schema). Off CI an unreachable PostgreSQL skips that half with
a visible reason; under ``CI=true`` it must run and the test fails instead.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from batpass.http import UNEXPECTED_LOGGER
from batpass.store import make_engine
from store_testkit import PG_URL, scratch_stores

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_pg_state: dict[str, str | None] = {}

# nodes the harness starts refuse to stop quietly after an unexpected exception (a plain 500)
os.environ.setdefault("BATPASS_FAIL_ON_UNEXPECTED", "1")


#: test directories whose files share one thing set up once per process (the node image, the
#: independent implementations' tools): their files run on one worker when the suite runs on several
_SHARED_DIRS = {"tests/deploy", "tests/crossimpl"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n N --dist loadfile`` (``make test``), each file runs whole on one worker (its
    module fixtures, a federation of nodes say, are built once), and the files that share a
    session fixture run on the same worker: the demo story's files (``demo_run``), the deploy
    tests (one image build), the independent implementations. (xdist's ``loadgroup`` marks do
    not group under pytest 9, whose test ids no longer follow xdist's renaming.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    root = config.rootpath
    groups: dict[str, str] = {}

    def group_of(path: str) -> str:
        if path not in groups:
            parent = path.rsplit("/", 1)[0]
            source = root / path
            if parent in _SHARED_DIRS:
                groups[path] = parent
            elif source.suffix == ".py" and "demo_run" in source.read_text(encoding="utf-8"):
                groups[path] = "the demo story"
            else:
                groups[path] = path
        return groups[path]

    class SharedFixtureScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid.split("::", 1)[0])

    return SharedFixtureScheduling(config, log)


class _Unexpected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_unexpected_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """The suite fails on any 500 an app in this process answered for an exception no handler
    knew (the last-resort handler logs it); a test that crashes a route on purpose says so."""
    handler = _Unexpected()
    logger = logging.getLogger(UNEXPECTED_LOGGER)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("allow_unexpected") is None:
        first = handler.records[0]
        pytest.fail(f"a route answered 500 for an unexpected exception: {first.getMessage()}", pytrace=False)


def _pg_unavailable_reason() -> str | None:
    if "reason" not in _pg_state:
        try:
            eng = make_engine(PG_URL)
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # any driver error means "not reachable"
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}"
    return _pg_state["reason"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgresql":
        reason = _pg_unavailable_reason()
        if reason is not None:
            if IN_CI:
                pytest.fail(f"CI=true requires PostgreSQL: {reason}")
            pytest.skip(reason)
    return kind


@pytest.fixture
def make_store(store_kind: str, tmp_path: Path) -> Iterator[Callable[[Sequence[Path]], Engine]]:
    """Factory: ``make_store([migration dirs])`` gives a migrated engine on the current store.

    The store's own branch (outbox, inbox) is always included.
    """
    with scratch_stores(store_kind, tmp_path) as factory:
        yield factory


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    """A migrated engine with only the store's own branch; capability tests use ``make_store``."""
    return make_store([])


class CountingReceiver:
    """A real HTTP server that counts deliveries per ``Idempotency-Key`` and applies each key once
    (what a receiving node's inbox does)."""

    def __init__(self) -> None:
        self.deliveries: collections.Counter[str] = collections.Counter()
        self.applied: dict[str, Any] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with receiver._lock:
                    receiver.deliveries[key] += 1
                    receiver.applied.setdefault(key, body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/inbox"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CountingReceiver]:
    """A real HTTP receiver on loopback counting deliveries per ``Idempotency-Key``."""
    r = CountingReceiver()
    yield r
    r.close()
