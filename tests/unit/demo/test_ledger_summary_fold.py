"""The demo's ledger step folds the upstream summary of every cell lot the car maker received into
its ledger before it reads recycled-content figures from it. Under load a federated trace can come
back before its supplier answered (a deadline tombstone): that summary is then missing from the
car maker's store and ``summary.json`` shows a figure that disagrees with the supply chain. The
step asks again (back-off, a longer deadline) and stops with a clear failure if it never comes."""

from __future__ import annotations

from typing import Any

import pytest

from batpass.core.errors import InvariantViolation
from batpass.demo._story._fold import fold_summaries

OUTSIDE = {"tier": 2, "reason": "supplier's DID does not resolve (outside the dataspace)"}
LATE = {"tier": 1, "reason": "supplier deadline exceeded"}


def _answer(lot: str, *tombstones: dict[str, Any], unreachable: bool = False) -> dict[str, Any]:
    failed = [{"did": "did:web:hub", "reason": "supplier deadline exceeded"}] if unreachable else []
    return {"lot": lot, "complete": not tombstones, "tombstones": list(tombstones), "unreachable_suppliers": failed}


class _Federation:
    """Answers a federated trace per lot from a script of answers (the last one repeats)."""

    def __init__(self, script: dict[str, list[dict[str, Any]]]) -> None:
        self.script = script
        self.asked: list[tuple[str, float | None]] = []

    def ask(self, lot: str, deadline_ms: float | None) -> dict[str, Any]:
        self.asked.append((lot, deadline_ms))
        answers = self.script[lot]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def test_a_lot_whose_supplier_answered_late_is_asked_again_until_its_summary_is_folded() -> None:
    fed = _Federation(
        {
            "cell-1": [_answer("cell-1", OUTSIDE)],
            "cell-2": [_answer("cell-2", LATE, unreachable=True), _answer("cell-2", OUTSIDE)],
        }
    )
    slept: list[float] = []
    told: list[dict[str, list[str]]] = []
    got = fold_summaries(fed.ask, ["cell-1", "cell-2"], parallel=2, sleep=slept.append, on_retry=told.append)
    # every answer the step goes on with has its direct supplier's summary, only the permanent gap
    assert [a["lot"] for a in got] == ["cell-1", "cell-2"]
    assert all(not a["unreachable_suppliers"] and a["tombstones"] == [OUTSIDE] for a in got)
    # only the late lot was asked again, after a back-off, with a longer deadline than the first
    again = [(lot, ms) for lot, ms in fed.asked if lot == "cell-2"]
    assert len(again) == 2 and again[0][1] is None and again[1][1] is not None and again[1][1] > 10_000
    assert [lot for lot, _ in fed.asked].count("cell-1") == 1
    assert len(slept) == 1 and slept[0] > 0
    # and the retry is told, with the lot and why: a late summary is seen, never silent
    assert told == [{"cell-2": ["supplier deadline exceeded"]}]


def test_a_deeper_branch_cut_by_its_deadline_is_asked_again_too() -> None:
    deeper = {"tier": 3, "reason": "supplier deadline exceeded"}
    fed = _Federation({"cell-1": [_answer("cell-1", OUTSIDE, deeper), _answer("cell-1", OUTSIDE)]})
    got = fold_summaries(fed.ask, ["cell-1"], parallel=1, sleep=lambda _s: None)
    assert got[0]["tombstones"] == [OUTSIDE]
    assert len(fed.asked) == 2


def test_a_summary_that_never_comes_stops_the_step_naming_the_lot_and_why() -> None:
    fed = _Federation({"cell-1": [_answer("cell-1", OUTSIDE)], "cell-2": [_answer("cell-2", LATE, unreachable=True)]})
    slept: list[float] = []
    with pytest.raises(InvariantViolation) as err:
        fold_summaries(fed.ask, ["cell-1", "cell-2"], parallel=2, attempts=3, sleep=slept.append)
    assert err.value.rule == "demo.ledger.summaries"
    # which lot's summary is missing, and what its last answer said
    assert err.value.details["missing"] == {"cell-2": ["supplier deadline exceeded"]}
    assert [lot for lot, _ in fed.asked].count("cell-2") == 3
    # backing off: each wait longer than the one before
    assert len(slept) == 2 and slept[1] > slept[0] > 0
