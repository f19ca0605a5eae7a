"""The compose seed's summary lists one console user per node (``nodes[].console``), as the
demo's does: the password in the summary signs in on that node, and a seed run again replaces it
(the summary's password is always the one that works)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batpass.accounts import AccountService, SignInRefused
from batpass.core.settings import Settings
from batpass.demo._compose import seed_entries
from batpass.demo._console import CONSOLE_USER
from batpass.demo.harness import NodeSpec, RunningNode
from batpass.node.local import init_node, open_node


def test_the_seed_adds_one_console_user_per_node_to_the_summary(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    names = ("eu-carmaker", "jp-hub")
    for name, profile in zip(names, ("catena-x", "ouranos"), strict=True):
        init_node(name, profiles=[profile], settings=settings)[0].close()
    runs = [RunningNode(NodeSpec(n, ("catena-x",)), open_node(n, settings=settings), "admin-key") for n in names]
    try:
        entries = [{"name": r.name, "url": r.base_url, "admin_key": "admin-key"} for r in runs]
        first = seed_entries(runs, entries)
        assert "console" not in entries[0]  # nodes.json's entries are left as they are
        for r, e in zip(runs, first, strict=True):
            assert e["console"]["url"] == f"{r.base_url}/console/" and e["console"]["user"] == CONSOLE_USER
            assert e["admin_key"] == "admin-key"
            _token, session = AccountService(r.node.engine).sign_in(CONSOLE_USER, e["console"]["password"])
            assert session.user.role.value == "admin"
        assert first[0]["console"]["password"] != first[1]["console"]["password"]
        again = seed_entries(runs, entries)
        accounts = AccountService(runs[0].node.engine)
        accounts.sign_in(CONSOLE_USER, again[0]["console"]["password"])
        with pytest.raises(SignInRefused):
            accounts.sign_in(CONSOLE_USER, first[0]["console"]["password"])
    finally:
        for r in runs:
            r.node.close()
