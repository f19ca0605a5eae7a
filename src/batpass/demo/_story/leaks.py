"""Demo step ``leaks``: did anything about the companies above the cell maker reach the car
maker? (docs/architecture.md "Confidentiality".)

``eu-carmaker`` ran the whole story with its payload log on (config ``payload_log``, see
:mod:`batpass.http._payload_log`): every request it received and every answer to a call it
made. The scan (:mod:`batpass.demo._leak_scan`) plants canaries from the seeded scenario and
the federation: the names, codes, sites, DIDs, BPNLs and corporate numbers of every company
above the cell maker (its direct supplier, whose identity the car maker knows) — the refiners,
the precursor and cathode makers, the mines — and of the nodes and hub operators that record
them, every lot quantity of theirs and every quantity the cell maker received, each also in
other units. The recycler and the car maker itself are known to the car maker and excluded
(the recycler sells into the chain, but the car maker deals with it directly).

Writes ``story.leak_scan`` (``payloads_scanned``, ``canaries``, ``leaks_found``; README "What the demo shows") and
``leaks/report.json`` (what was scanned, the rules, each leak with its canary redacted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batpass.core.errors import InvariantViolation
from batpass.demo._leak_scan import Canaries, scan, upstream_of
from batpass.demo._story._context import Story
from batpass.demo._story.federation import OPERATOR_BPNLS
from batpass.demo._story.ledger import CAR, HOSTS
from batpass.demo._story.ouranos import OPERATORS

__all__ = ["payload_log_path", "run"]

#: the car maker's direct supplier: its identity is known to the car maker
BOUNDARY = "osaka-cells"
#: companies the car maker deals with directly
KNOWN = ("rhein-auto", "rotterdam-recycling")


def payload_log_path(node_home: Path) -> Path:
    """Where the car maker's node logs what it receives (set before the node starts)."""
    return node_home / "payloads.jsonl"


def _identifiers(story: Story) -> dict[str, list[str]]:
    """Per company code, the identifiers of the node or hub operator that records it."""
    ops: dict[str, dict[str, Any]] = story.shared["ouranos.operators"]
    out: dict[str, list[str]] = {}
    for code, host in HOSTS.items():
        node, _, short = host.partition("/")
        if short:
            op = ops[short]
            hosted = next(o for o in OPERATORS if o.short == short)
            # the operator as the hub knows it: DID, corporate number, BPNL, name, plant
            ids = [op["did"], op["openOperatorId"], OPERATOR_BPNLS[short], hosted.name, hosted.plant_name]
        else:
            run = story.node(node)
            cfg = run.node.config
            ids = [run.did, *(x for x in (cfg.bpnl, cfg.corporate_number, cfg.legal_name) if x)]
        out[code] = [str(x) for x in ids]
    return out


def run(story: Story) -> None:
    sc = story.scenario
    if sc is None:
        raise InvariantViolation("the leak scan needs the ledger step's scenario", rule="demo.leaks")
    above = upstream_of(sc, BOUNDARY, stop_at=KNOWN)
    canaries = Canaries.from_scenario(sc, above, boundary=BOUNDARY, identifiers=_identifiers(story), known=KNOWN)
    report = scan(payload_log_path(story.node(CAR).node.home), canaries)
    story.story["leak_scan"] = {k: report[k] for k in ("payloads_scanned", "canaries", "leaks_found")}
    story.artefact(None, "leaks/report.json", {**report, "above": sorted(above), "boundary": BOUNDARY})
    c = story.console
    colour = "green" if report["leaks_found"] == 0 else "red"
    c.print(
        f"[bold]leak scan[/] of {CAR}: {report['payloads_scanned']} payloads received, {report['canaries']} "
        f"canaries about {len(above)} companies above {BOUNDARY} — [{colour}]{report['leaks_found']} leaks[/]"
    )
    for leak in report["leaks"][:10]:
        c.print(f"  [red]leak[/] {leak['canary_kind']} {leak['canary']} in {leak['direction']} {leak['url']}")
