"""The ``batpass`` command line. Every command that acts on a node takes ``--node NAME``.

Bad input prints one line naming the problem and exits with code 2; progress and logs go to
standard error, so standard output stays clean for data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from batpass.core.errors import BatpassError
from batpass.core.logs import configure_logging
from batpass.core.settings import load_settings

app = typer.Typer(
    name="batpass",
    help="EU battery passports and critical-material traceability across Catena-X and Ouranos.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
ca_app = typer.Typer(help="The federation certificate authority.")
app.add_typer(ca_app, name="ca")
compose_app = typer.Typer(help="The compose federation (deploy/compose.yaml): create its nodes, then seed them.")
app.add_typer(compose_app, name="compose")


def _mount_capability_commands() -> None:
    """Each capability's sub-commands (their modules are imported lazily by typer's callbacks)."""
    from batpass.cli._backup import backup, restore
    from batpass.cli._compliance import app as compliance_app
    from batpass.cli._dataspace import app as dataspace_app
    from batpass.cli._keys import app as keys_app
    from batpass.cli._ledger import app as ledger_app
    from batpass.cli._ledger import outflows, scenario_app, trace
    from batpass.cli._ouranos import app as ouranos_app
    from batpass.cli._passport import app as passport_app
    from batpass.cli._sites import app as sites_app
    from batpass.cli._trust import app as trust_app
    from batpass.cli._trust import credential_app
    from batpass.cli._users import app as user_app

    app.add_typer(ouranos_app, name="ouranos", help="Ouranos hub: operators, plants, accounts, API keys.")
    app.add_typer(dataspace_app, name="dataspace", help="Catena-X connector: offers and partner groups.")
    app.add_typer(ledger_app, name="ledger", help="Record, verify and trace the material ledger.")
    app.add_typer(scenario_app, name="scenario", help="The seeded EU/JP supply-chain scenario.")
    app.command("trace", help="Trace a lot or battery upstream (or --down) in this node's ledger.")(trace)
    app.command("outflows", help="Shipments lacking the authorisation the shipment rules require.")(outflows)
    app.add_typer(passport_app, name="passport", help="Build, show and change the status of battery passports.")
    app.add_typer(sites_app, name="sites", help="The site register and the CAHRA list its sites are screened with.")
    app.add_typer(trust_app, name="trust", help="Trust lists and recognition policies.")
    app.add_typer(credential_app, name="credential", help="Issue, verify, revoke and present credentials.")
    app.add_typer(user_app, name="user", help="Console users: add, list, remove (docs/console.md).")
    app.add_typer(keys_app, name="keys", help="Rotate the node's signing key or TLS certificate.")
    app.command("backup", help="Back up a node (database, keys, config) into one passphrase-encrypted file.")(backup)
    app.command("restore", help="Restore a node from its backup into a new home folder (or schema).")(restore)
    # `comply` is a top-level command (batpass comply FILE)
    for cmd in compliance_app.registered_commands:
        app.registered_commands.append(cmd)


_mount_capability_commands()

err_console = Console(stderr=True)
out_console = Console()

NodeOpt = Annotated[str, typer.Option("--node", help="the node to act on ($BATPASS_HOME/NAME)")]


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def init(
    name: Annotated[str, typer.Option("--name", help="node name (folder under $BATPASS_HOME)")],
    profile: Annotated[list[str], typer.Option("--profile", help="catena-x, ouranos, bridge or resolver (repeatable)")],
    port: Annotated[int | None, typer.Option(help="HTTPS port (default: a free one)")] = None,
    host: Annotated[str, typer.Option(help="host name in the node's URL and did:web")] = "localhost",
    legal_name: Annotated[str | None, typer.Option(help="the participant's legal name")] = None,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country")] = "DE",
    bpnl: Annotated[str | None, typer.Option(help="Catena-X BPNL")] = None,
    corporate_number: Annotated[str | None, typer.Option(help="Japanese corporate number (13 digits)")] = None,
    lei: Annotated[str | None, typer.Option(help="LEI (ISO 17442)")] = None,
    resolver_base: Annotated[str | None, typer.Option(help="base URL of the GS1 Digital Link resolver")] = None,
    insecure_http: Annotated[bool, typer.Option("--insecure-http", help="development only: plain HTTP")] = False,
    db_url: Annotated[str | None, typer.Option(help="database URL (default: SQLite file in the node folder)")] = None,
) -> None:
    """Create a node: configuration, database, keys, certificate, admin key and DID."""
    from batpass.node.local import init_node

    settings = load_settings()
    node, admin_key = init_node(
        name,
        profiles=profile,
        settings=settings,
        port=port,
        host=host,
        legal_name=legal_name,
        country=country,
        bpnl=bpnl,
        corporate_number=corporate_number,
        lei=lei,
        resolver_base=resolver_base,
        insecure_http=insecure_http,
        db_url=db_url,
    )
    node.close()
    table = Table(title=f"node {name} created", show_header=False)
    table.add_row("folder", str(node.home))
    table.add_row("profiles", ", ".join(node.config.profiles))
    table.add_row("URL", node.base_url)
    table.add_row("DID", node.did)
    table.add_row("admin key", admin_key + "  (shown once; stored hashed)")
    err_console.print(table)
    out_console.print_json(
        json.dumps({"name": name, "base_url": node.base_url, "did": node.did, "admin_key": admin_key})
    )


@app.command()
def serve(
    node: Annotated[
        str | None, typer.Option("--node", help="the node to serve ($BATPASS_HOME/NAME; default: $BATPASS_NODE)")
    ] = None,
    insecure_http: Annotated[bool, typer.Option("--insecure-http", help="development only: serve plain HTTP")] = False,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    workers: Annotated[
        int, typer.Option(min=1, help="uvicorn worker processes (more than one needs PostgreSQL: docs/workers.md)")
    ] = 1,
) -> None:
    """Serve a node over HTTPS (certificate from the federation CA)."""
    from batpass.node.serve import prepare, run

    # a container names its node in the environment (deploy/README.md): refuse before serving
    settings = load_settings(**({"node": node} if node else {}))
    plan = prepare(settings, host=host, workers=workers, insecure_http=insecure_http)  # refusals: exit 2
    if plan.plain:
        err_console.print("[bold yellow]warning:[/] serving plain HTTP (--insecure-http): development only")
    err_console.print(
        f"batpass node [bold]{escape(plan.node)}[/] serving {escape(plan.base_url)} (bound to {escape(host)}, "
        f"{workers} worker{'s' if workers != 1 else ''})\n  DID       {escape(plan.did)}\n"
        f"  profiles  {escape(plan.profiles)}",
        highlight=False,
        soft_wrap=True,
    )
    run(plan, settings)


@ca_app.command("init")
def ca_init() -> None:
    """Create the federation CA in $BATPASS_HOME/_ca (kept if it exists)."""
    from batpass.node.local import ca_folder
    from batpass.trust import init_ca

    settings = load_settings()
    ca = init_ca(ca_folder(settings))
    out_console.print(str(ca.cert_path))


@app.command("info")
def info(node: NodeOpt) -> None:
    """Show a node's configuration (never its secrets)."""
    from batpass.node.local import open_node
    from batpass.store import outbox_counts

    local = open_node(node)
    c = local.config
    deliveries = outbox_counts(local.engine)
    local.close()
    out_console.print_json(
        json.dumps(
            {
                "name": c.name,
                "profiles": list(c.profiles),
                "base_url": c.base_url,
                "did": c.did,
                "resolver_base": c.resolver_base,
                "database": local.db_url if local.db_url.startswith("sqlite") else "postgresql (configured)",
                # messages to other nodes by kind and status; "dead" ones were given up on
                "deliveries": deliveries,
            }
        )
    )
    dead = deliveries.get("passport.backup", {}).get("dead", 0)
    if dead:
        err_console.print(
            f"[bold yellow]warning:[/] {dead} passport backup cop{'y' if dead == 1 else 'ies'} given up on "
            "(GET /v1/passports/{id}/backup-status names the cause)",
            highlight=False,
        )


