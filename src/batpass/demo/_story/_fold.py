"""The ledger step's fold of supplier summaries into the car maker's ledger, waited for.

The car maker folds its suppliers' upstream summaries by asking a federated trace of each lot it
received (``GET /v1/trace/federated/{lot}``): the answer comes within its deadline, and a branch
that has not answered by then is a tombstone (``supplier deadline exceeded``) — its summary is
not folded. On a loaded machine that happens now and then, and the recycled-content figures the
step reads next would then count that lot's mass as unknown: ``summary.json`` would differ from
run to run and from the supply chain's records.

:func:`fold_summaries` therefore waits for every summary the step needs: a lot whose answer still
has a gap that can close (a direct supplier that did not answer, a tombstone other than a party
outside the dataspace) is asked again after a back-off, with a longer deadline; a summary that
never comes stops the step with :class:`InvariantViolation` (``demo.ledger.summaries``) naming the
lots and their last reasons, instead of a figure silently computed without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batpass.core.errors import InvariantViolation

__all__ = ["ATTEMPTS", "fold_summaries", "gaps"]

#: how often a lot is asked at most (the first ask and the retries)
ATTEMPTS = 4
#: the first back-off before asking again (doubled each time)
BACKOFF_S = 1.0
#: the deadline of the first retry (doubled each time, capped below the story's 60 s HTTP timeout)
RETRY_DEADLINE_MS = 20_000.0
MAX_RETRY_DEADLINE_MS = 45_000.0
#: the one permanent gap of the demo's supply chain: a supplier with no DID document (the foil
#: supplier) stays outside the dataspace whatever the step waits for
_PERMANENT = "outside the dataspace"

#: ask one lot's federated trace: (lot, deadline_ms or None for the route's default) → the answer
Ask = Callable[[str, float | None], dict[str, Any]]


def gaps(answer: dict[str, Any]) -> list[str]:
    """Why ``answer`` (a federated trace) lacks a summary that may still come: its unreachable
    direct suppliers, and its tombstones other than parties outside the dataspace."""
    reasons = [str(u.get("reason", "")) for u in answer.get("unreachable_suppliers", ())]
    tombstones = [str(t.get("reason", "")) for t in answer.get("tombstones", ())]
    reasons += [r for r in tombstones if _PERMANENT not in r]
    return list(dict.fromkeys(reasons))


def fold_summaries(
    ask: Ask,
    lots: Sequence[str],
    *,
    parallel: int,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[dict[str, list[str]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Ask the federated trace of every lot in ``lots`` (``parallel`` at once) until each answer
    has every summary it can have; the answers in the order of ``lots``. Raises
    :class:`InvariantViolation` (``demo.ledger.summaries``, ``missing``: lot → last reasons) when
    some are still missing after ``attempts`` asks. ``on_retry`` is told, before each retry,
    which lots are asked again and why (so a late summary is seen, never silent)."""
    answers: dict[str, dict[str, Any]] = {}
    pending = list(dict.fromkeys(lots))
    deadline_ms: float | None = None
    backoff = BACKOFF_S
    retry_ms = RETRY_DEADLINE_MS
    for attempt in range(max(1, attempts)):
        if attempt:
            if on_retry is not None:
                on_retry({lot: gaps(answers[lot]) for lot in pending})
            sleep(backoff)
            backoff *= 2
            deadline_ms = retry_ms
            retry_ms = min(retry_ms * 2, MAX_RETRY_DEADLINE_MS)
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(pending)))) as pool:
            got = list(pool.map(ask, pending, [deadline_ms] * len(pending)))
        answers.update(zip(pending, got, strict=True))
        pending = [lot for lot in pending if gaps(answers[lot])]
        if not pending:
            return [answers[lot] for lot in lots]
    missing = {lot: gaps(answers[lot]) for lot in pending}
    raise InvariantViolation(
        f"the car maker's ledger lacks the upstream summaries of {len(missing)} lot(s) after "
        f"{max(1, attempts)} asks: {missing}",
        rule="demo.ledger.summaries",
        missing=missing,
    )
