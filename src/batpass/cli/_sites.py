"""``batpass sites ...``: the site register of a local node (add, list, show, evidence) and the
CAHRA data set its sites are screened with (``batpass sites cahra FILE``).

Bad input ends with a one-line error and exit code 2 (the root CLI maps ``BatpassError``); data
goes to standard output as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from batpass.core.errors import InvalidInput
from batpass.sites import DueDiligenceEvidence, Site, SiteService

__all__ = ["app"]

app = typer.Typer(help="The site register: mines and processing sites, and the CAHRA list they are screened with.")

NodeOpt = Annotated[str, typer.Option("--node", help="node name (folder under $BATPASS_HOME)")]


def _service(node_name: str) -> SiteService:
    from batpass.node.local import open_node

    return SiteService(open_node(node_name).engine)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{what}: cannot read {path}: {exc.strerror}", field=what, rule="a readable file") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what}: {path} is not JSON ({exc.msg})", field=what, rule="a JSON file") from exc


def _out(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


@app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="a JSON file with one site or a list of sites (docs/sites.md)")],
    node: NodeOpt,
) -> None:
    """Register sites (or replace those with the same siteId); each is screened with the CAHRA
    data set in use. All are checked before any is stored."""
    doc = _read_json(file, "file")
    items = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(i, dict) for i in items):
        raise InvalidInput("file: expected a site object or a list of them", field="file", rule="docs/sites.md")
    sites = [Site.from_json(i) for i in items]
    svc = _service(node)
    _out([svc.register(s)[0].to_json() for s in sites])


@app.command("list")
def list_sites(node: NodeOpt) -> None:
    """Every site of the register, as the operator sees it (full records), and the overview."""
    svc = _service(node)
    _out({"overview": svc.overview(), "sites": [s.to_json() for s in svc.list()]})


@app.command("show")
def show(site_id: Annotated[str, typer.Argument(help="the site's id")], node: NodeOpt) -> None:
    _out(_service(node).get(site_id).to_json())


@app.command("evidence")
def evidence(
    site_id: Annotated[str, typer.Argument(help="the site's id")],
    node: NodeOpt,
    kind: Annotated[str, typer.Option(help="e.g. 'risk assessment', 'CAHRA finding'")],
    reference: Annotated[str, typer.Option(help="where the document is (URL or document id)")],
    date: Annotated[str, typer.Option(help="the document's date (YYYY-MM-DD)")],
    summary: Annotated[str | None, typer.Option(help="one line on what it found")] = None,
) -> None:
    """Record a due-diligence item on a site (e.g. the operator's finding on a CAHRA flag)."""
    item = DueDiligenceEvidence.from_json({"kind": kind, "reference": reference, "date": date, "summary": summary})
    _out(_service(node).add_evidence(site_id, item).to_json())


@app.command("cahra")
def cahra(
    file: Annotated[Path, typer.Argument(help="a CAHRA data set in the EU list's published JSON form")],
    node: NodeOpt,
    name: Annotated[str, typer.Option(help="the data set's name, unless the file names itself")] = (
        "eu-indicative-cahra-list"
    ),
) -> None:
    """Load a CAHRA data set and screen every site with it (another form is refused with the
    reason). A flag asks for enhanced due diligence; it is a screening signal, not a verdict."""
    dataset, flagged, changes = _service(node).load_cahra_changes(_read_json(file, "file"), name=name)
    _out({"dataset": dataset.label, "synthetic": dataset.synthetic, "flagged": flagged, "changes": changes})
