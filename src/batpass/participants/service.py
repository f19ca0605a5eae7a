"""Use cases on participants: register the node's own participant record and known partners."""

from __future__ import annotations

from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import NotFound
from batpass.participants._sql import SqlParticipantStore
from batpass.participants.model import Participant
from batpass.store import UnitOfWork

__all__ = ["ParticipantService"]


class ParticipantService:
    def __init__(self, engine: Engine, *, clock: Clock = SystemClock()) -> None:
        self._engine = engine
        self._clock = clock

    def register(self, participant: Participant, *, is_self: bool = False) -> Participant:
        with UnitOfWork(self._engine) as uow:
            SqlParticipantStore(uow).upsert(participant, at=self._clock.now(), is_self=is_self)
            uow.commit()
        return participant

    def get(self, did: str) -> Participant:
        with UnitOfWork(self._engine, write=False) as uow:
            p = SqlParticipantStore(uow).get(did)
        if p is None:
            raise NotFound(f"no participant with DID {did}", rule="participants are registered first")
        return p

    def me(self) -> Participant | None:
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlParticipantStore(uow).get_self()

    def list(self) -> list[Participant]:
        with UnitOfWork(self._engine, write=False) as uow:
            return SqlParticipantStore(uow).list()
