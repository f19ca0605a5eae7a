"""The demo as a newcomer runs it (``batpass demo --no-serve``), checked through summary.json,
whose keys are a stable contract (DESIGN section 9)."""

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
    assert set(summary["artefacts"]) >= {"catenax_battery_pass", "batterypass", "aas", "qr_svg", "qr_png", "compliance"}
    # the nodes were stopped when the demo exited
    ctx = ssl.create_default_context(cafile=str(out / summary["ca_cert"]))
    with pytest.raises(httpx.HTTPError):
        httpx.get(summary["nodes"][0]["base_url"] + "/health", verify=ctx, timeout=2)
