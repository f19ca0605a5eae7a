"""``/v1/participants``: the node's own participant record and the partners it knows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from batpass.core.errors import NotFound
from batpass.http import AdminKey, Ctx
from batpass.participants.model import Participant
from batpass.participants.service import ParticipantService

router = APIRouter(prefix="/v1/participants", tags=["participants"])


@router.get("/self")
def get_self(ctx: Ctx) -> dict[str, Any]:
    me = ctx.service(ParticipantService).me()
    if me is None:
        raise NotFound("this node has no participant record yet", rule="batpass init registers it")
    return me.to_json()


@router.get("")
def list_participants(ctx: Ctx, _: AdminKey) -> list[dict[str, Any]]:
    return [p.to_json() for p in ctx.service(ParticipantService).list()]


@router.put("")
def register_participant(ctx: Ctx, _: AdminKey, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    p = Participant.from_json(body)
    ctx.service(ParticipantService).register(p)
    return p.to_json()
