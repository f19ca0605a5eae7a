"""The CLI on a real local node folder: build, show, status; bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from passport_testkit import EXAMPLE, ITEM, make_summary
from typer.testing import CliRunner

from batpass.core.ids import BatteryId

BAT = BatteryId("04012345000009", "CLI-1")


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import batpass.node.local as local
    from batpass.node.local import init_node
    from batpass.passport import MIGRATIONS_DIR

    # the composition root lists the passport branch once the lead registers it; until then, here
    dirs = local.migration_dirs()
    if MIGRATIONS_DIR not in dirs:
        monkeypatch.setattr(local, "migration_dirs", lambda: [*dirs, MIGRATIONS_DIR])
    monkeypatch.setenv("BATPASS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BATPASS_PASSPORT_BACKUP_URL", "https://backup.example:8443")
    n, _key = init_node("cellmaker", profiles=["catena-x"], port=18443, bpnl="BPNL000000000NC1")
    n.close()
    return "cellmaker"


def test_build_show_status(node: str, tmp_path: Path) -> None:
    from batpass.cli._passport import app

    item = tmp_path / "item.json"
    item.write_text(json.dumps(ITEM))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(make_summary(BAT)))
    runner = CliRunner()
    r = runner.invoke(
        app,
        ["build", BAT.path, "--static", str(EXAMPLE), "--item", str(item), "--summary", str(summary), "--node", node],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["version"] == 1
    r = runner.invoke(app, ["show", str(BAT), "--node", node, "--public"])
    assert r.exit_code == 0 and "test_reports" not in r.stdout and "rated_capacity" in r.stdout
    r = runner.invoke(app, ["show", str(BAT), "--node", node, "--format", "catenax"])
    assert r.exit_code == 0 and json.loads(r.stdout)["sustainability"]["status"] == "original"
    r = runner.invoke(
        app, ["status", str(BAT), "--node", node, "--set", "waste", "--waste-operator", "did:web:r.example"]
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "waste"


def test_bad_input_raises_our_error(node: str, tmp_path: Path) -> None:
    """The root CLI (``batpass.cli.main``) turns a BatpassError into one line and exit code 2."""
    from batpass.cli._passport import app
    from batpass.passport import WrongCategory

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("category: ev", "category: portable"))
    r = CliRunner().invoke(app, ["build", BAT.path, "--static", str(bad), "--node", node])
    assert isinstance(r.exception, WrongCategory) and r.exception.field == "category"


def test_recycling_on_the_command_line_records_who_and_what_was_recovered(node: str, tmp_path: Path) -> None:
    from batpass.cli._passport import app
    from batpass.core.errors import InvalidInput

    item = tmp_path / "item.json"
    item.write_text(json.dumps(ITEM))
    runner = CliRunner()
    r = runner.invoke(app, ["build", BAT.path, "--static", str(EXAMPLE), "--item", str(item), "--node", node])
    assert r.exit_code == 0, r.output
    # the node's operator takes the waste battery over and recycles it itself
    me = json.loads(runner.invoke(app, ["status", str(BAT), "--node", node]).stdout)["responsible"]
    assert (
        runner.invoke(app, ["status", str(BAT), "--node", node, "--set", "waste", "--waste-operator", me]).exit_code
        == 0
    )
    args = ["status", str(BAT), "--node", node, "--recycle", "--recycler", me]
    bad = runner.invoke(app, [*args, "--recovered", "cobalt=-1"])
    assert isinstance(bad.exception, InvalidInput) and bad.exception.field == "recovered[0].mass_kg"
    bad = runner.invoke(app, [*args, "--recovered", "cobalt"])
    assert isinstance(bad.exception, InvalidInput) and bad.exception.field == "--recovered"
    assert json.loads(runner.invoke(app, ["status", str(BAT), "--node", node]).stdout)["status"] == "waste"
    r = runner.invoke(app, [*args, "--recovered", "cobalt=4.2", "--recovered", "lithium carbonate=11.5"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "ended"
    shown = json.loads(runner.invoke(app, ["show", str(BAT), "--node", node, "--public"]).stdout)
    data = shown.get("data", shown)
    assert data["recycler"] == me
    assert data["recovered_materials"] == [
        {"material": "cobalt", "mass_kg": 4.2},
        {"material": "lithium carbonate", "mass_kg": 11.5},
    ]
