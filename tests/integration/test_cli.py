"""The command line as a newcomer types it: exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BATPASS_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "batpass", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_init_then_info(tmp_path: Path) -> None:
    p = run(tmp_path, "init", "--name", "maker", "--profile", "catena-x", "--bpnl", "BPNL00000003AYRE")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["did"].startswith("did:web:localhost%3A") and out["admin_key"]
    info = json.loads(run(tmp_path, "info", "--node", "maker").stdout)
    assert info["did"] == out["did"] and "admin_key" not in info


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    p = run(tmp_path, "init", "--name", "x", "--profile", "catena-x", "--corporate-number", "1234567890123")
    assert p.returncode == 2
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "check digit" in lines[0] and "Japanese corporate number" in lines[0]
    assert not (tmp_path / "x").exists()
    p = run(tmp_path, "init", "--name", "x", "--profile", "nope")
    assert p.returncode == 2 and "unknown profile" in p.stderr
    p = run(tmp_path, "info", "--node", "ghost")
    assert p.returncode == 2 and "batpass init" in p.stderr
