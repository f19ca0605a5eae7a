"""One serving demo run shared by every demo test module (the full story, as ``make demo``
runs it): started once per test session, read through ``summary.json`` and the live nodes, and
stopped with Ctrl-C (SIGINT) at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DemoRun:
    out: Path
    summary: dict[str, Any]


def serve_demo(tmp: Path, *, timeout_s: float = 600) -> Iterator[DemoRun]:
    out = tmp / "out"
    env = dict(os.environ, BATPASS_HOME=str(tmp / "unused-home"))
    env.pop("BATPASS_DEMO_STEPS", None)
    log_path = tmp / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batpass", "demo", "--out", str(out)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout_s
            summary: dict[str, Any] | None = None
            while summary is None:
                if proc.poll() is not None:
                    raise AssertionError(f"demo exited with {proc.returncode}: {log_path.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"demo not complete after {timeout_s:.0f} s: {log_path.read_text()[-4000:]}")
                path = out / "summary.json"
                if path.exists():
                    s = json.loads(path.read_text())
                    summary = s if s["complete"] else None
                if summary is None:
                    time.sleep(0.5)
            yield DemoRun(out, summary)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
