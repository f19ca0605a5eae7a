"""The demo's console users: one per node (role admin, so every console page and action can be
tried), its password drawn at random for each run and written only to ``summary.json``
(``nodes[].console: {url, user, password}``). The compose federation's seed adds them the same way;
a seed run again replaces the user, so the password in the summary is always the one that works."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from batpass.accounts import AccountService, Role
from batpass.demo.harness import RunningNode

__all__ = ["CONSOLE_USER", "add_console_users"]

CONSOLE_USER = "demo-admin"


def add_console_users(runs: Sequence[RunningNode], entries: list[dict[str, Any]]) -> None:
    """Add the demo's console user to each running node and its entry of ``summary.json``."""
    by_name = {e["name"]: e for e in entries}
    for r in runs:
        password = secrets.token_urlsafe(18)  # 24 characters, fresh each run
        accounts = AccountService(r.node.engine)
        if any(u.name == CONSOLE_USER for u in accounts.users()):
            accounts.remove_user(CONSOLE_USER)  # a seed run again: its old sessions end too
        accounts.add_user(CONSOLE_USER, Role.ADMIN, password)
        by_name[r.name]["console"] = {"url": f"{r.base_url}/console/", "user": CONSOLE_USER, "password": password}
