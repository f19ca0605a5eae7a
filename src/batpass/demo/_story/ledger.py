"""Demo step ``ledger``: every company records its own custody events on its own node, and the
car maker traces a battery to its mines through the bridge (docs/architecture.md "Flows", flows 1–2,
and "Confidentiality").

The seeded demo scenario (:func:`batpass.scenario.generate`, about 200 batteries, their GS1
Digital Link ids on the car maker's resolver base: the EU certifier's resolver role) is split by
owner (:data:`HOSTS`): the mines on
``cx-mines``, the Chinese refiners on ``cx-refining`` (Catena-X nodes), the Japanese refiner,
precursor/cathode maker and cell maker in their operators' partitions on ``jp-hub`` (Ouranos),
the pack maker on ``eu-carmaker`` and the recycler on ``eu-recycler``. Each node receives only
its own companies' events (``POST /v1/ledger/events``; shipments and receipts name the partner
by DID and the partner's lot id, nothing more) and the export authorisations of its holders
(``POST /v1/ledger/authorisations``), then verifies its chain and batch signatures
(``GET /v1/ledger/verify``).

The car maker then asks for the upstream summaries of the cells it received (``GET
/v1/trace/federated/{lot}``): its connector finds the cell maker's ``DataService`` — the
bridge — in the cell maker's DID document; the bridge asks the hub, which answers for the cell
maker from its partition, asking the cathode maker in-process and the Catena-X refiners, mines
and the recycler through the bridge with the operator's delegation. The summaries fold into the
car maker's ledger (every pack's origin and recycled shares follow). One battery's federated
trace is the story's ``trace``; the recycled content (Art. 8) is read from the car maker's
ledger; the outflow watch of the recycler (``warn``) flags the black mass shipped to Korea, while
the car maker's node (``block``) refuses its end-of-life packs shipped outside the OECD; and a double
claim of recycled cobalt is caught at the recycler's credit account.

The recycler's cobalt-sulphate exports are authorised by ``eu-authority``'s credential
(:mod:`batpass.demo._story.authority`), not self-declared.

Writes ``story.trace``, ``story.recycled_content``, ``story.outflows``, ``story.prevention``,
``story.authority``,
``story.recycling`` and ``story.double_claims`` (README "What the demo shows"); hands
``ledger.owner`` (the car maker's DID), ``ledger.batteries`` and ``ledger.hosts`` (company code → node name) on through
``story.shared``. Talks to the nodes over HTTPS only.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.demo._story import authority
from batpass.demo._story._context import Story
from batpass.demo._story._fold import fold_summaries
from batpass.ledger import decode_summary
from batpass.scenario import DEMO_LOTS, Scenario, generate

__all__ = ["HOSTS", "run"]

CAR = "eu-carmaker"
RECYCLER = "eu-recycler"
HUB = "jp-hub"
BRIDGE = "bridge"
#: events per ``POST /v1/ledger/events``: each request is one transaction on the node
BATCH = 500
#: the elements whose origin the story shows (the Annex X due-diligence raw materials and Mn)
ORIGIN_ELEMENTS = ("Li", "Co", "Ni", "Mn", "C_nat")
#: the elements Art. 8 sets recycled-content shares for
RECYCLED_ELEMENTS = ("Co", "Li", "Ni", "Pb")
#: where each company of the scenario records: a node, or a hub operator ``jp-hub/<short name>``
HOSTS: Mapping[str, str] = {
    "atacama-lithium": "cx-mines",
    "pilbara-spodumene": "cx-mines",
    "katanga-cobalt": "cx-mines",
    "kolwezi-artisanal": "cx-mines",
    "sulawesi-nickel": "cx-mines",
    "cabo-graphite": "cx-mines",
    "kalahari-manganese": "cx-mines",
    "jiangxi-refining": "cx-refining",
    "zhejiang-cobalt": "cx-refining",
    "niihama-refining": "jp-hub/jp-refiner",
    "kansai-precursor": "jp-hub/jp-cathode",
    "tokai-cathode": "jp-hub/jp-cathode",
    "osaka-cells": "jp-hub/jp-cellmaker",
    "rhein-auto": CAR,
    "rotterdam-recycling": RECYCLER,
}
#: federated traces in flight at once while the car maker folds its cells' summaries
PARALLEL = 4


def _owners(story: Story, hosts: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Company code → owner DID, and owner DID → the node that records it."""
    ops = story.shared["ouranos.operators"]
    owners: dict[str, str] = {}
    node_of: dict[str, str] = {}
    for code, host in hosts.items():
        node, _, short = host.partition("/")
        did = ops[short]["did"] if short else story.node(node).did
        owners[code] = did
        node_of[did] = node
    return owners, node_of


