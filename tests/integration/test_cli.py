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


def test_backup_then_restore_then_verify(tmp_path: Path) -> None:
    """The operator's round trip, with the default scrypt cost: every refusal is one line, exit 2."""
    home, out = tmp_path / "home", tmp_path / "maker.bpk"
    assert run(home, "init", "--name", "maker", "--profile", "catena-x").returncode == 0
    p = run_env(home, {"BATPASS_BACKUP_PASSPHRASE": ""}, "backup", "--node", "maker", "--out", str(out))
    assert p.returncode == 2 and p.stderr.count("error:") == 1 and "BATPASS_BACKUP_PASSPHRASE" in p.stderr
    assert "--passphrase-file" in p.stderr and not out.exists()
    secret = tmp_path / "passphrase"
    secret.write_text("a long enough passphrase\n")
    secret.chmod(0o644)
    p = run(home, "backup", "--node", "maker", "--out", str(out), "--passphrase-file", str(secret))
    assert p.returncode == 2 and "readable by others" in p.stderr and not out.exists()
    secret.chmod(0o600)
    p = run(home, "backup", "--node", "maker", "--out", str(out), "--passphrase-file", str(secret))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["file_bytes"] == out.stat().st_size and (out.stat().st_mode & 0o777) == 0o600

    env = {"BATPASS_BACKUP_PASSPHRASE": "not the passphrase"}
    p = run_env(tmp_path / "new", env, "restore", "--from", str(out), "--node", "maker")
    assert p.returncode == 2 and p.stderr.count("error:") == 1 and "passphrase does not open" in p.stderr
    assert not (tmp_path / "new").exists()
    env = {"BATPASS_BACKUP_PASSPHRASE": "a long enough passphrase"}
    p = run_env(home, env, "restore", "--from", str(out), "--node", "maker")
    assert p.returncode == 2 and p.stderr.count("error:") == 1 and "already holds a node" in p.stderr
    p = run_env(tmp_path / "new", env, "restore", "--from", str(out), "--node", "maker")
    assert p.returncode == 0, p.stderr
    p = run(tmp_path / "new", "verify", "--node", "maker")
    assert p.returncode == 0 and json.loads(p.stdout)["ok"] is True, p.stdout


def run_env(home: Path, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BATPASS_HOME=str(home), COLUMNS="200", **extra)
    return subprocess.run(
        [sys.executable, "-m", "batpass", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_several_workers_on_sqlite_are_refused_with_one_line(tmp_path: Path) -> None:
    """Workers share nothing but the database; SQLite has one writer and no advisory locks or
    LISTEN/NOTIFY, so ``serve --workers 2`` on a SQLite node refuses before serving."""
    assert (
        run(tmp_path, "init", "--name", "maker", "--profile", "catena-x", "--bpnl", "BPNL00000003AYRE").returncode == 0
    )
    p = run(tmp_path, "serve", "--node", "maker", "--workers", "2")
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--workers 2 needs a PostgreSQL database" in lines[0], p.stderr
    assert "serving" not in p.stderr
