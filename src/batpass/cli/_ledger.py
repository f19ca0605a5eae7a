"""CLI of the material ledger: ``batpass ledger record|verify|trace|outflows|claim|upgrade-profiles`` (:data:`app`;
``trace`` and ``outflows`` are also top-level commands) and ``batpass scenario generate``
(:data:`scenario_app`).

Every ledger command acts on one node (``--node NAME``). Bad input prints one line naming the
line, field and rule and exits 2; ``verify`` exits 1 when anything fails to verify. Data goes
to standard output (JSON), tables and progress to standard error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from batpass.core.errors import BatpassError, InvalidInput
from batpass.ledger import Event, LedgerService, parse_event

__all__ = [
    "app",
    "authorisations",
    "authorise",
    "claim",
    "generate",
    "hold_authorisation",
    "outflows",
    "record",
    "recycling_efficiency",
    "scenario_app",
    "trace",
    "upgrade_profiles",
    "verify",
]

app = typer.Typer(help="Material ledger: record events, verify the chain, trace, outflows.")
scenario_app = typer.Typer(help="Seeded EU/JP supply-chain scenario.")

NodeOpt = Annotated[str, typer.Option("--node", help="the node to act on ($BATPASS_HOME/NAME)")]

#: events per ``record`` call (one transaction each) when recording a file
RECORD_CHUNK = 5000

_err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    _err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Our errors become one line on stderr and exit code 2 (as the main CLI does)."""
    try:
        yield
    except BatpassError as exc:
        line = str(exc)
        if getattr(exc, "field", None) and str(exc.field) not in line:  # type: ignore[attr-defined]
            line += f" (field: {exc.field})"  # type: ignore[attr-defined]
        if exc.rule and exc.rule not in line:
            line += f" (rule: {exc.rule})"
        _fail(line)


def _service(name: str) -> LedgerService:
    from batpass.ledger import recheck_with
    from batpass.node.local import open_node

    trust: list[Any] = []

    def check(token: str) -> object:
        """A held authorisation credential verified again per shipment, through the node's trust
        lists and the status lists it fetches (the trust service is opened on first use)."""
        if not trust:
            from batpass.cli._trust import _service as trust_service

            trust.append(trust_service(name))
        return recheck_with(trust[0].verifier.verify)(token)

    return open_node(name).ledger_service(authorisation_check=check)


def _federated(
    name: str, subject: str, api_key: str | None, *, down: bool = False, deadline_ms: float | None = None
) -> dict[str, Any]:
    """Ask the running node (over HTTPS, trusting its federation CA) for the recursive trace,
    answered within ``deadline_ms`` (the node's default when ``None``)."""
    import httpx

    from batpass.core.errors import Unauthorized, UpstreamUnavailable
    from batpass.node.local import open_node

    if not api_key:
        raise Unauthorized(
            "--federated needs the node's admin key (--api-key or BATPASS_ADMIN_KEY)",
            rule="the node stores its admin key hashed only",
        )
    node = open_node(name)
    url = f"{node.base_url}/v1/trace/federated/{quote(subject, safe='')}"
    verify: Any = str(node.paths.ca_cert) if node.base_url.startswith("https") else True
    try:
        params = {"direction": "down"} if down else {}
        if deadline_ms is not None:
            params["deadline_ms"] = str(deadline_ms)
        resp = httpx.get(url, headers={"X-Api-Key": api_key}, params=params, verify=verify, timeout=120)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"node {name} does not answer at {node.base_url} ({type(exc).__name__}); is it running?",
            rule="batpass serve --node NAME",
        ) from exc
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise UpstreamUnavailable(f"node {name} answered {resp.status_code}: {detail}", rule="federated trace")
    out: dict[str, Any] = resp.json()
    return out


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_err,
        transient=False,
    )


