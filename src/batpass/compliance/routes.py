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

Thin: parsing and shaping only; the rules live in the rulesets and the evaluator.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from batpass.compliance._evaluate import MARKETS, evaluate, rulesets_for
from batpass.compliance._report import render_report_html, report_data
from batpass.compliance._rules import Ruleset
from batpass.compliance._subject import subject_from_json
from batpass.compliance.model import Battery, BatteryModel, Finding
from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.http import AdminKey, Document, IsoDate, RequestModel

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


@router.post("/v1/compliance/report", response_model=None)
async def report(request: Request, _: AdminKey, body: SubjectIn) -> Response:
    """The report rendered as HTML (self-contained) or JSON."""
    fmt = request.query_params.get("format")
    if fmt is None:
        fmt = "html" if "text/html" in request.headers.get("accept", "") else "json"
    if fmt not in _FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {list(_FORMATS)}", field="format", rule="json or html")
    subject, at, findings, rulesets = await run_in_threadpool(_run, body)
    if fmt == "html":
        html = await run_in_threadpool(render_report_html, subject, at, findings, rulesets)
        return HTMLResponse(html)
    return JSONResponse(report_data(subject, at, findings, rulesets))
