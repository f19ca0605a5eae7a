"""``batpass comply``: evaluate a battery or model described in JSON — or, on a node, a passport
it stores or fetches from another node, or a recycler its ledger knows — print the findings,
write the JSON and HTML reports.

File form: the description :func:`batpass.compliance._subject.subject_from_json` reads (the
fields of :class:`batpass.compliance.BatteryModel` or :class:`batpass.compliance.Battery`).
Node form: ``--node N --passport ID|URL`` (a passport id, ``urn:uuid:`` id or battery identifier
stored on the node, or the https URL of a passport on another node, read with the node's
access-role credentials) or ``--node N --recycler DID``, judged with the evidence the node holds
(:class:`batpass.compliance.ComplianceService`), as ``GET /v1/passports/{id}/compliance`` does.
``--market EU|JP`` (default EU) chooses the rulesets; ``--ruleset <name>[@<version>]`` evaluates
one ruleset instead. Bad input exits 2 with one line naming it.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from batpass.compliance import (
    MARKETS,
    Evaluation,
    Finding,
    evaluate,
    render_report_html,
    render_report_json,
    rulesets_for,
    subject_from_json,
)
from batpass.core.clock import utc_now
from batpass.core.errors import BatpassError, InvalidInput

__all__ = ["app", "subject_from_json"]

app = typer.Typer(help="Compliance findings and reports (Regulation (EU) 2023/1542; the Japanese rules).")


def _table(err: Console, when: dt.date, names: str, findings: Sequence[Finding]) -> None:
    table = Table(title=f"Compliance at {when.isoformat()} ({names})")
    for col in ("rule", "status", "values", "evidence", "reference"):
        table.add_column(col)
    for f in findings:
        style = {"pass": "green", "fail": "red"}.get(str(f.status), "yellow")
        evidence = "; ".join(
            e.source + (f" — recognised: {e.recognition}" if e.recognition else "") for e in f.evidence
        )
        values = json.dumps(dict(f.values), default=str)
        table.add_row(f.rule, f"[{style}]{f.status}[/{style}]", values, evidence, f.reference)
    err.print(table)


def _on_node(node: str, passport: str | None, recycler: str | None, when: dt.date, **selector: Any) -> Evaluation:
    """The evaluation on ``node`` with the services it runs (its database, keys, trust lists and
    recognition policy; partners reached over HTTPS under the federation CA)."""
    import httpx

    from batpass.compliance import ComplianceService, load_ruleset
    from batpass.exchange import PassportFetcher
    from batpass.footprint import PactService
    from batpass.node import federation_fetches, open_node
    from batpass.passport import PassportRules, PassportService
    from batpass.trust import client_ssl_context

    local = open_node(node)
    cfg = local.config
    ca = client_ssl_context(local.paths.ca_cert)

    async def run() -> Evaluation:
        async with httpx.AsyncClient(verify=ca, timeout=httpx.Timeout(30.0)) as client:
            with httpx.Client(verify=ca, timeout=httpx.Timeout(30.0)) as sync_client:
                trust = local.trust_service(client=client, sync_client=sync_client)
                federation_fetches(trust, cfg.extra.get("federation_hosts"), own=f"{cfg.host}:{cfg.port}")
                backup = cfg.extra.get("passport_backup_url", local.base_url)
                pact = None
                if "catena-x" in cfg.profiles:
                    pact = PactService(local.engine, base_url=local.base_url, client=sync_client)
                svc = ComplianceService(
                    owner=local.did,
                    passports=PassportService(
                        local.engine,
                        local.identity,
                        rules=PassportRules.from_ruleset(load_ruleset()),
                        resolver_base=local.resolver_base,
                        backup_url=backup,
                    ),
                    ledger=local.ledger_service(),
                    trust=trust,
                    pact=pact,
                    local_bases=(local.base_url, local.resolver_base),
                    remote=PassportFetcher(trust),  # the console's fetch too (batpass.exchange)
                )
                if recycler is not None:
                    return await anyio.to_thread.run_sync(lambda: svc.recycler(recycler, when, **selector))
                assert passport is not None
                return await svc.passport(passport, when, client=client, **selector)

    try:
        return anyio.run(run)
    finally:
        local.close()


@app.command()
def comply(
    subject_file: Annotated[
        Path | None, typer.Argument(help="JSON description of a battery or a battery model (not with --node)")
    ] = None,
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
    node: Annotated[
        str | None, typer.Option("--node", help="evaluate on this node ($BATPASS_HOME/NAME) what it holds")
    ] = None,
    passport: Annotated[
        str | None,
        typer.Option("--passport", help="with --node: a stored passport (id or battery URI) or another node's URL"),
    ] = None,
    recycler: Annotated[
        str | None, typer.Option("--recycler", help="with --node: a recycler (its DID) in the node's ledger")
    ] = None,
) -> None:
    """Evaluate the rules at a date; findings on stderr, reports written to --out."""
    err = Console(stderr=True)
    try:
        rulesets = rulesets_for(market, ruleset)
        if (subject_file is None) == (node is None):
            raise InvalidInput("give a subject file or --node, not both", field="--node", rule="one subject")
        if node is not None and (passport is None) == (recycler is None):
            raise InvalidInput("--node needs --passport or --recycler", field="--passport", rule="one subject")
        # default: today where the command runs (the local date, as it always was)
        when = dt.date.fromisoformat(at) if at else utc_now().astimezone().date()
    except (ValueError, BatpassError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    names = ", ".join(f"{rs.name}@{rs.version}" for rs in rulesets)
    if node is not None:
        try:
            done = _on_node(node, passport, recycler, when, market=market, ruleset=ruleset)
        except BatpassError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        _table(err, when, names, done.findings)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(done.report(), indent=2, ensure_ascii=False), encoding="utf-8")
        written = [out / "report.json"]
        if done.battery is not None:
            html = render_report_html(done.battery, when, done.findings, done.rulesets)
            (out / "report.html").write_text(html, encoding="utf-8")
            written.append(out / "report.html")
        err.print(f"wrote {' and '.join(str(p) for p in written)}")
        sys.stderr.flush()
        return
    assert subject_file is not None
    try:
        subject = subject_from_json(json.loads(subject_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, BatpassError) as exc:
        err.print(f"[red]error:[/red] {subject_file}: {exc}")
        raise typer.Exit(2) from exc
    findings = evaluate(subject, when, rulesets=rulesets)
    _table(err, when, names, findings)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(render_report_json(subject, when, findings, rulesets), encoding="utf-8")
    (out / "report.html").write_text(render_report_html(subject, when, findings, rulesets), encoding="utf-8")
    err.print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    sys.stderr.flush()