def _read_events(path: Path) -> tuple[list[Event], list[int]]:
    """Parse a JSON Lines file of events strictly; returns the events and their line numbers."""
    events: list[Event] = []
    lines: list[int] = []
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="file", rule="a readable file") from exc
    with fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"{path}:{n}: not JSON ({exc.msg})", field=f"line {n}", rule="JSON Lines: one JSON value per line"
                ) from exc
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"{path}:{n}: not UTF-8", field=f"line {n}", rule="RFC 8259 §8.1") from exc
            try:
                events.append(parse_event(raw, path=f"line {n}"))
            except BatpassError as exc:
                exc.message = f"{path}:{n}: {exc.message}"
                exc.args = (exc.message,)
                raise
            lines.append(n)
    return events, lines


@app.command()
def record(
    file: Annotated[Path, typer.Argument(help="JSON Lines of events (docs/ledger-events.md)")],
    node: NodeOpt,
    chunk: Annotated[int, typer.Option(help="events per transaction", min=1)] = RECORD_CHUNK,
) -> None:
    """Record a file of events. Every line is parsed before anything is stored; then the events
    are recorded in transactions of ``--chunk`` events. A rejected event names its line; the
    chunks before it stay recorded and re-running the file replays them idempotently."""
    with _one_line_errors():
        events, lines = _read_events(file)
        svc = _service(node)
        totals = {"recorded": 0, "replayed": 0, "batches": 0, "alerts": 0}
        with _progress() as bar:
            task = bar.add_task("recording events", total=len(events))
            for start in range(0, len(events), chunk):
                part = events[start : start + chunk]
                try:
                    res = svc.record(part)
                except BatpassError as exc:
                    idx = exc.details.get("event_index") if isinstance(exc.details, dict) else None
                    if isinstance(idx, int) and 0 <= idx < len(part):
                        ln = lines[start + idx]
                        msg = exc.details.get("event_error", exc.message)
                        exc.message = f"{file}:{ln}: {msg}"
                        exc.args = (exc.message,)
                    raise
                totals["recorded"] += res.recorded
                totals["replayed"] += res.replayed
                totals["batches"] += res.batches
                totals["alerts"] += len(res.alerts)
                bar.advance(task, len(part))
        typer.echo(json.dumps(totals))


@app.command()
def verify(
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="one owner partition (default: all)")] = None,
) -> None:
    """Check every hash link and batch signature; exit code 1 when anything fails to verify."""
    with _one_line_errors():
        rep = _service(node).verify(owner)
    typer.echo(
        json.dumps(
            {
                "ok": rep.ok,
                "owners": rep.owners,
                "events": rep.events,
                "batches": rep.batches,
                "problems": [
                    {"owner": p.owner, "rule": p.rule, "message": p.message, "seq": p.seq} for p in rep.problems
                ],
            }
        )
    )
    for p in rep.problems:
        _err.print(f"[red]✗[/] {escape(p.owner)} seq {p.seq}: {escape(p.message)} ({escape(p.rule)})", soft_wrap=True)
    if not rep.ok:
        raise typer.Exit(1)
    _err.print(f"[green]✓[/] {rep.events} events in {rep.batches} signed batches verify")


@app.command("upgrade-profiles")
def upgrade_profiles(
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="one owner partition (default: all)")] = None,
) -> None:
    """Recompute the origin profiles stored before upstream summary 2.0 (and those of the lots made
    from them) from the event log; idempotent. Prints the lots rewritten per owner (JSON). A node
    also does this at start-up, before its self-audit."""
    with _one_line_errors():
        done = _service(node).upgrade_profiles(owner)
    typer.echo(json.dumps(done, sort_keys=True))
    _err.print(f"[green]✓[/] {sum(done.values())} origin profiles recomputed to summary 2.0", highlight=False)


def _federated_table(subject: str, result: dict[str, Any]) -> Table:
    table = Table(title=f"federated origin of {subject}")
    for col in ("element", "mined, by country", "recycled, by recycler country", "unknown", "high-risk (of mined)"):
        table.add_column(col)
    high = result.get("high_risk_share", {})
    recycled = result.get("recycled_by_country", {})
    unknown = result.get("unknown_share", {})
    for el, shares in result.get("shares_by_country", {}).items():
        table.add_row(el, _by_country(shares), _by_country(recycled.get(el)), _pct(unknown.get(el)), _pct(high.get(el)))
    return table


