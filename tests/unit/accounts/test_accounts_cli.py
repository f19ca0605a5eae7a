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
from batpass.ouranos import OuranosHub

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
    r = _batpass(home, "user", "add", "ben", "--node", "carmaker", "--role", "admin", env=env)
    assert r.returncode == 0, r.stderr
    r = _batpass(home, "user", "list", "--node", "carmaker")
    assert [(u["name"], u["role"], u["operator"]) for u in json.loads(r.stdout)] == [
        ("aiko", "operator", None),
        ("ben", "admin", None),
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


@pytest.fixture
def hub(tmp_path: Path) -> tuple[Path, str]:
    """A hub hosting one operator; returns the home and the operator's DID."""
    local, _ = init_node("hub", profiles=["ouranos"], settings=Settings(home=tmp_path))
    try:
        op = OuranosHub(
            local.engine, local.identity, hub_home=local.home / "ouranos", base_url=local.base_url
        ).onboard_operator(open_operator_id="1234567890123", operator_name="Cell KK", operator_address="Tokyo")
    finally:
        local.close()
    return tmp_path, op.did


def test_on_a_hub_a_user_is_scoped_to_a_hosted_operator_named_by_its_open_id(hub: tuple[Path, str]) -> None:
    home, did = hub
    env = {"BATPASS_USER_PASSWORD": SECRET}
    r = _batpass(
        home, "user", "add", "ken", "--node", "hub", "--role", "viewer", "--operator", "1234567890123", env=env
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["operator"] == did  # kept as the operator's DID: its ledger and passports
    r = _batpass(home, "user", "add", "eve", "--node", "hub", "--role", "viewer", "--operator", "op-7", env=env)
    assert r.returncode == 2 and "not an operator hub hosts" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert [u["name"] for u in json.loads(_batpass(home, "user", "list", "--node", "hub").stdout)] == ["ken"]


def test_operator_scope_is_refused_on_a_node_that_is_not_a_hub(home: Path) -> None:
    env = {"BATPASS_USER_PASSWORD": SECRET}
    r = _batpass(home, "user", "add", "ben", "--node", "carmaker", "--role", "admin", "--operator", "op-7", env=env)
    assert r.returncode == 2 and "is not a hub" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert json.loads(_batpass(home, "user", "list", "--node", "carmaker").stdout) == []


def test_removing_an_unknown_user_is_one_line_exit_2(home: Path) -> None:
    r = _batpass(home, "user", "remove", "nobody", "--node", "carmaker")
    assert r.returncode == 2 and "no user 'nobody'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
