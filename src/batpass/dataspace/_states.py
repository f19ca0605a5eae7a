"""DSP 2025-1 state machines as data: one transition table per protocol, one ``transition()``.

Each table maps ``(sender role, current state, message)`` to the next state; ``None`` as the
current state means "no process yet" (the message creates it). Sources: DSP 2025-1 "Contract
Negotiation Protocol" § 2 (state machine, message table) and "Transfer Process Protocol" § 2.
A pair absent from the table is an invalid transition (DSP binding: 400 with the protocol's error
message). Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from batpass.core.clock import utc_now
from batpass.core.errors import Conflict
from batpass.dataspace.model import NegotiationState, Role, TransferState

__all__ = [
    "NEGOTIATION",
    "TRANSFER",
    "InvalidTransition",
    "Machine",
    "NegotiationMessage",
    "Stamp",
    "TransferMessage",
    "transition",
]

C, P = Role.CONSUMER, Role.PROVIDER


class NegotiationMessage(StrEnum):
    """Contract negotiation messages (DSP 2025-1 § 3), by their ``@type`` (event messages by event)."""

    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    ACCEPTED = "ContractNegotiationEventMessage:ACCEPTED"
    AGREEMENT = "ContractAgreementMessage"
    VERIFICATION = "ContractAgreementVerificationMessage"
    FINALIZED = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


class TransferMessage(StrEnum):
    """Transfer process messages (DSP 2025-1 § 3), by their ``@type``."""

    REQUEST = "TransferRequestMessage"
    START = "TransferStartMessage"
    SUSPENSION = "TransferSuspensionMessage"
    COMPLETION = "TransferCompletionMessage"
    TERMINATION = "TransferTerminationMessage"


S = TypeVar("S", bound=StrEnum)
M = TypeVar("M", bound=StrEnum)


class InvalidTransition(Conflict):
    """A message that the current state does not allow (DSP: HTTP 400 with the error message)."""

    kind = "invalid-transition"
    status = 400
    title = "Invalid state transition"


@dataclass(frozen=True, slots=True)
class Machine(Generic[S, M]):
    name: str
    states: type[S]
    messages: type[M]
    transitions: Mapping[tuple[Role, S | None, M], S]
    finals: frozenset[S]


@dataclass(frozen=True, slots=True)
class Stamp(Generic[S]):
    """The result of a transition: the new state, its count (how many transitions) and time."""

    state: S
    count: int
    at: dt.datetime


NS = NegotiationState
_N = NegotiationMessage
_NON_FINAL_N = (NS.REQUESTED, NS.OFFERED, NS.ACCEPTED, NS.AGREED, NS.VERIFIED)

NEGOTIATION: Machine[NegotiationState, NegotiationMessage] = Machine(
    name="contract negotiation",
    states=NegotiationState,
    messages=NegotiationMessage,
    transitions={
        (C, None, _N.REQUEST): NS.REQUESTED,
        (P, None, _N.OFFER): NS.OFFERED,
        (P, NS.REQUESTED, _N.OFFER): NS.OFFERED,
        (P, NS.REQUESTED, _N.AGREEMENT): NS.AGREED,
        (C, NS.OFFERED, _N.REQUEST): NS.REQUESTED,
        (C, NS.OFFERED, _N.ACCEPTED): NS.ACCEPTED,
        (P, NS.ACCEPTED, _N.AGREEMENT): NS.AGREED,
        (C, NS.AGREED, _N.VERIFICATION): NS.VERIFIED,
        (P, NS.VERIFIED, _N.FINALIZED): NS.FINALIZED,
        **{(r, s, _N.TERMINATION): NS.TERMINATED for r in (C, P) for s in _NON_FINAL_N},
    },
    finals=frozenset({NS.FINALIZED, NS.TERMINATED}),
)

TS = TransferState
_T = TransferMessage

TRANSFER: Machine[TransferState, TransferMessage] = Machine(
    name="transfer process",
    states=TransferState,
    messages=TransferMessage,
    transitions={
        (C, None, _T.REQUEST): TS.REQUESTED,
        (P, TS.REQUESTED, _T.START): TS.STARTED,
        # a suspended transfer is resumed by a start message from either side (DSP 2025-1 § 2)
        (P, TS.SUSPENDED, _T.START): TS.STARTED,
        (C, TS.SUSPENDED, _T.START): TS.STARTED,
        **{(r, TS.STARTED, _T.SUSPENSION): TS.SUSPENDED for r in (C, P)},
        **{(r, TS.STARTED, _T.COMPLETION): TS.COMPLETED for r in (C, P)},
        **{(r, s, _T.TERMINATION): TS.TERMINATED for r in (C, P) for s in (TS.REQUESTED, TS.STARTED, TS.SUSPENDED)},
    },
    finals=frozenset({TS.COMPLETED, TS.TERMINATED}),
)


def next_state(machine: Machine[S, M], sender: Role, state: S | None, message: M) -> S:
    """The state ``message`` from ``sender`` leads to, or :class:`InvalidTransition`."""
    try:
        return machine.transitions[(sender, state, message)]
    except KeyError:
        where = f"in state {state}" if state is not None else "without a process"
        raise InvalidTransition(
            f"{message} from the {sender} is not allowed {where} ({machine.name})",
            rule=f"DSP 2025-1 {machine.name} state machine",
            state=str(state) if state is not None else None,
            message_type=str(message),
        ) from None


def transition(
    machine: Machine[S, M],
    sender: Role,
    state: S | None,
    message: M,
    *,
    count: int,
    now: dt.datetime | None = None,
) -> Stamp[S]:
    """Check the table and stamp the new state with its count and time."""
    target = next_state(machine, sender, state, message)
    return Stamp(state=target, count=count + 1, at=now or utc_now())
