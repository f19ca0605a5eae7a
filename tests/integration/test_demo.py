"""The demo as a newcomer runs it (``batpass demo --no-serve``), checked through summary.json,
whose keys are a stable contract (README "What the demo shows")."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_demo_no_serve_writes_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, BATPASS_HOME=str(tmp_path / "unused-home"))
    p = subprocess.run(
        [sys.executable, "-m", "batpass", "demo", "--no-serve", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True
    assert (out / summary["ca_cert"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    names = {n["name"] for n in summary["nodes"]}
    assert {"jp-hub", "eu-carmaker", "eu-recycler"} <= names
    for n in summary["nodes"]:
        assert n["base_url"].startswith("https://localhost:")
        assert n["did"].startswith("did:web:localhost%3A")
        assert n["admin_key"]
        if "catena-x" in n["profiles"]:
            assert n["dsp_url"] == n["base_url"] + "/api/dsp/2025-1"
            assert n["dtr_url"] == n["base_url"] + "/api/v3"
            assert n["pact"]["base_url"] == n["base_url"] + "/pact" and n["pact"]["client_secret"]
    assert set(summary["artefacts"]) >= {"catenax_battery_pass", "batterypass", "aas", "qr_svg", "qr_png", "compliance"}
    # the whole story (issue 9): the federation of both data spaces, the bridge and the mine nodes
    assert names >= {"jp-hub", "jp-certifier", "bridge", "eu-certifier", "eu-carmaker", "eu-recycler", "cx-mines"}
    story = summary["story"]
    assert len(summary["batteries"]) >= 150 and all(b["passport_id"] for b in summary["batteries"])
    # the recursive trace from one pack reached its mines through the bridge and the hub
    tr = story["trace"]
    # every branch but the foil supplier outside the dataspace answered: complete is false, and says so
    assert tr["complete"] is False and tr["mines_reached"] >= 5 and tr["hops"] >= 4
    assert tr["path_nodes"][:3] == ["eu-carmaker", "bridge", "jp-hub"] and "cx-mines" in tr["path_nodes"]
    co = sum(tr["shares_by_country"]["Co"].values()) + sum(tr["recycled_by_country"]["Co"].values())
    assert co + tr["unknown_share"]["Co"] == pytest.approx(1.0) and tr["unknown_share"]["Co"] == 0.0
    # footprint per kWh, from the Japanese cell CFP published through the bridge
    assert story["footprint"]["kg_co2e_per_kwh"] > 0
    assert story["footprint"]["stages"]["raw_material_and_preprocessing"] > 0
    assert (out / "footprint" / "cell.catenax-pcf.json").exists()
    # recycled content arrived as shares (the recovered salts went into the Japanese cells)
    assert all(s["post"] > 0 for el, s in story["recycled_content"]["shares"].items() if el != "Pb")
    assert any(f["evidence"]["material"] == "black_mass" for f in story["outflows"])
    assert len(story["double_claims"]) == 1
    assert story["claims_verified"] >= 2
    # nothing about the companies above the cell maker reached the car maker
    leaks = story["leak_scan"]
    assert leaks["leaks_found"] == 0 and leaks["payloads_scanned"] > 100 and leaks["canaries"] > 100
    # the nodes were stopped when the demo exited
    ctx = ssl.create_default_context(cafile=str(out / summary["ca_cert"]))
    with pytest.raises(httpx.HTTPError):
        httpx.get(summary["nodes"][0]["base_url"] + "/health", verify=ctx, timeout=2)
