"""``/v1/participants``: the node's own participant record and the partners it knows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from batpass.core.errors import NotFound
from batpass.http import AdminKey, Ctx, FiniteFloat, Items, RequestModel, Text, Token
from batpass.participants.model import Participant
from batpass.participants.service import ParticipantService

router = APIRouter(prefix="/v1/participants", tags=["participants"])


class LocationIn(RequestModel):
    """A site's coordinates (WGS 84)."""

    latitude: FiniteFloat = Field(ge=-90, le=90)
    longitude: FiniteFloat = Field(ge=-180, le=180)


class SiteIn(RequestModel):
    """A site of the participant (a plant, a mine, a warehouse)."""

    name: Text = Field(default="", description="the site's name")
    country: Text = Field(default="", description="ISO 3166-1 alpha-2")
    bpns: Token | None = Field(default=None, description="Catena-X site number (BPNS)")
    plant_id: Token | None = Field(default=None, alias="plantId", description="Ouranos openPlantId")
    location: LocationIn | None = None


class ParticipantIn(RequestModel):
    """A participant: the node's own record or a partner it knows (checked identifier by identifier)."""

    legal_name: Text = Field(default="", alias="legalName", description="the registered legal name")
    country: Text = Field(default="", description="ISO 3166-1 alpha-2")
    did: Text = Field(default="", description="the participant's DID")
    bpnl: Token | None = Field(default=None, description="Catena-X legal entity number (BPNL, CX-0010)")
    corporate_number: Token | None = Field(
        default=None, alias="corporateNumber", description="Japanese corporate number (13 digits)"
    )
    lei: Token | None = Field(default=None, description="Legal Entity Identifier (ISO 17442)")
    sites: Items[SiteIn] = Field(default=[], description="the participant's sites")


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
def register_participant(ctx: Ctx, _: AdminKey, body: ParticipantIn) -> dict[str, Any]:
    p = Participant.from_json(body.wire())
    ctx.service(ParticipantService).register(p)
    return p.to_json()
