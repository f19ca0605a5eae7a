"""``/v1/sites``: the node's site register (a thin router over :class:`SiteService`).

Reads follow the sharing policy (docs/sites.md "Who sees what"): the public summary to anyone,
the full record with the admin key or a DCP self-issued token of a partner the site is shared
with. Writes take the admin key. Bodies are checked by the model, which names the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from batpass.core.errors import Unauthorized
from batpass.http import AdminKey, Ctx, Items, Jws, NodeContext, OpenRequestModel, RequestModel, Text
from batpass.passport import CallerVerifier
from batpass.sites.model import DueDiligenceEvidence, Site
from batpass.sites.service import SiteService

router = APIRouter(prefix="/v1/sites", tags=["sites"])


class EvidenceIn(RequestModel):
    """A due-diligence item: its kind, a reference to the document, its date and a summary."""

    kind: Text = Field(default="", description="e.g. 'risk assessment', 'CAHRA finding'")
    reference: Text = Field(default="", description="where the document is (URL or document id)")
    date: Text = Field(default="", description="ISO 8601 date")
    summary: Text | None = None
    dataset: Text | None = Field(
        default=None,
        description="a finding's CAHRA data set (name@version); stamped with the one in use, refused if another",
    )


class LocationIn(OpenRequestModel):
    """WGS 84 coordinates (checked by the model, which names ``location.latitude`` etc.)."""

    latitude: Any = None
    longitude: Any = None


class CertificationIn(OpenRequestModel):
    """A scheme's certification of the site (docs/sites.md "Schemes")."""

    scheme: Text = Field(default="", description="IRMA, RMI RMAP, Copper Mark, Nickel Mark, ...")
    status: Text = Field(default="", description="certified, conformant, active, in assessment, ...")
    level: Text | None = Field(default=None, description="e.g. IRMA 75")
    valid_until: Text | None = Field(default=None, alias="validUntil", description="ISO 8601 date")
    certifier: Text | None = Field(default=None, description="the certifier (name or DID)")
    credential: Jws | None = Field(default=None, description="the certifier's credential (JWS or SD-JWT)")
    report_url: Text | None = Field(default=None, alias="reportUrl")


class SiteIn(OpenRequestModel):
    """A site of the register; every member is checked by the model, which names the field."""

    site_id: Text = Field(default="", alias="siteId")
    name: Text = ""
    operator: Text = Field(default="", description="the company operating the site")
    site_type: Text = Field(default="", alias="siteType", description="mine, concentrator, smelter, refinery, ...")
    country: Text = Field(default="", description="ISO 3166-1 alpha-2")
    region: Text = Field(default="", description="ISO 3166-2 subdivision (e.g. CD-LU)")
    location: LocationIn | None = None
    minerals: Items[Text] = Field(default=[], description="what the site produces")
    certifications: Items[CertificationIn] = Field(default=[])
    due_diligence: Items[EvidenceIn] = Field(default=[], alias="dueDiligence")
    shared_with: Items[Text] = Field(default=[], alias="sharedWith", description="partner DIDs shown the full record")


class CahraIn(OpenRequestModel):
    """A CAHRA data set in the published JSON form; the loader checks it and refuses another form
    with the reason (docs/sites.md "CAHRA data sets")."""

    version: Any = Field(default=None, description="{data_updated, reports_updated}")
    countries: Any = Field(default=None, description="one object per country, with its reports")


def _svc(ctx: NodeContext) -> SiteService:
    return ctx.service(SiteService)


async def _caller(request: Request, ctx: NodeContext) -> tuple[str | None, bool]:
    """Who reads: the operator (admin key), a partner (its verified DID) or anyone."""
    if ctx.check_admin_key(request.headers.get("x-api-key")):
        return None, True
    auth = request.headers.get("authorization")
    verifier: CallerVerifier | None = ctx.services.get(CallerVerifier)
    if not auth:
        return None, False
    if verifier is None:
        raise Unauthorized("this node verifies no self-issued tokens", rule="DCP 1.0 §4.3")
    return await verifier.caller_did(auth), False


@router.get("")
async def list_sites(request: Request, ctx: Ctx) -> list[dict[str, Any]]:
    """Every site, each as the caller may see it."""
    caller, operator = await _caller(request, ctx)
    svc = _svc(ctx)
    return [svc.view(s, caller=caller, operator=operator) for s in svc.list()]


@router.get("/overview")
def overview(ctx: Ctx) -> dict[str, Any]:
    """Counts of the register and the CAHRA data set in use (``name@version``)."""
    return _svc(ctx).overview()


@router.get("/{site_id}")
async def get_site(site_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    caller, operator = await _caller(request, ctx)
    svc = _svc(ctx)
    return svc.view(svc.get(site_id), caller=caller, operator=operator)


@router.put("", status_code=200, responses={201: {"description": "registered (new)"}})
def register_site(ctx: Ctx, _: AdminKey, body: SiteIn, response: Response) -> dict[str, Any]:
    """Register a site or replace the one with its id; it is screened with the CAHRA data set in
    use. A site without country, region or coordinates is refused naming the field."""
    site, created = _svc(ctx).register(Site.from_json(body.wire()))
    if created:
        response.status_code = 201
    return site.to_json()


@router.post("/{site_id}/due-diligence")
def add_evidence(site_id: str, ctx: Ctx, _: AdminKey, body: EvidenceIn) -> dict[str, Any]:
    """Record a due-diligence item on a site (e.g. the operator's finding on a CAHRA flag)."""
    return _svc(ctx).add_evidence(site_id, DueDiligenceEvidence.from_json(body.wire())).to_json()


@router.put("/cahra")
def load_cahra(ctx: Ctx, _: AdminKey, body: CahraIn, name: str = "eu-indicative-cahra-list") -> dict[str, Any]:
    """Load a CAHRA data set (the published JSON form; any other form is refused with the
    reason) and screen every site with it; ``changes`` names the sites newly or no longer
    listed and those whose finding was made against another edition."""
    dataset, flagged, changes = _svc(ctx).load_cahra_changes(body.wire(), name=name)
    return {"dataset": dataset.label, "synthetic": dataset.synthetic, "flagged": flagged, "changes": changes}


@router.get("/cahra/current")
def current_cahra(ctx: Ctx) -> dict[str, Any]:
    dataset = _svc(ctx).cahra()
    return {"dataset": None if dataset is None else dataset.label, "synthetic": bool(dataset and dataset.synthetic)}
