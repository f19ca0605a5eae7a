"""What the console's trace page draws, built from the node's own answers (docs/console.md
"Trace"): the tier graph and the origins from the federated trace's answer
(``FederatedTrace.trace``, the JSON of ``GET /v1/trace/federated/{subject}``), the material flow
from the node's own ledger trace (``LedgerService.trace``, the JSON of ``GET /v1/ledger/trace``).

Confidentiality (docs/architecture.md "Confidentiality"): a supplier is named only where this
node's own ledger holds the relation (a receipt from it, ``LedgerService.suppliers_of``); every
tier beyond the direct suppliers is one anonymous aggregate; a tombstone shows its tier and its
reason category, nothing else. Every figure is the answer's own number (kept exact in the
page's ``data-`` attributes; the text shows it as a percentage or in kg).

Pure: no request, no store, no HTTP; the page's language comes in as ``gettext`` and a
country-name function. Layouts are computed here so the SVG is drawn by the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from babel.core import get_global

__all__ = [
    "FlowLink",
    "FlowNode",
    "MaterialFlow",
    "Origin",
    "OriginShare",
    "SupplierBox",
    "TierGraph",
    "map_data",
    "material_flow",
    "origins",
    "percent",
    "tier_graph",
]

Gettext = Callable[[str], str]


def percent(share: float | None) -> str:
    """A share (0..1) as the page shows it: a percentage with one decimal ("—" when unknown)."""
    return "—" if share is None else f"{share * 100:.1f} %"


def _short(text: str, most: int = 34) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


# --- origins (list and map) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OriginShare:
    """One country's share of an element's mass, exactly as the trace answer has it."""

    country: str  # ISO 3166-1 alpha-2
    name: str
    share: float

    @property
    def exact(self) -> str:
        return json.dumps(self.share)

    @property
    def shown(self) -> str:
        return percent(self.share)


@dataclass(frozen=True, slots=True)
class Origin:
    """One element's origins: mined by country, recycled input by recycler country, the share no
    summary covers yet and the high-risk share of the mined part."""

    element: str
    mined: tuple[OriginShare, ...]
    recycled: tuple[OriginShare, ...]
    unknown: float | None
    high_risk: float | None

    @property
    def unknown_exact(self) -> str:
        return json.dumps(self.unknown)

    @property
    def high_risk_exact(self) -> str:
        return json.dumps(self.high_risk)

    @property
    def unknown_shown(self) -> str:
        return percent(self.unknown)

    @property
    def high_risk_shown(self) -> str:
        return percent(self.high_risk)


def _shares(series: Mapping[str, Any] | None, country_name: Callable[[str], str]) -> tuple[OriginShare, ...]:
    rows = [OriginShare(str(c), country_name(str(c)), float(s)) for c, s in (series or {}).items()]
    return tuple(sorted(rows, key=lambda r: (-r.share, r.country)))


def origins(answer: Mapping[str, Any], country_name: Callable[[str], str]) -> tuple[Origin, ...]:
    """The elements of the federated trace's answer with their origins, by element symbol."""
    mined = answer.get("shares_by_country") or {}
    recycled = answer.get("recycled_by_country") or {}
    unknown = answer.get("unknown_share") or {}
    risky = answer.get("high_risk_share") or {}
    elements = sorted(set(mined) | set(recycled) | set(unknown))
    return tuple(
        Origin(
            element=el,
            mined=_shares(mined.get(el), country_name),
            recycled=_shares(recycled.get(el), country_name),
            unknown=unknown.get(el),
            high_risk=risky.get(el),
        )
        for el in elements
    )


@lru_cache(maxsize=1)
def _numeric_codes() -> Mapping[str, str]:
    """ISO 3166-1 numeric code → alpha-2 (CLDR's territory aliases, as Babel ships them): the
    world map's outlines (Natural Earth, world-atlas) are keyed by the numeric code."""
    aliases: Mapping[str, Sequence[str]] = get_global("territory_aliases")
    return {k: v[0] for k, v in aliases.items() if k.isdigit() and len(k) == 3 and len(v) == 1}


def map_data(found: Sequence[Origin]) -> dict[str, Any]:
    """What the map script reads: per element, mined-origin shares by alpha-2 code, and the
    numeric codes of the outlines that stand for those countries."""
    countries = {s.country for o in found for s in o.mined}
    return {
        "elements": {o.element: {s.country: s.share for s in o.mined} for o in found},
        "codes": {num: a2 for num, a2 in sorted(_numeric_codes().items()) if a2 in countries},
    }


# --- the tier graph -----------------------------------------------------------------------------

_BOX_W, _BOX_H, _GAP = 250, 58, 14
_COLS = (10, 355, 700)


@dataclass(frozen=True, slots=True)
class SupplierBox:
    """A direct supplier: named only when this node's ledger holds the relation."""

    name: str  # the DID, or an anonymous label
    named: bool
    reason: str  # the tombstone reason category when its branch failed, else ""
    materials: tuple[str, ...]
    y: int

    @property
    def label(self) -> str:
        return _short(self.name)


