"""Compliance reports: JSON (every finding with rule, status, values, text, reference) and a
self-contained HTML page (jinja2) with Chart.js 4.4.7 (MIT, vendored in ``_data/vendor``,
inlined: no CDN) charting the footprint by Annex II stage and the recycled-content shares
against the Art. 8(2) (2031-08-18) and 8(3) (2036-08-18) minimums read from the ruleset (none when
the EU ruleset is not among those evaluated: Japan sets no minimums)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from batpass.compliance._rules import Ruleset, load_ruleset
from batpass.compliance.model import Battery, BatteryModel, Finding, Status
from batpass.footprint import PER_KWH_LIFETIME_ENERGY

__all__ = ["render_report_html", "render_report_json", "report_data"]

_DATA = resources.files("batpass.compliance").joinpath("_data")
PHASES = (("2031", "recycled.minimum.phase1"), ("2036", "recycled.minimum.phase2"))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def report_data(
    subject: Battery | BatteryModel,
    at: dt.date,
    findings: Sequence[Finding],
    rulesets: Sequence[Ruleset] | None = None,
) -> dict[str, Any]:
    """The report as plain JSON data (also what the HTML charts are drawn from). ``rulesets``: those
    the findings were judged against (default: the EU market's)."""
    model = subject.model if isinstance(subject, Battery) else subject
    used = (
        list(rulesets) if rulesets is not None else [load_ruleset("eu-2023-1542"), load_ruleset("footprint-exchange")]
    )
    eu = [rs for rs in used if rs.name == "eu-2023-1542"]
    rules = eu[0].rules if eu else {}
    minimums = {phase: dict(rules[rid].params.get("minimums", {})) for phase, rid in PHASES if rid in rules}
    fp = model.footprint
    return {
        "subject": subject.battery_id if isinstance(subject, Battery) else model.model_id,
        "model": model.model_id,
        "category": str(model.category),
        "at": at.isoformat(),
        "rulesets": [f"{rs.name}@{rs.version}" for rs in used],
        "summary": {s.value: sum(1 for f in findings if f.status == s) for s in Status},
        "findings": [
            {
                "rule": f.rule,
                "status": str(f.status),
                "subject": f.subject,
                "values": _plain(dict(f.values)),
                "text": f.text,
                "reference": f.reference,
                "detail": f.detail,
                "evidence": [e.as_dict() for e in f.evidence],
            }
            for f in findings
        ],
        "footprint": None
        if fp is None
        else {
            "kg_co2e_per_kwh": _plain(fp.kg_co2e_per_kwh),
            "stages": {k: _plain(v) for k, v in fp.stages.items()},  # None = stage not provided
            # per kWh of the energy the battery provides over its service life (Annex II)
            "basis": PER_KWH_LIFETIME_ENERGY,
        },
        "recycled": {
            m: {
                "pre_consumer": _plain(r.pre_consumer),
                "post_consumer": _plain(r.post_consumer),
                "total": _plain(r.total),
                "basis": r.basis,
            }
            for m, r in model.recycled.items()
        },
        "recycled_minimums": {p: {m: _plain(v) for m, v in mins.items()} for p, mins in minimums.items()},
    }


def render_report_json(
    subject: Battery | BatteryModel,
    at: dt.date,
    findings: Sequence[Finding],
    rulesets: Sequence[Ruleset] | None = None,
) -> str:
    return json.dumps(report_data(subject, at, findings, rulesets), indent=2, ensure_ascii=False)


def render_report_html(
    subject: Battery | BatteryModel,
    at: dt.date,
    findings: Sequence[Finding],
    rulesets: Sequence[Ruleset] | None = None,
) -> str:
    """One HTML file with the charting library inlined (no network needed to view it)."""
    data = report_data(subject, at, findings, rulesets)
    env = jinja2.Environment(autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)
    template = env.from_string(_DATA.joinpath("templates/report.html.j2").read_text(encoding="utf-8"))
    chart_js = _DATA.joinpath("vendor/chart.umd.js").read_text(encoding="utf-8")
    # JSON in a <script> element: "</" must not close it
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return template.render(report=data, chart_js=Markup(chart_js), payload=Markup(payload))
