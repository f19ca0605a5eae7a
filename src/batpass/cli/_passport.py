"""``batpass passport ...``: build, import, show and change the status of passports on a local node.

Bad input ends with a one-line error and exit code 2 (the root CLI maps ``BatpassError``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError, InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.ledger import UpstreamSummary, decode_summary

__all__ = ["app"]

app = typer.Typer(help="EU battery passports: build, import, show, status.")

NodeOpt = Annotated[str, typer.Option("--node", help="node name (folder under $BATPASS_HOME)")]
BackupOpt = Annotated[
    str | None,
    typer.Option("--backup", envvar="BATPASS_PASSPORT_BACKUP_URL", help="https base URL of the backup node"),
]


def _service(node_name: str, backup: str | None) -> Any:
    from batpass.compliance import load_ruleset
    from batpass.node.local import open_node
    from batpass.passport import PassportRules, PassportService

    node = open_node(node_name)
    backup_url = backup or getattr(node.config, "passport_backup_url", None)
    if not backup_url:
        raise ConfigurationError(
            "--backup: the passport names a backup node (https URL) that holds a signed copy of every version",
            rule="Art. 77(5) (passport outlives its operator)",
        )
    return PassportService(
        node.engine,
        node.identity,
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base=node.resolver_base,
        backup_url=backup_url,
    )


def _read_json(path: Path | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{what}: cannot read {path}: {exc}", field=what, rule="a JSON file") from exc


def _summary(path: Path | None) -> UpstreamSummary | None:
    """An upstream summary file (docs/contracts.md), read through the ledger's summary codec."""
    raw = _read_json(path, "summary")
    return decode_summary(raw) if raw else None


def _find(svc: Any, battery: str) -> Any:
    if battery.startswith("urn:uuid:"):
        import uuid

        return svc.get(uuid.UUID(battery.removeprefix("urn:uuid:")))
    p = svc.find_by_battery(BatteryId.parse(battery))
    if p is None:
        raise NotFound(f"battery {battery} has no passport on this node", rule="passport lookup")
    return p


@app.command("build")
def build(
    battery: Annotated[str, typer.Argument(help="GS1 Digital Link URI, path or element string 01{gtin}21{serial}")],
    static: Annotated[Path, typer.Option("--static", help="static product data YAML (docs/passport-static-data.md)")],
    node: NodeOpt,
    item: Annotated[Path | None, typer.Option("--item", help="JSON: item-level data points")] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="JSON: an upstream summary (docs/contracts.md)")
    ] = None,
    footprint: Annotated[Path | None, typer.Option("--footprint", help="JSON: {kg_co2e_per_kwh, stages}")] = None,
    backup: BackupOpt = None,
) -> None:
    """Build (or rebuild as a new signed version) the passport of BATTERY."""
    from batpass.passport import load_static_product_data

    svc = _service(node, backup)
    p = svc.build(
        load_static_product_data(static),
        BatteryId.parse(battery),
        item=_read_json(item, "item") or {},
        summary=_summary(summary),
        footprint=_read_json(footprint, "footprint"),
    )
    typer.echo(json.dumps({"passportId": p.urn, "batteryId": p.digital_link, "version": p.version}))


def _files(path: Path) -> list[tuple[str, bytes]]:
    """A file, or a folder's JSON documents (Battery Pass modules), as (name, content)."""
    try:
        if path.is_dir():
            return [(p.name, p.read_bytes()) for p in sorted(path.iterdir()) if p.suffix.lower() == ".json"]
        return [(path.name, path.read_bytes())]
    except OSError as exc:
        raise InvalidInput(f"file: cannot read {path}: {exc.strerror}", field="file", rule="a readable file") from exc


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="the document: a file, or a folder of Battery Pass module documents")],
    node: NodeOpt,
    fmt: Annotated[str, typer.Option("--format", help="catenax | batterypass | aas (JSON or .aasx)")],
    backup: BackupOpt = None,
) -> None:
    """Import a passport from a Catena-X, Battery Pass or AAS document; it is signed and stored
    like a built one. Prints the passport and the document paths batpass keeps no data point for."""
    from batpass.passport import read_import

    imported = read_import(fmt, _files(file))
    svc = _service(node, backup)
    p = svc.import_passport(imported)
    typer.echo(
        json.dumps(
            {
                "passportId": p.urn,
                "batteryId": p.digital_link,
                "version": p.version,
                "sourcePassportId": imported.source_id,
                "ignored": list(imported.ignored),
            }
        )
    )


