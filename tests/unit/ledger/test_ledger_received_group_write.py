"""Received summaries of one owner arriving while another is being written are written together
(:class:`batpass.ledger._received_writes.ReceivedWrites`): one transaction for all that waited,
in arrival order; each caller returns once its own is written and raises what its write raised
(a group whose transaction fails is written again one by one); other owners are not held back."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import pytest

from batpass.ledger._received_writes import Received, ReceivedWrites

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _item(n: int) -> Received:
    return Received(token=f"tok-{n}", summary=cast(Any, None), jwk=None, kid="did:web:s.example#k", at=AT)


def _wait_for(cond: Any) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < 10
        time.sleep(0.005)


def test_summaries_waiting_for_a_write_are_written_together_in_arrival_order() -> None:
    writes: list[tuple[str, list[str]]] = []
    first_started, release = threading.Event(), threading.Event()

    def write(owner: str, items: Sequence[Received]) -> None:
        writes.append((owner, [i.token for i in items]))
        if len(writes) == 1:
            first_started.set()
            assert release.wait(10)

    w = ReceivedWrites(write)
    done: list[str] = []
    threads = [threading.Thread(target=lambda: (w.submit("A", _item(0)), done.append("tok-0")))]
    threads[0].start()
    assert first_started.wait(10)
    for n in (1, 2, 3):  # arrive while the first is written
        th = threading.Thread(target=lambda n=n: (w.submit("A", _item(n)), done.append(f"tok-{n}")))
        th.start()
        threads.append(th)
        _wait_for(lambda n=n: len(w._waiting.get("A", [])) == n)
    w.submit("B", _item(9))  # another owner is not held back
    assert done == []
    release.set()
    for th in threads:
        th.join(10)
    assert writes == [("A", ["tok-0"]), ("B", ["tok-9"]), ("A", ["tok-1", "tok-2", "tok-3"])]
    assert sorted(done) == ["tok-0", "tok-1", "tok-2", "tok-3"]


def test_a_failed_group_write_is_written_again_one_by_one_and_the_next_write_runs() -> None:
    calls: list[list[str]] = []
    started, release = threading.Event(), threading.Event()

    def write(owner: str, items: Sequence[Received]) -> None:
        calls.append([i.token for i in items])
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
        if "tok-1" in calls[-1]:  # the store refuses this one, alone or with others
            raise RuntimeError("refused")

    w = ReceivedWrites(write)
    errors: dict[int, BaseException | None] = {}

    def submit(n: int) -> None:
        try:
            w.submit("A", _item(n))
            errors[n] = None
        except RuntimeError as exc:
            errors[n] = exc

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert started.wait(10)
    later = [threading.Thread(target=submit, args=(n,)) for n in (1, 2, 3)]
    for n, th in enumerate(later, 1):
        th.start()
        _wait_for(lambda n=n: len(w._waiting.get("A", [])) == n)
    release.set()
    for th in (first, *later):
        th.join(10)
    # the group failed: each written on its own, in arrival order; only the refused one fails
    assert errors == {0: None, 1: errors[1], 2: None, 3: None} and isinstance(errors[1], RuntimeError)
    w.submit("A", _item(4))  # the owner is writable again
    assert calls == [["tok-0"], ["tok-1", "tok-2", "tok-3"], ["tok-1"], ["tok-2"], ["tok-3"], ["tok-4"]]


def test_a_write_error_reaches_a_lone_caller() -> None:
    def write(owner: str, items: Sequence[Received]) -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        ReceivedWrites(write).submit("A", _item(0))
