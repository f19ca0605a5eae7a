"""The register on SQLite and PostgreSQL: sites stored and replaced, screened with the CAHRA data
set in use (when registered and again when a data set is loaded), flagged sites handed to the
ledger as its high-risk sites, and a refused data set leaving everything as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI, sample, site
from sqlalchemy import Engine

from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.sites import ENHANCED_DUE_DILIGENCE, MIGRATIONS_DIR, DueDiligenceEvidence, Site, SiteService
from batpass.trust import NodeIdentity, generate_keypair

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    return make_store([MIGRATIONS_DIR, LEDGER_MIGRATIONS])


@pytest.fixture
def svc(engine: Engine) -> SiteService:
    return SiteService(engine, clock=FixedClock(NOW))


def test_register_store_and_replace(svc: SiteService) -> None:
    stored, created = svc.register(Site.from_json(HAUT_LOMAMI))
    assert created and stored.screening is None  # no data set loaded yet: not screened
    assert svc.get("MINE-CD-1") == stored
    _, created = svc.register(Site.from_json(site(HAUT_LOMAMI, name="renamed")))
    assert not created and svc.get("MINE-CD-1").name == "renamed"
    assert [s.site_id for s in svc.list()] == ["MINE-CD-1"]
    with pytest.raises(NotFound):
        svc.get("MINE-XX-9")


def test_loading_a_data_set_screens_every_site_and_later_ones(svc: SiteService) -> None:
    svc.register(Site.from_json(KOLWEZI))
    svc.register(Site.from_json(HAUT_LOMAMI))
    assert svc.high_risk_site_ids() == frozenset()
    dataset, flagged = svc.load_cahra(sample())
    assert flagged == 1 and dataset.label == "batpass-synthetic-cahra-sample@2026-06-30"
    kolwezi = svc.get("MINE-CD-2").screening
    assert kolwezi is not None and kolwezi.outcome == ENHANCED_DUE_DILIGENCE and kolwezi.dataset == dataset.label
    assert svc.high_risk_site_ids() == {"MINE-CD-2"}
    # a site registered later is screened with the data set in use
    svc.register(Site.from_json(site(KOLWEZI, siteId="MINE-CD-3", region="CD-HK")))
    assert svc.high_risk_site_ids() == {"MINE-CD-2", "MINE-CD-3"}
    assert svc.overview() == {
        "registered": 3,
        "certified": 1,
        "high_risk": 2,
        "cahra_dataset": "batpass-synthetic-cahra-sample@2026-06-30",
    }


def test_a_newer_data_set_replaces_the_flags(svc: SiteService) -> None:
    svc.register(Site.from_json(KOLWEZI))
    svc.load_cahra(sample())
    newer = sample()
    newer["version"]["data_updated"] = "2026-09-30"
    newer["countries"][0]["reports"][0]["included_regions"] = []  # Lualaba no longer listed
    dataset, flagged = svc.load_cahra(newer)
    assert flagged == 0 and svc.high_risk_site_ids() == frozenset()
    screening = svc.get("MINE-CD-2").screening
    assert screening is not None and screening.dataset == dataset.label == "batpass-synthetic-cahra-sample@2026-09-30"
    cahra = svc.cahra()
    assert cahra is not None and cahra.label == dataset.label


def test_a_refused_data_set_changes_nothing(svc: SiteService) -> None:
    svc.register(Site.from_json(KOLWEZI))
    svc.load_cahra(sample())
    bad = sample()
    del bad["countries"]
    with pytest.raises(InvalidInput, match="unknown form"):
        svc.load_cahra(bad)
    assert svc.high_risk_site_ids() == {"MINE-CD-2"}
    cahra = svc.cahra()
    assert cahra is not None and cahra.version == "2026-06-30"


def test_the_operators_finding_is_recorded_as_evidence(svc: SiteService) -> None:
    svc.register(Site.from_json(KOLWEZI))
    finding = DueDiligenceEvidence(
        "CAHRA finding", "doc:edd-2026-11", dt.date(2026, 11, 30), "third-party audit, no red flags"
    )
    updated = svc.add_evidence("MINE-CD-2", finding)
    assert svc.get("MINE-CD-2").due_diligence == (finding,) == updated.due_diligence
    with pytest.raises(NotFound):
        svc.add_evidence("MINE-XX-9", finding)


def test_sharing_policy(svc: SiteService) -> None:
    s, _ = svc.register(Site.from_json(HAUT_LOMAMI))
    assert svc.view(s, caller=None, operator=True)["operator"] == "Katanga Cobalt SARL"
    assert svc.view(s, caller="did:web:partner.example", operator=False)["location"]["latitude"] == -8.74
    for stranger in (None, "did:web:other.example"):
        assert "operator" not in svc.view(s, caller=stranger, operator=False)


def test_the_ledger_reports_the_registers_flagged_sites_as_high_risk(engine: Engine, svc: SiteService) -> None:
    """The node wires the register into the ledger: a cobalt mine becomes high-risk when a loaded
    data set lists its region, with no site id configured anywhere."""
    owner = "did:web:mines.example"
    ledger = LedgerService(
        engine,
        NodeIdentity(owner, [generate_keypair("Ed25519", "key-1")]),
        high_risk_sites=svc.high_risk_site_ids,
    )
    events = [
        {
            "id": f"ev-{site_id}",
            "kind": "extraction",
            "owner": owner,
            "at": f"2026-01-01T00:00:0{i}Z",
            "site": {"id": site_id, "country": "CD"},
            "outputs": [{"lot": lot, "material": "cobalt_hydroxide", "quantity": {"value": kg, "unit": "kg"}}],
        }
        for i, (site_id, lot, kg) in enumerate([("MINE-CD-1", "co-1", 300.0), ("MINE-CD-2", "co-2", 100.0)])
    ]
    events.append(
        {
            "id": "ev-blend",
            "kind": "transformation",
            "owner": owner,
            "at": "2026-01-01T00:00:09Z",
            "site": {"id": "MINE-CD-1", "country": "CD"},
            "inputs": [
                {"lot": lot, "quantity": {"value": kg, "unit": "kg"}} for lot, kg in [("co-1", 300), ("co-2", 100)]
            ],
            "outputs": [{"lot": "co-mix", "material": "cobalt_hydroxide", "quantity": {"value": 400, "unit": "kg"}}],
        }
    )
    ledger.record(events)
    svc.register(Site.from_json(KOLWEZI))
    svc.register(Site.from_json(HAUT_LOMAMI))

    def high_risk() -> float:
        share: float = ledger.trace(owner, "co-mix")["elements"]["Co"]["highRiskShare"]
        return share

    # a ledger built from this one's sites at start-up (as the federated trace builds its own)
    # follows the register too, not the list as it was then
    derived = LedgerService(engine, ledger.identity, high_risk_sites=ledger.high_risk_sites)

    def derived_high_risk() -> float:
        share: float = derived.trace(owner, "co-mix")["elements"]["Co"]["highRiskShare"]
        return share

    assert high_risk() == 0.0 == derived_high_risk()  # registered, but no data set loaded
    svc.load_cahra(sample())
    assert high_risk() == pytest.approx(0.25)  # 100 of 400 kg from the Lualaba mine
    assert derived_high_risk() == pytest.approx(0.25)
