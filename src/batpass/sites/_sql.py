"""The site register's tables and their SQL: ``sites`` (one row per site, its record as JSON and
its latest screening), ``sites_cahra`` (the CAHRA data sets loaded, the newest in use) and
``sites_register`` (the register's version: a token each writing unit of work changes).

Knows the model and the shared metadata; no HTTP.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Integer, String, Table, delete, insert, select, update

from batpass.sites.model import Screening, Site
from batpass.store import UnitOfWork, UTCDateTime, metadata

__all__ = ["SqlSiteStore", "cahra_table", "register_table", "sites_table"]

sites_table = Table(
    "sites",
    metadata,
    Column("site_id", String(128), primary_key=True),
    Column("country", String(2), nullable=False),
    Column("region", String(8), nullable=False),
    Column("record", JSON, nullable=False),
    Column("screening", JSON, nullable=True),
    # "Y" where the latest screening asks for enhanced due diligence (the ledger's high-risk sites)
    Column("flagged", String(1), nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

cahra_table = Table(
    "sites_cahra",
    metadata,
    Column("label", String(255), primary_key=True),  # name@version
    Column("document", JSON, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
)


register_table = Table(
    "sites_register",
    metadata,
    Column("id", Integer, primary_key=True),  # one row, id 1
    Column("version", String(36), nullable=False),  # a new UUID with every writing unit of work
)


class SqlSiteStore:
    def __init__(self, uow: UnitOfWork) -> None:
        self._conn = uow.conn
        self._changed = False

    def version(self) -> str | None:
        """The register's version token (None: a store without the row)."""
        t = register_table
        return self._conn.execute(select(t.c.version).where(t.c.id == 1)).scalar()

    def _changing(self) -> None:
        """A write: the register gets a new version, once per unit of work (in its transaction,
        so the token changes exactly when the write commits)."""
        if self._changed:
            return
        self._changed = True
        t, token = register_table, str(uuid.uuid4())
        if not self._conn.execute(update(t).where(t.c.id == 1).values(version=token)).rowcount:
            self._conn.execute(insert(t).values(id=1, version=token))

    def put(self, site: Site, *, at: dt.datetime) -> bool:
        """Insert or replace a site; ``True`` when it is new."""
        self._changing()
        record = site.to_json()
        record.pop("screening")
        record.pop("cahraFinding", None)  # derived from the evidence and the screening
        values: dict[str, Any] = {
            "country": site.country,
            "region": site.region,
            "record": record,
            "screening": None if site.screening is None else site.screening.to_json(),
            "flagged": "Y" if site.screening is not None and site.screening.flagged else "N",
            "updated_at": at,
        }
        t = sites_table
        if self._conn.execute(select(t.c.site_id).where(t.c.site_id == site.site_id)).first() is None:
            self._conn.execute(insert(t).values(site_id=site.site_id, **values))
            return True
        self._conn.execute(update(t).where(t.c.site_id == site.site_id).values(**values))
        return False

    def get(self, site_id: str) -> Site | None:
        row = self._conn.execute(select(sites_table).where(sites_table.c.site_id == site_id)).mappings().first()
        return None if row is None else _site(dict(row))

    def list(self) -> list[Site]:
        rows = self._conn.execute(select(sites_table).order_by(sites_table.c.site_id)).mappings()
        return [_site(dict(r)) for r in rows]

    def delete(self, site_id: str) -> bool:
        self._changing()
        return bool(self._conn.execute(delete(sites_table).where(sites_table.c.site_id == site_id)).rowcount)

    def flagged_ids(self) -> frozenset[str]:
        t = sites_table
        return frozenset(self._conn.execute(select(t.c.site_id).where(t.c.flagged == "Y")).scalars())

    def put_cahra(self, label: str, document: Any, *, at: dt.datetime) -> None:
        self._changing()
        t = cahra_table
        self._conn.execute(delete(t).where(t.c.label == label))
        self._conn.execute(insert(t).values(label=label, document=document, loaded_at=at))

    def latest_cahra_label(self) -> str | None:
        """``name@version`` of the data set in use (loaded last), or None."""
        t = cahra_table
        row = self._conn.execute(select(t.c.label).order_by(t.c.loaded_at.desc(), t.c.label.desc()).limit(1)).first()
        return None if row is None else str(row[0])

    def latest_cahra(self) -> Any | None:
        """The document of the data set loaded last (the one screenings use)."""
        t = cahra_table
        row = self._conn.execute(select(t.c.document).order_by(t.c.loaded_at.desc(), t.c.label.desc()).limit(1)).first()
        return None if row is None else row[0]


def _site(row: dict[str, Any]) -> Site:
    site = Site.from_json(row["record"])
    return site.with_screening(None if row["screening"] is None else Screening.from_json(row["screening"]))
