"""Demo step ``compliance``: one passport's compliance with the EU's and Japan's rules at three
dates — the passport launch (2027-02-18) and the recycled-content minimums of phase 1
(2031-08-18) and phase 2 (2036-08-18) — with the evidence each finding was judged on and the
recognition rule that made a certificate from the other ecosystem count.

The battery is the one the ledger step traced (its recycled content, its certified claims), when
it is still in service as placed on the market.

- **EU**: ``eu-carmaker``, its economic operator, asks its own node (``GET
  /v1/passports/{id}/compliance?market=EU&at=...``, admin key): the node reads the stored passport,
  its ledger's Art. 8 figures of the battery's model, year and plant, the pack footprint it
  declared on its PACT API, and the credentials the passport carries, its upstream summary brought
  and its wallet holds about the battery, each verified now. The Ouranos-certified cell CFP counts
  as a verified footprint declaration through the car maker's rule ``ouranos-cfp-as-cx-pcf``; the
  JP certifier's origin and recycled-content claims count for due diligence through
  ``ouranos-origin`` / ``ouranos-recycled-content``; the revoked claim is listed as refused.
- **JP**: ``jp-hub``, the Japanese side, reads the same passport from the car maker's resolver
  over HTTPS with its own access-role credential (``legitimate_interest``, issued by
  ``eu-certifier``, the demo's role issuer; a ``vp+jwt`` for the car maker's DID and nonce) and
  evaluates it for the Japanese market (``GET /v1/passports/{url}/compliance?market=JP``). The
  Catena-X-certified PCF the passport carries counts for Japanese purposes through the hub's rule
  ``cx-pcf-as-ouranos-cfp``; the Ouranos CFP counts natively.
- ``eu-recycler`` gets a ``legitimate_interest`` access-role credential too (from the same
  issuer): its console user opens the car maker's passports at that tier (docs/console.md).

Artefacts: ``compliance/<date>/report.json`` and ``report.html`` (EU) per date, listed under
``summary.artefacts.compliance`` as ``{"at", "json", "html"}``, and ``compliance/jp/<date>/report.json``
and ``report.html``. ``summary.story.findings`` gets the EU findings ``[{rule, status, at, values}]``;
``summary.story.compliance`` the counts per market and date (README "What the demo shows").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story

__all__ = ["DATES", "run"]

NODE = "eu-carmaker"
JP_NODE = "jp-hub"
RECYCLER = "eu-recycler"
ROLE_ISSUER = "eu-certifier"
#: the passport launch, recycled-content minimums phase 1 and phase 2 (Regulation (EU) 2023/1542 Art. 77(1), 8(2), 8(3))
DATES = ("2027-02-18", "2031-08-18", "2036-08-18")
#: the finding statuses counted in ``story.compliance`` (key → status)
COUNTED: Mapping[str, str] = {
    "pass": "pass",
    "fail": "fail",
    "not_yet_required": "not yet required",
    "not_yet_determinable": "not yet determinable",
}


def _choose(story: Story) -> tuple[str, str, str]:
    """The traced battery if it is in service as placed on the market, else the first such one:
    not the one given a second life, not the recycled one. Returns (battery, passport id, URL)."""
    skip = {story.shared.get("passport.recycled")}
    repurposed = story.shared.get("passport.repurposed") or {}
    skip |= {repurposed.get("old"), repurposed.get("new")}
    traced = (story.story.get("trace") or {}).get("battery")
    entries = [e for e in story.summary.get("batteries", []) if e["id"] not in skip and e.get("status") == "original"]
    entries.sort(key=lambda e: e["id"] != traced)
    if not entries:
        raise InvariantViolation("no battery in service as placed on the market", rule="demo.compliance")
    e = entries[0]
    return str(e["id"]), str(e["passport_id"]), str(e.get("passport_url") or e["id"])


def _counts(report: Mapping[str, Any]) -> dict[str, int]:
    statuses = Counter(f["status"] for f in report["findings"])
    out = {key: statuses.get(status, 0) for key, status in COUNTED.items()}
    out["evidence_recognised"] = int(report["evidence_recognised"])
    return out


def _readers(story: Story) -> None:
    """The hub, reading passports for the Japanese side, and the recycler, which dismantles the
    car maker's batteries, each hold an access-role credential for the legitimate-interest tier
    (the demo has no authority node: the Catena-X operator issues roles). The recycler's console
    user opens the car maker's passports with it (docs/console.md "Open a passport")."""
    readers = {JP_NODE: "Japanese importer (demo, via jp-hub)", RECYCLER: "Kreislauf Recycling GmbH (dismantler)"}
    for name, organisation in readers.items():
        if name not in story.nodes:
            continue
        subject = {"id": story.node(name).did, "role": "legitimate_interest", "organisation": organisation}
        body = {"type": "AccessRoleCredential", "subject": subject, "format": "vc+jwt"}
        issued = story.call("POST", ROLE_ISSUER, "/v1/credentials/issue", json=body, expect=(201,)).json()
        story.call("POST", name, "/v1/credentials/wallet", json={"credential": issued["credential"]}, expect=(201,))


