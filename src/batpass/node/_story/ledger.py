"""Demo step ``ledger``: the car maker records the seeded supply chain and traces a battery.

The story's actor is ``eu-carmaker``, the economic operator of the passports. As a client it
generates the fixed, seeded demo scenario (:func:`batpass.scenario.generate`, about 200
batteries, their GS1 Digital Link ids on the car maker's resolver) and records it over HTTPS on
its own node (``POST /v1/ledger/events``), after the export authorisations the outflow watch
checks shipments against (``POST /v1/ledger/authorisations``). Then it verifies the hash chain
and batch signatures (``GET /v1/ledger/verify``), traces one battery upstream to the mines
(``GET /v1/ledger/trace/...``), reads that battery's Art. 8 recycled content
(``GET /v1/ledger/recycled-content``), the outflow alerts (``GET /v1/ledger/outflows``: the
black mass shipped to Korea outside its authorisation), and provokes a double claim of recycled
cobalt at the recycler's credit account (``POST /v1/ledger/claims`` twice for the same
kilograms, ``GET /v1/ledger/double-claims``).

In this round ``eu-carmaker`` is the only node recording the whole chain, in its own partition
(``generate(owner=...)``): mines, refiners, Japanese makers and the recycler all book into it, so
the trace is local (no supplier tier crossed between nodes) and the recycler's credit accounts
live in that partition too. The bridge issue splits the chain across nodes later (Ouranos
operators on ``jp-hub``, the recycler's accounts on ``eu-recycler``), and the federated trace
then crosses them.

Writes ``story.trace``, ``story.recycled_content``, ``story.outflows`` and
``story.double_claims`` (DESIGN section 9); hands ``ledger.owner`` and ``ledger.batteries`` on
through ``story.shared``. Talks to the node over HTTPS only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.node._story._context import Story
from batpass.scenario import generate

__all__ = ["run"]

NODE = "eu-carmaker"
#: events per ``POST /v1/ledger/events``: each request is one transaction on the node
BATCH = 500
#: the elements whose origin the story shows (the Annex X due-diligence raw materials and Mn)
ORIGIN_ELEMENTS = ("Li", "Co", "Ni", "Mn", "C_nat")
#: the elements Art. 8 sets recycled-content shares for
RECYCLED_ELEMENTS = ("Co", "Li", "Ni", "Pb")


def run(story: Story) -> None:
    car = story.node(NODE)
    owner = car.did
    sc = generate(owner=owner, resolver=car.base_url)
    story.scenario = sc
    story.shared["ledger.owner"] = owner
    story.shared["ledger.batteries"] = list(sc.battery_ids)

    # authorisations first: the watch checks each shipment when it is recorded
    for auth in sc.authorisations:
        story.call("POST", NODE, "/v1/ledger/authorisations", json=auth, expect=(201,))
    # eu-carmaker is the only node recording the whole chain in this round (one partition, every
    # company's events); the bridge issue splits it across nodes later (jp-hub, eu-recycler)
    recorded = 0
    for part in _batches(sc.events, BATCH):
        body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in part)
        res = story.call(
            "POST", NODE, "/v1/ledger/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        ).json()
        recorded += res["recorded"] + res["replayed"]
    if recorded != len(sc.events):
        raise InvariantViolation(
            f"{NODE} acknowledged {recorded} of {len(sc.events)} events", rule="demo.ledger.recorded"
        )

    verify = story.call("GET", NODE, "/v1/ledger/verify", params={"owner": owner}).json()
    if not verify["ok"] or verify["events"] != len(sc.events):
        raise InvariantViolation(
            f"ledger verify on {NODE}: {verify['events']} events, problems {verify['problems'][:3]}",
            rule="demo.ledger.verify",
        )

    battery = _battery_with_recycled_content(sc.battery_ids)
    trace = story.call("GET", NODE, "/v1/ledger/trace/" + quote(battery, safe=""), params={"owner": owner}).json()
    story.artefact(None, "ledger/trace.json", trace)
    story.story["trace"] = _trace_summary(battery, trace)

    groups = story.call("GET", NODE, "/v1/ledger/recycled-content", params={"owner": owner, "battery": battery}).json()
    if len(groups) != 1:
        raise InvariantViolation(
            f"{battery} belongs to {len(groups)} model/year/plant groups, expected 1", rule="demo.ledger.recycled"
        )
    # Art. 8 declares recycled content per model, year and plant: the battery's group figure
    group = groups[0]
    story.story["recycled_content"] = {
        "battery": battery,
        "shares": {
            el: {"pre": v["pre_consumer"], "post": v["post_consumer"]}
            for el, v in group["elements"].items()
            if el in RECYCLED_ELEMENTS
        },
    }

    flows = story.call("GET", NODE, "/v1/ledger/outflows", params={"owner": owner}).json()
    story.story["outflows"] = [{"shipment": f["shipment"], "rule": f["rule"], "evidence": f["evidence"]} for f in flows]
    if sc.black_mass_shipment not in {f["shipment"] for f in flows}:
        raise InvariantViolation(
            f"the black-mass shipment {sc.black_mass_shipment} was not flagged by the outflow watch",
            rule="demo.ledger.outflow",
        )

    story.story["double_claims"] = _double_claim(story, owner, trace, battery, sc.battery_ids)

    _show(story, verify, trace, group, flows)


def _batches(events: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(events), size):
        yield events[i : i + size]


def _battery_with_recycled_content(battery_ids: Sequence[str]) -> str:
    """The last battery built: its round used salts recovered from earlier rounds' batteries,
    so its trace shows recycled shares as well as mines."""
    return battery_ids[-1]


def _trace_summary(battery: str, trace: dict[str, Any]) -> dict[str, Any]:
    """DESIGN section 9 ``story.trace`` from a local trace: no supplier tier is crossed between
    nodes (``hops`` 0, only this node on the path, no tombstones). The shares are those of the
    due-diligence raw materials (Annex X: Co, natural graphite, Li, Ni) and Mn; ``complete`` is
    true when each of them is known all the way to a mine (no unknown share). Copper and
    aluminium foils come from a supplier outside the network without a summary, so their origin
    is unknown and is not shown."""
    els = trace["elements"]
    shown = [el for el in ORIGIN_ELEMENTS if el in els]
    return {
        "battery": battery,
        "complete": bool(shown) and all(els[el]["unknownShare"] <= 1e-9 for el in shown),
        "hops": 0,
        "path_nodes": [NODE],
        "mines_reached": trace["mines_reached"],
        "tombstones": [],
        "shares_by_country": {el: els[el]["originByCountry"] for el in shown},
        "high_risk_share": {el: els[el]["highRiskShare"] for el in shown},
    }


def _double_claim(
    story: Story, owner: str, trace: dict[str, Any], battery: str, battery_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The car maker allocates all recycled cobalt of one recovered lot in the traced battery's
    history to that battery's passport, then claims part of the same kilograms again for another
    battery: the account, kept where the recovered lot was recorded, catches the second claim.
    (In this round that is the car maker's partition; later the recycler's own node.)"""
    recovered = next(
        (
            lot
            for lot in trace["lots"]
            if lot["kind"] == "recovery" and lot["recycled"] is not None and lot["material"] == "cobalt_sulphate"
        ),
        None,
    )
    if recovered is None:
        raise InvariantViolation(f"no recovered cobalt lot upstream of {battery}", rule="demo.ledger.double-claim")
    lot = story.call("GET", NODE, f"/v1/ledger/lots/{recovered['id']}", params={"owner": owner}).json()
    # rounded down to the gram: the first claim must fit the account exactly
    credited = math.floor(lot["mass_kg"] * lot["composition"]["Co"] * 1000) / 1000
    other = next(b for b in reversed(battery_ids) if b != battery)
    claim = {"lot": recovered["id"], "element": "Co", "claimant": owner, "custody": "mass_balance"}
    story.call(
        "POST",
        NODE,
        "/v1/ledger/claims",
        params={"owner": owner},
        json=dict(claim, id="demo-claim-1", kg=credited, subject=battery),
        expect=(201,),
    )
    story.call(
        "POST",
        NODE,
        "/v1/ledger/claims",
        params={"owner": owner},
        json=dict(claim, id="demo-claim-2", kg=round(credited * 0.1, 3), subject=other),
        expect=(409,),
    )
    found = story.call("GET", NODE, "/v1/ledger/double-claims", params={"owner": owner}).json()
    return [{"account": d["account"], "lot": d["lot"], "claims": d["claims"]} for d in found]