def _by_country(shares: dict[str, float] | None) -> str:
    if shares is None:
        return "unknown"
    return ", ".join(f"{c} {s:.1%}" for c, s in sorted(shares.items(), key=lambda x: -x[1])) or "-"


def _pct(share: float | None) -> str:
    return "unknown" if share is None else f"{share:.1%}"


def _shares_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"origin of {result['root']['battery'] or result['root']['lot']}")
    cols = ("element", "mined, by country", "recycled, by recycler country", "high-risk (of mined)")
    for col in (*cols, "recycled pre", "recycled post", "custody", "unknown"):
        table.add_column(col)
    for el, v in result.get("elements", {}).items():
        custody = ", ".join(f"{c} {s:.0%}" for c, s in v["custodyModels"].items())
        table.add_row(
            el,
            _by_country(v["minedByCountry"]),
            _by_country(v["recycledByCountry"]),
            _pct(v["highRiskShare"]),
            _pct(v["recycled"]["preConsumer"]),
            _pct(v["recycled"]["postConsumer"]),
            custody or "-",
            _pct(v["unknownShare"]),
        )
    return table


@app.command()
def trace(
    subject: Annotated[str, typer.Argument(help="a lot id or a battery's GS1 Digital Link URI")],
    node: NodeOpt,
    down: Annotated[bool, typer.Option("--down", help="downstream: every lot and battery it reached")] = False,
    owner: Annotated[str | None, typer.Option(help="owner partition (default: the node's DID)")] = None,
    federated: Annotated[
        bool, typer.Option("--federated", help="recursive trace through the suppliers' connectors (the node must run)")
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="BATPASS_ADMIN_KEY", help="the node's admin key, for --federated (stored hashed only)"),
    ] = None,
    deadline_ms: Annotated[
        float | None,
        typer.Option(
            "--deadline-ms",
            min=1,
            max=300_000,  # batpass.federation.MAX_DEADLINE_MS
            help="with --federated: answer within this many ms (default 10000); branches still running then "
            "are tombstones with the reason 'deadline exceeded'",
        ),
    ] = None,
) -> None:
    """Trace a lot or battery: origin shares per element (table on stderr), the full result as JSON
    on stdout. Local by default; ``--federated`` asks the running node to recurse tier by tier."""
    if federated:
        with _one_line_errors():
            result = _federated(node, subject, api_key, down=down, deadline_ms=deadline_ms)
        if down:
            _err.print(f"{len(result.get('tombstones', []))} tombstone(s); recall answer as JSON on stdout")
        else:
            _err.print(_federated_table(subject, result))
            _err.print(
                f"{result['hops']} supplier tiers crossed, {result['mines_reached']} mine sites reached, "
                f"{len(result['tombstones'])} tombstone(s)"
            )
        typer.echo(json.dumps(result))
        return
    with _one_line_errors():
        svc = _service(node)
        result = svc.trace(owner or svc.identity.did, subject, direction="down" if down else "up")
    if result["hop_cap_reached"]:
        _err.print(f"[yellow]![/] stopped at the hop cap ({result['max_hops']} hops): the graph is truncated")
    if down:
        _err.print(
            f"{result['graph_lots']} lots reached in {result['hops']} hops, {len(result['batteries'])} batteries"
        )
    else:
        _err.print(_shares_table(result))
        _err.print(f"{result['graph_lots']} lots upstream, {result['mines_reached']} mine sites reached")
    typer.echo(json.dumps(result))


@app.command()
def outflows(
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="one owner partition (default: all)")] = None,
) -> None:
    """Outflow alerts (a shipment the shipment rules or the node's policy require an
    authorisation for, shipped without one, outside its destinations or beyond its cap, or
    prohibited) with their evidence, as JSON on stdout (docs/outflows.md)."""
    with _one_line_errors():
        alerts = _service(node).outflows(owner)
    for a in alerts:
        _err.print(f"[yellow]![/] {escape(a['rule'])}: shipment {escape(a['shipment'])}", soft_wrap=True)
    typer.echo(json.dumps(alerts))


