"""``batpass comply``: evaluate a battery or model described in JSON, print the findings, write
the JSON and HTML reports.

Input (JSON object): a model ``{"model_id", "category", "capacity_kwh"?, "footprint"?:
{"kg_co2e_per_kwh", "stages": {stage: value|null}}, "recycled"?: {metal: {"pre_consumer",
"post_consumer"}}, …}`` — the fields of :class:`batpass.compliance.BatteryModel` — or a battery
``{"battery_id", "model": {…}, …}`` with the fields of :class:`batpass.compliance.Battery`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import typing
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from batpass.compliance._evaluate import evaluate
from batpass.compliance._report import render_report_html, render_report_json
from batpass.compliance.model import Battery, BatteryModel, Category, FootprintDeclaration, RecycledShare

__all__ = ["app", "subject_from_json"]

app = typer.Typer(help="Compliance findings and reports (Regulation (EU) 2023/1542).")


def _convert(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        hint = str(hints[key])
        if value is None:
            out[key] = None
        elif key == "model":
            out[key] = _convert(BatteryModel, value, f"{where}.model")
        elif key == "category":
            out[key] = Category(value)
        elif key == "footprint":
            fp = dict(value)
            fp["kg_co2e_per_kwh"] = Decimal(str(fp["kg_co2e_per_kwh"]))
            fp["stages"] = {k: None if v is None else Decimal(str(v)) for k, v in fp.get("stages", {}).items()}
            if fp.get("reference_period_end"):
                fp["reference_period_end"] = dt.date.fromisoformat(fp["reference_period_end"])
            for k in ("exempted_share", "primary_data_share"):
                if fp.get(k) is not None:
                    fp[k] = Decimal(str(fp[k]))
            out[key] = FootprintDeclaration(**fp)
        elif key == "recycled":
            shares: dict[str, RecycledShare] = {}
            for metal, r in value.items():
                fields: dict[str, Any] = dict(r)
                for k in ("pre_consumer", "post_consumer"):
                    fields[k] = Decimal(str(fields[k]))
                shares[metal] = RecycledShare(**fields)
            out[key] = shares
        elif "frozenset" in hint:
            out[key] = frozenset(value)
        elif "tuple" in hint:
            out[key] = tuple(value)
        elif "Decimal" in hint:
            out[key] = Decimal(str(value))
        else:
            out[key] = value
    return cls(**out)


def subject_from_json(raw: Any) -> Battery | BatteryModel:
    """A :class:`Battery` (``battery_id`` present) or :class:`BatteryModel` from its JSON form."""
    if not isinstance(raw, dict):
        raise ValueError("the input must be a JSON object")
    return _convert(Battery if "battery_id" in raw else BatteryModel, raw, "$")  # type: ignore[no-any-return]


@app.command()
def comply(
    subject_file: Annotated[Path, typer.Argument(help="JSON description of a battery or a battery model")],
    at: Annotated[str | None, typer.Option("--at", help="evaluation date (YYYY-MM-DD), default today")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.html")] = Path("."),
) -> None:
    """Evaluate the rules at a date; findings on stderr, reports written to --out."""
    err = Console(stderr=True)
    try:
        when = dt.date.fromisoformat(at) if at else dt.date.today()
        subject = subject_from_json(json.loads(subject_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        err.print(f"[red]error:[/red] {subject_file}: {exc}")
        raise typer.Exit(2) from exc
    findings = evaluate(subject, when)
    table = Table(title=f"Compliance at {when.isoformat()}")
    for col in ("rule", "status", "values", "reference"):
        table.add_column(col)
    for f in findings:
        style = {"pass": "green", "fail": "red"}.get(str(f.status), "yellow")
        table.add_row(f.rule, f"[{style}]{f.status}[/{style}]", json.dumps(dict(f.values), default=str), f.reference)
    err.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(render_report_json(subject, when, findings), encoding="utf-8")
    (out / "report.html").write_text(render_report_html(subject, when, findings), encoding="utf-8")
    err.print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    sys.stderr.flush()
