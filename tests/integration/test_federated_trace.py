"""Recursive federated trace across six real nodes over HTTPS (docs/architecture.md "Flows" 2 and "Confidentiality"):
mines → refining → precursor → cathode → cells → pack. The pack node asks only the cell node;
each tier asks its own suppliers through its DSP connector, recursively.

Order matters: the first test runs with the precursor node stopped (nothing received yet, so no
earlier summary stands in for it), then restarts it; the second traces the whole chain; the
third checks what the pack node holds afterwards; then the downstream recall question from a
mine lot, a new battery recorded at the pack (every tier's cached answer must give way) and the
pack node stopped (a tombstone at the cell node). The last ones give the question a deadline and
hang the precursor node (SIGSTOP), then kill it: only its branch is lost, at the deadline.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from batpass.demo._dataspace_setup import SUPPLY_CHAIN_NODES, SupplyChain, supply_chain_federation
from batpass.demo.harness import start_node, stop_node
from batpass.scenario import COMPANIES

pytestmark = pytest.mark.integration

ACTIVE = ("Li", "Ni", "Co", "Mn", "C_nat")
OUTSIDE = "supplier's DID does not resolve (outside the dataspace)"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupplyChain]:
    with supply_chain_federation(tmp_path_factory.mktemp("fedtrace")) as c:
        yield c


#: the deadline of the questions that are not about deadlines: a loaded machine (two test workers
#: beside other work) can spend the 10 s default before a branch's own answer — a stopped node's
#: refused connection — comes back, and the branch then reads "deadline exceeded"
UNHURRIED_MS = 60_000


def _trace(chain: SupplyChain, battery: str) -> dict[str, object]:
    pack = chain.nodes["pack"]
    url = pack.base_url + "/v1/trace/federated/" + quote(battery, safe="") + f"?deadline_ms={UNHURRIED_MS}"
    with chain.client() as c:
        r = c.get(url, headers=pack.admin_headers(), timeout=UNHURRIED_MS / 1000 + 30)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_a_middle_node_down_leaves_a_tombstone_and_the_rest_stands(chain: SupplyChain) -> None:
    precursor = chain.nodes["precursor"]
    stop_node(precursor)
    try:
        out = _trace(chain, chain.scenario.battery_ids[0])
    finally:
        start_node(precursor)
    tombstones = out["tombstones"]
    assert isinstance(tombstones, list)
    # the cathode node (tier 2 from the pack) could not reach its precursor supplier: tier 3
    down = [t for t in tombstones if t["reason"] == "supplier unreachable"]
    assert down and {t["tier"] for t in down} == {3}, tombstones
    assert out["complete"] is False
    # lithium (refining → cathode) and graphite (refining → cells) still reach their mines
    shares = out["shares_by_country"]
    assert isinstance(shares, dict)
    assert abs(_parts(out, "Li") - 1) < 1e-9 and set(shares["Li"]) == {"CL", "AU"}
    assert set(shares["C_nat"]) == {"MZ"}
    assert "Co" not in shares or not shares["Co"]  # cobalt came only through the precursor
    assert 0 < int(str(out["mines_reached"])) < 7


def _parts(out: dict[str, object], el: str) -> float:
    mined, recycled, unknown = out["shares_by_country"], out["recycled_by_country"], out["unknown_share"]
    assert isinstance(mined, dict) and isinstance(recycled, dict) and isinstance(unknown, dict)
    return float(sum(mined[el].values()) + sum(recycled[el].values()) + unknown[el])


def test_trace_from_a_pack_battery_reaches_every_mine(chain: SupplyChain) -> None:
    out = _trace(chain, chain.scenario.battery_ids[3])
    assert int(str(out["hops"])) >= 5
    assert out["mines_reached"] == 7
    assert out["path"] == [chain.nodes["pack"].did, chain.nodes["cells"].did]
    shares = out["shares_by_country"]
    assert isinstance(shares, dict)
    for el in ACTIVE:
        # summary 2.0: mined, recycled and unknown shares of the element's mass sum to 1
        assert abs(_parts(out, el) - 1) < 1e-9, (el, shares[el])
    assert set(shares["Co"]) == {"CD"} and set(shares["Ni"]) == {"ID"} and set(shares["Mn"]) == {"ZA"}
    high = out["high_risk_share"]
    assert isinstance(high, dict) and 0.05 < high["Co"] < 0.3 and high["Li"] == 0
    # the only branches missing are the cell maker's foil supplier, which is outside the dataspace
    tombstones = out["tombstones"]
    assert isinstance(tombstones, list) and tombstones
    assert all(t == {"tier": 2, "reason": OUTSIDE} for t in tombstones)


def test_the_pack_node_learns_nothing_above_the_cell_node(chain: SupplyChain) -> None:
    out = _trace(chain, chain.scenario.battery_ids[5])
    assert out["mines_reached"] == 7
    above = [r for role, r in chain.nodes.items() if role in ("mining", "refining", "precursor", "cathode")]
    canaries: set[str] = set()
    for r in above:
        host = f"{r.node.config.host}:{r.node.config.port}"
        canaries |= {r.did, host, quote(host, safe=""), r.name, r.node.config.bpnl or r.did}
        for code in SUPPLY_CHAIN_NODES[r.name.removeprefix("fed-")]:
            c = COMPANIES[code]
            canaries |= {c.code, c.name, c.site, c.did}
    pack = chain.nodes["pack"]
    db = Path(pack.node.home) / "node.db"
    con = sqlite3.connect(db)
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    text = dump + repr(out)
    leaked = sorted(c for c in canaries if c in text)
    assert not leaked, leaked
    # the canary check can fail: the cell node's DID (a direct supplier) is known to the pack
    assert chain.nodes["cells"].did in dump


def _outside(status: dict[str, Any]) -> int:
    return sum(x.get("reason") == OUTSIDE for x in status["channels"])


def _consumer_negotiations(run: Any) -> int:
    con = sqlite3.connect(Path(run.node.home) / "node.db")
    try:
        return int(con.execute("SELECT count(*) FROM dsp_negotiations WHERE role = 'consumer'").fetchone()[0])
    finally:
        con.close()


def test_every_node_keeps_its_partners_channels_ready_and_a_trace_negotiates_nothing(chain: SupplyChain) -> None:
    """Each node's keeper opens the channel to every partner its ledger names (suppliers'
    upstream summaries, customers' recall answers) without a question asking; a trace of a
    battery never traced before then opens no channel on any tier."""
    deadline = time.monotonic() + 90  # a partner found down earlier is tried again with back-off
    with chain.client() as c:
        while True:
            status = {
                role: c.get(r.base_url + "/v1/federation/channels", headers=r.admin_headers()).json()
                for role, r in chain.nodes.items()
            }
            # every channel open, but the cell maker's foil supplier's: outside the dataspace
            if all(s["running"] and s["wanted"] and s["ready"] == s["wanted"] - _outside(s) for s in status.values()):
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
    # the pack asks its cell supplier; the mines answer recalls to no one below them but the refiner
    assert {(x["partner"], x["asset"]) for x in status["pack"]["channels"]} >= {
        (chain.nodes["cells"].did, "upstream-summary")
    }
    assert ("downstream-recall", "customer") in {(x["asset"], x["role"]) for x in status["mining"]["channels"]}
    assert _outside(status["cells"]) == 1 and sum(_outside(s) for s in status.values()) == 1
    before = {role: _consumer_negotiations(r) for role, r in chain.nodes.items()}
    out = _trace(chain, chain.scenario.battery_ids[8])
    assert out["mines_reached"] == 7
    assert {role: _consumer_negotiations(r) for role, r in chain.nodes.items()} == before


def test_the_cli_runs_the_federated_trace(chain: SupplyChain) -> None:
    import json
    import os
    import subprocess
    import sys

    pack = chain.nodes["pack"]
    env = dict(os.environ, BATPASS_HOME=str(pack.node.settings.home), BATPASS_ADMIN_KEY=pack.admin_key, COLUMNS="200")
    args = [sys.executable, "-m", "batpass", "trace", chain.scenario.battery_ids[7], "--federated", "--node", pack.name]
    p = subprocess.run([*args, "--deadline-ms", "8000"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["mines_reached"] == 7 and int(out["hops"]) >= 5 and out["deadline_ms"] == 8000
    assert "federated origin" in p.stderr
    # the downstream question from the CLI, on the mining node: counts below, no battery ids
    mine = chain.nodes["mining"]
    lot = next(
        e["outputs"][0]["lot"] for e in chain.scenario.events if e["kind"] == "extraction" and e["owner"] == mine.did
    )
    down_env = dict(env, BATPASS_ADMIN_KEY=mine.admin_key)
    d = subprocess.run(
        [sys.executable, "-m", "batpass", "trace", lot, "--federated", "--down", "--node", mine.name],
        env=down_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert d.returncode == 0, d.stderr[-2000:]
    recall = json.loads(d.stdout)
    assert recall["batteries"] == [] and int(recall["hops"]) >= 1
    # a deadline that is not a positive number of ms within 300 s: refused before asking, exit 2
    bad = subprocess.run([*args, "--deadline-ms", "0"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--deadline-ms" in bad.stderr and not bad.stdout
    # without the admin key: one line, exit 2
    env.pop("BATPASS_ADMIN_KEY")
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "admin key" in p.stderr


def _downstream_batteries(chain: SupplyChain, lot: str) -> set[str]:
    """Ground truth from the scenario's events: the batteries made from ``lot``, across owners."""
    children: dict[str, set[str]] = {}
    batteries: dict[str, str] = {}
    for e in chain.scenario.events:
        outs = [o["lot"] for o in e.get("outputs", [])]
        for o in e.get("outputs", []):
            if o.get("battery"):
                batteries[o["lot"]] = o["battery"]["id"]
        parents = [i["lot"] for i in e.get("inputs", [])]
        if e.get("receipt"):
            parents.append(e["receipt"]["from_lot"])
        for p in parents:
            children.setdefault(p, set()).update(outs)
    seen, todo = set(), [lot]
    while todo:
        cur = todo.pop()
        if cur not in seen:
            seen.add(cur)
            todo.extend(children.get(cur, ()))
    return {batteries[x] for x in seen if x in batteries}