@app.command()
def reconcile(
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="one owner partition (default: this node's)")] = None,
) -> None:
    """Reconcile shipments to other owners with their receipts there: write the notices and
    verdicts due (the serving node's outbox sends them), judge what is missing, and print each
    shipment's outcome as JSON on stdout (docs/outflows.md "Reconciliation across nodes")."""
    from batpass.ledger import Reconciliation
    from batpass.node.local import open_node

    with _one_line_errors():
        local = open_node(node)
        svc = Reconciliation(local.ledger_service(), settings=local.reconciliation_settings)
        changed = svc.run(owner)
        result = {"changed": changed, **svc.outcomes(owner or local.did)}
    for role, counts in result["counts"].items():
        line = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        _err.print(f"{escape(role)}: {escape(line) or 'none'}", soft_wrap=True)
    for s in result["shipments"]:
        if s["alert"]:
            _err.print(
                f"[yellow]![/] {escape(s['alert'])}: shipment {escape(s['shipment'])} ({s['role']})", soft_wrap=True
            )
    typer.echo(json.dumps(result))


@app.command("recycling-efficiency")
def recycling_efficiency(
    node: NodeOpt,
    recycler: Annotated[str | None, typer.Option(help="the recycler's owner partition (default: this node)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="RFC 3339 timestamp or date (inclusive)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="RFC 3339 timestamp or date (exclusive)")] = None,
) -> None:
    """Recycling efficiency and material recovery computed from the recycler's ledger, against
    Annex XII's dated targets (a simplified estimate, never a pass), as JSON on stdout."""
    with _one_line_errors():
        svc = _service(node)
        result = svc.recycling_efficiency(recycler or svc.identity.did, start, end)
    eff = result["efficiency"]
    _err.print(
        f"{result['basis']}: efficiency {'n/a' if eff is None else f'{eff:.1%}'} "
        f"({escape(result['efficiency_indication'])}) over {result['recovery_events']} recovery event(s)",
        soft_wrap=True,
    )
    typer.echo(json.dumps(result))


@app.command()
def claim(
    lot: Annotated[str, typer.Argument(help="the recycler's recovered lot whose credit account is debited")],
    node: NodeOpt,
    recycler: Annotated[str, typer.Option(help="the recycler's DID (its connector keeps the credit account)")],
    element: Annotated[str, typer.Option(help="Co, Li, Ni or Pb")],
    kg: Annotated[float, typer.Option(help="recycled element mass claimed, kg")],
    subject: Annotated[str, typer.Option(help="the battery or passport the claim is for")],
    claim_id: Annotated[str, typer.Option("--id", help="the claim's id (idempotency key)")],
    custody: Annotated[str, typer.Option(help="ISO 22095 chain-of-custody model")] = "mass_balance",
    api_key: Annotated[
        str | None, typer.Option(envvar="BATPASS_ADMIN_KEY", help="the node's admin key (stored hashed only)")
    ] = None,
) -> None:
    """Claim recycled content at a recycler, through its connector (the node must run). The claim
    is printed as JSON; a double claim (the recycler recorded it as such) exits 1."""
    import ssl

    import httpx

    from batpass.core.errors import Unauthorized, UpstreamUnavailable
    from batpass.node.local import open_node

    body = {
        "recycler": recycler,
        "id": claim_id,
        "lot": lot,
        "element": element,
        "kg": kg,
        "subject": subject,
        "custody": custody,
    }
    with _one_line_errors():
        if not api_key:
            raise Unauthorized("claim needs the node's admin key (--api-key or BATPASS_ADMIN_KEY)", rule="admin key")
        local = open_node(node)
        verify: Any = (
            ssl.create_default_context(cafile=str(local.paths.ca_cert)) if local.base_url.startswith("https") else True
        )
        try:
            resp = httpx.post(
                local.base_url + "/v1/ledger/claims/remote",
                json=body,
                headers={"X-Api-Key": api_key},
                verify=verify,
                timeout=120,
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"node {node} does not answer at {local.base_url} ({type(exc).__name__}); is it running?",
                rule="batpass serve --node NAME",
            ) from exc
        try:
            answer: dict[str, Any] = resp.json()
        except ValueError:
            answer = {"detail": resp.text}
        if resp.status_code not in (201, 409) or "claim" not in answer:
            detail = answer.get("detail", answer)
            raise UpstreamUnavailable(f"node {node} answered {resp.status_code}: {detail}", rule="remote claim")
    typer.echo(json.dumps(answer))
    if resp.status_code == 409:
        _err.print(f"[bold red]double claim:[/] {escape(str(answer.get('detail', '')))}", soft_wrap=True)
        raise typer.Exit(1)
    left = answer.get("account", {}).get("remainingKg")
    _err.print(f"[green]✓[/] claim {escape(claim_id)} accepted" + (f"; {left:.3f} kg left" if left is not None else ""))