@app.command("show")
def show(
    battery: Annotated[str, typer.Argument(help="battery identifier or urn:uuid passport id")],
    node: NodeOpt,
    fmt: Annotated[str, typer.Option("--format", help="view | catenax | aas | batterypass | history")] = "view",
    public: Annotated[bool, typer.Option("--public", help="the public tier only")] = False,
    version: Annotated[
        str | None, typer.Option("--version", help="batterypass: 1.2.1 (default, the newest) or 1.2.0")
    ] = None,
    backup: BackupOpt = "https://unused.invalid",
) -> None:
    """Print a passport (every tier by default: the operator's own view; audited)."""
    from batpass.passport import ALL_TIERS, Tier

    if version is not None and fmt != "batterypass":
        raise InvalidInput(
            f"--version: only the batterypass format has versions to choose ({fmt} has one)",
            field="version",
            rule="passport show formats",
        )
    svc = _service(node, backup)
    p = _find(svc, battery)
    tiers = frozenset({Tier.PUBLIC}) if public else ALL_TIERS
    if fmt == "view":
        out: Any = {
            "passportId": p.urn,
            "batteryId": p.digital_link,
            "status": "ended" if p.ended else p.status.value,
            "version": p.version,
            "data": svc.read(p, roles=("operator",), tiers=tiers, channel="cli"),
        }
    elif fmt == "history":
        out = svc.history(p.passport_id, tiers=tiers)
    elif fmt == "catenax":
        from batpass.passport import to_catenax

        versions = svc.versions(p.passport_id)
        out = to_catenax(p, issued=versions[0].created_at.date(), modified=versions[-1].created_at.date(), tiers=tiers)
    elif fmt == "aas":
        from batpass.passport import to_aas_json

        out = json.loads(to_aas_json(p, tiers=tiers))
    elif fmt == "batterypass":
        from batpass.passport import to_batterypass

        out = to_batterypass(p, tiers=tiers, **({"version": version} if version else {}))
    else:
        raise InvalidInput(
            f"--format: '{fmt}' is not view, catenax, aas, batterypass or history",
            field="format",
            rule="passport show formats",
        )
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


@app.command("verify")
def verify(
    node: NodeOpt,
    battery: Annotated[
        str | None, typer.Argument(help="battery identifier or urn:uuid passport id (default: --all)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every passport and backup copy of the node")] = False,
    backup: BackupOpt = "https://unused.invalid",
) -> None:
    """Check passports: every signed version (digest, signature, link) and that what is served is
    the newest one. Prints the findings as JSON; exits 1 when there are any."""
    svc = _service(node, backup)
    if battery is not None and all_:
        raise InvalidInput("give a passport or --all, not both", field="battery", rule="passport verify")
    if battery is None:
        findings = [f.to_json() for f in svc.self_audit()]
        report: dict[str, Any] = {"ok": not findings, "findings": findings}
    else:
        pid = svc.passport_id_of(battery)
        if pid is None:
            raise NotFound(f"battery {battery} has no passport on this node", rule="passport lookup")
        report = svc.verify(pid)
    typer.echo(json.dumps(report, indent=2))
    if not report["ok"]:
        raise typer.Exit(1)


def _recovered(text: str) -> dict[str, Any]:
    """``MATERIAL=KG`` as a recovered-material record (the service checks the values)."""
    material, sep, kg = text.rpartition("=")
    try:
        mass: Any = float(kg) if sep else None
    except ValueError:
        mass = None
    if mass is None:
        raise InvalidInput(
            f"--recovered: expected MATERIAL=KG, got {text!r}", field="--recovered", rule="MATERIAL=KG, e.g. cobalt=4.2"
        )
    return {"material": material, "mass_kg": mass}


@app.command("status")
def status(
    battery: Annotated[str, typer.Argument(help="battery identifier or urn:uuid passport id")],
    node: NodeOpt,
    set_to: Annotated[str | None, typer.Option("--set", help="new status that keeps the passport: waste")] = None,
    waste_operator: Annotated[str | None, typer.Option("--waste-operator", help="DID taking over (waste)")] = None,
    recycle: Annotated[bool, typer.Option("--recycle", help="recycling: ends and archives the passport")] = False,
    recycler: Annotated[
        str | None, typer.Option("--recycler", help="DID of the recycler (default: this node's operator)")
    ] = None,
    recovered: Annotated[
        list[str] | None,
        typer.Option("--recovered", help="MATERIAL=KG recovered by recycling (repeat per material)"),
    ] = None,
    backup: BackupOpt = "https://unused.invalid",
) -> None:
    """Show the status of a passport, or change it (waste; recycling ends it and records who
    recycled the battery and what was recovered)."""
    records = [_recovered(r) for r in recovered or ()]
    svc = _service(node, backup)
    p = _find(svc, battery)
    if set_to:
        p = svc.change_status(p.passport_id, set_to, actor=svc.operator, waste_operator=waste_operator)
    if recycle:
        who = recycler or waste_operator or svc.operator
        p = svc.recycle(p.passport_id, recycler=who, actor=svc.operator, recovered=records)
    typer.echo(
        json.dumps(
            {
                "passportId": p.urn,
                "batteryId": p.digital_link,
                "status": "ended" if p.ended else p.status.value,
                "responsible": p.responsible(),
                "version": p.version,
                "predecessors": [f"urn:uuid:{x}" for x in p.predecessors],
                "successors": [f"urn:uuid:{x}" for x in p.successors],
                "at": utc_now().isoformat(),
            }
        )
    )
