"""Which capabilities a node is made of: their migration branches and services.

The one place that knows every capability (with :mod:`batpass.node.app`, which mounts routers).
"""

from __future__ import annotations

from pathlib import Path

from batpass import (
    accounts,
    bridge,
    dataspace,
    exchange,
    footprint,
    ledger,
    ouranos,
    participants,
    passport,
    sites,
    store,
    trust,
)

__all__ = ["migration_dirs"]


def migration_dirs() -> list[Path]:
    """Every capability's Alembic branch; all are applied whatever the node's profiles, so a
    profile can be added later without a schema change."""
    return [
        store.MIGRATIONS_DIR,
        participants.MIGRATIONS_DIR,
        ouranos.MIGRATIONS_DIR,
        dataspace.MIGRATIONS_DIR,
        footprint.MIGRATIONS_DIR,
        trust.MIGRATIONS_DIR,
        ledger.MIGRATIONS_DIR,
        passport.MIGRATIONS_DIR,
        exchange.MIGRATIONS_DIR,
        bridge.MIGRATIONS_DIR,
        sites.MIGRATIONS_DIR,
        accounts.MIGRATIONS_DIR,
    ]
