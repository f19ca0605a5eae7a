"""The demo's ``sites`` step, checked through ``summary.json`` (README "What the demo shows") and
the mines node's register, of the session's full demo run: the mines registered, the synthetic
CAHRA sample in use, the artisanal cobalt site flagged and its cobalt the trace's high-risk share."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from demo_runner import DemoRun

pytestmark = pytest.mark.integration


def test_story_sites(demo_run: DemoRun) -> None:
    sites = demo_run.summary["story"]["sites"]
    assert sites == {
        "registered": 7,
        "certified": 2,
        "high_risk": 1,
        "cahra_dataset": "batpass-synthetic-cahra-sample@2026-06-30",
    }
    # the flag reaches the car maker's trace only as a share: some of the cobalt, nothing else
    high = demo_run.summary["story"]["trace"]["high_risk_share"]
    assert 0 < high["Co"] < 1 and all(v == 0 for el, v in high.items() if el != "Co")


def test_the_mines_register_is_public_in_summary_only(demo_run: DemoRun) -> None:
    node: dict[str, Any] = next(n for n in demo_run.summary["nodes"] if n["name"] == "cx-mines")
    ctx = ssl.create_default_context(cafile=str(demo_run.out / "ca.pem"))
    with httpx.Client(verify=ctx, timeout=30) as c:
        public = c.get(node["base_url"] + "/v1/sites/MINE-CD-2").json()
        full = c.get(node["base_url"] + "/v1/sites/MINE-CD-2", headers={"X-Api-Key": node["admin_key"]}).json()
    assert public["screening"]["outcome"] == "enhanced due diligence required"
    assert public["region"] == "CD-LU" and "operator" not in public and "location" not in public
    assert full["operator"] == "Kolwezi Artisanal Cooperative" and full["location"]["latitude"] == -10.72
