"""The compose federation (``deploy/compose.yaml``): five of the demo's nodes, each in a container
of its own, told the demo's story by a one-shot ``seed`` container.

``batpass compose init`` (the ``init`` service) creates jp-hub, jp-certifier, eu-certifier,
eu-carmaker and the bridge in ``$BATPASS_HOME`` (the volume every container shares) with one
federation CA, configured as the demo configures them (:func:`batpass.demo._run.configure_nodes`),
and keeps their entries — admin keys included — in ``compose/nodes.json`` (mode 600). A federation
already there is kept, so the node containers restart as the same nodes. ``batpass compose seed``
waits until every node answers over HTTPS, runs the story's ``ouranos``, ``federation`` (trust
lists, memberships, the crosswalk and the operators' releases) and ``ledger`` steps, builds the
passports of five batteries and reads one anonymously, and writes ``compose/summary.json``
(``complete: true`` once everything ran; the keys of the demo's ``summary.json``, with one console
user per node in ``nodes[].console: {url, user, password}`` as the demo adds them).

Without the demo's mine, refinery and recycler nodes, the companies they record for are recorded
in the hub refiner's partition (:data:`HOSTS`): the car maker's federated trace still crosses the
bridge to the hub's operators and reaches every mine there. The scenario is its smallest, one
production round (ten batteries).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from batpass.core.errors import Conflict, InvariantViolation
from batpass.core.settings import Settings
from batpass.demo._console import add_console_users
from batpass.demo._run import DEMO_NODES, configure_nodes, empty_summary, node_entry, tell_story, write_summary
from batpass.demo._story import Story
from batpass.demo._story import ledger as ledger_step
from batpass.demo._story import passport as passport_step
from batpass.demo.harness import RunningNode, federation, federation_ca, wait_healthy
from batpass.node.local import open_node
from batpass.trust import client_ssl_context

__all__ = ["COMPOSE_NODES", "HOSTS", "init_federation", "seed_entries", "seed_federation"]

NAMES = ("jp-hub", "jp-certifier", "eu-certifier", "eu-carmaker", "bridge")
COMPOSE_NODES = tuple(s for s in DEMO_NODES if s.name in NAMES)
#: where each company of the scenario records: as in the demo, except that the companies of the
#: demo's nodes this federation lacks record in the hub refiner's partition
HOSTS: Mapping[str, str] = {
    code: host if host.partition("/")[0] in NAMES else "jp-hub/jp-refiner" for code, host in ledger_step.HOSTS.items()
}
STEPS = ("ouranos", "federation", "ledger")
#: the scenario's smallest size: one production round of ten batteries
LOTS = 10
#: the batteries whose passports the seed builds
BATTERIES = 5
FOLDER = "compose"


def _folder(home: Path) -> Path:
    return home / FOLDER


def init_federation(home: Path, *, db_url: str | None = None, schema_prefix: str = "") -> Path:
    """Create the nodes in ``home`` unless they exist; returns ``compose/nodes.json``. With
    ``db_url`` (PostgreSQL) each node keeps its tables in the schema ``<schema_prefix><name>``."""
    folder = _folder(home)
    state = folder / "nodes.json"
    if state.exists():
        return state
    if any((home / s.name).exists() for s in COMPOSE_NODES):
        raise Conflict(
            f"{home} holds some of the federation's nodes but no {FOLDER}/nodes.json (an init that failed)",
            rule="start from an empty volume (docker-compose down -v)",
        )
    specs = [
        replace(s, db_url=db_url, db_schema=f"{schema_prefix}{s.name.replace('-', '_')}" if db_url else None)
        for s in COMPOSE_NODES
    ]
    with federation(home, specs, start=False, configure=configure_nodes) as runs:
        entries = [node_entry(r) for r in runs]
    folder.mkdir(mode=0o700, exist_ok=True)
    shutil.copyfile(federation_ca(home), folder / "ca.pem")
    tmp = folder / ".nodes.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"ca_cert": "ca.pem", "nodes": entries}, fh, indent=2)
    os.replace(tmp, state)
    return state


def seed_entries(runs: list[RunningNode], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary's ``nodes``: each node's entry of ``nodes.json`` with the console user the seed
    adds to it (``console: {url, user, password}``, docs/console.md), as the demo writes them."""
    out = [dict(e) for e in entries]
    add_console_users(runs, out)
    return out


def seed_federation(home: Path, *, timeout: float = 120.0) -> dict[str, Any]:
    """Tell the story to the running nodes; returns the summary (also in ``compose/summary.json``)."""
    folder = _folder(home)
    entries: list[dict[str, Any]] = json.loads((folder / "nodes.json").read_text())["nodes"]
    settings = Settings(home=home)
    specs = {s.name: s for s in COMPOSE_NODES}
    runs = [RunningNode(specs[e["name"]], open_node(e["name"], settings=settings), e["admin_key"]) for e in entries]
    for r in runs:
        wait_healthy(r, timeout=timeout)
    summary = empty_summary()
    summary["nodes"] = seed_entries(runs, entries)
    story = tell_story(folder, runs, summary, steps=STEPS, shared={"ledger.hosts": HOSTS, "ledger.lots": LOTS})
    with httpx.Client(verify=client_ssl_context(folder / "ca.pem"), timeout=httpx.Timeout(60.0)) as client:
        story = Story(
            out=folder,
            nodes=story.nodes,
            client=client,
            summary=summary,
            console=story.console,
            scenario=story.scenario,
            shared=story.shared,
        )
        batteries = list(story.shared["ledger.batteries"])[:BATTERIES]
        ids = passport_step.build_passports(story, batteries)
        for uri in batteries:
            page = passport_step.public_json(story, uri)  # anonymous, as a reader scanning the QR code
            if page.get("passportId") != ids[uri]:
                raise InvariantViolation(f"{uri} resolves to {page}", rule="compose.seed.passport")
    summary["batteries"] = [{"id": uri, "passport_id": ids[uri], "passport_url": uri} for uri in batteries]
    summary["complete"] = True
    write_summary(folder, summary)
    return summary