@app.command("compiled")
def compiled() -> None:
    """Say which ledger modules run compiled (Cython) and which as pure Python (BATPASS_PURE=1 runs
    them all as pure Python; a module that was not built or does not load runs from its .py)."""
    from batpass import _compiled

    out_console.print_json(json.dumps(_compiled.status()))


@app.command("verify")
def verify(node: NodeOpt) -> None:
    """Audit a node's store: ledger (hash chain, batch signatures, every derived row recomputed
    from the event log, received summaries) and passports (signed chains, served rows, backup
    copies). Prints the report as JSON; exits 1 when there are findings."""
    from batpass.node._integrity import Integrity
    from batpass.node.local import open_node

    local = open_node(node)
    try:
        report = Integrity(local.self_audits()).run()
    finally:
        local.close()
    out_console.print_json(json.dumps(report.to_json()))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="where summary.json and the artefacts go")] = Path("demo-out"),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="run the story and exit instead of serving")] = False,
) -> None:
    """Run the EU/JP demo federation on loopback over HTTPS and write DIR/summary.json."""
    from batpass.demo import run_demo

    settings = load_settings()
    if settings.production:
        fail("the demo is refused in production mode (BATPASS_ENV=production)")
    run_demo(out, serve=not no_serve)


@compose_app.command("init")
def compose_init(
    db_url: Annotated[
        str | None,
        typer.Option(envvar="BATPASS_COMPOSE_DB_URL", help="PostgreSQL URL for every node (default: SQLite files)"),
    ] = None,
    schema_prefix: Annotated[
        str, typer.Option(envvar="BATPASS_COMPOSE_SCHEMA_PREFIX", help="prefix of each node's PostgreSQL schema")
    ] = "",
) -> None:
    """Create the compose federation's nodes in $BATPASS_HOME (kept if they exist)."""
    from batpass.demo._compose import init_federation

    settings = load_settings()
    if settings.production:
        fail("the compose federation's demo nodes are refused in production mode (BATPASS_ENV=production)")
    state = init_federation(settings.home, db_url=db_url or None, schema_prefix=schema_prefix)
    err_console.print(f"compose federation in {escape(str(settings.home))} ({escape(str(state))})", highlight=False)


