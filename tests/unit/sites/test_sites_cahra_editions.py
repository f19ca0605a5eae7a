"""Every flag and every finding names the CAHRA edition it was made against (issue 19: "The data
set's name and version are recorded with every finding"), on SQLite and PostgreSQL: the
operator's finding records the edition the site was screened with; when a newer edition is
loaded every site is screened again, a site it no longer lists or newly lists says so, and a
finding made against the old edition is shown as such and covers nothing until the operator
records one against the edition in use; the trace's site shares name the edition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI, sample
from sqlalchemy import Engine

from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.passport._static import summary_values
from batpass.sites import ENHANCED_DUE_DILIGENCE, FINDING, MIGRATIONS_DIR, DueDiligenceEvidence, Site, SiteService
from batpass.trust import NodeIdentity, generate_keypair

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
OWNER = "did:web:mines.example"
OLD = "batpass-synthetic-cahra-sample@2026-06-30"
NEW = "batpass-synthetic-cahra-sample@2026-12-31"


def _edition(version: str, regions: list[tuple[str, str]]) -> dict[str, Any]:
    """The synthetic sample as a later edition listing only ``regions`` of DR Congo."""
    doc = sample()
    doc["version"] = {"data_updated": version, "reports_updated": version}
    report = doc["countries"][0]["reports"][0]
    report["included_regions"] = [
        {"name": name, "code": code, "conflict_affected": False, "high_risk": True} for code, name in regions
    ]
    doc["countries"][0]["reports"] = [report]
    return doc


@pytest.fixture
def world(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[SiteService, LedgerService]:
    engine = make_store([MIGRATIONS_DIR, LEDGER_MIGRATIONS])
    clock = FixedClock(NOW)
    svc = SiteService(engine, clock=clock)
    ledger = LedgerService(
        engine,
        NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-1")]),
        high_risk_sites=svc.site_facts,
        clock=clock,
    )
    ledger.record(
        [
            {
                "id": f"ev-{lot}",
                "kind": "extraction",
                "owner": OWNER,
                "at": f"2026-01-01T00:00:0{i}Z",
                "site": {"id": site, "country": "CD"},
                "outputs": [{"lot": lot, "material": "cobalt_hydroxide", "quantity": {"value": 100, "unit": "kg"}}],
            }
            for i, (site, lot) in enumerate((("MINE-CD-2", "co-2"), ("MINE-CD-1", "co-1")))
        ]
    )
    svc.register(Site.from_json(KOLWEZI))
    svc.register(Site.from_json(HAUT_LOMAMI))
    svc.load_cahra(sample())
    return svc, ledger


def _finding(svc: SiteService, reference: str, **extra: Any) -> Site:
    return svc.add_evidence("MINE-CD-2", DueDiligenceEvidence(FINDING, reference, dt.date(2026, 11, 30), **extra))


def test_the_finding_records_the_edition_the_site_was_screened_with(
    world: tuple[SiteService, LedgerService],
) -> None:
    svc, ledger = world
    site = _finding(svc, "doc:edd-1")
    record = site.to_json()
    assert record["dueDiligence"][-1]["dataset"] == OLD
    assert record["cahraFinding"] == {"reference": "doc:edd-1", "date": "2026-11-30", "dataset": OLD, "current": True}
    assert svc.get("MINE-CD-2").to_json()["cahraFinding"]["dataset"] == OLD  # as stored
    traced = ledger.trace(OWNER, "co-2")["elements"]["Co"]["sites"]
    assert traced["cahraDataset"] == OLD
    assert [f["dataset"] for f in traced["findings"]] == [OLD]
    # a finding claimed against another edition than the one in use is refused, naming the field
    with pytest.raises(InvalidInput) as info:
        _finding(svc, "doc:edd-2", dataset=NEW)
    assert info.value.field == "dataset"


def test_a_newer_edition_screens_again_and_shows_old_findings_as_such(
    world: tuple[SiteService, LedgerService],
) -> None:
    svc, ledger = world
    _finding(svc, "doc:edd-1")
    # the new edition no longer lists Lualaba (Kolwezi) and newly lists Haut-Lomami
    _, flagged = svc.load_cahra(_edition("2026-12-31", [("CD-HL", "Haut-Lomami")]))
    assert flagged == 1
    kolwezi, lomami = svc.get("MINE-CD-2").to_json(), svc.get("MINE-CD-1").to_json()
    assert kolwezi["screening"]["dataset"] == NEW and kolwezi["screening"]["outcome"].startswith("not listed")
    assert (kolwezi["screening"]["previous"], kolwezi["screening"]["change"]) == (OLD, "no longer listed")
    assert lomami["screening"]["outcome"] == ENHANCED_DUE_DILIGENCE
    assert (lomami["screening"]["previous"], lomami["screening"]["change"]) == (OLD, "newly listed")
    # the finding stays, shown as made against the old edition
    assert kolwezi["cahraFinding"] == {"reference": "doc:edd-1", "date": "2026-11-30", "dataset": OLD, "current": False}
    co = ledger.trace(OWNER, "co-1")["elements"]["Co"]["sites"]
    assert co["cahraDataset"] == NEW and co["flagged"] == pytest.approx(1.0)


def test_an_old_finding_covers_nothing_under_a_new_edition_until_one_is_recorded(
    world: tuple[SiteService, LedgerService],
) -> None:
    svc, ledger = world
    _finding(svc, "doc:edd-1")
    # the new edition still lists Lualaba: Kolwezi stays flagged, its finding predates the edition
    svc.load_cahra(_edition("2026-12-31", [("CD-LU", "Lualaba")]))
    assert svc.get("MINE-CD-2").to_json()["screening"]["change"] is None  # still listed
    assert ledger.summary(OWNER, "co-2").elements["Co"].sites.findings == ()
    assert svc.site_facts().findings == {}
    _finding(svc, "doc:edd-2")
    (finding,) = ledger.summary(OWNER, "co-2").elements["Co"].sites.findings
    assert (finding.reference, finding.dataset) == ("doc:edd-2", NEW)
    # the passport's due-diligence section names the edition with the finding's share
    status = summary_values(ledger.summary(OWNER, "co-2"), None)["mined_site_status"]["cobalt"]
    assert status["cahra_findings"] == [{"dataset": NEW, "date": "2026-11-30", "share": pytest.approx(1.0)}]
    assert svc.overview()["cahra_dataset"] == NEW
