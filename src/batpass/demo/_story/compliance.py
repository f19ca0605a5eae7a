"""Demo step ``compliance``: the car maker judges one of its batteries against Regulation (EU)
2023/1542 at three dates — the passport launch (2027-02-18) and the recycled-content minimums of
phase 1 (2031-08-18) and phase 2 (2036-08-18) — and keeps the JSON and HTML reports.

Everything is read over HTTPS from ``eu-carmaker``'s public API with its admin key (the economic
operator reading its own records):

- the battery's passport, full view (``GET /v1/passports/{id}``, ``Accept: application/json``),
  and whether its QR code is served (``GET /v1/passports/{id}/qr.svg``);
- its carbon footprint as the pack maker serves it on its PACT API (a PACT client of its own:
  ``POST /v1/footprints/pact/clients``, ``/pact/auth/token``, ``GET /pact/3/footprints/{id}``),
  when the ``footprint`` step ran; otherwise the passport's footprint data points;
- its recycled shares per metal (``GET /v1/ledger/recycled-content?battery=...``: the battery's
  model, year and plant; pre- and post-consumer apart, custody model per metal).

From these it builds the description the compliance engine reads (``batpass.compliance``, the
:data:`DATA_POINTS` table maps passport data points to the engine's names) and asks the engine
for the findings and the reports (``POST /v1/compliance/evaluate``, ``POST
/v1/compliance/report?format=html``). Artefacts: ``compliance/<date>/report.json`` and
``report.html`` per date, listed under ``summary.artefacts.compliance`` as ``{"at", "json",
"html"}``; ``summary.story.findings`` gets ``[{rule, status, at, values}]`` (README "What the demo shows").
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story

__all__ = ["DATES", "run"]

NODE = "eu-carmaker"
#: the passport launch, recycled-content minimums phase 1 and phase 2 (Regulation (EU) 2023/1542 Art. 77(1), 8(2), 8(3))
DATES = ("2027-02-18", "2031-08-18", "2036-08-18")
#: ledger element symbol → the metal names of Art. 8 in the ruleset
METALS: Mapping[str, str] = {"Co": "cobalt", "Li": "lithium", "Ni": "nickel", "Pb": "lead"}
#: passport data point → the engine's data-point name (Commission guidance, rule
#: ``passport.launch.not_yet_required``)
DATA_POINTS: Mapping[str, str] = {
    "carbon_footprint": "carbon_footprint",
    "due_diligence_report": "due_diligence",
    "recycled_content": "recycled_content",
    "instructions_for_use": "instructions_for_use",
}
#: Annex IV performance and durability values the model must document (Art. 10)
PERFORMANCE = (
    "rated_capacity",
    "rated_energy",
    "original_power",
    "expected_lifetime_cycles",
    "internal_resistance_initial",
)
STAGES = ("raw_material_and_preprocessing", "main_production", "distribution", "end_of_life")


def _choose(story: Story) -> tuple[str, str]:
    """A battery in service as placed on the market: not the one given a second life, not the
    recycled one."""
    ids: Mapping[str, str] = story.shared["passport.ids"]
    skip = {story.shared.get("passport.recycled")}
    repurposed = story.shared.get("passport.repurposed") or {}
    skip |= {repurposed.get("old"), repurposed.get("new")}
    for entry in story.summary.get("batteries", []):
        if entry["id"] not in skip and entry.get("status") == "original":
            return str(entry["id"]), str(entry["passport_id"])
    uri = next(u for u in ids if u not in skip)
    return uri, ids[uri]


def _share(value: Any) -> Decimal | None:
    """A ``{"value", "unit": "%"}`` data point as a fraction (w/w)."""
    if not isinstance(value, dict) or value.get("value") is None:
        return None
    return Decimal(str(value["value"])) / 100


def _pact_footprint(story: Story, footprint_id: str) -> dict[str, Any]:
    """The pack footprint as any PACT client reads it from the car maker's PACT API."""
    creds = story.call("POST", NODE, "/v1/footprints/pact/clients", json={"name": "compliance check"}).json()
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    token = story.call(
        "POST",
        NODE,
        "/pact/auth/token",
        admin=False,
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    doc = story.call(
        "GET", NODE, f"/pact/3/footprints/{footprint_id}", admin=False, headers={"Authorization": f"Bearer {token}"}
    ).json()["data"]
    return dict(doc)


def _footprint(story: Story, data: Mapping[str, Any]) -> dict[str, Any] | None:
    pack = story.shared.get("footprint.pack")
    if pack is not None:
        doc = _pact_footprint(story, str(pack["document"]["id"]))
        ext = next((e["data"] for e in doc.get("extensions", []) if "perKwhLifetimeEnergy" in e.get("data", {})), None)
        if ext is None:
            raise InvariantViolation(
                "the pack footprint on the PACT API carries no per-kWh stage extension",
                field="extensions",
                rule="the footprint step serves the Annex II split with the document",
            )
        per_kwh = Decimal(ext["perKwhLifetimeEnergy"]["kgCo2ePerKwh"])
        total = sum(Decimal(v) for v in ext["stages"].values() if v is not None)
        pcf = doc["pcf"]
        return {
            "kg_co2e_per_kwh": str(per_kwh),
            # per-kWh share of each stage: the stage's kg per pack scaled like the total
            "stages": {s: (None if (v := ext["stages"].get(s)) is None else str(Decimal(v) / total * per_kwh))
                       for s in STAGES},
            "source_format": "pact-v3",
            "primary_data_share": None if pcf.get("primaryDataShare") is None
            else str(Decimal(pcf["primaryDataShare"]) / 100),
            "reference_period_end": pcf["referencePeriodEnd"][:10],
        }  # fmt: skip
    cf = data.get("carbon_footprint")
    if not isinstance(cf, dict) or cf.get("value") is None:
        return None
    stages = data.get("carbon_footprint_stages") or {}
    return {"kg_co2e_per_kwh": str(cf["value"]), "stages": {s: stages.get(s) for s in STAGES}}


def _recycled(story: Story, battery: str) -> tuple[str | None, dict[str, Any]]:
    groups = story.call("GET", NODE, "/v1/ledger/recycled-content", params={"battery": battery}).json()
    if not groups:
        return None, {}
    group = groups[0]
    out: dict[str, Any] = {}
    for symbol, share in group["elements"].items():
        metal = METALS.get(symbol)
        if metal is None or share["pre_consumer"] is None or share["post_consumer"] is None:
            continue  # unknown (no supplier summary yet): not documented, never 0 %
        models: Mapping[str, float] = share.get("custody_models") or {}
        out[metal] = {
            "pre_consumer": str(share["pre_consumer"]),
            "post_consumer": str(share["post_consumer"]),
            "custody_model": max(models, key=lambda m: models[m]) if models else None,
            "period": str(group["batch"]),
            "site": group["plant"],
            "basis": share["basis"],  # the ledger's Art. 8 figure, as the passport and the API show it
        }
    return str(group["model"]), out


def _subject(story: Story, battery: str, passport: Mapping[str, Any], has_qr: bool) -> dict[str, Any]:
    data: Mapping[str, Any] = passport["data"]
    model_id, recycled = _recycled(story, battery)
    metals = {m.lower() for m in data.get("critical_raw_materials", [])} | {m for m in recycled}
    model: dict[str, Any] = {
        "model_id": model_id or str(data.get("model_name")),
        "category": data["category"],
        "capacity_kwh": str(data["rated_energy"]["value"]),
        "cadmium_share": None if (cd := _share(data.get("cadmium_share"))) is None else str(cd),
        "lead_share": None if (pb := _share(data.get("lead_share"))) is None else str(pb),
        "footprint": _footprint(story, data),
        "recycled": recycled,
        "performance_documented": all(data.get(k) is not None for k in PERFORMANCE),
        "metals_present": sorted(metals & set(METALS.values())),
    }
    filled = sorted(name for point, name in DATA_POINTS.items() if data.get(point) not in (None, {}, []))
    return {
        "battery_id": battery,
        "model": model,
        "has_passport": True,
        "has_qr_code": has_qr,
        "status": passport["status"],
        "filled_data_points": filled,
        "access_tiers": list(passport.get("tiers", [])),
        "due_diligence_report_linked": bool(data.get("due_diligence_report")),
    }


def run(story: Story) -> None:
    battery, passport_id = _choose(story)
    pid = passport_id.removeprefix("urn:uuid:")
    passport = story.call("GET", NODE, f"/v1/passports/{pid}", headers={"Accept": "application/json"}).json()
    has_qr = story.call("GET", NODE, f"/v1/passports/{pid}/qr.svg", expect=(200, 404)).status_code == 200
    subject = _subject(story, battery, passport, has_qr)

    findings: list[dict[str, Any]] = []
    counts: dict[str, Counter[str]] = {}
    for at in DATES:
        body = {"subject": subject, "at": at}
        report = story.call("POST", NODE, "/v1/compliance/evaluate", json=body).json()
        html = story.call("POST", NODE, "/v1/compliance/report", params={"format": "html"}, json=body).text
        json_path, html_path = f"compliance/{at}/report.json", f"compliance/{at}/report.html"
        story.artefact(None, json_path, report)
        story.artefact(None, html_path, html)
        story.summary["artefacts"].setdefault("compliance", []).append({"at": at, "json": json_path, "html": html_path})
        for f in report["findings"]:
            findings.append({"rule": f["rule"], "status": f["status"], "at": at, "values": f["values"]})
        counts[at] = Counter(f["status"] for f in report["findings"])
    story.story["findings"] = findings
    _show(story, battery, subject, findings, counts)


def _show(
    story: Story,
    battery: str,
    subject: Mapping[str, Any],
    findings: list[dict[str, Any]],
    counts: Mapping[str, Counter[str]],
) -> None:
    keys = (
        "passport.scope.ev",
        "labelling.qr_code",
        "passport.launch.not_yet_required",
        "footprint.declaration.ev",
        "footprint.annex_ii.stages",
        "recycled.minimum.phase1",
        "recycled.minimum.phase2",
        "due_diligence.report",
    )
    table = Table(title=f"Compliance of {battery.rsplit('/', 1)[-1]} ({subject['model']['model_id']}, eu-carmaker)")
    table.add_column("rule")
    for at in DATES:
        table.add_column(at)
    style = {"pass": "green", "fail": "red"}
    for rule in keys:
        cells = []
        for at in DATES:
            got = [f for f in findings if f["rule"] == rule and f["at"] == at]
            if not got:
                cells.append("–")
                continue
            statuses = Counter(f["status"] for f in got)
            cells.append(
                ", ".join(
                    f"[{style.get(s, 'yellow')}]{s}[/]" + (f" ×{n}" if n > 1 else "") for s, n in statuses.items()
                )
            )
        table.add_row(rule, *cells)
    story.console.print(table)
    for at in DATES:
        c = counts[at]
        story.console.print(
            f"{at}: {c['pass']} pass, {c['fail']} fail, {c['not yet required']} not yet required, "
            f"{c['not yet determinable']} not yet determinable — reports in compliance/{at}/"
        )