def _evidence(ev: Any) -> str:
    """One line of an outflow alert's evidence: what left, from where to where, under what."""
    if not isinstance(ev, dict):
        return str(ev)
    auths = "; ".join(f"{a.get('id')} → {', '.join(a.get('destinations', []))}" for a in ev.get("authorisations", []))
    return (
        f"{ev.get('quantity_kg', '?')} kg {ev.get('material', '?')} {ev.get('from_country', '?')} → "
        f"{ev.get('destination_country', '?')} ({ev.get('document', '?')}); authorised: {auths or 'none'}"
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _show(
    story: Story, verify: dict[str, Any], trace: dict[str, Any], group: dict[str, Any], flows: list[dict[str, Any]]
) -> None:
    c = story.console
    tr = story.story["trace"]
    c.print(
        f"[bold]ledger[/] on {NODE}: {verify['events']} events in {verify['batches']} signed batches, "
        f"verify {'[green]ok[/]' if verify['ok'] else '[red]FAILED[/]'}; "
        f"{len(story.shared['ledger.batteries'])} batteries"
    )
    origin = Table(title=f"origin of {tr['battery']} ({trace['graph_lots']} lots, {tr['mines_reached']} mines)")
    origin.add_column("element")
    origin.add_column("origin by country")
    origin.add_column("high-risk", justify="right")
    for el, by_country in tr["shares_by_country"].items():
        parts = ", ".join(f"{cc} {_pct(v)}" for cc, v in sorted(by_country.items(), key=lambda p: -p[1]))
        origin.add_row(el, parts, _pct(tr["high_risk_share"][el]))
    c.print(origin)
    rec = Table(title=f"recycled content (Art. 8) of {group['model']}, {group['year']}, plant {group['plant']}")
    rec.add_column("element")
    rec.add_column("basis")
    rec.add_column("pre-consumer", justify="right")
    rec.add_column("post-consumer", justify="right")
    rec.add_column("this battery (trace, post)", justify="right")
    for el, s in story.story["recycled_content"]["shares"].items():
        here = trace["elements"].get(el, {}).get("activeRecycled", {}).get("postConsumer")
        rec.add_row(
            el, group["elements"][el]["basis"], _pct(s["pre"]), _pct(s["post"]), _pct(here) if here is not None else "—"
        )
    c.print(rec)
    out = Table(title="flagged outflows")
    out.add_column("shipment")
    out.add_column("rule")
    out.add_column("evidence")
    for f in flows:
        out.add_row(f["shipment"], f["rule"], _evidence(f["evidence"]))
    c.print(out)
    for d in story.story["double_claims"]:
        c.print(f"[red]double claim[/] on account {d['lot']} ({len(d['claims'])} claims)")
