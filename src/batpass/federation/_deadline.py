"""Deadlines, not timeouts: a federated question carries the time its asker will wait.

The car maker asks with a deadline (``deadline_ms``, default 10 s). Each node, before asking a
direct partner, passes on what is left of its own deadline minus a margin of max(200 ms, 10 %),
which it keeps for itself (folding, signing, the way back); a branch that would get under 300 ms
is not asked at all and becomes a ``deadline`` tombstone. A branch still running at its own
deadline is cancelled and becomes the same tombstone; the others stand. The deadline travels as
a relative number of milliseconds (``deadline_ms`` in the pull's query), never as a wall-clock
time, so the nodes' clocks need not agree; each node counts it on its own monotonic clock from
the moment the question reached it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from batpass.core.errors import InvalidInput

__all__ = [
    "DEADLINE_FIELD",
    "DEFAULT_DEADLINE_MS",
    "MAX_DEADLINE_MS",
    "MIN_ASK_S",
    "Deadline",
    "deadline_reason",
    "onward_budget",
    "parse_deadline_ms",
]

#: the query parameter (route and question) that carries the deadline, in milliseconds
DEADLINE_FIELD = "deadline_ms"
#: the deadline of a question that names none (the car maker's default; an older node's question)
DEFAULT_DEADLINE_MS = 10_000.0
#: the longest deadline a node accepts. Each tier keeps 10 % for itself, so a deadline bounds how
#: deep a question reaches: about 20 tiers at 10 s, 40 at 60 s, 55 at 300 s (less what each tier
#: spends before asking). A recall round a recycling loop goes deep (the demo's: 37 tiers).
MAX_DEADLINE_MS = 300_000.0
#: each hop keeps max(MARGIN_MIN_S, MARGIN_SHARE x remainder) for itself
MARGIN_MIN_S = 0.2
MARGIN_SHARE = 0.1
#: a branch that would get less than this is tombstoned without being asked
MIN_ASK_S = 0.3
_RULE = f"a finite number of milliseconds, > 0 and <= {MAX_DEADLINE_MS:.0f}"


def deadline_reason(role: str) -> str:
    """The tombstone reason of a branch that did not answer before its deadline (a category:
    ``deadline``, beside ``unreachable`` and ``refused``)."""
    return f"{role} deadline exceeded"


def onward_budget(remaining_s: float) -> float | None:
    """What a node passes on to a partner when ``remaining_s`` seconds are left of its own
    deadline: the remainder minus max(200 ms, 10 %); ``None`` when that is under 300 ms (the
    branch is then tombstoned without being asked)."""
    onward = remaining_s - max(MARGIN_MIN_S, MARGIN_SHARE * remaining_s)
    return onward if onward >= MIN_ASK_S else None


def parse_deadline_ms(raw: str | float | None) -> float:
    """A question's ``deadline_ms``: absent means the default; otherwise a finite number of
    milliseconds, positive and at most :data:`MAX_DEADLINE_MS`, else :class:`InvalidInput`
    naming the field."""
    if raw is None:
        return DEFAULT_DEADLINE_MS
    try:
        ms = float(raw) if not isinstance(raw, str) or len(raw) <= 32 else math.nan
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms <= 0 or ms > MAX_DEADLINE_MS:
        raise InvalidInput(
            f"{DEADLINE_FIELD} must be {_RULE}, not {str(raw)[:32]!r}",
            field=DEADLINE_FIELD,
            rule=f"federated trace deadline: {_RULE}",
        )
    return ms


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (on ``clock``, a monotonic clock in seconds) by which this node must answer."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after_ms(cls, ms: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``ms`` milliseconds from now."""
        return cls(clock() + ms / 1000.0, clock)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock()

    def onward(self) -> float | None:
        """The budget, in seconds, of a partner asked now (see :func:`onward_budget`)."""
        return onward_budget(self.remaining())
