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
        # the hub operators' registers: the refinery read by the cathode maker under the refiner's
        # release, the cell plant by the car maker through the bridge; the cell maker, the cathode
        # maker after the withdrawal and the recycler refused
        "ouranos": {"registered": 2, "read_under_release": 2, "refused": 3},
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


def _hub_login(c: httpx.Client, hub: dict[str, Any], short: str) -> dict[str, str]:
    ops = {o["operatorAccountId"].split("@")[1].split(".")[0]: o for o in hub["ouranos"]["operators"]}
    op = ops[short]
    key = hub["ouranos"]["api_key"]
    r = c.post(
        hub["base_url"] + "/auth/login",
        json={"operatorAccountId": op["operatorAccountId"], "accountPassword": op["accountPassword"]},
        headers={"apiKey": key},
    )
    assert r.status_code == 201, r.text
    return {"apiKey": key, "Authorization": "Bearer " + r.json()["accessToken"]}


def test_hub_operators_sites_only_under_their_release(demo_run: DemoRun) -> None:
    """Over HTTPS on the demo's hub: the refiner's register is its own to read; the cell maker
    (never released to) and the cathode maker (release withdrawn in the story) are refused with
    the problem naming the rule, and nothing of the refinery is in the refusal."""
    nodes = {n["name"]: n for n in demo_run.summary["nodes"]}
    hub = nodes["jp-hub"]
    refiner = next(o for o in hub["ouranos"]["operators"] if o["operatorAccountId"].startswith("cfp@jp-refiner"))
    path = hub["base_url"] + f"/v1/ouranos/operators/{refiner['operatorId']}/sites"
    ctx = ssl.create_default_context(cafile=str(demo_run.out / "ca.pem"))
    with httpx.Client(verify=ctx, timeout=30) as c:
        own = c.get(path, headers=_hub_login(c, hub, "jp-refiner"))
        assert own.status_code == 200 and [s["siteId"] for s in own.json()["sites"]] == ["REF-JP-1"]
        for short in ("jp-cellmaker", "jp-cathode"):
            r = c.get(path, headers=_hub_login(c, hub, short))
            assert r.status_code == 403 and r.json()["type"].endswith("/ouranos-not-released")
            assert "Niihama" not in r.text and "REF-JP-1" not in r.text
        # the hub's own register does not list the operators' sites
        assert c.get(hub["base_url"] + "/v1/sites").json() == []
