"""Art. 8 recycled content has one definition (issue 18): per battery model and batch per plant,
against the element in active materials (the battery for Pb), with its ``basis``; mass no
supplier summary covers yet is ``unknown_mass_share``, and where nothing is known the shares are
unknown (None), never 0 %."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger._recycled import ART8_BASIS, art8_figure


def _acc(**kg: float) -> dict[str, object]:
    return {"basis_kg": 10.0, "pre_kg": 0.0, "post_kg": 0.0, "unknown_kg": 0.0, "cm": {"segregated": 10.0}} | kg


def test_before_a_suppliers_summary_arrives_the_figure_is_unknown_not_0() -> None:
    fig = art8_figure("Co", _acc(unknown_kg=10.0))
    assert fig["pre_consumer"] is None and fig["post_consumer"] is None
    assert fig["unknown_mass_share"] == 1.0 and fig["basis"] == ART8_BASIS == "art8_model_batch_plant"


def test_a_partly_covered_group_gives_its_shares_and_the_unknown_part_beside() -> None:
    fig = art8_figure("Ni", _acc(post_kg=1.0, unknown_kg=2.5))
    assert fig["post_consumer"] == pytest.approx(0.1) and fig["pre_consumer"] == 0.0
    assert fig["unknown_mass_share"] == pytest.approx(0.25) and fig["reference"] == "active_materials"


def test_recycled_input_declared_on_receipt_counts_though_the_origin_is_unknown() -> None:
    fig = art8_figure("Pb", _acc(pre_kg=8.5, unknown_kg=10.0))
    assert fig["pre_consumer"] == pytest.approx(0.85) and fig["reference"] == "battery"


def test_all_known_and_none_recycled_is_0() -> None:
    fig = art8_figure("Li", _acc())
    assert fig["pre_consumer"] == 0.0 and fig["post_consumer"] == 0.0 and fig["unknown_mass_share"] == 0.0


def test_a_battery_of_cells_received_without_a_summary_has_unknown_recycled_content(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The issue's defect: before the cell supplier's summary arrives, the report said 0 %."""
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(OWNER))
    bid = "https://id.example/01/04012345000016/21/RA0000001"
    cells = {"Co": 0.05, "Li": 0.02, "Ni": 0.3}
    svc.record(
        [
            ev(
                "receipt",
                outputs=[
                    {**out("cells-in", "cell", 100, mass_per_piece_kg=0.5, assay=cells), "quantity": _pieces(100)}
                ],
                receipt={"from_owner": "did:web:cellmaker.example", "from_lot": "cells-out", "document": "BL-7"},
            ),
            ev(
                "assembly",
                inputs=[("cells-in", 50.0)],
                outputs=[
                    {
                        "lot": "battery-1",
                        "material": "battery",
                        "quantity": _pieces(1),
                        "mass_per_piece_kg": 70.0,
                        "battery": {
                            "id": bid,
                            "model": "RA-EV-60",
                            "chemistry": "NMC811",
                            "capacity_kwh": 60.0,
                            "category": "ev",
                        },
                    }
                ],
            ),
        ]
    )
    group = svc.recycled_content_of(OWNER, bid)
    assert group is not None and group["basis"] == ART8_BASIS and group["batteries"] == 1
    for el in ("Co", "Li", "Ni"):
        fig = group["elements"][el]
        assert fig["pre_consumer"] is None and fig["post_consumer"] is None, (el, fig)
        assert fig["unknown_mass_share"] == 1.0
    assert svc.recycled_content(OWNER) == [group]  # the API's list shows the same figure


def _pieces(n: int) -> dict[str, object]:
    return {"value": n, "unit": "piece"}


def test_the_art8_groups_of_an_unchanged_stamp_are_kept_but_a_changed_stamp_is_not() -> None:
    """A fleet's passports ask for one group once per battery: an equal stamp of the rows gives
    the last groups (a copy), any changed lot or claim row (its stamp) none: computed afresh."""
    from batpass.ledger._recycled import GroupsMemo

    memo = GroupsMemo()
    key = (OWNER, "RA", 2027, "plant")
    stamp = ([("lot-1", "digest-a", 1.0)], [("claim-1", "accepted")])
    assert memo.cached(key, stamp) is None
    memo.keep(key, stamp, [{"batteries": 1, "elements": {}}])
    first = memo.cached(key, ([("lot-1", "digest-a", 1.0)], [("claim-1", "accepted")]))
    assert first == [{"batteries": 1, "elements": {}}]
    first[0]["batteries"] = 99  # a caller changing its answer changes no later one
    assert memo.cached(key, stamp) == [{"batteries": 1, "elements": {}}]
    assert memo.cached(key, ([("lot-1", "digest-b", 1.0)], stamp[1])) is None  # a profile changed
    assert memo.cached(key, (stamp[0], [("claim-1", "rejected")])) is None
    assert memo.cached((OWNER, "RA", 2028, "plant"), stamp) is None
