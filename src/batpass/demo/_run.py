"""``batpass demo``: a realistic EU/JP federation on loopback over HTTPS.

Initialises the demo's nodes in a fresh per-run home under ``DIR/federation`` (so demo
credentials exist only in that run), starts each as its own uvicorn process, writes
``DIR/summary.json`` atomically as soon as they are up (``complete: false``) and again when the
story has run (``complete: true``), then serves until Ctrl-C (``--no-serve`` exits).
The keys of ``summary.json`` are a stable contract (README "What the demo shows").
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from batpass.demo._console import add_console_users
from batpass.demo._fork import ForkedProcess
from batpass.demo._story import Story
from batpass.demo._story.leaks import payload_log_path
from batpass.demo._story.trust import JP_POLICY, POLICY
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.trust import client_ssl_context

__all__ = ["DEMO_NODES", "configure_nodes", "empty_summary", "node_entry", "run_demo", "tell_story", "write_summary"]

console = Console(stderr=True)

#: the car maker's GTINs (GS1 company prefix 4012345, the scenario's RA-EV-60 pack 04012345000016)
DEMO_GTIN_PREFIX = "04012345"

#: the demo federation (grows as capabilities land; names are stable)
DEMO_NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "jp-hub", ("ouranos",), legal_name="Ouranos Battery Hub KK", country="JP", corporate_number="5010401089998"
    ),
    NodeSpec(
        "jp-certifier",
        ("ouranos",),
        legal_name="Nihon Battery Certification KK",
        country="JP",
        corporate_number="7011001029649",
        config_extra={"ecosystem": "ouranos"},
    ),
    # also the federation's GS1 Digital Link resolver: the car maker's QR codes point at it; and, as
    # the Catena-X operator, its BPN-DID directory and discovery services
    NodeSpec(
        "eu-certifier",
        ("catena-x", "resolver", "discovery"),
        legal_name="EuroCert Batterien GmbH",
        country="DE",
        bpnl="BPNL00000003CERT",
    ),
    NodeSpec("eu-carmaker", ("catena-x",), legal_name="Europa Automobil AG", country="DE", bpnl="BPNL00000003CAR1"),
    NodeSpec(
        "eu-recycler", ("catena-x",), legal_name="Kreislauf Recycling GmbH", country="DE", bpnl="BPNL00000003REC1"
    ),
    # the EU's market-surveillance authority: issues export authorisations as credentials (the
    # Catena-X list trusts it for them) and opens passports at the authorities tier
    NodeSpec(
        "eu-authority",
        ("catena-x",),
        legal_name="EU Market Surveillance Office (demo)",
        country="BE",
        bpnl="BPNL00000003AUTH",
    ),
    # the hub operators' Catena-X connector (Japan → Europe and back), run by a Catena-X member
    NodeSpec(
        "bridge", ("catena-x", "bridge"), legal_name="EU-JP Battery Bridge GmbH", country="DE", bpnl="BPNL00000003BRDG"
    ),
    # the upstream on Catena-X: the mines (one node for the mining companies) and the Chinese refiners
    NodeSpec("cx-mines", ("catena-x",), legal_name="Mines Data Cooperative", country="CH", bpnl="BPNL00000003MINE"),
    NodeSpec(
        "cx-refining", ("catena-x",), legal_name="Refiners Data Service Ltd", country="CN", bpnl="BPNL00000003REFN"
    ),
)


def configure_nodes(runs: list[RunningNode]) -> None:
    """Who operates each ecosystem's trust list, who keeps the car maker's passport copies, and
    how the hub and its bridge find each other."""
    by = {r.name: r for r in runs}
    operators = {"catena-x": by["eu-certifier"].did, "ouranos": by["jp-certifier"].did}
    for r in runs:
        r.node.config.extra["trust_operators"] = operators
    operator = by.get("eu-certifier")
    if operator is not None and "discovery" in operator.node.config.profiles:
        # partners by BPNL through the Catena-X operator's BPN-DID directory (docs/dataspace.md)
        for r in runs:
            if "catena-x" in r.node.config.profiles:
                r.node.config.extra["bdrs"] = {"url": operator.base_url, "did": operator.did}
    if "eu-recycler" in by:  # the car maker's passport backup node (else its own node keeps the copies)
        by["eu-carmaker"].node.config.extra["passport_backup_url"] = by["eu-recycler"].base_url
    # prevention per node (docs/outflows.md "Warn or block"): the car maker's node refuses a
    # shipment outside every valid authorisation; the recycler's records it and alerts
    by["eu-carmaker"].node.config.extra["outflows"] = {"mode": "block"}
    if "eu-recycler" in by:
        # it also controls cobalt leaving the EU: its cobalt-sulphate exports need an
        # authorisation, which eu-authority issues (batpass.demo._story.authority)
        by["eu-recycler"].node.config.extra["outflows"] = {"mode": "warn", "controlled_materials": ["Co"]}
    resolver = by.get("eu-certifier")
    if resolver is not None and "resolver" in resolver.node.config.profiles:
        # the car maker's battery identifiers (and QR codes) are on the certifier's resolver,
        # which asks the car maker and, when it does not answer in 2 s, serves the recycler's
        # signed backup copy (docs/resolver.md)
        car = by["eu-carmaker"]
        car.node.config.resolver_base = resolver.base_url
        route: dict[str, str] = {"gtinPrefix": DEMO_GTIN_PREFIX, "operator": car.base_url}
        if "eu-recycler" in by:
            route["backup"] = by["eu-recycler"].base_url
        resolver.node.config.extra["resolver"] = {"routes": [route]}
    hub, bridge = by["jp-hub"], by["bridge"]
    hub.node.config.extra["bridge"] = {
        "url": bridge.base_url,
        "did": bridge.did,
        "dsp_url": bridge.base_url + "/api/dsp/2025-1",
    }
    bridge.node.config.extra["hub"] = {"url": hub.base_url, "did": hub.did}
    # the hub asserts who its operators are (corporate number ⇄ BPNL ⇄ DID) in the bridge's crosswalk
    bridge.node.config.extra["crosswalk_asserters"] = {hub.did: ["operator", "site", "part"]}
    # raw Ouranos ratings in the demo run 1 (best) to 3, as PACT's (``_story/ouranos.py``)
    bridge.node.config.extra["ouranos_dqr_mapping"] = {"raw_best": "1", "raw_worst": "3"}
    # the car maker records every payload it receives, for the leak scan (story step ``leaks``)
    car = by["eu-carmaker"]
    car.node.config.extra["payload_log"] = str(payload_log_path(car.node.home))
    # judging for the other side's market applies that side's recognition rules (the policies the
    # trust step sets on each side): the car maker for JP, the hub for EU
    car.node.config.extra["market_recognition"] = [JP_POLICY]
    hub.node.config.extra["market_recognition"] = [POLICY]


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` atomically: a temporary file in the same folder, then rename."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False))
    os.replace(tmp, out / "summary.json")


def node_entry(r: RunningNode) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": r.name,
        "profiles": list(r.node.config.profiles),
        "base_url": r.base_url,
        "did": r.did,
        "admin_key": r.admin_key,
    }
    if "catena-x" in r.node.config.profiles:
        entry["dsp_url"] = r.base_url + "/api/dsp/2025-1"
        entry["dtr_url"] = r.base_url + "/api/v3"
        entry["management_url"] = r.base_url + "/management"
    return entry


def empty_summary() -> dict[str, Any]:
    return {
        "complete": False,
        "ca_cert": "ca.pem",
        "nodes": [],
        "batteries": [],
        "artefacts": {
            "catenax_battery_pass": [],
            "batterypass": [],
            "aas": [],
            "qr_svg": [],
            "qr_png": [],
            "compliance": [],
        },
        "story": {"timings_s": {}},
    }


def run_demo(
    out: Path, *, serve: bool = True, on_ready: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = out / "federation"
    if home.exists():
        shutil.rmtree(home)
    summary = empty_summary()
    timings: dict[str, float] = summary["story"]["timings_s"]
    t0 = time.perf_counter()
    console.print("starting the federation on loopback (HTTPS)…")
    # the harness stops every node when this block ends: after --no-serve, or on Ctrl-C; the
    # nodes are forked from this process, which has imported the app once (demo.wall_s)
    with federation(home, DEMO_NODES, configure=configure_nodes, fork=True) as runs:
        timings["start_nodes"] = round(time.perf_counter() - t0, 3)
        how = "forked from this process" if all(isinstance(r.process, ForkedProcess) for r in runs) else "spawned"
        console.print(f"{len(runs)} nodes healthy in {timings['start_nodes']:.1f} s ({how})")
        shutil.copyfile(federation_ca(home), out / "ca.pem")
        summary["nodes"] = [node_entry(r) for r in runs]
        add_console_users(runs, summary["nodes"])  # nodes[].console (docs/console.md)
        write_summary(out, summary)
        _print_nodes(runs, out)
        tell_story(out, runs, summary)

        summary["complete"] = True
        timings["total"] = round(time.perf_counter() - t0, 3)
        write_summary(out, summary)
        if on_ready is not None:
            on_ready(summary)
        console.print(f"[green]story complete[/] — summary at {out / 'summary.json'}")
        if serve:
            _serve_until_interrupted()
    return summary


#: the story's steps, in order (each a module of batpass.demo._story with ``run(story)``)
STEPS: tuple[str, ...] = (
    "ouranos",
    "federation",
    "trades",
    "sites",
    "ledger",
    "reconciliation",
    "trust",
    "footprint",
    "passport",
    "industrycore",
    "compliance",
    "leaks",
)


def _steps() -> tuple[str, ...]:
    """The steps to run: all of them, or (for developing a step) ``BATPASS_DEMO_STEPS=a,b``."""
    chosen = os.environ.get("BATPASS_DEMO_STEPS")
    return tuple(s for s in chosen.split(",") if s) if chosen else STEPS


def tell_story(
    out: Path,
    runs: list[RunningNode],
    summary: dict[str, Any],
    *,
    steps: Sequence[str] | None = None,
    shared: Mapping[str, Any] | None = None,
) -> Story:
    """Run the story's ``steps`` (default: :func:`_steps`) against running nodes, ``shared``
    preset in the story's hand-offs; ``out`` holds the federation CA's ``ca.pem``."""
    ca = client_ssl_context(out / "ca.pem")
    with httpx.Client(verify=ca, timeout=httpx.Timeout(60.0)) as client:
        story = Story(out=out, nodes={r.name: r for r in runs}, client=client, summary=summary, console=console)
        story.shared.update(shared or {})
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            steps = _steps() if steps is None else tuple(steps)
            task = progress.add_task("story", total=len(steps))
            for name in steps:
                progress.update(task, description=f"story: {name}")
                step = importlib.import_module(f"batpass.demo._story.{name}")
                with story.timed(name):
                    step.run(story)
                write_summary(out, summary)
                progress.advance(task)
    return story


def _print_nodes(runs: list[RunningNode], out: Path) -> None:
    table = Table(title="batpass demo federation (HTTPS on loopback)")
    for col in ("node", "profiles", "URL", "DID"):
        table.add_column(col)
    for r in runs:
        table.add_row(r.name, ", ".join(r.node.config.profiles), r.base_url, r.did)
    console.print(table)
    console.print(f"trust the federation CA at [bold]{out / 'ca.pem'}[/] (e.g. curl --cacert)")


def _serve_until_interrupted() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    console.print("serving; press Ctrl-C to stop")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