def run(story: Story) -> None:
    car = story.node(CAR)
    owner = car.did
    # a federation with fewer nodes (deploy/compose.yaml) presets where companies record and the
    # scenario's size
    hosts: Mapping[str, str] = story.shared.get("ledger.hosts", HOSTS)
    owners, node_of = _owners(story, hosts)
    sc = generate(lots=story.shared.get("ledger.lots", DEMO_LOTS), owners=owners, resolver=car.node.resolver_base)
    story.scenario = sc
    story.shared["ledger.owner"] = owner
    story.shared["ledger.batteries"] = list(sc.battery_ids)
    story.shared["ledger.hosts"] = dict(hosts)

    # authorisations first: each holder's watch checks its shipments when they are recorded; the
    # authority's credential stands in for the self-declared one it replaces
    replaced = authority.authorise(story, sc)
    for auth in sc.authorisations:
        if auth["id"] in replaced:
            continue
        story.call("POST", node_of[auth["holder"]], "/v1/ledger/authorisations", json=auth, expect=(201,))
    by_node: dict[str, list[dict[str, Any]]] = {}
    for e in sc.events:
        by_node.setdefault(node_of[e["owner"]], []).append(e)
    with ThreadPoolExecutor(max_workers=len(by_node)) as pool:
        recorded = dict(zip(by_node, pool.map(lambda n: _record(story, n, by_node[n]), by_node), strict=True))
    # the car maker's refused shipment before the chains are verified: the one verification of
    # each node then also shows that nothing of the refused call was written
    story.story["prevention"] = _prevention(story, sc, sorted(by_node))
    verified = {name: _verify(story, name, len(by_node[name])) for name in by_node}

    receipts = sorted(
        {
            str(o["lot"])
            for e in by_node[CAR]
            if e["kind"] == "receipt" and node_of.get(str(e["receipt"].get("from_owner", ""))) == HUB
            for o in e["outputs"]
        }
    )
    # every cell lot's summary folded before any figure is read: a trace cut by its deadline
    # (a loaded machine) is asked again, and a summary that never comes stops the step
    ask = functools.partial(_federated, story)
    told = functools.partial(_asked_again, story)
    folded = fold_summaries(ask, receipts, parallel=PARALLEL, on_retry=told)
    battery = _battery_with_recycled_content(sc.battery_ids)
    (result,) = fold_summaries(ask, [battery], parallel=1, on_retry=told)
    story.artefact(None, "ledger/federated-trace.json", result)
    trace = story.call("GET", CAR, "/v1/ledger/trace/" + quote(battery, safe="")).json()
    story.artefact(None, "ledger/trace.json", trace)
    story.story["trace"] = _trace_summary(story, battery, result, node_of)

    groups = story.call("GET", CAR, "/v1/ledger/recycled-content", params={"battery": battery}).json()
    if len(groups) != 1:
        raise InvariantViolation(
            f"{battery} belongs to {len(groups)} model/year/plant groups, expected 1", rule="demo.ledger.recycled"
        )
    # Art. 8 declares recycled content per battery model and batch per plant: the battery's group
    # figure, the one its passport, the API and the compliance report show (with its basis)
    group = groups[0]
    story.story["recycled_content"] = {
        "battery": battery,
        "basis": group["basis"],
        "model": group["model"],
        "batch": group["batch"],
        "plant": group["plant"],
        "shares": {
            el: {"pre": v["pre_consumer"], "post": v["post_consumer"], "unknown_mass_share": v["unknown_mass_share"]}
            for el, v in group["elements"].items()
            if el in RECYCLED_ELEMENTS
        },
    }

    flows: list[dict[str, Any]] = []
    if RECYCLER in story.nodes:  # the recycler's own node watches its outflows and keeps its credits
        flows = story.call("GET", RECYCLER, "/v1/ledger/outflows").json()
        if sc.black_mass_shipment not in {f["shipment"] for f in flows}:
            raise InvariantViolation(
                f"the black-mass shipment {sc.black_mass_shipment} was not flagged by the outflow watch",
                rule="demo.ledger.outflow",
            )
    story.story["outflows"] = [{"shipment": f["shipment"], "rule": f["rule"], "evidence": f["evidence"]} for f in flows]
    story.story["authority"] = authority.report(story, flows)
    story.story["double_claims"] = _double_claim(story, sc, battery) if RECYCLER in story.nodes else []
    story.story["recycling"] = _recycling(story) if RECYCLER in story.nodes else {}
    incomplete = [r for r in folded if not r["complete"]]
    _show(story, recorded, verified, result, group, flows, len(receipts), incomplete)


