"""``batpass user add|list|remove`` on a node folder: the password from a file or the environment
(never an argument, never printed), bad input one line and exit 2 with nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batpass.accounts import AccountService
from batpass.core.settings import Settings
from batpass.node.local import init_node, open_node

SECRET = "a long demo passphrase"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    local, _ = init_node("carmaker", profiles=["catena-x"], settings=Settings(home=tmp_path))
    local.close()
    return tmp_path


def _batpass(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BATPASS_USER_PASSWORD"}
    environ |= {"BATPASS_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "batpass", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_add_list_sign_in_and_remove(home: Path) -> None:
    pw = home / "pw.txt"
    pw.write_text(SECRET + "\n")
    r = _batpass(home, "user", "add", "aiko", "--node", "carmaker", "--role", "operator", "--password-file", str(pw))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["role"] == "operator" and SECRET not in r.stdout + r.stderr
    env = {"BATPASS_USER_PASSWORD": SECRET}
    r = _batpass(home, "user", "add", "ben", "--node", "carmaker", "--role", "admin", "--operator", "op-7", env=env)
    assert r.returncode == 0, r.stderr
    r = _batpass(home, "user", "list", "--node", "carmaker")
    assert [(u["name"], u["role"], u["operator"]) for u in json.loads(r.stdout)] == [
        ("aiko", "operator", None),
        ("ben", "admin", "op-7"),
    ]
    node = open_node("carmaker", settings=Settings(home=home))
    try:
        assert AccountService(node.engine).sign_in("aiko", SECRET)[1].user.name == "aiko"
    finally:
        node.close()
    r = _batpass(home, "user", "remove", "ben", "--node", "carmaker")
    assert r.returncode == 0, r.stderr
    assert [u["name"] for u in json.loads(_batpass(home, "user", "list", "--node", "carmaker").stdout)] == ["aiko"]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--role", "root"], {"BATPASS_USER_PASSWORD": SECRET}, "role"),
        (["--role", "viewer"], {"BATPASS_USER_PASSWORD": "short"}, "password"),
        (["--role", "viewer"], {}, "--password-file"),  # no terminal, no file, no variable
        (["--role", "viewer", "--password-file", "/nonexistent/pw"], {}, "password-file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_stored(
    home: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    r = _batpass(home, "user", "add", "aiko", "--node", "carmaker", *args, env=env)
    assert r.returncode == 2
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert json.loads(_batpass(home, "user", "list", "--node", "carmaker").stdout) == []


def test_removing_an_unknown_user_is_one_line_exit_2(home: Path) -> None:
    r = _batpass(home, "user", "remove", "nobody", "--node", "carmaker")
    assert r.returncode == 2 and "no user 'nobody'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
