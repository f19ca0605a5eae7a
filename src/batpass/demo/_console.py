"""The demo's console users: one per node (role admin, so every console page and action can be
tried), its password drawn at random for each run and written only to ``summary.json``
(``nodes[].console: {url, user, password}``). The compose federation's seed adds them the same way;
a seed run again replaces the user, so the password in the summary is always the one that works."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batpass.accounts import AccountService, Role
from batpass.demo.harness import RunningNode

__all__ = ["CONSOLE_USER", "add_console_users"]

CONSOLE_USER = "demo-admin"


def add_console_users(runs: Sequence[RunningNode], entries: list[dict[str, Any]]) -> None:
    """Add the demo's console user to each running node and its entry of ``summary.json``.

    Each node's user is added in its own thread: the Argon2id hash (``argon2-cffi``'s
    parameters, unchanged; about 0.2 s of CPU each) runs in C without holding the GIL, so the
    nine hashes use both cores instead of one after another."""
    by_name = {e["name"]: e for e in entries}
    with ThreadPoolExecutor(max_workers=len(runs) or 1, thread_name_prefix="console-user") as pool:
        added = list(pool.map(_add_console_user, runs))
    for r, password in zip(runs, added, strict=True):
        by_name[r.name]["console"] = {"url": f"{r.base_url}/console/", "user": CONSOLE_USER, "password": password}


def _add_console_user(r: RunningNode) -> str:
    """Add (or replace) the console user on one node; its fresh password."""
    password = secrets.token_urlsafe(18)  # 24 characters, fresh each run
    accounts = AccountService(r.node.engine)
    if any(u.name == CONSOLE_USER for u in accounts.users()):
        accounts.remove_user(CONSOLE_USER)  # a seed run again: its old sessions end too
    accounts.add_user(CONSOLE_USER, Role.ADMIN, password)
    return password
