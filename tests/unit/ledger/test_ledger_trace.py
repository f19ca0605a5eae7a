"""Trace on both stores against the recursive-CTE oracle; summaries signed, verified, folded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ledger_testkit import identity
from sqlalchemy import Engine

from batpass.core.errors import Unauthorized
from batpass.ledger import MIGRATIONS_DIR, LedgerService, decode_summary, encode_summary
from batpass.ledger._summary import sign_summary, verify_summary
from batpass.ledger._trace import cte_reachable, frontier_search
from batpass.scenario import COMPANIES, flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

HUB = "did:web:hub.example"

#: the scenario's mines the synthetic CAHRA sample flags (the artisanal cobalt site)
HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


@pytest.fixture
def hub(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[LedgerService, object]:
    sc = generate(lots=400, owner=HUB, seed=11)
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(HUB), high_risk_sites=HIGH_RISK_SITES, batch_size=100)
    for a in sc.authorisations:
        svc.authorise_export(HUB, a)
    res = svc.record(sc.events)
    assert len(res.alerts) == 1 and res.alerts[0]["rule"] == "outflow.destination"
    return svc, sc


def test_frontier_equals_cte_oracle_and_profiles_agree(hub: tuple[LedgerService, object]) -> None:
    svc, sc = hub
    for bid in (sc.battery_ids[0], sc.battery_ids[-1]):  # type: ignore[attr-defined]
        lot = svc.resolve_subject(HUB, bid)
        with svc.engine.connect() as conn:
            res = frontier_search(conn, lot)
            assert set(res.lots) == cte_reachable(conn, (HUB, str(lot.id)))
        tr = svc.trace(HUB, bid)
        assert tr["mines_reached"] == 7
        stored = encode_summary(svc.summary(HUB, bid))
        for el, view in tr["elements"].items():
            if view["unknownShare"] < 1.0 - 1e-9:
                parts = sum(view["minedByCountry"].values()) + sum(view["recycledByCountry"].values())
                assert parts + view["unknownShare"] == pytest.approx(1.0, abs=1e-9)
            for series in ("minedByCountry", "recycledByCountry", "unknownShare", "highRiskShare"):
                # the trace and the summary give one figure one value
                assert stored["elements"][el][series] == pytest.approx(view[series])
        assert 0.0 < tr["elements"]["Co"]["highRiskShare"] < 0.3
        assert tr["elements"]["Li"]["minedByCountry"].keys() >= {"CL", "AU"}
    # downstream: the high-risk cobalt reaches batteries
    first_mine = next(e for e in sc.events if e["site"]["id"] == "MINE-CD-2")  # type: ignore[attr-defined]
    down = svc.trace(HUB, first_mine["outputs"][0]["lot"], direction="down")
    assert down["batteries"]
    lot = svc.lot(HUB, first_mine["outputs"][0]["lot"])
    with svc.engine.connect() as conn:
        assert set(frontier_search(conn, lot, direction="down").lots) == cte_reachable(
            conn, (HUB, str(lot.id)), direction="down"
        )
    assert svc.verify().ok


def test_summary_is_signed_verified_and_has_no_identities(hub: tuple[LedgerService, object]) -> None:
    svc, sc = hub
    bid = sc.battery_ids[-1]  # type: ignore[attr-defined]
    token = svc.signed_summary(HUB, bid)
    summary = encode_summary(verify_summary(token, svc.resolve_key))
    assert summary["subject"] == {"kind": "battery", "id": bid, "material": "battery"}
    text = token + str(summary)
    for c in COMPANIES.values():
        assert c.site not in str(summary) and c.name not in text
    assert summary["elements"]["Co"]["recycled"]["postConsumer"] > 0
    other = identity("did:web:mallory.example")
    with pytest.raises(Unauthorized):
        verify_summary(sign_summary(decode_summary(dict(summary, issuer=other.did)), other), svc.resolve_key)


def test_recycled_cobalt_is_recycled_input_by_recycler_country_never_an_origin(
    hub: tuple[LedgerService, object],
) -> None:
    """Summary 2.0 (issue 18): recovered cobalt counts under the recycler's country in its own
    series, beside the mined origin; the two and the unknown share are shares of the element's
    mass and sum to 1, and the recycled series is the recycled share."""
    svc, sc = hub
    bid = sc.battery_ids[-1]  # type: ignore[attr-defined]  # its round used recovered salts
    tr = svc.trace(HUB, bid)
    mined_at = {lot["country"] for lot in tr["lots"] if lot["kind"] == "extraction"}
    recycled_at = {lot["country"] for lot in tr["lots"] if lot["recycled"] is not None and lot["kind"] == "recovery"}
    assert recycled_at and mined_at
    co = encode_summary(svc.summary(HUB, bid))["elements"]["Co"]
    assert co == {k: tr["elements"]["Co"][k] for k in co}  # the trace shows the summary's figures
    assert co["recycledByCountry"] and set(co["recycledByCountry"]) <= recycled_at
    assert set(co["minedByCountry"]) <= mined_at
    only_recyclers = set(co["recycledByCountry"]) - mined_at
    assert only_recyclers and not only_recyclers & set(co["minedByCountry"])
    recycled = co["recycled"]["preConsumer"] + co["recycled"]["postConsumer"]
    assert sum(co["recycledByCountry"].values()) == pytest.approx(recycled, abs=1e-9)
    total = sum(co["minedByCountry"].values()) + sum(co["recycledByCountry"].values()) + co["unknownShare"]
    assert total == pytest.approx(1.0, abs=1e-9)
    assert co["sites"] == {"certified": None, "flagged": None, "unknown": None}  # no site register yet


def test_recycled_content_and_double_claims(hub: tuple[LedgerService, object]) -> None:
    svc, sc = hub
    rep = svc.recycled_content(HUB)
    assert rep and rep[0]["model"] == "RA-EV-60"
    co = rep[0]["elements"]["Co"]
    assert co["basis"] == "art8_model_batch_plant" and co["reference"] == "active_materials"
    assert 0 < co["post_consumer"] < 0.5
    assert rep[0]["elements"].get("Pb") is None
    recovered = next(
        o
        for e in sc.events
        if e["kind"] == "recovery"
        for o in e["outputs"]  # type: ignore[attr-defined]
        if o["material"] == "cobalt_sulphate"
    )
    lot = svc.lot(HUB, recovered["lot"])
    credit = lot.mass_kg * lot.composition[next(k for k in lot.composition if k.value == "Co")]
    ok = svc.claim_recycled(
        HUB,
        claim_id="c1",
        lot=recovered["lot"],
        element="Co",
        kg=credit * 0.8,
        claimant="did:web:car.example",
        subject="battery-1",
    )
    assert ok["status"] == "accepted"
    dup = svc.claim_recycled(
        HUB,
        claim_id="c2",
        lot=recovered["lot"],
        element="Co",
        kg=credit * 0.8,
        claimant="did:web:other.example",
        subject="battery-2",
        custody="book_and_claim",
    )
    assert dup["status"] == "double_claim" and dup["conflicting_claims"][0]["id"] == "c1"
    assert dup["book_and_claim_not_accepted"]
    dc = svc.double_claims(HUB)
    assert [c["id"] for c in dc[0]["claims"]] == ["c1", "c2"]


def test_per_company_partitions_fold_supplier_summaries(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    sc = generate(lots=200, seed=5)
    ids = {c.did: identity(c.did) for c in COMPANIES.values()}
    svc = LedgerService(
        make_store([MIGRATIONS_DIR]),
        identity("did:web:node.example"),
        identities=ids.get,
        high_risk_sites=HIGH_RISK_SITES,
    )
    svc.record(sc.events)
    mine = COMPANIES["katanga-cobalt"].did
    ref = COMPANIES["zhejiang-cobalt"].did
    dispatched = next(e for e in sc.events if e["kind"] == "shipment" and e["owner"] == mine)
    received = next(
        e for e in sc.events if e["kind"] == "receipt" and e["receipt"]["from_lot"] == dispatched["outputs"][0]["lot"]
    )
    rlot = received["outputs"][0]["lot"]
    before = encode_summary(svc.summary(ref, rlot))
    # nothing known yet: null, not an empty (or zero) series
    co = before["elements"]["Co"]
    assert before["tombstones"] and co["minedByCountry"] is None and co["unknownShare"] == 1.0
    svc.receive_summary(ref, svc.signed_summary(mine, dispatched["outputs"][0]["lot"]))
    after = encode_summary(svc.summary(ref, rlot))
    assert after["elements"]["Co"]["minedByCountry"] == {"CD": pytest.approx(1.0)}
    assert after["elements"]["Co"]["recycledByCountry"] == {} and after["elements"]["Co"]["unknownShare"] == 0.0
    assert after["foldedSupplierSummaries"] == 1 and after["minesReached"] == 1
    assert mine not in str(after)


def test_the_footprint_travels_in_the_summary(hub: tuple[LedgerService, object]) -> None:
    """A node's declared product footprint is carried, signed, in its battery summaries."""
    svc, sc = hub
    asked: list[tuple[str | None, str]] = []
    pcf = {
        "specVersion": "3.0.0",
        "id": "urn:uuid:0199a3f0-0000-7000-8000-000000000001",
        "pcf": {"pCfExcludingBiogenic": "5036"},
    }

    def footprints(*, battery: str | None, material: str) -> dict[str, object] | None:
        asked.append((battery, material))
        return pcf if battery is not None else None

    with_fp = LedgerService(svc.engine, svc.identity, footprints=footprints)
    bid = sc.battery_ids[0]  # type: ignore[attr-defined]
    summary = encode_summary(verify_summary(with_fp.signed_summary(HUB, bid), with_fp.resolve_key))
    assert summary["footprint"] == pcf and asked[-1] == (bid, "battery")
    mine_lot = next(e for e in sc.events if e["kind"] == "extraction")["outputs"][0]["lot"]  # type: ignore[attr-defined]
    assert with_fp.summary(HUB, mine_lot).footprint is None
    # an explicit footprint wins over the source
    assert with_fp.summary(HUB, bid, footprint={"x": 1}).footprint == {"x": 1}
