"""``batpass sites add|list|show|evidence|cahra`` on a node folder; bad input is one line naming
the field and exit code 2, with nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI
from typer.testing import CliRunner

from batpass.cli._sites import app
from batpass.core.settings import Settings
from batpass.node.local import init_node
from batpass.sites import CAHRA_SAMPLE

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BATPASS_HOME", str(tmp_path))
    local, _ = init_node("mines", profiles=["catena-x"], settings=Settings(home=tmp_path))
    local.close()
    return tmp_path


def test_add_load_cahra_list_and_record_a_finding(home: Path) -> None:
    f = home / "sites.json"
    f.write_text(json.dumps([KOLWEZI, HAUT_LOMAMI]))
    r = runner.invoke(app, ["add", str(f), "--node", "mines"])
    assert r.exit_code == 0, r.output
    assert [s["siteId"] for s in json.loads(r.stdout)] == ["MINE-CD-2", "MINE-CD-1"]

    r = runner.invoke(app, ["cahra", str(CAHRA_SAMPLE), "--node", "mines"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["flagged"] == 1
    assert json.loads(r.stdout)["changes"]["newly_listed"] == ["MINE-CD-2"]  # the sites to look at

    r = runner.invoke(app, ["list", "--node", "mines"])
    listed = json.loads(r.stdout)
    assert listed["overview"]["high_risk"] == 1 and len(listed["sites"]) == 2

    args = ["--kind", "CAHRA finding", "--reference", "doc:edd-1", "--date", "2026-11-30"]
    r = runner.invoke(app, ["evidence", "MINE-CD-2", "--node", "mines", *args])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["show", "MINE-CD-2", "--node", "mines"])
    assert json.loads(r.stdout)["dueDiligence"][0]["reference"] == "doc:edd-1"


def test_a_site_without_coordinates_is_one_line_and_exit_2(home: Path) -> None:
    f = home / "bad.json"
    f.write_text(json.dumps([HAUT_LOMAMI, {k: v for k, v in KOLWEZI.items() if k != "location"}]))
    env = dict(os.environ, BATPASS_HOME=str(home))
    cmd = [sys.executable, "-m", "batpass", "sites", "add", str(f), "--node", "mines"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "location.latitude" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = runner.invoke(app, ["list", "--node", "mines"])
    assert json.loads(r.stdout)["sites"] == []  # checked before any was stored
