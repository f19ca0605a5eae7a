"""Use cases of the site register: register sites, load a CAHRA data set and screen every site
with it, record due-diligence evidence, and read sites under the sharing policy.

Sharing (docs/sites.md "Who sees what"): the public summary of a site (:meth:`Site.public_json`)
to anyone; the full record (operator, coordinates, certifiers' credentials, evidence) to the
node's operator (admin key) and to the partners whose DIDs the site lists in ``sharedWith``.

Owners: the node's own register (``owner=None``) and, on an Ouranos hub, one register per hosted
operator (``owner`` = its operator id), read only under that operator's release
(``batpass.ouranos``). Every use case takes the register it acts on; a site id is unique on the
node whoever owns it (the ledger knows a site by its id), so an id held by another register is
refused. The ledger's site facts and a CAHRA screening cover every register on the node.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict, NotFound
from batpass.core.sitefacts import Finding, SiteFacts
from batpass.sites._cahra import EU_LIST, CahraDataset, parse_cahra
from batpass.sites._sql import SqlSiteStore
from batpass.sites.model import DueDiligenceEvidence, Site, SiteType
from batpass.store import UnitOfWork

__all__ = ["SiteService"]


class SiteService:
    def __init__(self, engine: Engine, *, clock: Clock = SystemClock()) -> None:
        self._engine = engine
        self._clock = clock

    def register(self, site: Site, *, owner: str | None = None) -> tuple[Site, bool]:
        """Store ``site`` in ``owner``'s register (``None``: the node's), new or replacing the one
        with its id, screened with the CAHRA data set in use; ``True`` when it is new. An id
        another register holds is refused (nothing stored)."""
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            exists, holder = store.owner_of(site.site_id)
            if exists and holder != owner:
                raise Conflict(
                    f"siteId {site.site_id} is held by another register on this node",
                    field="siteId",
                    rule="a site id is unique on its node",
                )
            dataset = _dataset(store.latest_cahra())
            screened = site.with_screening(
                None if dataset is None else dataset.screen(country=site.country, region=site.region)
            )
            created = store.put(screened, at=self._clock.now(), owner=owner)
            uow.commit()
        return screened, created

    def get(self, site_id: str, *, owner: str | None = None) -> Site:
        with UnitOfWork(self._engine, write=False) as uow:
            site = SqlSiteStore(uow).get(site_id, owner=owner)
        if site is None:
            raise NotFound(f"no site {site_id} in this register", rule="sites are registered first")
        return site

    def list(self, *, owner: str | None = None) -> list[Site]:
        """The sites of ``owner``'s register (``None``: the node's own)."""
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlSiteStore(uow).list(owner=owner)

    def add_evidence(self, site_id: str, evidence: DueDiligenceEvidence, *, owner: str | None = None) -> Site:
        """Record a due-diligence item (e.g. the operator's finding on a CAHRA flag) on a site."""
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            site = store.get(site_id, owner=owner)
            if site is None:
                raise NotFound(f"no site {site_id} in this register", rule="sites are registered first")
            updated = dataclasses.replace(site, due_diligence=(*site.due_diligence, evidence))
            store.put(updated, at=self._clock.now(), owner=owner)
            uow.commit()
        return updated

    def load_cahra(self, document: Any, *, name: str = EU_LIST) -> tuple[CahraDataset, int]:
        """Check ``document`` (the published JSON form, refused with the reason otherwise), keep it
        as the data set in use and screen every site with it; the data set and how many sites it
        flags."""
        dataset = parse_cahra(document, name=name)
        stored = dict(document)
        stored["name"] = dataset.name  # the name it was loaded under travels with it
        flagged = 0
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            now = self._clock.now()
            store.put_cahra(dataset.label, stored, at=now)
            for site, owner in store.list_all():  # every register on the node
                screened = site.with_screening(dataset.screen(country=site.country, region=site.region))
                flagged += screened.screening is not None and screened.screening.flagged
                store.put(screened, at=now, owner=owner)
            uow.commit()
        return dataset, flagged

    def cahra(self) -> CahraDataset | None:
        """The CAHRA data set in use (the one loaded last), or ``None``."""
        with UnitOfWork(self._engine, write=False) as uow:
            return _dataset(SqlSiteStore(uow).latest_cahra())

    def high_risk_site_ids(self) -> frozenset[str]:
        """The sites whose screening asks for enhanced due diligence: the ledger reports their
        mined share as its high-risk share."""
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlSiteStore(uow).flagged_ids()

    def site_facts(self, *, today: dt.date | None = None) -> SiteFacts:
        """What the ledger needs of the register (docs/sites.md "Site facts"): the sites it knows
        (recyclers aside: recovered material is no mined origin), those certified on ``today``,
        those flagged and, for flagged sites, the operator's finding naming the data set. On a hub
        the hosted operators' registers count too: their partitions' lots carry their site ids."""
        day = today or self._clock.now().date()
        with UnitOfWork(self._engine, write=False) as uow:
            every = [s for s, _ in SqlSiteStore(uow).list_all()]
        sites = [s for s in every if s.site_type is not SiteType.RECYCLER]
        flagged = {s.site_id: s for s in sites if s.screening is not None and s.screening.flagged}
        findings = {}
        for sid, s in flagged.items():
            f = s.finding()
            if f is not None and s.screening is not None:
                findings[sid] = Finding(dataset=s.screening.dataset, reference=f.reference, date=f.date.isoformat())
        return SiteFacts(
            known=frozenset(s.site_id for s in sites),
            certified=frozenset(s.site_id for s in sites if s.certified_on(day)),
            flagged=frozenset(flagged),
            findings=findings,
        )

    def overview(self, *, today: dt.date | None = None) -> dict[str, Any]:
        """Counts of the register (``summary.json``'s ``story.sites``): registered, certified on
        ``today``, flagged, and the CAHRA data set in use (``name@version``, ``None`` if none)."""
        day = today or self._clock.now().date()
        sites = self.list()
        dataset = self.cahra()
        return {
            "registered": len(sites),
            "certified": sum(s.certified_on(day) for s in sites),
            "high_risk": sum(s.screening is not None and s.screening.flagged for s in sites),
            "cahra_dataset": None if dataset is None else dataset.label,
        }

    def view(self, site: Site, *, caller: str | None, operator: bool) -> dict[str, Any]:
        """A site as ``caller`` may see it: the full record for the operator and the partners it
        is shared with, the public summary for anyone else."""
        if operator or (caller is not None and caller in site.shared_with):
            return site.to_json()
        return site.public_json(today=self._clock.now().date())


def _dataset(document: Any | None) -> CahraDataset | None:
    if document is None:
        return None
    return parse_cahra(document, name=str(document.get("name") or EU_LIST))