def _mode(story: Story, node: str) -> str:
    """The node's outflow mode as the demo configured it (``outflows.mode``, default ``warn``)."""
    cfg = story.node(node).node.config.extra.get("outflows") or {}
    return str(cfg.get("mode", "warn"))


def _prevention(story: Story, sc: Scenario, nodes: Sequence[str]) -> dict[str, Any]:
    """``story.prevention``: each recording node's outflow mode, and the shipments refused. The
    car maker's node blocks: its attempt to ship two end-of-life packs (hazardous waste from
    2026-11-09) to a buyer outside the OECD is refused with the rule, and nothing of the call is
    written (the waste lot does not exist; the verification of every node's chain, which
    :func:`run` asks after this, finds the scenario's events only)."""
    modes = {name: _mode(story, name) for name in nodes}
    blocked: list[dict[str, Any]] = []
    if modes.get(CAR) == "block" and sc.refused_attempt:
        res = story.call("POST", CAR, "/v1/ledger/events", json=sc.refused_attempt, expect=(422,))
        problem = res.json()
        alert, _, rule = str(problem.get("rule", "")).partition(" (")
        if not problem.get("type", "").endswith("/shipment-blocked") or not rule:
            raise InvariantViolation(
                f"the car maker's waste export was refused for another reason: {problem}", rule="demo.ledger.blocked"
            )
        waste_lot = sc.refused_attempt[-1]["inputs"][0]["lot"]
        story.call("GET", CAR, "/v1/ledger/lots/" + quote(waste_lot, safe=""), expect=(404,))
        blocked.append(
            {
                "shipment": sc.refused_shipment,
                "node": CAR,
                "rule": rule.rstrip(")"),
                "alert": alert,
                "status": res.status_code,
                "field": problem.get("field"),
            }
        )
    return {"mode_by_node": modes, "blocked": blocked}


def _recycling(story: Story) -> dict[str, Any]:
    """``story.recycling``: the recycler's efficiency and recovery computed from its own ledger
    (docs/recycling.md): a simplified estimate against Annex XII's dated targets, never a pass."""
    eff = story.call("GET", RECYCLER, "/v1/ledger/recycling-efficiency").json()
    return {
        RECYCLER: {
            "efficiency": eff["efficiency"],
            "recovery": {el: v["rate"] for el, v in eff["recovery"].items()},
            "basis": eff["basis"],
            "chemistry": eff["chemistry"],
            "efficiency_target": eff["efficiency_target"],
            "efficiency_indication": eff["efficiency_indication"],
            "recovery_targets": {el: v["target"] for el, v in eff["recovery"].items()},
            "input_kg": eff["input_kg"],
            "output_kg": eff["output_kg"],
        }
    }


