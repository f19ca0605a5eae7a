"""One pull per partner per *pull*: the onward questions of the lots of one list pull, coalesced.

A node asked about several lots in one pull (``?lots=[...]``) answers each lot with its own
computation (its own branches, answer cache and signature), and each of those asks the lot's
direct partners. Without coalescing, a partner that supplied several of the lots is pulled once
per lot, concurrently: a tier of fan-out *k* sends *k* pulls where one would do, and they contend
on the partner's single worker. :class:`AskBatch` collects those questions: every lot of the pull
holds a :class:`Slot`; a lot's computation *parks* its questions in its slot (or *leaves* the slot
when it asks nobody: an answer from its caches, a refusal, a computation it joined that another
question started). Once every slot is parked or left, the batch sends one pull per (partner,
asset, query) with the union of the parked lots, and hands each computation the answers about
its own lots. The wait depends only on this node's own work for the pull's lots (never on
another question's), so it cannot deadlock round a recycling loop.

Each parked computation keeps its own deadline: it stops waiting when its budget runs out (its
branches become deadline tombstones, as before); the pull is sent with the largest budget left
among the parked computations.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batpass.federation._deadline import Deadline

__all__ = ["AskBatch", "Parked", "Slot", "current_slot", "use_slot"]

#: answers of one (partner, asset, query) group: one per lot, in the order of the lots asked
Answers = list[Any]
#: how the batch pulls one group: (partner DID, lots, asset, role, query, deadline) → answers per lot
Send = Callable[[str, Sequence[str], str, str, dict[str, str], Deadline], Awaitable[Answers]]

_SLOT: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("batpass_federation_slot", default=None)


@dataclass
class Parked:
    """The questions one computation parked: its groups, its deadline, the future of its answers
    (per group key: the answers about its lots, in its order)."""

    groups: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[str]]
    deadline: Deadline
    future: asyncio.Future[dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Answers]]


@dataclass
class Slot:
    """One lot's place in a batch: open until its computation parks its questions or leaves."""

    batch: AskBatch
    open: bool = True

    def leave(self) -> None:
        """This lot asks nobody through the batch (idempotent; a no-op once parked)."""
        if self.open:
            self.open = False
            self.batch.settled()

    def park(
        self,
        partners: Sequence[tuple[str, str]],
        asset: str,
        role: str,
        base: Mapping[str, str],
        deadline: Deadline,
    ) -> Parked:
        """Park the questions about ``partners`` ((DID, lot) pairs) until the batch sends them."""
        groups: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[str]] = {}
        frozen = tuple(sorted(base.items()))
        for did, lot in partners:
            lots = groups.setdefault((did, asset, role, frozen), [])
            if lot not in lots:
                lots.append(lot)
        parked = Parked(groups, deadline, asyncio.get_running_loop().create_future())
        self.batch.parked.append(parked)
        self.open = False
        self.batch.settled()
        return parked


@dataclass
class AskBatch:
    """The onward questions of one list pull (see the module docstring). ``send`` pulls one
    group; ``members`` is the number of slots (lots) taking part."""

    send: Send
    members: int
    parked: list[Parked] = field(default_factory=list)
    _waiting: int = 0
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._waiting = self.members

    def slot(self) -> Slot:
        return Slot(self)

    def settled(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and self.parked:
            self._task = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        """One pull per group with the union of the parked lots; each computation gets its own."""
        parked = [p for p in self.parked if not p.future.done()]
        union: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[str]] = {}
        deadlines: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Deadline] = {}
        for p in parked:
            for key, lots in p.groups.items():
                have = union.setdefault(key, [])
                have.extend(lot for lot in lots if lot not in have)
                # the latest deadline among the askers: nobody is cut short by another's
                if key not in deadlines or p.deadline.at > deadlines[key].at:
                    deadlines[key] = p.deadline
        keys = list(union)
        try:
            results = await asyncio.gather(
                *(self.send(k[0], union[k], k[1], k[2], dict(k[3]), deadlines[k]) for k in keys)
            )
        except BaseException as exc:  # a bug, or cancelled: every parked computation hears it
            for p in parked:
                if p.future.done():
                    continue
                if isinstance(exc, Exception):
                    p.future.set_exception(exc)
                else:
                    p.future.cancel()
            raise
        got = {key: dict(zip(union[key], result, strict=True)) for key, result in zip(keys, results, strict=True)}
        for p in parked:
            if not p.future.done():
                p.future.set_result({key: [got[key][lot] for lot in lots] for key, lots in p.groups.items()})


def current_slot() -> Slot | None:
    """The open slot of the computation running now, if it takes part in a batch."""
    slot = _SLOT.get()
    return slot if slot is not None and slot.open else None


def use_slot(slot: Slot | None) -> None:
    """Make ``slot`` the current computation's slot (in the running task's context)."""
    _SLOT.set(slot)
