"""Use cases of the site register: register sites, load a CAHRA data set and screen every site
with it, record due-diligence evidence, and read sites under the sharing policy.

Sharing (docs/sites.md "Who sees what"): the public summary of a site (:meth:`Site.public_json`)
to anyone; the full record (operator, coordinates, certifiers' credentials, evidence) to the
node's operator (admin key) and to the partners whose DIDs the site lists in ``sharedWith``.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.sitefacts import Finding, SiteFacts
from batpass.sites._cahra import EU_LIST, CahraDataset, parse_cahra
from batpass.sites._sql import SqlSiteStore
from batpass.sites.model import FINDING, DueDiligenceEvidence, Site, SiteType
from batpass.store import UnitOfWork

__all__ = ["SiteService"]


#: register views kept per service (each register version, per day asked)
_VIEWS_MAX = 8


class SiteService:
    """The register's use cases. :meth:`site_facts` keeps the view it builds for the register's
    version (one small query per call checks it; every write changes it), so the ledger's
    summaries and traces read the register once per call, never a stale view."""

    def __init__(self, engine: Engine, *, clock: Clock = SystemClock()) -> None:
        self._engine = engine
        self._clock = clock
        self._views: dict[tuple[str, dt.date], SiteFacts] = {}

    def register(self, site: Site) -> tuple[Site, bool]:
        """Store ``site`` (new or replacing the one with its id), screened with the CAHRA data set
        in use; ``True`` when it is new."""
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            dataset = _dataset(store.latest_cahra())
            before = store.get(site.site_id)
            screened = site.with_screening(
                None
                if dataset is None
                else dataset.screen(country=site.country, region=site.region).after(
                    None if before is None else before.screening
                )
            )
            created = store.put(screened, at=self._clock.now())
            uow.commit()
        return screened, created

    def get(self, site_id: str) -> Site:
        with UnitOfWork(self._engine, write=False) as uow:
            site = SqlSiteStore(uow).get(site_id)
        if site is None:
            raise NotFound(f"no site {site_id} in this node's register", rule="sites are registered first")
        return site

    def list(self) -> list[Site]:
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlSiteStore(uow).list()

    def add_evidence(self, site_id: str, evidence: DueDiligenceEvidence) -> Site:
        """Record a due-diligence item (e.g. the operator's finding on a CAHRA flag) on a site. A
        finding is stamped with the CAHRA edition the site is screened with; one that names
        another edition is refused (``dataset``)."""
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            site = store.get(site_id)
            if site is None:
                raise NotFound(f"no site {site_id} in this node's register", rule="sites are registered first")
            if evidence.kind == FINDING:
                in_use = None if site.screening is None else site.screening.dataset
                if evidence.dataset is not None and evidence.dataset != in_use:
                    raise InvalidInput(
                        f"the finding names CAHRA data set {evidence.dataset}, but site {site_id} is screened with "
                        f"{in_use or 'none'}",
                        field="dataset",
                        rule="a finding is made against the CAHRA edition in use",
                    )
                evidence = dataclasses.replace(evidence, dataset=in_use)
            updated = dataclasses.replace(site, due_diligence=(*site.due_diligence, evidence))
            store.put(updated, at=self._clock.now())
            uow.commit()
        return updated

    def load_cahra(self, document: Any, *, name: str = EU_LIST) -> tuple[CahraDataset, int]:
        """Check ``document`` (the published JSON form, refused with the reason otherwise), keep it
        as the data set in use and screen every site with it; the data set and how many sites it
        flags."""
        dataset, flagged, _ = self.load_cahra_changes(document, name=name)
        return dataset, flagged

    def load_cahra_changes(
        self, document: Any, *, name: str = EU_LIST
    ) -> tuple[CahraDataset, int, dict[str, builtins.list[str]]]:
        """:meth:`load_cahra`, and what the operator must look at (site ids): the sites it flags
        that were not flagged before (``newly_listed``), those flagged before and no longer
        (``no_longer_listed``), and those whose latest finding was made against another edition
        (``findings_outdated``)."""
        dataset = parse_cahra(document, name=name)
        stored = dict(document)
        stored["name"] = dataset.name  # the name it was loaded under travels with it
        flagged = 0
        changes: dict[str, list[str]] = {"newly_listed": [], "no_longer_listed": [], "findings_outdated": []}
        with UnitOfWork(self._engine) as uow:
            store = SqlSiteStore(uow)
            now = self._clock.now()
            store.put_cahra(dataset.label, stored, at=now)
            for site in store.list():  # each screened again; a change of edition is named
                was = site.screening is not None and site.screening.flagged
                screened = site.with_screening(
                    dataset.screen(country=site.country, region=site.region).after(site.screening)
                )
                now_flagged = screened.screening is not None and screened.screening.flagged
                flagged += now_flagged
                if now_flagged != was:
                    changes["newly_listed" if now_flagged else "no_longer_listed"].append(site.site_id)
                state = screened.finding_json()
                if state is not None and not state["current"]:
                    changes["findings_outdated"].append(site.site_id)
                store.put(screened, at=now)
            uow.commit()
        return dataset, flagged, changes

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
        those flagged and, for flagged sites, the operator's finding made against the CAHRA
        edition in use (one made against an earlier edition covers nothing until the operator
        records one again), and that edition."""
        day = today or self._clock.now().date()
        with UnitOfWork(self._engine, write=False) as uow:
            store = SqlSiteStore(uow)
            version = store.version()  # read first: a view read after it is never older than it
            hit = None if version is None else self._views.get((version, day))
            if hit is not None:
                return hit
            facts = self._read_facts(store.list(), store.latest_cahra_label(), day)
        if version is not None:
            if len(self._views) >= _VIEWS_MAX:
                self._views.clear()
            self._views[(version, day)] = facts
        return facts

    @staticmethod
    def _read_facts(listed: Sequence[Site], in_use: str | None, day: dt.date) -> SiteFacts:
        sites = [s for s in listed if s.site_type is not SiteType.RECYCLER]
        flagged = {s.site_id: s for s in sites if s.screening is not None and s.screening.flagged}
        findings = {}
        for sid, s in flagged.items():
            f = s.finding()
            if f is not None and s.screening is not None and s.finding_dataset(f) == s.screening.dataset:
                findings[sid] = Finding(dataset=s.screening.dataset, reference=f.reference, date=f.date.isoformat())
        return SiteFacts(
            known=frozenset(s.site_id for s in sites),
            certified=frozenset(s.site_id for s in sites if s.certified_on(day)),
            flagged=frozenset(flagged),
            findings=findings,
            dataset=in_use,
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
