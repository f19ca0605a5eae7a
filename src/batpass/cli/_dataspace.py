"""``batpass dataspace``: register assets and offers, put partners in groups, list offers.

Commands act on one node (``--node NAME``); bad input prints one line and exits with code 2.
The offer file format is documented in ``docs/dataspace.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from batpass.core.errors import BatpassError, InvalidInput, Unauthorized
from batpass.core.ids import Bpnl
from batpass.dataspace import Asset, DataspaceSettings, DspProvider, OfferDefinition, Participant

app = typer.Typer(help="Dataspace connector administration (assets, offers, partner groups).")
NodeOpt = Annotated[str, typer.Option("--node", help="node name under $BATPASS_HOME")]


class _AdminOnly:
    """Administration needs no remote participant: any verification request is refused."""

    async def verify(self, authorization: str | None) -> Participant:
        raise Unauthorized("the CLI does not verify remote participants", rule="admin CLI")

    def issue(self, *, audience: str) -> str:
        raise Unauthorized("the CLI does not send DSP messages", rule="admin CLI")


def _provider(node_name: str) -> DspProvider:
    from batpass.node.local import open_node

    node = open_node(node_name)
    settings = DataspaceSettings(did=node.did, base_url=node.base_url, bpnl=node.config.bpnl)
    return DspProvider(node.engine, settings=settings, verifier=_AdminOnly(), token_issuer=_AdminOnly())


def _fail(err: BatpassError) -> None:
    where = f" (field: {err.field})" if isinstance(err, InvalidInput) and err.field else ""
    typer.echo(f"error: {err.message}{where}", err=True)
    raise typer.Exit(2)


@app.command("register-offer")
def register_offer(
    file: Annotated[Path, typer.Argument(help="JSON file: {asset: {...}, offers: [...]}")], node: NodeOpt
) -> None:
    """Register an asset and its offers (access and usage policies) from a JSON file."""
    try:
        try:
            doc: Any = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read {file}: {exc}", field="file", rule="a JSON offer file") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
            raise InvalidInput("the file needs an 'asset' object", field="asset", rule="docs/dataspace.md")
        a = doc["asset"]
        provider = _provider(node)
        provider.register_asset(
            Asset(
                id=str(a.get("id", "")),
                source=str(a.get("source", "")),
                source_key=str(a.get("key", "")),
                title=a.get("title"),
                properties=a.get("properties") or {},
            )
        )
        for i, o in enumerate(doc.get("offers") or []):
            if not isinstance(o, dict) or "id" not in o:
                raise InvalidInput("each offer needs an id", field=f"offers[{i}].id", rule="docs/dataspace.md")
            provider.register_offer(
                OfferDefinition(
                    id=o["id"],
                    asset_id=a["id"],
                    access_policy=o.get("accessPolicy") or {},
                    usage_policy=o.get("usagePolicy") or {},
                )
            )
        typer.echo(f"registered asset {a['id']} with {len(doc.get('offers') or [])} offer(s)")
    except BatpassError as err:
        _fail(err)


@app.command("set-group")
def set_group(
    bpnl: str, groups: Annotated[list[str], typer.Argument(help="group names (none clears)")], node: NodeOpt
) -> None:
    """Put a partner's BPNL in BusinessPartnerGroups (replacing its groups)."""
    try:
        _provider(node).set_groups(str(Bpnl(bpnl)), frozenset(groups))
    except BatpassError as err:
        _fail(err)


@app.command("list-offers")
def list_offers(node: NodeOpt) -> None:
    """Print the node's offers as JSON lines."""
    for offer, asset in _provider(node).offers():
        typer.echo(json.dumps({"offer": offer, "asset": asset}))


@app.command("release-bom")
def release_bom(
    bpnl: Annotated[str, typer.Argument(help="the partner's BPNL")],
    node: NodeOpt,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the release back")] = False,
) -> None:
    """Release this node's Industry Core bill of material (SingleLevelBomAsBuilt: one tier of
    suppliers) to a partner, or take the release back; suppliers stay undisclosed to everyone else."""
    from batpass.exchange import BomReleases
    from batpass.node.local import open_node

    try:
        releases = BomReleases(open_node(node).engine)
        if revoke:
            releases.revoke(bpnl)
            typer.echo(f"bill of material no longer released to {bpnl}")
        else:
            typer.echo(json.dumps(releases.release(bpnl)))
    except BatpassError as err:
        _fail(err)


@app.command("list-bom-releases")
def list_bom_releases(node: NodeOpt) -> None:
    """Print the partners the bill of material is released to, as JSON lines."""
    from batpass.exchange import BomReleases
    from batpass.node.local import open_node

    for r in BomReleases(open_node(node).engine).list():
        typer.echo(json.dumps(r))
