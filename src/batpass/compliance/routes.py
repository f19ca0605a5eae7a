"""HTTP edge of the compliance engine under ``/v1/compliance`` (batpass's own API: admin key in
``X-Api-Key``, RFC 9457 problem details on error).

- ``POST /v1/compliance/evaluate`` — body ``{"subject": <battery or model description>, "at":
  "YYYY-MM-DD"?, "market": "EU"|"JP"?, "ruleset": "<name>[@<version>]"?}`` (the description
  ``batpass comply`` reads, docs/compliance.md; ``at`` defaults to today, UTC; the market
  defaults to ``EU``; ``ruleset`` evaluates that one ruleset instead; an unknown one is a 400
  naming the known ones) → the JSON report: every finding with rule, status, values, text and
  reference, the footprint by stage and the recycled shares against the Art. 8 minimums.
- ``POST /v1/compliance/report?format=html|json`` — the same evaluation rendered as the
  self-contained HTML report (Chart.js inlined, no external URL) or the JSON report; without
  ``format`` the ``Accept`` header chooses (HTML only when asked for).

- ``GET /v1/passports/{id}/compliance?at=DATE&market=EU|JP`` (or ``ruleset=``) — a passport
  stored on this node (its id, ``urn:uuid:`` id or battery identifier) judged with the evidence the
  node holds: the passport, the ledger's Art. 8 figures of the battery's model, year and plant,
  the footprint it declared, and the credentials it holds or received with the battery's upstream
  summary, verified now (a certificate from another ecosystem counts where a rule allows it and a
  recognition rule admitted it; the finding names both). A passport the engine cannot evaluate is
  a 400 naming the data point; an unknown market or ruleset a 400 naming the known ones.
- ``GET /v1/recyclers/{did}/compliance?at=DATE&market=EU|JP`` — a recycler known to this node's
  ledger, judged on the yields its recovery events declare (Annex XII Part C); efficiency, which
  no event states, is "not yet determinable".

Thin: parsing and shaping only; the rules live in the rulesets and the evaluator, the evidence
in :mod:`batpass.compliance.service`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from batpass.compliance._evaluate import MARKETS, evaluate, rulesets_for
from batpass.compliance._report import render_report_html, report_data
from batpass.compliance._rules import Ruleset
from batpass.compliance._subject import subject_from_json
from batpass.compliance.model import Battery, BatteryModel, Finding
from batpass.compliance.service import ComplianceService, RemotePassports
from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.footprint import PactService
from batpass.http import AdminKey, Ctx, Document, IsoDate, NodeContext, RequestModel
from batpass.ledger import LedgerService
from batpass.passport import PassportService
from batpass.trust import TrustService

__all__ = ["router"]

router = APIRouter(tags=["compliance"])

_FORMATS = ("json", "html")


class SubjectIn(RequestModel):
    """A battery or battery model to evaluate at a date against the ruleset (docs/rules.md)."""

    model_config = ConfigDict(extra="forbid")

    subject: Document = Field(
        description="a battery (with battery_id) or a battery model: category, chemistry, capacity, placed on the"
        " market, ... (docs/rules.md, the compliance subject); checked member by member"
    )
    at: IsoDate | None = Field(default=None, description="the date to evaluate at (default: today, UTC)")
    market: str | None = Field(
        default=None,
        max_length=16,
        description=f"the market whose rulesets apply: one of {sorted(MARKETS)} (default: EU); not with ruleset",
    )
    ruleset: str | None = Field(
        default=None,
        max_length=64,
        description="evaluate this one bundled ruleset, <name> or <name>@<version> (e.g. jp, eu-2023-1542);"
        " not with market",
    )


Run = tuple[Battery | BatteryModel, dt.date, list[Finding], tuple[Ruleset, ...]]


def _run(body: SubjectIn) -> Run:
    rulesets = rulesets_for(body.market, body.ruleset)
    subject = subject_from_json(body.subject)
    at = body.at or utc_now().date()
    return subject, at, evaluate(subject, at, rulesets=rulesets), rulesets


@router.post("/v1/compliance/evaluate")
async def evaluate_subject(_: AdminKey, body: SubjectIn) -> JSONResponse:
    """The findings for a battery or model at a date (the JSON report)."""
    subject, at, findings, rulesets = await run_in_threadpool(_run, body)
    return JSONResponse(report_data(subject, at, findings, rulesets))


def _format(request: Request) -> str:
    fmt = request.query_params.get("format")
    if fmt is None:
        fmt = "html" if "text/html" in request.headers.get("accept", "") else "json"
    if fmt not in _FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {list(_FORMATS)}", field="format", rule="json or html")
    return fmt


@router.post("/v1/compliance/report", response_model=None)
async def report(request: Request, _: AdminKey, body: SubjectIn) -> Response:
    """The report rendered as HTML (self-contained) or JSON."""
    fmt = _format(request)
    subject, at, findings, rulesets = await run_in_threadpool(_run, body)
    if fmt == "html":
        html = await run_in_threadpool(render_report_html, subject, at, findings, rulesets)
        return HTMLResponse(html)
    return JSONResponse(report_data(subject, at, findings, rulesets))


def _service(ctx: NodeContext) -> ComplianceService:
    return ComplianceService(
        owner=ctx.did,
        passports=ctx.services.get(PassportService),
        ledger=ctx.services.get(LedgerService),
        trust=ctx.services.get(TrustService),
        pact=ctx.services.get(PactService),
        local_bases=(ctx.base_url, ctx.resolver_base),
        remote=ctx.services.get(RemotePassports),
    )


def _date(at: str | None) -> dt.date:
    if at is None:
        return utc_now().date()
    try:
        return dt.date.fromisoformat(at)
    except ValueError:
        raise InvalidInput(f"at {at!r} is not a date", field="at", rule="YYYY-MM-DD", value=at) from None


AtQuery = Annotated[str | None, Query(description="the date to evaluate at, YYYY-MM-DD (default: today, UTC)")]
MarketQuery = Annotated[
    str | None, Query(max_length=16, description=f"one of {sorted(MARKETS)} (default: EU); not with ruleset")
]
RulesetQuery = Annotated[
    str | None, Query(max_length=64, description="one bundled ruleset, <name>[@<version>]; not with market")
]


@router.get("/v1/passports/{passport_id:path}/compliance", response_model=None)
async def passport_compliance(
    passport_id: str,
    request: Request,
    ctx: Ctx,
    _: AdminKey,
    at: AtQuery = None,
    market: MarketQuery = None,
    ruleset: RulesetQuery = None,
) -> Response:
    """The findings for a passport stored on this node (id or battery identifier), or read from
    another node (its https URL, URL-encoded) with this node's credentials, with the evidence each
    finding was judged on. ``format=html`` (or ``Accept: text/html``) renders the HTML report."""
    fmt = _format(request)
    svc = _service(ctx)
    evaluation = await svc.passport(passport_id, _date(at), market=market, ruleset=ruleset, client=ctx.client)
    if fmt == "html" and evaluation.battery is not None:
        html = await run_in_threadpool(
            render_report_html, evaluation.battery, evaluation.at, evaluation.findings, evaluation.rulesets
        )
        return HTMLResponse(html)
    return JSONResponse(evaluation.report())


@router.get("/v1/recyclers/{recycler}/compliance")
async def recycler_compliance(
    recycler: str, ctx: Ctx, _: AdminKey, at: AtQuery = None, market: MarketQuery = None, ruleset: RulesetQuery = None
) -> JSONResponse:
    """The findings for a recycler (its DID) from what this node's ledger records of it."""
    evaluation = await run_in_threadpool(_service(ctx).recycler, recycler, _date(at), market=market, ruleset=ruleset)
    return JSONResponse(evaluation.report())
