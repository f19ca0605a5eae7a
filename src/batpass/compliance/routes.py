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
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from batpass.compliance._evaluate import evaluate
from batpass.compliance._report import render_report_html, report_data
from batpass.compliance._subject import subject_from_json
from batpass.compliance.model import Battery, BatteryModel, Finding
from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.http import AdminKey

__all__ = ["router"]

router = APIRouter(tags=["compliance"])

_FORMATS = ("json", "html")


def _parse(body: Any) -> tuple[Battery | BatteryModel, dt.date]:
    if not isinstance(body, dict):
        raise InvalidInput(
            "the body must be a JSON object", field="body", rule='{"subject": {...}, "at": "YYYY-MM-DD"}'
        )
    unknown = sorted(set(body) - {"subject", "at"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", field=unknown[0], rule="body fields: subject, at")
    if "subject" not in body:
        raise InvalidInput("subject is required", field="subject", rule="a battery or battery model description")
    raw_at = body.get("at")
    if raw_at is None:
        at = utc_now().date()
    else:
        try:
            at = dt.date.fromisoformat(str(raw_at))
        except ValueError as exc:
            raise InvalidInput(f"at {raw_at!r} is not a date", field="at", rule="YYYY-MM-DD", value=raw_at) from exc
    return subject_from_json(body["subject"]), at


def _run(body: Any) -> tuple[Battery | BatteryModel, dt.date, list[Finding]]:
    subject, at = _parse(body)
    return subject, at, evaluate(subject, at)


@router.post("/v1/compliance/evaluate")
async def evaluate_subject(_: AdminKey, body: Annotated[Any, Body()]) -> JSONResponse:
    """The findings for a battery or model at a date (the JSON report)."""
    subject, at, findings = await run_in_threadpool(_run, body)
    return JSONResponse(report_data(subject, at, findings))


@router.post("/v1/compliance/report", response_model=None)
async def report(request: Request, _: AdminKey, body: Annotated[Any, Body()]) -> Response:
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