def run(story: Story) -> None:
    battery, passport_id, url = _choose(story)
    pid = passport_id.removeprefix("urn:uuid:")
    _readers(story)
    findings: list[dict[str, Any]] = []
    counts: dict[str, dict[str, dict[str, int]]] = {"EU": {}, "JP": {}}
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    sides = (("EU", NODE, pid, "compliance"), ("JP", JP_NODE, quote(url, safe=""), "compliance/jp"))
    for market, node, ref, folder in sides:
        for at in DATES:
            params = {"at": at, "market": market}
            path = f"/v1/passports/{ref}/compliance"
            report = story.call("GET", node, path, params=params).json()
            html = story.call("GET", node, path, params={**params, "format": "html"}).text
            json_path, html_path = f"{folder}/{at}/report.json", f"{folder}/{at}/report.html"
            story.artefact(None, json_path, report)
            story.artefact(None, html_path, html)
            if market == "EU":
                entry = {"at": at, "json": json_path, "html": html_path}
                story.summary["artefacts"].setdefault("compliance", []).append(entry)
                findings += [{"rule": f["rule"], "status": f["status"], "at": at, "values": f["values"]}
                             for f in report["findings"]]  # fmt: skip
            counts[market][at] = _counts(report)
            reports[(market, at)] = report
    story.story["findings"] = findings
    story.story["compliance"] = counts
    _show(story, battery, reports, counts)


#: the rows the console shows per market (rule → label)
SHOWN: Mapping[str, tuple[str, ...]] = {
    "EU": (
        "passport.scope.ev",
        "footprint.declaration.ev",
        "recycled.minimum.phase1",
        "recycled.minimum.phase2",
        "due_diligence.materials",
    ),
    "JP": ("jp.cfp.method", "jp.cfp.verification", "jp.recycled.minimum", "jp.due_diligence.guideline"),
}


def _show(
    story: Story,
    battery: str,
    reports: Mapping[tuple[str, str], Mapping[str, Any]],
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> None:
    style = {"pass": "green", "fail": "red"}
    for market, who in (("EU", NODE), ("JP", JP_NODE)):
        table = Table(title=f"{market} compliance of {battery.rsplit('/', 1)[-1]} (evaluated by {who})")
        table.add_column("rule")
        for at in DATES:
            table.add_column(at)
        table.add_column("evidence (recognition rule)")
        for rule in SHOWN[market]:
            cells, evidence = [], ""
            for at in DATES:
                got = [f for f in reports[(market, at)]["findings"] if f["rule"] == rule]
                statuses = Counter(f["status"] for f in got)
                cells.append(
                    ", ".join(
                        f"[{style.get(s, 'yellow')}]{s}[/]" + (f" ×{n}" if n > 1 else "") for s, n in statuses.items()
                    )
                    or "–"
                )
                named = {
                    e["source"].split(" (", 1)[0]
                    + (f" ({e['recognition'].split(' ', 1)[0]})" if e.get("recognition") else "")
                    for f in got
                    for e in f["evidence"]
                }
                evidence = "; ".join(sorted(named)) or evidence
            table.add_row(rule, *cells, evidence)
        story.console.print(table)
        for at in DATES:
            c = counts[market][at]
            story.console.print(
                f"{market} {at}: {c['pass']} pass, {c['fail']} fail, {c['not_yet_required']} not yet required, "
                f"{c['not_yet_determinable']} not yet determinable, {c['evidence_recognised']} counting a recognised "
                "certificate"
            )