@compose_app.command("seed")
def compose_seed(
    timeout: Annotated[float, typer.Option(help="seconds to wait for every node to answer")] = 120.0,
) -> None:
    """Tell the demo's story to the running compose federation; prints its summary.json."""
    from batpass.demo._compose import seed_federation

    settings = load_settings()
    if settings.production:
        fail("the compose federation's demo story is refused in production mode (BATPASS_ENV=production)")
    summary = seed_federation(settings.home, timeout=timeout)
    out_console.print_json(
        json.dumps({k: summary[k] for k in ("complete", "batteries")} | {"trace": summary["story"]["trace"]})
    )


def _usage_error(exc: typer.TyperException) -> NoReturn:
    """A usage error as one ``error:`` line after the command's usage line, exit 2 (POSIX usage
    errors). typer 0.29 vendors its own click (``typer._click``), so its exceptions are matched by
    typer's public base class, never by ``click.ClickException``."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    if ctx is not None:
        commands = getattr(ctx.command, "list_commands", None)
        if commands is not None and message == "Missing command.":  # a group given no sub-command
            message = f"missing command (one of: {', '.join(commands(ctx))})"
        err_console.print(escape(ctx.get_usage()), highlight=False, soft_wrap=True)
        err_console.print(f"Try '{escape(ctx.command_path)} --help' for help.", highlight=False, soft_wrap=True)
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(2)


def main() -> None:
    # the environment decides the format before any command runs; a bad setting is reported below
    try:
        settings = load_settings()
        configure_logging(settings.log_level, fmt=settings.log_format)
    except BatpassError:  # a malformed setting: the command that loads the settings reports it
        configure_logging()
    try:
        rc = app(standalone_mode=False, prog_name="batpass")
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except BatpassError as exc:
        line = str(exc)
        if exc.rule and exc.rule not in line:
            line += f" (rule: {exc.rule})"
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown command or option, bad or missing value
        _usage_error(exc)


if __name__ == "__main__":
    main()
