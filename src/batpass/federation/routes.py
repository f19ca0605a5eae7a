"""``GET /v1/trace/federated/{subject}``: the recursive federated trace over HTTP (admin key)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from batpass.federation.service import FederatedTrace
from batpass.http import AdminKey, Ctx

__all__ = ["router"]

router = APIRouter(tags=["federation"])


@router.get("/v1/trace/federated/{subject:path}")
async def federated_trace(
    subject: str, ctx: Ctx, _: AdminKey, direction: Literal["up", "down"] = "up"
) -> dict[str, Any]:
    """Recursive federated trace of a lot or battery of this node (docs/architecture.md "Flows", flow 2): upstream
    (origin summary) or downstream (which batteries contain it, tier by tier)."""
    svc = ctx.service(FederatedTrace)
    return await (svc.recall(subject) if direction == "down" else svc.trace(subject))