def _recall(chain: SupplyChain, role: str, subject: str) -> dict[str, Any]:
    node = chain.nodes[role]
    with chain.client() as c:
        r = c.get(
            node.base_url + "/v1/trace/federated/" + quote(subject, safe=""),
            params={"direction": "down"},
            headers=node.admin_headers(),
        )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_downstream_recall_from_a_mine_lot_reaches_the_pack_batteries(chain: SupplyChain) -> None:
    mine = chain.nodes["mining"]
    lot = next(
        e["outputs"][0]["lot"]
        for e in chain.scenario.events
        if e["kind"] == "extraction" and e["owner"] == mine.did and e["site"]["id"].startswith("MINE-CD")
    )
    truth = _downstream_batteries(chain, lot)
    assert truth  # the cobalt reaches pack batteries
    out = _recall(chain, "mining", lot)
    assert int(str(out["hops"])) >= 5, out
    assert out["complete"] is True and out["tombstones"] == []
    assert out["batteries_total"] == len(truth)
    # the mine learns its direct customer (the refiner) and counts below it, never battery ids
    assert out["path"] == [mine.did, chain.nodes["refining"].did]
    assert out["batteries"] == [] and not any(c["batteries"] for c in out["customers"])
    assert not any(b in repr(out) for b in truth)

    # the cell node asks the pack node directly: its answer names the pack's own batteries
    cells = chain.nodes["cells"]
    cell_lot = next(
        e["outputs"][0]["lot"] for e in chain.scenario.events if e["kind"] == "assembly" and e["owner"] == cells.did
    )
    direct = _recall(chain, "cells", cell_lot)
    (pack_answer,) = direct["customers"]
    assert pack_answer["did"] == chain.nodes["pack"].did
    assert set(pack_answer["batteries"]) == _downstream_batteries(chain, cell_lot)

    # a new battery recorded at the pack: every tier's cached answer gives way, the count grows
    pack = chain.nodes["pack"]
    last = [e for e in chain.scenario.events if e["kind"] == "assembly" and e["owner"] == pack.did][-1]
    new_lot = "recall-test-battery-lot"
    new_id = last["outputs"][0]["battery"]["id"].rsplit("/", 1)[0] + "/RA0099999"
    event = {
        "id": "recall-test-assembly",
        "kind": "assembly",
        "owner": pack.did,
        "at": last["at"],
        "site": last["site"],
        "inputs": [{"lot": last["inputs"][0]["lot"], "quantity": {"value": 0.5, "unit": "kg"}}],
        "outputs": [
            {
                **last["outputs"][0],
                "lot": new_lot,
                "battery": {**last["outputs"][0]["battery"], "id": new_id},
            }
        ],
    }
    battery_before = _trace(chain, chain.scenario.battery_ids[3])
    timing = battery_before["timing"]
    assert isinstance(timing, dict) and "cached" in timing  # traced before: the signed answer is reused
    with chain.client() as c:
        r = c.post(pack.base_url + "/v1/ledger/events", json=[event], headers=pack.admin_headers())
    assert r.status_code in (200, 201), r.text
    again = _recall(chain, "mining", lot)
    assert again["batteries_total"] == len(truth) + 1
    # the pack's upstream answer is not served from before the ledger changed
    battery_after = _trace(chain, chain.scenario.battery_ids[3])
    timing = battery_after["timing"]
    assert isinstance(timing, dict) and "cached" not in timing and "signed" in timing
    assert battery_after["shares_by_country"] == battery_before["shares_by_country"]

    # an unreachable customer becomes a tombstone; the rest of the answer stands
    stop_node(pack)
    try:
        down = _recall(chain, "cells", cell_lot)
    finally:
        start_node(pack)
    assert down["complete"] is False and down["customers"] == []
    assert down["tombstones"] == [{"tier": 1, "reason": "customer unreachable"}]
    assert down["unreachable_customers"] == [{"did": pack.did, "reason": "customer unreachable"}]


