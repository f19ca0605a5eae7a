"""The dataspace CLI: bad input is one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from batpass.cli._dataspace import app


def test_bad_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "offer.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(app, ["register-offer", str(bad), "--node", "nonexistent-node"])
    assert result.exit_code == 2
    assert "error: " in result.output and "(field: file)" in result.output
