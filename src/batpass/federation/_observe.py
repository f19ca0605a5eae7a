"""What the federated trace reports about itself: a small port the node wires to its metrics, so
federation knows nothing of Prometheus or the node.

- :meth:`FederationMetrics.question`: how long one question took to answer (``direction`` ``up``
  or ``down``; ``asker`` ``operator`` for this node's own trace or recall, ``partner`` for a
  partner's pull), counted from the call to the answer (a shared computation counts once per
  asker).
- :meth:`FederationMetrics.tombstone`: one lost branch of a computed answer, by reason category
  (:func:`tombstone_category`): never a partner, lot or battery.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["TOMBSTONE_CATEGORIES", "FederationMetrics", "note_tombstones", "timed_question", "tombstone_category"]

#: every category :func:`tombstone_category` answers
TOMBSTONE_CATEGORIES = ("deadline", "unreachable", "refused", "invalid", "hop_cap", "other")


class FederationMetrics(Protocol):
    def question(self, direction: str, asker: str, seconds: float) -> None: ...

    def tombstone(self, direction: str, category: str) -> None: ...


def tombstone_category(reason: str) -> str:
    """The category of a tombstone reason (the reasons themselves are categories per role and
    step; this folds them into a handful for a metric label)."""
    if reason.endswith("deadline exceeded"):
        return "deadline"
    if reason.endswith(("unreachable", "did not answer in time")):
        return "unreachable"
    if " refused" in reason or " terminated " in reason or " offers no " in reason:
        return "refused"
    if reason == "ledger hop cap reached":
        return "hop_cap"
    if "does not verify" in reason or " is not " in reason or "does not resolve" in reason or "has no " in reason:
        return "invalid"
    return "other"


@contextlib.contextmanager
def timed_question(metrics: FederationMetrics | None, direction: str, requester: str) -> Iterator[None]:
    """Observe the duration of the question in the ``with`` block (answered or not)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if metrics is not None:
            metrics.question(direction, "partner" if requester else "operator", time.perf_counter() - started)


def note_tombstones(metrics: FederationMetrics | None, direction: str, answers: Sequence[Any], capped: bool) -> None:
    """Count the branches of one computed answer that became tombstones (answers that are a
    reason string) and the ledger's hop cap."""
    if metrics is None:
        return
    if capped:
        metrics.tombstone(direction, "hop_cap")
    for answer in answers:
        if isinstance(answer, str):
            metrics.tombstone(direction, tombstone_category(answer))
