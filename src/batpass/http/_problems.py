"""RFC 9457 problem details for batpass's own API (``/v1``)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from batpass.core.errors import BatpassError, IntegrityViolation, InvalidInput

PROBLEM_TYPE_BASE = "https://batpass.dev/problems/"


def problem_body(err: BatpassError, *, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + err.kind,
        "title": err.title,
        "status": err.status,
        "detail": err.message,
    }
    if instance:
        body["instance"] = instance
    if err.rule:
        body["rule"] = err.rule
    # every refusal names its field where it has one: input errors, and refusals such as "not
    # responsible for this data point" that carry the field in their details
    field = err.field if isinstance(err, InvalidInput) else err.details.get("field")
    if isinstance(field, str) and field:
        body["field"] = field
    if isinstance(err, IntegrityViolation):  # where the stored data broke
        body.update({k: v for k, v in (("table", err.table), ("key", err.key)) if v})
    return body


def problem_response(err: BatpassError, *, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem_body(err, instance=instance),
        status_code=err.status,
        media_type="application/problem+json",
    )
