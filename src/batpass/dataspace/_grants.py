"""The per-request check of a data-plane access token this worker has checked in full before
(``DspProvider._authorise``): the token not revoked nor expired, its transfer STARTED, and the
agreement's asset read afresh — one statement, read at every request.

On SQLite the statement goes to the driver as it is, on a pooled connection outside any
transaction (a single statement reads one snapshot), as the ledger's change counter does
(``batpass.ledger._reads``): a reading unit of work and a Core statement around this point
lookup cost several times the lookup itself, and every tier of a federated trace pulls. On
PostgreSQL the Core statement (built once) runs in a reading unit of work.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Dialect, Engine, bindparam, select

from batpass.dataspace import _sql as t
from batpass.store import UnitOfWork, UTCDateTime

__all__ = ["LiveGrant", "live_grant"]

_LIVE_GRANT = (
    select(
        t.tokens.c.revoked,
        t.tokens.c.expires_at,
        t.transfers.c.state,
        t.assets.c.id,
        t.assets.c.source,
        t.assets.c.source_key,
    )
    .select_from(t.tokens.join(t.transfers, t.transfers.c.pid == t.tokens.c.transfer_pid))
    .join(t.assets, t.assets.c.id == bindparam("asset_id"))
    .where(t.tokens.c.token_sha256 == bindparam("sha"), t.tokens.c.kind == "access")
)
_LIVE_GRANT_SQLITE = (
    "SELECT k.revoked, k.expires_at, tr.state, a.id, a.source, a.source_key"
    " FROM dsp_tokens AS k JOIN dsp_transfers AS tr ON tr.pid = k.transfer_pid"
    " JOIN dsp_assets AS a ON a.id = ?"
    " WHERE k.token_sha256 = ? AND k.kind = 'access'"
)


class LiveGrant(NamedTuple):
    """A remembered grant's token and transfer as they are now, with the agreement's asset
    (``id``, ``source``, ``source_key``: what a pull reads of it)."""

    revoked: bool
    expires_at: dt.datetime
    state: str
    id: str
    source: str
    source_key: str


@cache
def _timestamp(dialect: Dialect) -> Any:
    """The column type's own reading of a stored timestamp on ``dialect`` (UTC, zone-aware)."""
    return UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)


def live_grant(engine: Engine, sha: str, asset_id: str) -> LiveGrant | None:
    """The access token ``sha`` (its SHA-256) and its transfer now, with asset ``asset_id``;
    None if there is no such access token (or asset)."""
    if engine.dialect.name != "sqlite":
        with UnitOfWork(engine, write=False) as uow:
            row = uow.conn.execute(_LIVE_GRANT, {"sha": sha, "asset_id": asset_id}).first()
        return None if row is None else LiveGrant(bool(row[0]), row[1], *row[2:])
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(_LIVE_GRANT_SQLITE, (asset_id, sha))
            found = cur.fetchone()
        finally:
            cur.close()
    finally:
        raw.close()
    if found is None:
        return None
    read = _timestamp(engine.dialect)
    return LiveGrant(bool(found[0]), read(found[1]) if read else found[1], str(found[2]), *map(str, found[3:]))
