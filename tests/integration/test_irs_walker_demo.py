"""An IRS-like walker (``irs_walker/walker.py``: HTTP only, importing nothing from batpass, run as
its own process) traverses the demo federation from a battery's twin, as the recycler: discovery
finder → BPN discovery → EDC discovery and BPN-DID directory → DID document → the car maker's
connector (through the recycler's EDC management API) → its twin registry → the Industry Core
submodels, each validated against the schema vendored in ``tests/specs``.

The depth the releases allow on the demo is **1**: the car maker released its
SingleLevelBomAsBuilt to the recycler, so the walker reads the battery's one tier of suppliers —
the cell maker's lots, by BPNL and global asset id — but the cell maker is a hub operator on
Ouranos whose Catena-X connector is the bridge, and the bridge's twin registry holds no twin of
the cell maker's lots (the hub exports none), so no twin one level down can be opened and the
walk stops there, saying so. With the release taken
back the depth is **0**: the battery's SerialPart and SingleLevelUsageAsBuilt are read, its bill
of material is refused (404), and no supplier is named.

Upstream, where both sides are batpass nodes on Catena-X, the walk crosses nodes: from the Chinese
refiner's dispatched lot (its twin found by ``batchId``) to the mines' lots it was made of, each
twin opened on the mines' node, at depth **1** — the depth of the supply chain there: the mines'
lots name no suppliers (their bills of material, released too, are empty).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from demo_runner import DemoRun

from batpass.trust import issue_self_issued_token, load_or_create_identity

pytestmark = pytest.mark.integration

WALKER = Path(__file__).resolve().parent / "irs_walker" / "walker.py"
SPECS = Path(__file__).resolve().parents[1] / "specs/catenax/semantic-models"  # vendored (PROVENANCE.md)
SCHEMAS = {
    "urn:samm:io.catenax.serial_part:4.0.0#SerialPart": "io.catenax.serial_part/4.0.0/gen/SerialPart-schema.json",
    "urn:samm:io.catenax.single_level_usage_as_built:4.0.0#SingleLevelUsageAsBuilt": (
        "io.catenax.single_level_usage_as_built/4.0.0/gen/SingleLevelUsageAsBuilt-schema.json"
    ),
    "urn:samm:io.catenax.single_level_bom_as_built:4.0.0#SingleLevelBomAsBuilt": (
        "io.catenax.single_level_bom_as_built/4.0.0/gen/SingleLevelBomAsBuilt-schema.json"
    ),
}
READER, CAR, OPERATOR = "eu-recycler", "eu-carmaker", "eu-certifier"
CELL_MAKER_BPNL = "BPNL0000JPCELL01"


def _walk(demo_run: DemoRun, tmp_path: Path, part: dict[str, str] | None = None) -> dict[str, Any]:
    nodes = {n["name"]: n for n in demo_run.summary["nodes"]}
    core = demo_run.summary["story"]["industry_core"]
    reader = nodes[READER]
    identity = load_or_create_identity(demo_run.out / "federation" / READER / "keys", str(reader["did"]))
    # the walker's member token for the operator's services (IRS holds its portal token the same way)
    token = issue_self_issued_token(identity, audience=str(nodes[OPERATOR]["did"]), bpn=core["readers"][0], ttl_s=300)
    cfg = {
        "ca": str(demo_run.out / "ca.pem"),
        "finder": core["discovery_finder"],
        "bdrs": core["bpn_directory"],
        "token": token,
        "management": {"url": reader["management_url"], "key": reader["admin_key"]},
        "part": part or {"type": "partInstanceId", "key": core["partInstanceId"]},
        "schemas": {k: str(SPECS / v) for k, v in SCHEMAS.items()},
        "max_depth": 5,
    }
    path = tmp_path / "walker.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(WALKER), str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["batpass_modules_loaded"] == []  # HTTP only: nothing of batpass in the walker
    return result


def _car(demo_run: DemoRun) -> tuple[httpx.Client, str, dict[str, str]]:
    car = next(n for n in demo_run.summary["nodes"] if n["name"] == CAR)
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(demo_run.out / "ca.pem")), timeout=60)
    return client, str(car["base_url"]), {"X-Api-Key": str(car["admin_key"])}


def test_the_walker_reaches_the_depth_the_releases_allow(demo_run: DemoRun, tmp_path: Path) -> None:
    core = demo_run.summary["story"]["industry_core"]
    result = _walk(demo_run, tmp_path)
    car_bpnl = "BPNL00000003CAR1"
    assert result["bpns"] == [car_bpnl]  # the BPN discovery names the car maker for the battery
    [root] = result["levels"][0]["twins"]
    assert root["globalAssetId"] == core["globalAssetId"]
    assert root["aspects"] == sorted(SCHEMAS)  # all three read and schema-valid
    # one tier of suppliers, released to the recycler: the cell maker's lots
    assert result["depth"] == 1
    assert result["relationships"] and {r["businessPartner"] for r in result["relationships"]} == {CELL_MAKER_BPNL}
    assert all(r["level"] == 1 and r["parent"] == core["globalAssetId"] for r in result["relationships"])
    # and no further: the cell maker's connector (the bridge) holds no twin of its lots
    assert result["levels"][1]["twins"] == []
    assert result["stops"] and {(s["level"], s["bpn"], s["reason"]) for s in result["stops"]} == {
        ("1", CELL_MAKER_BPNL, "no twin visible")
    }


def test_without_the_release_the_walk_stops_at_the_battery(demo_run: DemoRun, tmp_path: Path) -> None:
    client, car, admin = _car(demo_run)
    reader_bpnl = demo_run.summary["story"]["industry_core"]["bom_released_to"][0]
    release = f"{car}/v1/connector/industry-core/bom-releases/{quote(reader_bpnl)}"
    with client:
        assert client.delete(release, headers=admin).status_code == 204
        try:
            result = _walk(demo_run, tmp_path)
        finally:
            assert client.put(release, headers=admin).status_code == 200  # the demo's state back
    assert result["depth"] == 0 and result["relationships"] == []
    [root] = result["levels"][0]["twins"]
    assert len(root["aspects"]) == 2 and not any("bom" in a for a in root["aspects"])
    assert [s["reason"] for s in result["stops"]] == ["no BOM: HTTP 404"]


def test_upstream_the_walker_crosses_from_the_refiner_to_the_mines(demo_run: DemoRun, tmp_path: Path) -> None:
    upstream = demo_run.summary["story"]["industry_core"]["upstream_lot"]
    result = _walk(demo_run, tmp_path, {"type": "batchId", "key": upstream["lot"]})
    assert result["bpns"] == ["BPNL00000003REFN"]
    [refined] = result["levels"][0]["twins"]
    usage, bom = (next(k for k in SCHEMAS if name in k) for name in ("usage_as_built", "bom_as_built"))
    assert refined["aspects"] == sorted([bom, usage])  # a batch: no SerialPart
    assert result["depth"] == 1 and {r["businessPartner"] for r in result["relationships"]} == {"BPNL00000003MINE"}
    mines = result["levels"][1]["twins"]
    # every mine lot the refiner's bill of material names was opened on the mines' node
    assert len(mines) == len(result["relationships"]) == upstream["supplier_lots"] > 0
    assert {t["globalAssetId"] for t in mines} == {r["globalAssetId"] for r in result["relationships"]}
    assert all(t["bpn"] == "BPNL00000003MINE" and t["aspects"] == sorted([bom, usage]) for t in mines)
    assert result["stops"] == []  # nothing refused: the chain ends at the mines
    assert result["aspects_validated"] == 2 + 2 * len(mines)
