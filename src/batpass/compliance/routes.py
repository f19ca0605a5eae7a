"""HTTP edge of the compliance engine under ``/v1/compliance`` (batpass's own API: admin key in
``X-Api-Key``, RFC 9457 problem details on error).

- ``POST /v1/compliance/evaluate`` — body ``{"subject": <battery or model description>, "at":
  "YYYY-MM-DD"?}`` (the description ``batpass comply`` reads, docs/compliance.md; ``at``
  defaults to today, UTC) → the JSON report: every finding with rule, status, values, text and
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

from batpass.compliance._evaluate import evaluate
from batpass.compliance._report import render_report_html, report_data
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


def _run(body: SubjectIn) -> tuple[Battery | BatteryModel, dt.date, list[Finding]]:
    subject = subject_from_json(body.subject)
    at = body.at or utc_now().date()
    return subject, at, evaluate(subject, at)


@router.post("/v1/compliance/evaluate")
async def evaluate_subject(_: AdminKey, body: SubjectIn) -> JSONResponse:
    """The findings for a battery or model at a date (the JSON report)."""
    subject, at, findings = await run_in_threadpool(_run, body)
    return JSONResponse(report_data(subject, at, findings))


@router.post("/v1/compliance/report", response_model=None)
async def report(request: Request, _: AdminKey, body: SubjectIn) -> Response:
    """The report rendered as HTML (self-contained) or JSON."""
    fmt = request.query_params.get("format")
    if fmt is None:
        fmt = "html" if "text/html" in request.headers.get("accept", "") else "json"
    if fmt not in _FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {list(_FORMATS)}", field="format", rule="json or html")
    subject, at, findings = await run_in_threadpool(_run, body)
    if fmt == "html":
        html = await run_in_threadpool(render_report_html, subject, at, findings)
        return HTMLResponse(html)
    return JSONResponse(report_data(subject, at, findings))
