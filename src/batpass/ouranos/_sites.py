"""An operator's site register on the hub (its mines and processing sites), read by others only
under its release — the release model of Ouranos (``cfpAcl``): the owner names the hosted
operator it releases to, and withdraws the release the same way.

Rules (docs/ouranos-hub.md "Site registers"):

- an operator registers and reads its own sites (the register of ``batpass.sites``, owned by its
  operator id on this hub; the CAHRA screening and the ledger's site facts cover them);
- another hosted operator reads them only while the owner releases its register to it; without
  the release it gets the refusal (:class:`~batpass.ouranos.errors.NotReleased`) and no site,
  not even a public summary: the register names the operator's suppliers;
- a Catena-X partner reads them through the bridge only under the scope ``sites`` the owner
  released to its BPNL (``/v1/ouranos/bridge/releases``);
- a released record is the site's full record without ``sharedWith`` (on the hub the release,
  not a list of DIDs, says who reads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, String, Table, delete, insert, select

from batpass.core.errors import InvalidInput, NotFound
from batpass.ouranos._context import HubComponent, Principal, check_uuid
from batpass.ouranos.errors import NotReleased
from batpass.sites import Site, SiteService
from batpass.store import UnitOfWork, UTCDateTime, metadata

__all__ = ["OperatorSites", "SiteRelease", "released_json", "site_release_table"]

#: the bridge scope under which an operator's site register reaches a Catena-X partner
SITES_SCOPE = "sites"

site_release_table = Table(
    "ouranos_site_release",
    metadata,
    Column("operator_id", String(36), primary_key=True),
    Column("released_to_operator_id", String(36), primary_key=True),
    Column("released_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class SiteRelease:
    released_to_operator_id: str
    released_at: dt.datetime


def released_json(site: Site) -> dict[str, Any]:
    """A site as a reader the owner released its register to sees it: the full record, without
    ``sharedWith``."""
    out = site.to_json()
    out.pop("sharedWith", None)
    return out


class OperatorSites(HubComponent):
    """Hosted operators' site registers and their releases (``hub.sites``)."""

    @property
    def register(self) -> SiteService:
        return SiteService(self.engine, clock=self.context.clock)

    # ---------------------------------------------------------------- the owner

    def put_site(self, who: Principal, data: Mapping[str, Any]) -> tuple[Site, bool]:
        """Register (or replace) one of the caller's sites; ``True`` when it is new. A site is
        checked field by field (``batpass.sites``); ``sharedWith`` is refused: the release says
        who reads an operator's register."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a site is a JSON object", field="body", rule="one site")
        if data.get("sharedWith"):
            raise InvalidInput(
                "sharedWith: an operator's register is read under its release, not a list of DIDs",
                field="sharedWith",
                rule="release the register (PUT /v1/ouranos/sites/releases)",
            )
        return self.register.register(Site.from_json(data), owner=who.operator_id)

    def own_sites(self, who: Principal) -> list[Site]:
        return self.register.list(owner=who.operator_id)

    def put_release(self, who: Principal, to: str, released: bool) -> list[SiteRelease]:
        """Release the caller's register to one hosted operator (``released``), or withdraw it."""
        to = check_uuid(to, "releasedToOperatorId")
        me = who.operator_id
        if to == me:
            raise InvalidInput(
                "releasedToOperatorId is your own operator", field="releasedToOperatorId", rule="release to another"
            )
        t = site_release_table
        with UnitOfWork(self.engine) as uow:
            if self.store(uow).operator(to) is None:
                raise NotFound(f"releasedToOperatorId {to} is unknown", rule="release to a hosted operator")
            key = (t.c.operator_id == me) & (t.c.released_to_operator_id == to)
            uow.conn.execute(delete(t).where(key))
            if released:
                uow.conn.execute(insert(t).values(operator_id=me, released_to_operator_id=to, released_at=self.now()))
            uow.commit()
        return self.releases(who)

    def releases(self, who: Principal) -> list[SiteRelease]:
        t = site_release_table
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(t.c.released_to_operator_id, t.c.released_at)
                .where(t.c.operator_id == who.operator_id)
                .order_by(t.c.released_to_operator_id)
            ).all()
        return [SiteRelease(str(to), at) for to, at in rows]

    # ---------------------------------------------------------------- readers

    def released_sites(self, who: Principal, owner_id: str) -> list[Site]:
        """``owner_id``'s register as the caller may read it: its own, or one released to it;
        anyone else is refused and sees no site."""
        owner_id = check_uuid(owner_id, "operatorId")
        if owner_id == who.operator_id:
            return self.own_sites(who)
        t = site_release_table
        with UnitOfWork(self.engine, write=False) as uow:
            hit = uow.conn.execute(
                select(t.c.operator_id).where(
                    (t.c.operator_id == owner_id) & (t.c.released_to_operator_id == who.operator_id)
                )
            ).first()
        if hit is None:
            raise NotReleased(
                f"operator {owner_id} has not released its site register to you",
                rule="an operator's sites are read under its release",
            )
        return self.register.list(owner=owner_id)

    def bridge_sites(self, operator_id: str, partner_bpnl: str | None) -> list[Site]:
        """The register the bridge carries to a Catena-X partner (BPNL as the bridge verified
        it): only under the operator's release of the scope ``sites`` to that BPNL."""
        released = False
        if partner_bpnl:
            with UnitOfWork(self.engine, write=False) as uow:
                released = self.store(uow).bridge_released(operator_id, partner_bpnl, SITES_SCOPE)
        if not released:
            raise NotReleased(
                f"the operator has not released its sites to {partner_bpnl or 'this partner'}",
                rule="Japan → Europe: only what the hub operator released crosses the bridge",
            )
        return self.register.list(owner=operator_id)
