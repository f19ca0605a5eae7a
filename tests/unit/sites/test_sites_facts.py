"""Site facts from the register reach the trace, the upstream summary and the certifier, on SQLite
and PostgreSQL: which share of an element's mined mass comes from certified, flagged or unknown
sites; the operator's finding on a flagged site travels as a share without naming the site; a
customer folding the summary keeps the shares; and the certifier declines "no high-risk origin"
over a flagged share until the operator's finding covers it, then names the finding."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI, sample
from sqlalchemy import Engine

from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput
from batpass.core.summary import decode_summary, encode_summary
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.sites import FINDING, MIGRATIONS_DIR, DueDiligenceEvidence, Site, SiteService
from batpass.trust import NodeIdentity, certify_claim, generate_keypair

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
OWNER = "did:web:mines.example"


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    return make_store([MIGRATIONS_DIR, LEDGER_MIGRATIONS])


def _extraction(site_id: str, lot: str, kg: float, i: int) -> dict[str, object]:
    return {
        "id": f"ev-{lot}",
        "kind": "extraction",
        "owner": OWNER,
        "at": f"2026-01-01T00:00:0{i}Z",
        "site": {"id": site_id, "country": "CD"},
        "outputs": [{"lot": lot, "material": "cobalt_hydroxide", "quantity": {"value": kg, "unit": "kg"}}],
    }


@pytest.fixture
def world(engine: Engine) -> tuple[SiteService, LedgerService]:
    """Cobalt from three mines blended 200:100:100 — the certified Haut-Lomami mine, the Kolwezi
    site in a region the sample lists, and a mine no register knows."""
    svc = SiteService(engine, clock=FixedClock(NOW))
    ledger = LedgerService(
        engine,
        NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-1")]),
        high_risk_sites=svc.site_facts,
        clock=FixedClock(NOW),
    )
    mines = [("MINE-CD-1", "co-1", 200.0), ("MINE-CD-2", "co-2", 100.0), ("MINE-CD-9", "co-9", 100.0)]
    events = [_extraction(s, lot, kg, i) for i, (s, lot, kg) in enumerate(mines)]
    events.append(
        {
            "id": "ev-blend",
            "kind": "transformation",
            "owner": OWNER,
            "at": "2026-01-01T00:00:09Z",
            "site": {"id": "MINE-CD-1", "country": "CD"},
            "inputs": [{"lot": lot, "quantity": {"value": kg, "unit": "kg"}} for _, lot, kg in mines],
            "outputs": [{"lot": "co-mix", "material": "cobalt_hydroxide", "quantity": {"value": 400, "unit": "kg"}}],
        }
    )
    ledger.record(events)
    svc.register(Site.from_json(KOLWEZI))
    svc.register(Site.from_json(HAUT_LOMAMI))
    svc.load_cahra(sample())
    return svc, ledger


def test_trace_and_summary_split_the_mined_mass_by_what_the_register_knows(
    world: tuple[SiteService, LedgerService],
) -> None:
    _, ledger = world
    expected = {"certified": 0.5, "flagged": 0.25, "unknown": 0.25}
    traced = ledger.trace(OWNER, "co-mix")["elements"]["Co"]
    assert traced["sites"].pop("cahraDataset") == "batpass-synthetic-cahra-sample@2026-06-30"
    assert traced["sites"] == pytest.approx(expected)
    assert traced["highRiskShare"] == pytest.approx(0.25) == traced["sites"]["flagged"]
    shares = ledger.summary(OWNER, "co-mix").elements["Co"].sites
    assert (shares.certified, shares.flagged, shares.unknown) == pytest.approx((0.5, 0.25, 0.25))
    assert shares.findings == ()  # no finding recorded yet


def test_a_ledger_without_a_register_says_nothing_of_sites(engine: Engine) -> None:
    ledger = LedgerService(engine, NodeIdentity(OWNER, [generate_keypair("Ed25519", "key-1")]))
    ledger.record([_extraction("MINE-CD-2", "co-2", 100.0, 1)])
    assert ledger.trace(OWNER, "co-2")["elements"]["Co"]["sites"] == {
        "certified": None,
        "flagged": None,
        "unknown": None,
    }


def test_the_operators_finding_travels_as_a_share_naming_no_site(world: tuple[SiteService, LedgerService]) -> None:
    svc, ledger = world
    svc.add_evidence("MINE-CD-2", DueDiligenceEvidence(FINDING, "doc:edd-2026-11", dt.date(2026, 11, 30)))
    signed = ledger.signed_summary(OWNER, "co-mix")
    summary = ledger.summary(OWNER, "co-mix")
    (finding,) = summary.elements["Co"].sites.findings
    assert finding.dataset == "batpass-synthetic-cahra-sample@2026-06-30"
    assert (finding.reference, finding.date) == ("doc:edd-2026-11", "2026-11-30")
    assert finding.share == pytest.approx(0.25)
    wire = json.dumps(encode_summary(summary))
    for secret in ("MINE-CD-2", "Kolwezi", "MINE-CD-1", "Katanga"):
        assert secret not in wire
    # the codec keeps it (a customer reads what was signed) and the schema accepts it
    assert decode_summary(encode_summary(summary)) == summary
    assert signed.count(".") == 2


def test_a_customer_folding_the_summary_keeps_the_site_shares(
    engine: Engine, world: tuple[SiteService, LedgerService]
) -> None:
    """The customer's own register knows none of these mines: its summary carries the supplier's
    shares and finding, weighted by the cobalt they bring."""
    svc, ledger = world
    svc.add_evidence("MINE-CD-2", DueDiligenceEvidence(FINDING, "doc:edd-2026-11", dt.date(2026, 11, 30)))
    ledger.record(
        [
            {
                "id": "ev-ship",
                "kind": "shipment",
                "owner": OWNER,
                "at": "2026-01-02T00:00:00Z",
                "site": {"id": "MINE-CD-1", "country": "CD"},
                "inputs": [{"lot": "co-mix", "quantity": {"value": 400, "unit": "kg"}}],
                "outputs": [
                    {"lot": "co-shipped", "material": "cobalt_hydroxide", "quantity": {"value": 400, "unit": "kg"}}
                ],
                "shipment": {
                    "to_site": {"id": "REF-FI-1", "country": "FI"},
                    "destination_country": "FI",
                    "document": "CMR-1",
                    "to_owner": "did:web:refiner.example",
                },
            }
        ]
    )
    token = ledger.signed_summary(OWNER, "co-shipped")
    buyer = "did:web:refiner.example"
    refiner = LedgerService(
        engine,
        NodeIdentity(buyer, [generate_keypair("Ed25519", "key-1")]),
        public_jwk_resolver=lambda kid: ledger.identity.keys[0].public_jwk() if kid.startswith(OWNER) else None,
        high_risk_sites=SiteService(engine, clock=FixedClock(NOW)).site_facts,
        clock=FixedClock(NOW),
    )
    refiner.record(
        [
            {
                "id": "ev-receipt",
                "kind": "receipt",
                "owner": buyer,
                "at": "2026-01-03T00:00:00Z",
                "site": {"id": "REF-FI-1", "country": "FI"},
                "receipt": {"from_owner": OWNER, "from_lot": "co-shipped", "document": "CMR-1"},
                "outputs": [{"lot": "co-in", "material": "cobalt_hydroxide", "quantity": {"value": 400, "unit": "kg"}}],
            }
        ]
    )
    refiner.receive_summary(buyer, token)
    sites = refiner.summary(buyer, "co-in").elements["Co"].sites
    assert (sites.certified, sites.flagged, sites.unknown) == pytest.approx((0.5, 0.25, 0.25))
    assert [(f.reference, f.share) for f in sites.findings] == [("doc:edd-2026-11", pytest.approx(0.25))]


def test_the_certifier_waits_for_the_operators_finding(world: tuple[SiteService, LedgerService]) -> None:
    svc, ledger = world
    before = ledger.summary(OWNER, "co-mix")
    with pytest.raises(InvalidInput) as refused:
        certify_claim(before, "x.y.z", holder=OWNER, claim="no-high-risk-origin", element="Co", now=NOW)
    assert refused.value.field == "element"
    assert "enhanced due diligence" in refused.value.message and "finding" in (refused.value.rule or "")

    svc.add_evidence("MINE-CD-2", DueDiligenceEvidence(FINDING, "doc:edd-2026-11", dt.date(2026, 11, 30)))
    after = ledger.summary(OWNER, "co-mix")
    kind, subject, _ = certify_claim(after, "x.y.z", holder=OWNER, claim="no-high-risk-origin", element="Co", now=NOW)
    assert kind == "OriginAttestationCredential" and subject["noHighRiskOrigin"] is True
    assert subject["highRiskShare"] == pytest.approx(0.25)
    (named,) = subject["dueDiligenceFindings"]
    assert named["reference"] == "doc:edd-2026-11" and named["dataset"].endswith("@2026-06-30")


def test_another_kind_of_evidence_is_no_finding(world: tuple[SiteService, LedgerService]) -> None:
    svc, ledger = world
    svc.add_evidence("MINE-CD-2", DueDiligenceEvidence("risk assessment", "doc:ra", dt.date(2026, 11, 1)))
    with pytest.raises(InvalidInput, match="without the operator's recorded finding"):
        certify_claim(ledger.summary(OWNER, "co-mix"), "x.y.z", holder=OWNER, claim="no-high-risk-origin", element="Co")
