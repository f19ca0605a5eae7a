"""Serving a node: the checks before uvicorn starts, and uvicorn itself.

``batpass serve`` (``batpass.cli``) and the federation harness's forked nodes
(``batpass.demo._fork``) run the same two steps: :func:`prepare` refuses what must not be served
(raising :class:`~batpass.core.errors.ConfigurationError` with the line the CLI prints) and
:func:`run` serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from batpass.core.errors import ConfigurationError
from batpass.core.logs import logging_config
from batpass.core.settings import Settings

__all__ = ["APP_FACTORY", "ServePlan", "preload", "prepare", "run"]

#: the ASGI app factory uvicorn imports (reads the node from ``BATPASS_NODE``)
APP_FACTORY = "batpass.node.app:app_from_env"


@dataclass(frozen=True)
class ServePlan:
    """What :func:`run` serves, and the lines announcing it."""

    node: str
    host: str
    port: int
    workers: int
    plain: bool
    ssl_certfile: str | None
    ssl_keyfile: str | None
    base_url: str
    did: str
    profiles: str


def prepare(settings: Settings, *, host: str, workers: int, insecure_http: bool) -> ServePlan:
    """Open the node named by ``settings.node`` (migrating its database) and check it may be
    served as asked: a named node, one worker on SQLite, no plain HTTP in production, a free port
    and a TLS key only its owner reads."""
    from batpass.node.local import open_node, port_in_use
    from batpass.store import is_sqlite
    from batpass.trust import check_private_file

    if not settings.node:
        raise ConfigurationError(
            "BATPASS_NODE is not set: name the node to serve with --node NAME or the variable BATPASS_NODE"
        )
    node = settings.node
    local = open_node(node, settings=settings)
    try:
        if workers > 1 and is_sqlite(local.engine):
            raise ConfigurationError(
                f"--workers {workers} needs a PostgreSQL database: a SQLite node serves with one worker"
                " (docs/workers.md)"
            )
        plain = insecure_http or local.config.insecure_http
        if plain:
            if settings.production:
                raise ConfigurationError("plain HTTP is refused in production mode (BATPASS_ENV=production)")
            warnings.warn("serving plain HTTP: development only; nodes must speak HTTPS", stacklevel=2)
        if port_in_use(local.config.port, host):
            raise ConfigurationError(
                f"port {local.config.port} is in use: another process listens there (is node {node} already running?)"
            )
        if not plain:
            check_private_file(local.paths.key)  # a TLS key others may read refuses start-up
        return ServePlan(
            node=node,
            host=host,
            port=local.config.port,
            workers=workers,
            plain=plain,
            ssl_certfile=None if plain else str(local.paths.cert),
            ssl_keyfile=None if plain else str(local.paths.key),
            base_url=local.base_url,
            did=local.did,
            profiles=", ".join(local.config.profiles),
        )
    finally:
        local.close()


def run(plan: ServePlan, settings: Settings) -> None:
    """Serve the node with uvicorn until it is told to stop."""
    import uvicorn

    os.environ["BATPASS_NODE"] = plan.node
    ssl_kwargs: dict[str, str] = {}
    if plan.ssl_certfile and plan.ssl_keyfile:
        ssl_kwargs = {"ssl_certfile": plan.ssl_certfile, "ssl_keyfile": plan.ssl_keyfile}
    options: dict[str, Any] = {
        "factory": True,
        "host": plan.host,
        "port": plan.port,
        "workers": plan.workers,
        "log_config": logging_config(settings.log_level, fmt=settings.log_format, access=settings.access_log),
        "access_log": False,  # batpass's own access line (with the duration) replaces uvicorn's
        # partners' idle keep-alive connections must not hold a stopping node for long (one
        # worker: closed at once, batpass.http.serving; this bounds what is in flight)
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        **ssl_kwargs,
    }
    if plan.workers > 1:  # uvicorn's supervisor and its worker processes
        uvicorn.run(APP_FACTORY, **options)
        return
    from uvicorn.config import STARTUP_FAILURE

    from batpass.http.serving import NodeServer

    server = NodeServer(uvicorn.Config(APP_FACTORY, **options))
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, raised again after the stop (as uvicorn.run)
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def preload() -> None:
    """Import what serving a node imports (the app and its capabilities, uvicorn's server,
    protocols and loop), so that a process forked afterwards starts serving without importing
    them again (``batpass.demo._fork``)."""
    import importlib

    import uvicorn.config
    import uvicorn.server

    import batpass.node.app  # noqa: F401 - the point is the import

    # the implementations uvicorn picks by default ("auto"), whichever uvicorn release names them
    tables = ("HTTP_PROTOCOLS", "WS_PROTOCOLS", "LIFESPAN", "LOOP_FACTORIES", "LOOP_SETUPS")
    names: list[str] = []
    for table in tables:
        entry = getattr(uvicorn.config, table, {}).get("auto")
        if isinstance(entry, str):
            names.append(entry.partition(":")[0])
    # and what a node imports lazily as it starts: httpx's transport (httpcore, h11), anyio's
    # asyncio back end and TLS streams, uvicorn's loop
    lazy: tuple[str, ...] = ("uvloop", "httptools", "uvicorn.loops.uvloop", "uvicorn.loops.asyncio", "httpcore", "h11")
    lazy += ("batpass.http.serving",)
    lazy += ("anyio._backends._asyncio", "anyio.streams.tls", "anyio.streams.stapled", "fastapi.telemetry._runtime")
    for name in (*names, *lazy):
        try:
            importlib.import_module(name)
        except ImportError:  # an optional implementation (httptools, uvloop, websockets) absent
            continue
    # and the bundled rulesets, which every node parses as it starts (YAML, about 35 ms): read
    # once here, a forked node finds them parsed (they are read-only values)
    from batpass.compliance import available_rulesets

    available_rulesets()