def _record(story: Story, node: str, events: Sequence[dict[str, Any]]) -> int:
    done = 0
    for part in _batches(events, BATCH):
        body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in part)
        res = story.call(
            "POST", node, "/v1/ledger/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        ).json()
        done += res["recorded"] + res["replayed"]
    if done != len(events):
        raise InvariantViolation(f"{node} acknowledged {done} of {len(events)} events", rule="demo.ledger.recorded")
    return done


def _verify(story: Story, node: str, expected: int) -> dict[str, Any]:
    verify: dict[str, Any] = story.call("GET", node, "/v1/ledger/verify").json()
    if not verify["ok"] or verify["events"] != expected:
        raise InvariantViolation(
            f"ledger verify on {node}: {verify['events']} of {expected} events, problems {verify['problems'][:3]}",
            rule="demo.ledger.verify",
        )
    return verify


def _asked_again(story: Story, missing: Mapping[str, Sequence[str]]) -> None:
    """Say which lots' summaries the car maker asks for again, and why (late, never silent)."""
    reasons = sorted({r for rs in missing.values() for r in rs})
    story.console.print(
        f"[yellow]asked again[/]: the upstream summaries of {len(missing)} lot(s) ({'; '.join(reasons)})"
    )


def _federated(story: Story, subject: str, deadline_ms: float | None = None) -> dict[str, Any]:
    """The car maker's federated trace of ``subject`` (its suppliers' summaries fold into its
    ledger), within ``deadline_ms`` (None: the route's default)."""
    params = {} if deadline_ms is None else {"deadline_ms": deadline_ms}
    path = "/v1/trace/federated/" + quote(subject, safe="")
    out: dict[str, Any] = story.call("GET", CAR, path, params=params).json()
    return out


def _batches(events: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(events), size):
        yield events[i : i + size]


def _battery_with_recycled_content(battery_ids: Sequence[str]) -> str:
    """The last battery built: its round used salts recovered from earlier rounds' batteries,
    so its trace shows recycled shares as well as mines."""
    return battery_ids[-1]


def _trace_summary(story: Story, battery: str, result: dict[str, Any], node_of: Mapping[str, str]) -> dict[str, Any]:
    """``story.trace`` (README "What the demo shows") from the car maker's federated trace. The shares are
    those of the due-diligence raw materials (Annex X: Co, natural graphite, Li, Ni) and Mn, as
    the summary 2.0 gives them, shares of the element's mass: ``shares_by_country`` mined origin
    only, ``recycled_by_country`` recycled input by recycler country, ``unknown_share`` what no
    summary covers (the three sum to 1). ``complete`` is the federated trace's own: every branch
    answered (README "What the demo shows"), so ``ledger/federated-trace.json`` says the same; a branch outside the
    network (the foil supplier, which carries none of these elements) stays a tombstone with its
    reason and makes it false.
    ``path_nodes`` is what the story, as an observer of the whole federation, can see of the
    recursion: the car maker, the node serving its direct supplier (the bridge, for the hub's
    cell maker), the hub behind it, then every node whose connector answered an upstream-summary
    pull (provider-side transfers of that asset, from each node's management API), in the order
    they were first asked. The car
    maker's own answer names only its direct supplier."""
    els = decode_summary(result["summary"]).elements
    shown = [el for el in ORIGIN_ELEMENTS if el in els]
    path = [CAR]
    for did in result["path"][1:]:
        node = node_of.get(did, "")
        if node == HUB:
            path.extend([BRIDGE, HUB])
        elif node:
            path.append(node)
    served = {name: _served_upstream(story, name) for name in story.nodes if name not in path}
    path.extend(sorted((n for n, at in served.items() if at is not None), key=lambda n: served[n] or 0))
    return {
        "battery": battery,
        # every share below is of the element's mass in this one battery (its upstream summary)
        "basis": "battery_mass_balance",
        "complete": bool(result["complete"]),
        "hops": int(result["hops"]),
        "path_nodes": path,
        "mines_reached": int(result["mines_reached"]),
        "tombstones": [{"node": _tombstone_node(t), "reason": t["reason"]} for t in result["tombstones"]],
        "shares_by_country": {el: dict(els[el].mined_by_country or {}) for el in shown},
        "high_risk_share": {el: els[el].high_risk_share for el in shown},
        "recycled_by_country": {el: dict(els[el].recycled_by_country or {}) for el in shown},
        "unknown_share": {el: els[el].unknown_share for el in shown},
        # shares of the mined part from sites registers know as certified, flag, or do not know
        "sites": {
            el: {"certified": s.certified, "flagged": s.flagged, "unknown": s.unknown}
            for el in shown
            for s in (els[el].sites,)
        },
    }


def _tombstone_node(t: Mapping[str, Any]) -> str:
    """Who failed, as far as anyone may say: the car maker learns only the tier, and a supplier
    whose DID does not resolve is no node of the federation."""
    if "outside the dataspace" in str(t.get("reason", "")):
        return "outside the federation"
    return f"a tier-{t.get('tier', '?')} supplier"


def _served_upstream(story: Story, name: str) -> int | None:
    """When a Catena-X node's connector first served an upstream summary (its earliest
    provider-side transfer of that asset, ms since the epoch, from its management API), or None."""
    if "catena-x" not in story.node(name).node.config.profiles:
        return None
    query = {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "QuerySpec", "limit": 1000}
    rows = story.call("POST", name, "/management/v3/transferprocesses/request", json=query).json()
    times = [
        int(r.get("createdAt") or 0)
        for r in rows
        if str(r.get("assetId", "")).endswith("upstream-summary") and str(r.get("type", "")).upper() == "PROVIDER"
    ]
    return min(times) if times else None


def _double_claim(story: Story, sc: Scenario, battery: str) -> list[dict[str, Any]]:
    """The recycler keeps the credit account of every lot it recovered. The car maker claims, through
    its connector, all recycled cobalt of one recovered lot for the traced battery's passport; a
    second claim on the same kilograms (another battery) is caught there as a double claim."""
    recycler = story.node(RECYCLER).did
    recovered = next(
        (
            o
            for e in sc.events
            if e["owner"] == recycler and e["kind"] == "recovery"
            for o in e.get("outputs", ())
            if o.get("material") == "cobalt_sulphate"
        ),
        None,
    )
    if recovered is None:
        raise InvariantViolation("the recycler recovered no cobalt sulphate", rule="demo.ledger.double-claim")
    lot = story.call("GET", RECYCLER, f"/v1/ledger/lots/{recovered['lot']}").json()
    # rounded down to the gram: the first claim must fit the account exactly
    credited = math.floor(lot["mass_kg"] * lot["composition"]["Co"] * 1000) / 1000
    other = next(b for b in reversed(story.shared["ledger.batteries"]) if b != battery)
    # the car maker's connector debits the recycler's account (DSP agreement; the recycler
    # takes the claimant from the agreement, never from the claim)
    claim = {"recycler": recycler, "lot": recovered["lot"], "element": "Co", "custody": "mass_balance"}
    first = dict(claim, id="demo-claim-1", kg=credited, subject=battery)
    story.call("POST", CAR, "/v1/ledger/claims/remote", json=first, expect=(201,))
    second = dict(claim, id="demo-claim-2", kg=round(credited * 0.1, 3), subject=other)
    refused = story.call("POST", CAR, "/v1/ledger/claims/remote", json=second, expect=(409,)).json()
    if refused.get("claim", {}).get("status") != "double_claim":
        raise InvariantViolation(f"the second claim was refused for another reason: {refused}")
    found = story.call("GET", RECYCLER, "/v1/ledger/double-claims").json()
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


def _countries(by_country: Mapping[str, float]) -> str:
    return ", ".join(f"{cc} {_pct(v)}" for cc, v in sorted(by_country.items(), key=lambda p: -p[1])) or "-"


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{100 * x:.1f} %"


def _show(
    story: Story,
    recorded: Mapping[str, int],
    verified: Mapping[str, dict[str, Any]],
    result: dict[str, Any],
    group: dict[str, Any],
    flows: list[dict[str, Any]],
    cells: int,
    incomplete: list[dict[str, Any]],
) -> None:
    c = story.console
    tr = story.story["trace"]
    nodes = Table(title="custody events, each on its own node (hash chain and batch signatures verified)")
    for col in ("node", "events", "batches", "verify"):
        nodes.add_column(col)
    for name, n in recorded.items():
        v = verified[name]
        nodes.add_row(name, str(n), str(v["batches"]), "[green]ok[/]" if v["ok"] else "[red]FAILED[/]")
    c.print(nodes)
    c.print(
        f"{CAR} folded the upstream summaries of {cells} cell lots received from the hub's cell maker "
        f"({len(incomplete)} incomplete); {len(story.shared['ledger.batteries'])} batteries"
    )
    origin = Table(
        title=(
            f"federated trace of {tr['battery']}: {tr['hops']} supplier tiers, {tr['mines_reached']} mines, "
            f"{result['elapsed_ms']:.0f} ms — through {' → '.join(tr['path_nodes'])}"
        )
    )
    origin.add_column("element")
    origin.add_column("mined, by country")
    origin.add_column("recycled, by recycler country")
    origin.add_column("unknown", justify="right")
    origin.add_column("high-risk (of mined)", justify="right")
    for el, by_country in tr["shares_by_country"].items():
        origin.add_row(
            el,
            _countries(by_country),
            _countries(tr["recycled_by_country"][el]),
            _pct(tr["unknown_share"][el]),
            _pct(tr["high_risk_share"][el]),
        )
    c.print(origin)
    for t in tr["tombstones"]:
        c.print(f"[yellow]tombstone[/]: {t['reason']}")
    rec = Table(
        title=f"recycled content (Art. 8: model {group['model']}, batch {group['batch']}, plant {group['plant']})"
    )
    rec.add_column("element")
    rec.add_column("against")
    rec.add_column("pre-consumer", justify="right")
    rec.add_column("post-consumer", justify="right")
    for el, s in story.story["recycled_content"]["shares"].items():
        rec.add_row(el, group["elements"][el]["reference"], _pct(s["pre"]), _pct(s["post"]))
    c.print(rec)
    out = Table(title=f"flagged outflows ({RECYCLER})")
    out.add_column("shipment")
    out.add_column("rule")
    out.add_column("evidence")
    for f in flows:
        out.add_row(f["shipment"], f["rule"], _evidence(f["evidence"]))
    c.print(out)
    prevention = story.story.get("prevention", {})
    for b in prevention.get("blocked", []):
        c.print(
            f"[red]refused[/] at {b['node']} (outflows mode block): shipment {b['shipment']}, "
            f"{b['alert']} under {b['rule']} (HTTP {b['status']}, {b['field']}), nothing written"
        )
    for name, r in story.story.get("recycling", {}).items():
        c.print(
            f"recycling at {name} ({r['basis']}): efficiency {_pct(r['efficiency'])}, "
            + ", ".join(f"{el} recovered {_pct(v)}" for el, v in r["recovery"].items())
            + f" — {r['efficiency_indication']}"
        )
    for d in story.story["double_claims"]:
        c.print(f"[red]double claim[/] on {RECYCLER}'s account {d['lot']} ({len(d['claims'])} claims)")
