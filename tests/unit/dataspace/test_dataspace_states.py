"""State machines, tested from their tables: every state reaches a final state, every pair not in
the table is refused, stamps count and time."""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

import pytest

from batpass.dataspace._states import NEGOTIATION, TRANSFER, InvalidTransition, transition
from batpass.dataspace.model import Role

MACHINES = [NEGOTIATION, TRANSFER]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_state_reaches_a_final_state(machine: Any) -> None:
    edges: dict[Any, set[Any]] = {}
    for (_, src, _), dst in machine.transitions.items():
        edges.setdefault(src, set()).add(dst)
    for state in machine.states:
        seen, todo = {state}, deque([state])
        while todo:
            s = todo.popleft()
            for nxt in edges.get(s, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & machine.finals, f"{state} cannot reach a final state"
    for final in machine.finals:
        assert final not in edges, f"final state {final} has outgoing transitions"


def _all_pairs(machine: Any) -> list[tuple[Any, Any, Any]]:
    return [(r, s, m) for r in Role for s in [None, *machine.states] for m in machine.messages]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_pair_outside_the_table_is_refused(machine: Any) -> None:
    refused = 0
    for role, state, message in _all_pairs(machine):
        if (role, state, message) in machine.transitions:
            stamp = transition(machine, role, state, message, count=3)
            assert stamp.state == machine.transitions[(role, state, message)] and stamp.count == 4
        else:
            with pytest.raises(InvalidTransition) as info:
                transition(machine, role, state, message, count=3)
            assert info.value.status == 400
            refused += 1
    assert refused > 0


def test_stamp_time() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stamp = transition(TRANSFER, Role.PROVIDER, TRANSFER.states.REQUESTED, TRANSFER.messages.START, count=1, now=at)
    assert (stamp.state, stamp.count, stamp.at) == ("STARTED", 2, at)


def test_spec_specific_rules() -> None:
    """DSP 2025-1: the consumer cannot finalize, the provider cannot verify, nothing leaves TERMINATED."""
    n = NEGOTIATION
    assert (Role.CONSUMER, n.states.VERIFIED, n.messages.FINALIZED) not in n.transitions
    assert (Role.PROVIDER, n.states.AGREED, n.messages.VERIFICATION) not in n.transitions
    tr = TRANSFER
    assert (Role.CONSUMER, tr.states.REQUESTED, tr.messages.START) not in tr.transitions
    assert not [k for k in tr.transitions if k[1] == tr.states.TERMINATED]