@app.command()
def authorise(
    file: Annotated[Path, typer.Argument(help="JSON: one export authorisation or an array of them")],
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="owner partition (default: the node's DID)")] = None,
) -> None:
    """Record export authorisations (holder, material, destinations, cap, validity)."""
    with _one_line_errors():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file", rule="a readable file") from exc
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{file}: not JSON ({exc.msg})", field="file", rule="RFC 8259") from exc
        items = data if isinstance(data, list) else [data]
        svc = _service(node)
        done = [svc.authorise_export(owner or svc.identity.did, a) for a in items]
    typer.echo(json.dumps(done))


@app.command("hold-authorisation")
def hold_authorisation(
    credential: Annotated[str, typer.Argument(help="an ExportAuthorisationCredential (literal, file, @file or -)")],
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="owner partition (default: the node's DID)")] = None,
) -> None:
    """Keep an export authorisation an authority issued as a credential: verified, and accepted
    only from an issuer a trust list names for ExportAuthorisationCredential (docs/outflows.md)."""
    import asyncio

    from batpass.cli._trust import _service as trust_service
    from batpass.cli._trust import _text

    with _one_line_errors():
        svc, trust = _service(node), trust_service(node)
        done = asyncio.run(svc.hold_authorisation(owner or svc.identity.did, _text(credential), trust.verify))
    _err.print(f"[green]✓[/] {escape(done['id'])} held, issued by {escape(str(done['issuer']))}")
    typer.echo(json.dumps(done))


@app.command("authorisations")
def authorisations(
    node: NodeOpt,
    owner: Annotated[str | None, typer.Option(help="owner partition (default: the node's DID)")] = None,
) -> None:
    """The export authorisations held, with their kind (self_declared or credential) and use."""
    with _one_line_errors():
        svc = _service(node)
        typer.echo(json.dumps(svc.authorisations(owner or svc.identity.did)))


@scenario_app.command()
def generate(
    lots: Annotated[int, typer.Option("--lots", help="scale: lots to generate (10 to 2,000,000)")],
    out: Annotated[Path, typer.Option("--out", help="JSON Lines file to write")],
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    owner: Annotated[
        str | None, typer.Option(help="record every company's events under this DID (a node's own partition)")
    ] = None,
    node: Annotated[str | None, typer.Option("--node", help="use this node's DID as --owner")] = None,
) -> None:
    """Write the seeded scenario's events as JSON Lines (and its authorisations beside it as
    ``FILE.authorisations.json``)."""
    from batpass.scenario import generate as gen
    from batpass.scenario import iter_jsonl

    with _one_line_errors():
        if node is not None:
            from batpass.node.local import open_node

            owner = owner or open_node(node).did
        with _err.status(f"generating {lots} lots"):
            sc = gen(lots=lots, seed=seed, owner=owner)
        try:
            with out.open("w", encoding="utf-8") as fh:
                for line in iter_jsonl(sc):
                    fh.write(line + "\n")
            out.with_name(out.name + ".authorisations.json").write_text(json.dumps(sc.authorisations, indent=2))
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}", field="out", rule="a writable path") from exc
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "events": len(sc.events),
                "lots": sc.lots,
                "batteries": len(sc.batteries),
                "battery_ids": sc.battery_ids[:3],
                "owners": len(sc.owners()),
            }
        )
    )