# -- deadlines, not timeouts ---------------------------------------------------------------------

DEADLINE = "supplier deadline exceeded"
#: the question's deadline, and how much longer than it a loaded machine may take to answer
#: (the structure is asserted, not the timing; before deadlines the answer took the 10 s timeout)
WITHIN_MS, SLACK_S = 3000, 6.0


def _timed(chain: SupplyChain, battery: str, deadline_ms: float) -> tuple[float, dict[str, Any]]:
    pack = chain.nodes["pack"]
    started = time.monotonic()
    with chain.client() as c:
        r = c.get(
            pack.base_url + "/v1/trace/federated/" + quote(battery, safe=""),
            params={"deadline_ms": deadline_ms},
            headers=pack.admin_headers(),
        )
    took = time.monotonic() - started
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return took, out


def _tiers(out: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted((int(t["tier"]), str(t["reason"])) for t in out["tombstones"])


def _healthy_branches_stand(chain: SupplyChain, out: dict[str, Any]) -> None:
    """With the precursor branch lost: the cell node still answers for the pack (one hop less
    than the whole chain: cells, cathode, refining, mines), lithium and graphite still reach
    their mines, and the pack's only direct supplier is not reported unreachable."""
    assert out["path"] == [chain.nodes["pack"].did, chain.nodes["cells"].did]
    assert out["hops"] == 4 and out["unreachable_suppliers"] == []
    shares = out["shares_by_country"]
    assert set(shares["Li"]) == {"CL", "AU"} and set(shares["C_nat"]) == {"MZ"}


def test_a_hung_supplier_loses_only_its_branch_at_the_deadline(chain: SupplyChain) -> None:
    battery = chain.scenario.battery_ids[6]
    whole = _trace(chain, battery)  # every node up: only the foil supplier outside the dataspace
    assert whole["hops"] == 5 and all(t == {"tier": 2, "reason": OUTSIDE} for t in whole["tombstones"])
    precursor = chain.nodes["precursor"]
    assert precursor.process is not None
    os.kill(precursor.process.pid, signal.SIGSTOP)  # hung, not dead: it accepts and never answers
    try:
        took, hung = _timed(chain, battery, WITHIN_MS)
    finally:
        os.kill(precursor.process.pid, signal.SIGCONT)
    # exactly the hung branch is a tombstone: the cathode node's supplier, tier 3 from the pack
    assert _tiers(hung) == sorted([*_tiers(whole), (3, DEADLINE)]), hung["tombstones"]
    _healthy_branches_stand(chain, hung)
    assert hung["deadline_ms"] == WITHIN_MS and took < WITHIN_MS / 1000 + SLACK_S, took
    # the next trace asks every node afresh: complete again, no running node reported unreachable
    again = _trace(chain, battery)
    assert _tiers(again) == _tiers(whole) and again["hops"] == 5 and again["mines_reached"] == 7


def test_a_killed_supplier_is_unreachable_and_the_rest_stands(chain: SupplyChain) -> None:
    battery = chain.scenario.battery_ids[6]
    precursor = chain.nodes["precursor"]
    assert precursor.process is not None
    precursor.process.kill()
    precursor.process.wait(timeout=10)
    try:
        took, down = _timed(chain, battery, WITHIN_MS)
    finally:
        start_node(precursor)
    assert _tiers(down) == sorted([(2, OUTSIDE), (3, "supplier unreachable")]), down["tombstones"]
    _healthy_branches_stand(chain, down)
    assert took < WITHIN_MS / 1000 + SLACK_S, took
    again = _trace(chain, battery)
    assert all(t == {"tier": 2, "reason": OUTSIDE} for t in again["tombstones"]) and again["hops"] == 5


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "1e9", "soon"])
def test_an_invalid_deadline_is_refused_naming_the_field(chain: SupplyChain, bad: str) -> None:
    pack = chain.nodes["pack"]
    with chain.client() as c:
        r = c.get(
            pack.base_url + "/v1/trace/federated/" + quote(chain.scenario.battery_ids[6], safe=""),
            params={"deadline_ms": bad},
            headers=pack.admin_headers(),
        )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["field"] == "deadline_ms"
