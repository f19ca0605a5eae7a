"""``GET /v1/trace/federated/{subject}``: the recursive federated trace over HTTP (admin key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from batpass.federation._deadline import DEFAULT_DEADLINE_MS, MAX_DEADLINE_MS
from batpass.federation._ready import ChannelKeeper
from batpass.federation.service import FederatedTrace
from batpass.http import AdminKey, Ctx

__all__ = ["router"]

router = APIRouter(tags=["federation"])

_DEADLINE = (
    "How long the caller waits, in milliseconds (a finite number, > 0 and at most "
    f"{MAX_DEADLINE_MS:.0f}; default {DEFAULT_DEADLINE_MS:.0f}). The deadline travels with the "
    "question: each tier asks its partners with what is left minus max(200 ms, 10 %), does not ask "
    "a partner that would get under 300 ms, and cancels a branch still running at its deadline. "
    "Such a branch becomes a tombstone with the reason `supplier deadline exceeded` (`customer "
    "deadline exceeded` downstream); the healthy branches' answers stand."
)


@router.get("/v1/trace/federated/{subject:path}")
async def federated_trace(
    subject: str,
    ctx: Ctx,
    _: AdminKey,
    direction: Literal["up", "down"] = "up",
    deadline_ms: Annotated[
        float, Query(gt=0, le=MAX_DEADLINE_MS, allow_inf_nan=False, description=_DEADLINE)
    ] = DEFAULT_DEADLINE_MS,
) -> dict[str, Any]:
    """Recursive federated trace of a lot or battery of this node (docs/architecture.md "Flows", flow 2): upstream
    (origin summary) or downstream (which batteries contain it, tier by tier).

    The answer comes within ``deadline_ms`` (default 10 s): a branch that has not answered by its
    deadline is a tombstone with a tier and a reason category (``deadline``, ``unreachable``,
    ``refused``, ...), never an identity beyond this node's direct partners; every branch that
    answered in time stands. An invalid ``deadline_ms`` is a 400 problem naming the field."""
    svc = ctx.service(FederatedTrace)
    if direction == "down":
        return await svc.recall(subject, deadline_ms=deadline_ms)
    return await svc.trace(subject, deadline_ms=deadline_ms)


@router.get("/v1/federation/channels")
async def federation_channels(ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """The channels this node keeps ready for federated questions (docs/dataspace.md "Channels
    ready before they are needed"): each partner its ledger names, the asset a question asks of it
    and whether the agreement and transfer are open (``ready``), not yet tried (``pending``) or
    failed (``failed``, with the reason category, tried again later). ``running`` is false on a
    worker that does not run the node's background jobs, and on a node that keeps none; ``ahead``
    says whether the node opens them ahead at all, ``contacts`` how many partners' first contacts
    opened them (docs/dataspace.md "Channels opened on first contact")."""
    keeper = ctx.services.get(ChannelKeeper)
    if keeper is None:
        return {
            "running": False,
            "wanted": 0,
            "ready": 0,
            "events_read": 0,
            "ahead": False,
            "contacts": 0,
            "channels": [],
        }
    return {"running": keeper.running, **keeper.status()}
