"""Compliance reports: JSON lists every finding; the HTML is self-contained (Chart.js inlined,
no external URL) and carries the footprint stages and the 2031/2036 minimums; ``comply`` CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from batpass.cli._compliance import app, subject_from_json
from batpass.compliance import evaluate, render_report_html, render_report_json

MODEL = {
    "model_id": "EV-PACK-77",
    "category": "ev",
    "capacity_kwh": "77",
    "footprint": {
        "kg_co2e_per_kwh": "61.5",
        "stages": {"raw_material": "40.1", "production": "19.4", "distribution": "2.0", "end_of_life": None},
    },
    "recycled": {
        "cobalt": {"pre_consumer": "0.10", "post_consumer": "0.08"},
        "lithium": {"pre_consumer": "0.02", "post_consumer": "0.02"},
        "nickel": {"pre_consumer": "0.05", "post_consumer": "0.03"},
        "lead": {"pre_consumer": "0.5", "post_consumer": "0.4"},
    },
}
AT = dt.date(2031, 8, 18)


def test_json_lists_every_finding() -> None:
    subject = subject_from_json(MODEL)
    findings = evaluate(subject, AT)
    data = json.loads(render_report_json(subject, AT, findings))
    assert len(data["findings"]) == len(findings) > 0
    for f, item in zip(findings, data["findings"], strict=True):
        assert item["rule"] == f.rule and item["status"] == str(f.status) and item["reference"] == f.reference
        assert isinstance(item["values"], dict)
    assert data["recycled_minimums"]["2031"]["cobalt"] == 0.16 and data["recycled_minimums"]["2036"]["nickel"] == 0.15
    assert data["footprint"]["stages"]["end_of_life"] is None  # not provided, never zero
    phase1 = {i["values"]["metal"]: i["status"] for i in data["findings"] if i["rule"] == "recycled.minimum.phase1"}
    assert phase1["lithium"] == "fail" and phase1["cobalt"] == "pass"  # 4 % < 6 %; 18 % ≥ 16 %


def test_html_is_self_contained() -> None:
    subject = subject_from_json(MODEL)
    html = render_report_html(subject, AT, evaluate(subject, AT))
    assert "Chart.js v4.4.7" in html and "new Chart(" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "<script src" not in html and "<link" not in html
    assert "recycled.minimum.phase1" in html and "2036-08-18" in html


def test_comply_cli_writes_reports(tmp_path: Path) -> None:
    src = tmp_path / "model.json"
    src.write_text(json.dumps(MODEL))
    result = CliRunner().invoke(app, [str(src), "--at", "2031-08-18", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out/report.json").read_text())["at"] == "2031-08-18"
    assert (tmp_path / "out/report.html").read_text().startswith("<!DOCTYPE html>")


def test_comply_cli_bad_input_exits_2(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text(json.dumps({"model_id": "X", "category": "spaceship"}))
    result = CliRunner().invoke(app, [str(src)])
    assert result.exit_code == 2


def test_comply_cli_market_jp(tmp_path: Path) -> None:
    src = tmp_path / "model.json"
    footprint = cast(dict[str, Any], MODEL["footprint"])
    src.write_text(json.dumps({**MODEL, "footprint": {**footprint, "source_format": "ouranos-cfp"}}))
    result = CliRunner().invoke(app, [str(src), "--at", "2026-12-06", "--market", "JP", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o/report.json").read_text())
    assert report["rulesets"] == ["jp@2026.1", "footprint-exchange@1.0"]
    rules = {f["rule"]: f["status"] for f in report["findings"]}
    assert rules["jp.cfp.method"] == "fail"  # an Ouranos CFP without its METI method version
    assert rules["jp.cfp.max_threshold"] == "not set"


def test_comply_cli_default_market_is_eu(tmp_path: Path) -> None:
    src = tmp_path / "model.json"
    src.write_text(json.dumps(MODEL))
    result = CliRunner().invoke(app, [str(src), "--at", "2031-08-18", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o/report.json").read_text())["rulesets"][0] == "eu-2023-1542@2025.2"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--market", "US"], ["EU", "JP"]),
        (["--ruleset", "kr"], ["eu-2023-1542", "footprint-exchange", "jp"]),
        (["--market", "JP", "--ruleset", "jp"], ["not both"]),
    ],
)
def test_comply_cli_unknown_market_or_ruleset_exits_2(tmp_path: Path, args: list[str], named: list[str]) -> None:
    src = tmp_path / "model.json"
    src.write_text(json.dumps(MODEL))
    result = CliRunner().invoke(app, [str(src), *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    for name in named:
        assert name in result.output
    assert not (tmp_path / "o").exists()
