"""The dataspace CLI: bad input is one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batpass.cli._dataspace import app
from batpass.core.settings import Settings
from batpass.node import init_node


def test_bad_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "offer.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(app, ["register-offer", str(bad), "--node", "nonexistent-node"])
    assert result.exit_code == 2
    assert "error: " in result.output and "(field: file)" in result.output


def test_the_bill_of_material_is_released_and_taken_back_on_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATPASS_HOME", str(tmp_path / "home"))
    node, _ = init_node(
        "car", profiles=["catena-x"], settings=Settings(home=tmp_path / "home"), bpnl="BPNL00000003CAR1"
    )
    node.close()
    run = CliRunner()
    released = run.invoke(app, ["release-bom", "BPNL00000003REC1", "--node", "car"])
    assert released.exit_code == 0 and json.loads(released.output)["partner"] == "BPNL00000003REC1"
    listed = run.invoke(app, ["list-bom-releases", "--node", "car"])
    assert [json.loads(line)["partner"] for line in listed.output.splitlines()] == ["BPNL00000003REC1"]
    assert run.invoke(app, ["release-bom", "BPNL00000003REC1", "--revoke", "--node", "car"]).exit_code == 0
    assert run.invoke(app, ["list-bom-releases", "--node", "car"]).output == ""
    again = run.invoke(app, ["release-bom", "BPNL00000003REC1", "--revoke", "--node", "car"])
    assert again.exit_code == 2 and len(again.output.strip().splitlines()) == 1
    bad = run.invoke(app, ["release-bom", "recycler", "--node", "car"])
    assert bad.exit_code == 2 and "(field: bpnl)" in bad.output
