"""The Python 3.12 virtual environment the Tractus-X tools run in (they need ≥ 3.12; batpass runs
3.11): found, created once under ``tests/.venv312`` (gitignored) and reused.

One venv for all of them, so a run installs the shared dependencies once: every caller names the
pinned packages it needs and the venv is topped up (never cleared) when one is missing. A file
lock keeps two test processes (xdist workers) from building it at once. Outside CI a missing
Python 3.12 skips the test, saying why; under ``CI=true`` it fails.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

VENV = Path(__file__).resolve().parents[1] / ".venv312"
LOCK = Path(tempfile.gettempdir()) / "batpass-venv312.lock"  # the same lock the tractusx-sdk test takes


def python312() -> str | None:
    """A working Python 3.12 (a pyenv shim on PATH may not run without a pyenv version)."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for c in candidates:
        if not c:
            continue
        try:
            p = subprocess.run(
                [c, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=20
            )
        except OSError:
            continue
        if p.returncode == 0 and p.stdout.strip() == "(3, 12)":
            return c
    return None


def _installed(venv_python: Path, pins: Mapping[str, str]) -> bool:
    if not venv_python.exists():
        return False
    probe = "import importlib.metadata as m, sys\nfor n in sys.argv[1:]:\n    print(m.version(n))"
    p = subprocess.run([str(venv_python), "-c", probe, *pins], capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.split() == list(pins.values())


def venv312(pins: Mapping[str, str], *, why: str) -> Path:
    """The venv's ``bin`` folder with ``pins`` (distribution name → exact version) installed.

    ``why`` completes the skip message ("<why> needs Python 3.12 and none was found")."""
    python = python312()
    if python is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Python 3.12 found (python3.12 on PATH or ~/.pyenv/versions/3.12*)")
        pytest.skip(f"{why} needs Python 3.12 and none was found (python3.12 on PATH or under pyenv)")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    venv_python = VENV / "bin" / "python"
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(venv_python, pins):
            if not venv_python.exists():
                subprocess.run([python, "-m", "venv", "--clear", str(VENV)], check=True, timeout=120)
            subprocess.run(
                [
                    str(venv_python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *(f"{name}=={version}" for name, version in pins.items()),
                ],
                check=True,
                timeout=900,
            )
    return VENV / "bin"
