"""Start a node by forking this (pre-imported) process instead of spawning ``batpass serve``.

A spawned ``batpass serve`` spends 1.5–3 s of CPU importing the app before it serves; the demo
starts nine of them side by side on two cores. Forked from a parent that imported the app once
(:func:`batpass.node.serve.preload`), each node is still its own OS process — its own port,
home, environment, log file (``serve.log``, standard output and error) and uvicorn — and runs
the same checks and server as ``batpass serve`` (:mod:`batpass.node.serve`), without importing
anything again.

Forking is only safe from a process with one thread and no running event loop (a lock another
thread holds would stay locked in the child forever), so :func:`can_fork` says when to fall back
to spawning; ``BATPASS_NODE_START=spawn`` forces the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from batpass.core.errors import BatpassError

__all__ = ["ForkedProcess", "can_fork", "fork_node"]

#: the environment variable naming how the harness starts nodes: ``fork`` (default where it can) or ``spawn``
START_ENV = "BATPASS_NODE_START"


def can_fork(workers: int = 1) -> bool:
    """Whether a node may be forked from this process now: POSIX ``fork``, a single-worker node
    (uvicorn's multi-worker supervisor spawns its workers from ``batpass serve`` as usual), one
    thread, no running event loop, and not told to spawn."""
    if os.environ.get(START_ENV, "fork") == "spawn" or not hasattr(os, "fork") or workers != 1:
        return False
    if threading.active_count() != 1:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


class ForkedProcess:
    """A forked node as the harness handles a :class:`subprocess.Popen`: ``pid``, ``poll``,
    ``wait``, ``send_signal``, ``terminate``, ``kill`` and ``returncode`` (negative: the signal)."""

    def __init__(self, pid: int, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: gone, its status unknown (as Popen says 0)
                self.returncode = 0
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_node(
    name: str, *, env: Mapping[str, str], log_path: Path, insecure_http: bool, host: str = "127.0.0.1"
) -> ForkedProcess:
    """Fork a child that serves node ``name`` as ``batpass serve --node NAME`` would with the
    environment ``env``, its output appended to ``log_path``; the parent returns at once."""
    args = [sys.executable, "-m", "batpass", "serve", "--node", name, *(["--insecure-http"] if insecure_http else [])]
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        stream.flush()
    pid = os.fork()
    if pid != 0:
        os.close(log_fd)
        return ForkedProcess(pid, args)
    code = 1
    try:
        code = _child(name, env=env, log_fd=log_fd, insecure_http=insecure_http, host=host)
    except BaseException:  # the child reports everything in its log and exits
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _fresh_warnings() -> None:
    """Python's start-up warning filters and printing, not the parent's (a test runner turns
    warnings into errors and records them instead of printing them)."""
    importlib.reload(warnings)  # showwarning and its printer as Python defines them
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)


def _child(name: str, *, env: Mapping[str, str], log_fd: int, insecure_http: bool, host: str) -> int:
    """The forked node: the ``batpass serve`` process's environment, output and signals, then
    the same checks and server; the exit code ``batpass serve`` would return."""
    # SIGTERM stops the node as SIGINT does: uvicorn shuts the app down on either, then raises
    # the signal again; under SIG_DFL that killed the child before its own finally (flush, exit)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the process's own streams
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    os.environ["BATPASS_NODE"] = name
    _fresh_warnings()

    from batpass.core.logs import configure_logging
    from batpass.core.settings import load_settings
    from batpass.node.serve import prepare, run

    try:
        settings = load_settings(node=name)
        configure_logging(settings.log_level, fmt=settings.log_format)
        plan = prepare(settings, host=host, workers=1, insecure_http=insecure_http)
    except BatpassError as exc:
        print(f"error: {exc}" + (f" (rule: {exc.rule})" if exc.rule else ""), file=sys.stderr)
        return 2
    if plan.plain:
        print("warning: serving plain HTTP (--insecure-http): development only", file=sys.stderr)
    print(
        f"batpass node {plan.node} serving {plan.base_url} (bound to {host}, 1 worker)\n"
        f"  DID       {plan.did}\n  profiles  {plan.profiles}",
        file=sys.stderr,
    )
    run(plan, settings)
    return 0
