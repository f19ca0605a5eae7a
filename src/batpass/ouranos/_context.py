"""What every component of the Ouranos hub shares: the hub's context (engine, node identity,
clock, where hosted operators' keys live, the hub's host and port, the bridge, the PACT rating
mapping), the caller (:class:`Principal`), the components' base class and the few checks they
all make.

The hub is split by data target of the published API, one component per target or group of
targets (``service.OuranosHub`` composes them); this module knows none of the targets' rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.footprint import OuranosDqrMapping
from batpass.ouranos._sql import OuranosStore
from batpass.ouranos.model import Operator
from batpass.store import UnitOfWork
from batpass.trust import NodeIdentity

#: how deep the hub follows a trade tree or a parts tree before it stops (cycles, runaway data)
MAX_DEPTH = 32


@dataclass(frozen=True)
class Principal:
    """Who calls: an account of a hosted operator, proven by the hub's token and an API key."""

    operator_id: str
    account_id: str


@dataclass(frozen=True)
class BridgeLink:
    """The bridge that is the hub operators' Catena-X connector: its DID (tokens are addressed
    to it) and its Dataspace Protocol endpoint (``…/api/dsp/2025-1``)."""

    did: str
    dsp_url: str


@dataclass
class HubContext:
    """What the hub's components share. One per hub; ``pact_dqr_mapping`` may be configured after
    construction (the facade's property writes it here), everything else is fixed."""

    engine: Engine
    #: the node identity: signs the hub's access tokens
    identity: NodeIdentity
    #: the folder holding hosted operators' keys (``operators/<operatorId>/``)
    hub_home: Path
    #: host and port of the hub's public base URL: they make each operator's ``did:web``
    host: str
    port: int | None
    clock: Clock = field(default_factory=SystemClock)
    #: the bridge that offers released data on Catena-X (none: nothing leaves through one)
    bridge: BridgeLink | None = None
    #: how raw Ouranos ratings map onto 1–5 in the PACT export (none configured: no ``dqi``)
    pact_dqr_mapping: OuranosDqrMapping | None = None


class HubComponent:
    """Base of the hub's components (one per data target or group of targets): each reaches the
    shared :class:`HubContext`, and each use case is one unit of work on its engine."""

    def __init__(self, context: HubContext) -> None:
        self.context = context

    @property
    def engine(self) -> Engine:
        return self.context.engine

    def now(self) -> dt.datetime:
        """The hub's time (its context's clock)."""
        return self.context.clock.now()

    def store(self, uow: UnitOfWork) -> OuranosStore:
        """The hub's SQL side for one unit of work, stamping with the hub's clock."""
        return OuranosStore(uow, clock=self.context.clock)


def new_id() -> str:
    return str(new_uuid7())


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{field} {value!r} is not a UUID", field=field, rule="format uuid") from exc


def check_text(value: str, field: str, lo: int, hi: int) -> None:
    if not lo <= len(value) <= hi:
        raise InvalidInput(
            f"Validation failed, {field}: the length must be between {lo} and {hi}.",
            field=field,
            rule=f"length {lo}-{hi}",
        )


def operator_or_404(store: OuranosStore, operator_id: str) -> Operator:
    op = store.operator(operator_id)
    if op is None:
        raise NotFound(f"operator {operator_id} is not hosted here", rule="hosted operators only")
    return op
