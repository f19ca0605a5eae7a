"""The deadline arithmetic of a federated question: each hop passes on the remainder minus
max(200 ms, 10 %), a branch that would get under 300 ms is not asked, and a question's
``deadline_ms`` is a finite positive number of milliseconds within the maximum."""

from __future__ import annotations

import pytest

from batpass.core.errors import InvalidInput
from batpass.federation._deadline import (
    DEFAULT_DEADLINE_MS,
    MAX_DEADLINE_MS,
    Deadline,
    deadline_reason,
    onward_budget,
    parse_deadline_ms,
)


@pytest.mark.parametrize(
    ("remaining", "onward"),
    [
        (10.0, 9.0),  # 10 % (1 s) is more than 200 ms
        (3.0, 2.7),
        (2.0, 1.8),  # 10 % is exactly 200 ms
        (1.0, 0.8),  # 200 ms is more than 10 %
        (0.5, 0.3),  # exactly 300 ms left to pass on: still asked
    ],
)
def test_each_hop_passes_on_the_remainder_minus_max_200_ms_or_10_percent(remaining: float, onward: float) -> None:
    assert onward_budget(remaining) == pytest.approx(onward)


@pytest.mark.parametrize("remaining", [0.499, 0.3, 0.0, -1.0])
def test_a_branch_that_would_get_under_300_ms_is_not_asked(remaining: float) -> None:
    assert onward_budget(remaining) is None


def test_tiers_shrink_the_deadline_hop_by_hop() -> None:
    """From the car maker's 3 s: 2.7 s to tier 1, 2.43 s to tier 2, ... until under 300 ms."""
    budgets, left = [], 3.0
    while (nxt := onward_budget(left)) is not None:
        budgets.append(round(nxt, 3))
        left = nxt
    assert budgets[:3] == [2.7, 2.43, 2.187]
    # 10 % while it is over 200 ms (down to 2 s), then 200 ms a hop: twelve tiers are asked
    assert budgets[3:] == [1.968, 1.768, 1.568, 1.368, 1.168, 0.968, 0.768, 0.568, 0.368]
    assert onward_budget(budgets[-1]) is None


def test_a_deadline_counts_down_on_its_clock() -> None:
    now = [100.0]
    deadline = Deadline.after_ms(3000, clock=lambda: now[0])
    assert deadline.remaining() == pytest.approx(3.0) and deadline.onward() == pytest.approx(2.7)
    now[0] += 2.6
    assert deadline.onward() is None  # 400 ms left: 200 ms would be passed on
    now[0] += 1.0
    assert deadline.remaining() == pytest.approx(-0.6)


def test_the_reason_is_a_category_never_an_identity() -> None:
    assert deadline_reason("supplier") == "supplier deadline exceeded"
    assert deadline_reason("customer") == "customer deadline exceeded"


@pytest.mark.parametrize(("raw", "ms"), [(None, DEFAULT_DEADLINE_MS), ("3000", 3000.0), ("0.5", 0.5), (2500, 2500.0)])
def test_a_valid_deadline(raw: str | float | None, ms: float) -> None:
    assert parse_deadline_ms(raw) == ms


@pytest.mark.parametrize(
    "raw", ["0", "-1", "nan", "NaN", "inf", "-inf", "1e400", str(MAX_DEADLINE_MS + 1), "3 s", "", "1" * 33, 0.0]
)
def test_an_invalid_deadline_names_the_field(raw: str | float) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_deadline_ms(raw)
    assert caught.value.field == "deadline_ms" and "deadline" in str(caught.value.rule)
