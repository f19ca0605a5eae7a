"""Recording events on both stores: invariants, idempotent replays, atomicity."""

from __future__ import annotations

import pytest
from ledger_testkit import OWNER, ev, out

from batpass.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from batpass.ledger import LedgerService, LotOverdrawn, MassBalanceViolation, UnitMismatch


def _mine(ledger: LedgerService) -> None:
    ledger.record(
        [
            ev(
                "extraction",
                site="MINE-CL-1",
                country="CL",
                outputs=[out("brine-1", "lithium_brine_concentrate", 1000.0)],
            ),
        ]
    )


def test_transformation_conserves_lithium(ledger: LedgerService) -> None:
    _mine(ledger)
    # 1000 kg of 6 % Li brine = 60 kg Li; Li2CO3 is 18.79 % Li → at most 319 kg
    res = ledger.record(
        [ev("transformation", inputs=[("brine-1", 1000.0)], outputs=[out("lc-1", "lithium_carbonate", 300.0)])]
    )
    assert res.recorded == 1
    lot = ledger.lot(OWNER, "lc-1")
    assert lot.mass_kg == 300.0
    assert ledger.lot(OWNER, "brine-1").remaining_kg == 0.0


def test_overdraw_is_rejected_with_numbers_and_nothing_stored(ledger: LedgerService) -> None:
    _mine(ledger)
    before = ledger.count_events()
    with pytest.raises(LotOverdrawn, match=r"lot brine-1 holds 1000 kg, event .* takes 1300 kg"):
        ledger.record(
            [ev("transformation", inputs=[("brine-1", 1300.0)], outputs=[out("lc-x", "lithium_carbonate", 10.0)])]
        )
    assert ledger.count_events() == before
    assert ledger.lot(OWNER, "brine-1").remaining_kg == 1000.0


def test_element_balance_is_checked_against_yield(ledger: LedgerService) -> None:
    _mine(ledger)
    with pytest.raises(MassBalanceViolation, match="of Li"):
        ledger.record(
            [ev("transformation", inputs=[("brine-1", 1000.0)], outputs=[out("lc-2", "lithium_carbonate", 330.0)])]
        )
    with pytest.raises(MassBalanceViolation, match=r"yield 0\.5"):
        ledger.record(
            [
                ev(
                    "transformation",
                    inputs=[("brine-1", 1000.0)],
                    outputs=[out("lc-2", "lithium_carbonate", 300.0)],
                    **{"yield": 0.5},
                )
            ]
        )


def test_batch_is_atomic(ledger: LedgerService) -> None:
    _mine(ledger)
    with pytest.raises(NotFound):
        ledger.record(
            [
                ev("transformation", inputs=[("brine-1", 500.0)], outputs=[out("lc-3", "lithium_carbonate", 100.0)]),
                ev("transformation", inputs=[("nope", 1.0)], outputs=[out("lc-4", "lithium_carbonate", 0.1)]),
            ]
        )
    with pytest.raises(NotFound):
        ledger.lot(OWNER, "lc-3")
    assert ledger.lot(OWNER, "brine-1").remaining_kg == 1000.0


def test_replay_is_idempotent_and_changed_replay_conflicts(ledger: LedgerService) -> None:
    e = ev("extraction", site="MINE-AU-1", country="AU", outputs=[out("sp-1", "spodumene_concentrate", 500.0)])
    assert ledger.record([e]).recorded == 1
    again = ledger.record([e])
    assert (again.recorded, again.replayed) == (0, 1)
    changed = dict(e, outputs=[out("sp-1", "spodumene_concentrate", 600.0)])
    with pytest.raises(Conflict, match="different content"):
        ledger.record([changed])


def test_units_convert_only_through_declared_masses(ledger: LedgerService) -> None:
    _mine(ledger)
    bad = ev("transformation", outputs=[out("lc-5", "lithium_carbonate", 10.0)])
    bad["inputs"] = [{"lot": "brine-1", "quantity": {"value": 2, "unit": "piece"}}]
    with pytest.raises(UnitMismatch, match="declared mass per piece"):
        ledger.record([bad])
    with pytest.raises(UnitMismatch):
        ledger.record(
            [
                ev(
                    "extraction",
                    site="M",
                    country="CL",
                    outputs=[{"lot": "x", "material": "cell", "quantity": {"value": 3, "unit": "kg"}, "assay": {}}],
                )
            ]
        )
    ok = ev("transformation", outputs=[out("lc-6", "lithium_carbonate", 10.0)])
    ok["inputs"] = [{"lot": "brine-1", "quantity": {"value": 0.1, "unit": "t"}}]
    ledger.record([ok])
    assert ledger.lot(OWNER, "brine-1").remaining_kg == pytest.approx(900.0)


def test_corrections_reference_and_void(ledger: LedgerService) -> None:
    _mine(ledger)
    t = ev("transformation", inputs=[("brine-1", 400.0)], outputs=[out("lc-7", "lithium_carbonate", 100.0)])
    ledger.record([t])
    with pytest.raises(InvalidInput, match="reason"):
        ledger.record([ev("correction", corrects=t["id"], void=True)])
    ledger.record([ev("correction", corrects=t["id"], void=True, reason="wrong scale reading")])
    assert ledger.lot(OWNER, "brine-1").remaining_kg == pytest.approx(1000.0)
    assert ledger.lot(OWNER, "lc-7").voided
    with pytest.raises(Conflict, match="voided"):
        ledger.record([ev("transformation", inputs=[("lc-7", 1.0)], outputs=[out("lc-8", "lithium_carbonate", 0.5)])])
    with pytest.raises(NotFound):
        ledger.record([ev("correction", corrects="no-such-event", reason="x")])


def test_partition_by_owner(ledger: LedgerService) -> None:
    _mine(ledger)
    with pytest.raises(Forbidden):
        ledger.record(
            [
                ev(
                    "extraction",
                    owner="did:web:other.example",
                    site="M",
                    country="CL",
                    outputs=[out("o-1", "lithium_brine_concentrate", 1.0)],
                )
            ]
        )


def test_malformed_events_name_the_field(ledger: LedgerService) -> None:
    e = ev("extraction", site="M", country="XX", outputs=[out("z", "lithium_brine_concentrate", 1.0)])
    with pytest.raises(InvalidInput) as info:
        ledger.record([e])
    assert info.value.field == "events[0].site.country"
    e2 = ev("extraction", site="M", country="CL", outputs=[out("z", "unobtainium", 1.0)])
    with pytest.raises(InvalidInput, match="not a known material"):
        ledger.record([e2])
