"""``batpass comply``: evaluate a battery or model described in JSON, print the findings, write
the JSON and HTML reports.

Input (JSON object): the description :func:`batpass.compliance._subject.subject_from_json` reads
(the fields of :class:`batpass.compliance.BatteryModel` or :class:`batpass.compliance.Battery`).
``--market EU|JP`` (default EU) chooses the rulesets; ``--ruleset <name>[@<version>]`` evaluates
one ruleset instead. An unknown one exits 2 naming the known ones.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from batpass.compliance import (
    MARKETS,
    evaluate,
    render_report_html,
    render_report_json,
    rulesets_for,
    subject_from_json,
)
from batpass.core.clock import utc_now
from batpass.core.errors import BatpassError

__all__ = ["app", "subject_from_json"]

app = typer.Typer(help="Compliance findings and reports (Regulation (EU) 2023/1542; the Japanese rules).")


@app.command()
def comply(
    subject_file: Annotated[Path, typer.Argument(help="JSON description of a battery or a battery model")],
    at: Annotated[str | None, typer.Option("--at", help="evaluation date (YYYY-MM-DD), default today")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.html")] = Path("."),
    market: Annotated[
        str | None,
        typer.Option("--market", help=f"market whose rulesets apply: {', '.join(sorted(MARKETS))} (default EU)"),
    ] = None,
    ruleset: Annotated[
        str | None,
        typer.Option("--ruleset", help="evaluate one bundled ruleset, <name>[@<version>] (not with --market)"),
    ] = None,
) -> None:
    """Evaluate the rules at a date; findings on stderr, reports written to --out."""
    err = Console(stderr=True)
    try:
        rulesets = rulesets_for(market, ruleset)
    except BatpassError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        # default: today where the command runs (the local date, as it always was)
        when = dt.date.fromisoformat(at) if at else utc_now().astimezone().date()
        subject = subject_from_json(json.loads(subject_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, BatpassError) as exc:
        err.print(f"[red]error:[/red] {subject_file}: {exc}")
        raise typer.Exit(2) from exc
    findings = evaluate(subject, when, rulesets=rulesets)
    names = ", ".join(f"{rs.name}@{rs.version}" for rs in rulesets)
    table = Table(title=f"Compliance at {when.isoformat()} ({names})")
    for col in ("rule", "status", "values", "reference"):
        table.add_column(col)
    for f in findings:
        style = {"pass": "green", "fail": "red"}.get(str(f.status), "yellow")
        table.add_row(f.rule, f"[{style}]{f.status}[/{style}]", json.dumps(dict(f.values), default=str), f.reference)
    err.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(render_report_json(subject, when, findings, rulesets), encoding="utf-8")
    (out / "report.html").write_text(render_report_html(subject, when, findings, rulesets), encoding="utf-8")
    err.print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    sys.stderr.flush()
