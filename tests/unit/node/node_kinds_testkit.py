"""The three node kinds the route sweeps cover, and a node of one of them with its app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from batpass.core.settings import Settings
from batpass.node import create_app, init_node

PROFILES = {"catena-x": ["catena-x"], "ouranos": ["ouranos"], "bridge": ["catena-x", "bridge"]}


def node_app(kind: str, settings: Settings) -> tuple[FastAPI, str, str]:
    """A node of ``kind`` (a key of :data:`PROFILES`) initialised under ``settings``, and its app:
    (app, base URL, the admin's API key)."""
    profiles = PROFILES[kind]
    extra: dict[str, Any] = {"bpnl": "BPNL00000003AYRE"} if "catena-x" in profiles else {}
    node, key = init_node(kind, profiles=profiles, settings=settings, legal_name=f"Node {kind}", **extra)
    node.close()
    return create_app(settings, node_name=kind), node.base_url, key