@dataclass(frozen=True, slots=True)
class TierGraph:
    """The tier graph: this node, its direct suppliers, one anonymous box for every tier beyond
    them, and the tombstones (tier and reason only)."""

    subject: str
    material: str
    suppliers: tuple[SupplierBox, ...]
    hops: int
    mines: int
    complete: bool
    tombstones: tuple[tuple[int, str], ...]
    deeper: tuple[tuple[str, str, str, str], ...]  # (element, top country, exact share, shown) of all tiers
    height: int
    me_y: int
    deeper_y: int
    width: int = 960
    box_w: int = _BOX_W
    box_h: int = _BOX_H
    cols: tuple[int, int, int] = _COLS

    @property
    def deeper_tombstones(self) -> tuple[tuple[int, str], ...]:
        return tuple(t for t in self.tombstones if t[0] >= 2)

    @property
    def deeper_h(self) -> int:
        return 102 + 18 * (len(self.deeper) + len(self.deeper_tombstones))


def tier_graph(
    answer: Mapping[str, Any],
    relations: Mapping[str, Sequence[str]],
    *,
    material: str,
    anonymous: str,
) -> TierGraph:
    """The tier graph of a federated trace ``answer``. ``relations``: the suppliers this node's
    own ledger received the traced lots from (DID → materials received); a DID of the answer
    not among them is shown as ``anonymous`` (the answer names direct suppliers only, but the
    page does not rely on it)."""
    failed = {str(u["did"]): str(u["reason"]) for u in answer.get("unreachable_suppliers", [])}
    direct = [str(d) for d in answer.get("path", [])[1:]]
    boxes = []
    for i, did in enumerate(dict.fromkeys(direct)):
        named = did in relations
        boxes.append(
            SupplierBox(
                name=did if named else anonymous,
                named=named,
                reason=failed.get(did, ""),
                materials=tuple(relations.get(did, ())),
                y=20 + i * (_BOX_H + _GAP),
            )
        )
    tombstones = tuple(sorted((int(t["tier"]), str(t["reason"])) for t in answer.get("tombstones", [])))
    deeper = []
    for el, series in sorted((answer.get("shares_by_country") or {}).items()):
        if series:
            country, share = max(series.items(), key=lambda kv: (kv[1], kv[0]))
            deeper.append((str(el), str(country), json.dumps(share), percent(float(share))))
    column = 20 + len(boxes) * (_BOX_H + _GAP)
    graph = TierGraph(
        subject=str((answer.get("subject") or {}).get("id", "")),
        material=material,
        suppliers=tuple(boxes),
        hops=int(answer.get("hops", 0)),
        mines=int(answer.get("mines_reached", 0)),
        complete=bool(answer.get("complete", False)),
        tombstones=tombstones,
        deeper=tuple(deeper),
        height=0,
        me_y=0,
        deeper_y=0,
    )
    height = max(column, graph.deeper_h + 40, _BOX_H + 40) + 10
    return replace(graph, height=height, me_y=max(20, (column - _GAP) // 2 - _BOX_H // 2), deeper_y=20)


# --- the material flow (Sankey) -------------------------------------------------------------------


@dataclass(slots=True)
class FlowNode:
    """A column's box: the lots of one material at one step of the own ledger's graph, or a
    direct supplier the node received from."""

    key: str
    label: str
    column: int
    supplier: bool = False
    lots: int = 0
    kg_in: float = 0.0
    kg_out: float = 0.0
    x: float = 0.0
    y: float = 0.0
    h: float = 0.0

    @property
    def value(self) -> float:
        return max(self.kg_in, self.kg_out)


@dataclass(slots=True)
class FlowLink:
    source: str
    target: str
    kg: float
    source_label: str = ""
    target_label: str = ""
    path: str = ""
    width: float = 0.0

    @property
    def exact(self) -> str:
        return json.dumps(self.kg)


@dataclass(slots=True)
class MaterialFlow:
    nodes: list[FlowNode] = field(default_factory=list)
    links: list[FlowLink] = field(default_factory=list)
    width: int = 960
    height: int = 0
    node_w: int = 14


def _depths(root: str, edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each lot's longest distance from the root along the upstream edges (child → parent), so
    every input stands left of what it went into: one pass in topological order (Kahn), linear
    in the edges. A lot on a cycle (which a ledger does not record) keeps the depth it reached."""
    parents: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for child, parent in dict.fromkeys(edges):
        parents.setdefault(child, []).append(parent)
        waiting[parent] = waiting.get(parent, 0) + 1
    depth = {root: 0}
    ready = [root]
    while ready:
        lot = ready.pop()
        for parent in parents.get(lot, ()):
            depth[parent] = max(depth.get(parent, 0), depth[lot] + 1)
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    return depth


def material_flow(
    local: Mapping[str, Any],
    suppliers: Mapping[str, str],
    *,
    material_name: Callable[[str], str],
    lots_label: Callable[[int], str],
    notes: Mapping[str, str] | None = None,
    width: int = 960,
) -> MaterialFlow:
    """The own ledger's upstream trace (``local``: ``LedgerService.trace``) as a Sankey diagram:
    the lots grouped by material and step, inputs on the left, the subject on the right; each
    link is the sum of the edges' ``input_kg`` between two groups. ``suppliers``: received lot →
    the supplier (DID) it came from; each becomes a box on the far left whose link carries what
    the traced lots took of the received lot, its label followed by ``notes[did]`` if given (a
    supplier that did not answer the trace)."""
    root = str(local["root"]["lot"])
    lots = {str(lot["id"]): lot for lot in local.get("lots", [])}
    edges = [(str(e["child"]), str(e["parent"]), float(e["input_kg"])) for e in local.get("edges", [])]
    depth = _depths(root, [(c, p) for c, p, _ in edges])
    deepest = max(depth.values(), default=0)
    lead = 1 if suppliers else 0
    flow = MaterialFlow(width=width)
    nodes: dict[str, FlowNode] = {}
    group: dict[str, str] = {}
    for lot_id, lot in lots.items():
        if lot_id not in depth:
            continue
        key = f"{depth[lot_id]}|{lot['material']}"
        group[lot_id] = key
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = FlowNode(key, material_name(str(lot["material"])), lead + deepest - depth[lot_id])
        node.lots += 1
    links: dict[tuple[str, str], FlowLink] = {}
    consumed: dict[str, float] = {}
    for child, parent, kg in edges:
        consumed[parent] = consumed.get(parent, 0.0) + kg
        if child not in group or parent not in group:
            continue
        pair = (group[parent], group[child])
        link = links.get(pair) or links.setdefault(pair, FlowLink(pair[0], pair[1], 0.0))
        link.kg += kg
    for lot_id, did in sorted(suppliers.items()):
        if lot_id not in group or consumed.get(lot_id, 0.0) <= 0:
            continue
        key = f"supplier|{did}"
        note = (notes or {}).get(did)
        nodes.setdefault(key, FlowNode(key, _short(did, 30) + (f" ({note})" if note else ""), 0, supplier=True))
        pair = (key, group[lot_id])
        link = links.get(pair) or links.setdefault(pair, FlowLink(pair[0], pair[1], 0.0))
        link.kg += consumed[lot_id]
    for link in links.values():
        nodes[link.source].kg_out += link.kg
        nodes[link.target].kg_in += link.kg
    for node in nodes.values():
        if not node.supplier:
            node.label = f"{node.label} ({lots_label(node.lots)})"
    flow.nodes = sorted(nodes.values(), key=lambda n: (n.column, n.label))
    flow.links = [link for link in links.values() if link.kg > 0]
    _layout(flow)
    by_key = {n.key: n for n in flow.nodes}
    # the table reads as the diagram does: from the suppliers on the left to the subject
    flow.links.sort(key=lambda k: (by_key[k.source].column, by_key[k.source].y, by_key[k.target].y))
    return flow


def _layout(flow: MaterialFlow) -> None:
    """Columns left to right, boxes as tall as their flow (one scale for the whole diagram),
    links as bands leaving and entering in the order of the boxes they join."""
    if not flow.nodes:
        flow.height = 0
        return
    columns: dict[int, list[FlowNode]] = {}
    for n in flow.nodes:
        columns.setdefault(n.column, []).append(n)
    # at least 8 px of flow per box in the fullest column, whatever the number of boxes
    pad = 16.0
    room = max(360.0, (pad + 8.0) * max(len(col) for col in columns.values()))
    scale = min((room - pad * (len(col) - 1)) / max(sum(n.value for n in col), 1e-9) for col in columns.values())
    last = max(columns) or 1
    left, right = 10.0, flow.width - 10.0 - flow.node_w
    for c, col in columns.items():
        y = 20.0
        for n in col:
            n.x = left + (right - left) * c / last
            n.y = y
            n.h = max(2.0, n.value * scale)
            y += n.h + pad
    flow.height = int(max(n.y + n.h for n in flow.nodes) + 30)
    by_key = {n.key: n for n in flow.nodes}
    out_at = {n.key: n.y for n in flow.nodes}
    in_at = {n.key: n.y for n in flow.nodes}
    for link in sorted(flow.links, key=lambda k: (by_key[k.source].y, by_key[k.target].y)):
        s, t = by_key[link.source], by_key[link.target]
        w = max(1.0, link.kg * scale)
        y0, y1 = out_at[s.key], in_at[t.key]
        out_at[s.key] += w
        in_at[t.key] += w
        x0, x1 = s.x + flow.node_w, t.x
        xm = (x0 + x1) / 2
        link.width = w
        link.source_label, link.target_label = s.label, t.label
        link.path = (
            f"M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f} "
            f"L{x1:.1f},{y1 + w:.1f} C{xm:.1f},{y1 + w:.1f} {xm:.1f},{y0 + w:.1f} {x0:.1f},{y0 + w:.1f} Z"
        )
