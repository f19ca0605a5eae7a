"""The console's trace page and its view-model builders, on SQLite and PostgreSQL, with real
supplier nodes answering in-process (``trace_testkit``): the figures shown are the trace API's
figures; a supplier is named only where this node holds the relation, and the tier beyond
(the cobalt refiner's own supplier) never appears; a supplier that does not answer is a
tombstone with tier and reason; an unknown battery is a 404 page in the console's layout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from console_testkit import MIGRATIONS, PASSWORD, make_console
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY
from sqlalchemy import Engine
from trace_testkit import BATTERY, BRINE, COBALT, FAR, LITHIUM, NICKEL, OWNER, TraceNode, make_trace_console

from batpass.web.console._trace_view import map_data, material_flow, origins, tier_graph

MakeStore = Callable[[Sequence[Path]], Engine]
PAGE = "/console/trace?subject=" + quote(BATTERY, safe="")


@pytest.fixture
def node(make_store: MakeStore) -> TraceNode:
    return make_trace_console(make_store(MIGRATIONS), make_store([]))


@pytest.fixture
def client(node: TraceNode) -> Iterator[TestClient]:
    with TestClient(node.console.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _sign_in(client: TestClient, name: str = "vera") -> None:
    page = client.get("/console/login")
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m is not None
    r = client.post("/console/login", data={"name": name, "password": PASSWORD, "csrf": m.group(1), "next": ""})
    assert r.status_code == 303


def _api(client: TestClient) -> dict[str, Any]:
    r = client.get("/v1/trace/federated/" + BATTERY, headers={"X-Api-Key": ADMIN_KEY})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_a_viewer_sees_the_trace_apis_figures_and_the_read_is_audited(client: TestClient, node: TraceNode) -> None:
    _sign_in(client, "vera")  # the viewer role reads
    page = client.get(PAGE)
    assert page.status_code == 200
    api = _api(client)
    shown: dict[tuple[str, str, str], float | None] = {}
    for table in re.findall(r'<table class="origin" data-element="([^"]+)">(.*?)</table>', page.text, re.S):
        element, body = table
        for kind, country, share in re.findall(
            r'data-kind="([^"]+)"(?: data-country="([^"]+)")? data-share="([^"]+)"', body
        ):
            shown[(element, kind, country)] = json.loads(share)
    expected: dict[tuple[str, str, str], float | None] = {}
    for el, series in api["shares_by_country"].items():
        expected.update({(el, "mined", c): s for c, s in series.items()})
        expected[(el, "unknown", "")] = api["unknown_share"][el]
        expected[(el, "high-risk", "")] = api["high_risk_share"][el]
    for el, series in api["recycled_by_country"].items():
        expected.update({(el, "recycled", c): s for c, s in series.items()})
    assert shown == expected  # every share of the list is the API's, none more, none less
    assert shown[("Co", "mined", "ZM")] > 0  # the tier-2 mine's cobalt is in the aggregate
    # the tier graph's aggregate box shows each element's largest origin with the API's figure
    for el, country, share in re.findall(r'data-element="(\w+)" data-country="(\w+)" data-share="([^"]+)">', page.text):
        assert api["shares_by_country"][el][country] == json.loads(share)
        assert json.loads(share) == max(api["shares_by_country"][el].values())
    assert any(
        e.user == "vera" and e.action == "trace.open" and e.outcome == "ok" for e in node.console.accounts.audit_log()
    )


def test_only_direct_suppliers_are_named_and_failed_branches_are_tombstones(client: TestClient) -> None:
    _sign_in(client)
    html = client.get(PAGE).text
    for direct in (COBALT, LITHIUM, NICKEL):
        assert f'data-supplier="{direct}"' in html
    for beyond in (FAR, BRINE):  # the suppliers' own suppliers: never named, not even in a title
        assert beyond not in html
    for their_lot in ("co-ship", "co-ore", "co-far", "far-1", "far-ore", "li-ship", "brine-7"):
        assert their_lot not in html  # nor any supplier's lot
    assert re.findall(r'<li data-tier="(\d)">[^<]*: ([^<]+)</li>', html) == [
        ("1", "supplier unreachable"),  # the nickel supplier
        ("2", "supplier unreachable"),  # the lithium producer's own supplier, tier and reason only
    ]
    assert 'class="box supplier lost" data-supplier="did:web:nickel.example"' in html


def test_an_unknown_battery_is_a_404_page_in_the_consoles_layout(client: TestClient, node: TraceNode) -> None:
    _sign_in(client)
    page = client.get("/console/trace?subject=" + quote(BATTERY.replace("CON-0000", "NOPE-1"), safe=""))
    assert page.status_code == 404
    assert "Battery or lot not found" in page.text and 'class="console-nav"' in page.text
    assert "Traceback" not in page.text
    # the same battery named under another resolver's host is this node's battery
    elsewhere = BATTERY.replace("https://id.nordcell.example", "https://resolver.elsewhere.example")
    found = client.get("/console/trace?subject=" + quote(elsewhere, safe=""))
    assert found.status_code == 200 and f"<code>{BATTERY}</code>" in found.text
    too_long = client.get("/console/trace?subject=" + "x" * 3000)
    assert too_long.status_code == 400 and "Field subject: at most 2048 characters" in too_long.text
    assert any(e.action == "trace.open" and e.outcome == "not-found" for e in node.console.accounts.audit_log())


def test_the_page_needs_a_session(client: TestClient) -> None:
    r = client.get(PAGE)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?reason=required")


def test_a_passport_and_the_passports_list_lead_to_its_trace(client: TestClient) -> None:
    _sign_in(client)
    listing = client.get("/console/passports")

    def traced(html: str, attrs: str = "") -> list[str]:
        return [unquote(s) for s in re.findall(attrs + r'href="/console/trace\?subject=([^"]+)"', html)]

    assert BATTERY in traced(listing.text)
    detail = re.search(r'href="(/console/passports/[0-9a-f-]+)">04012345000009 / CON-0000<', listing.text)
    assert detail is not None
    assert traced(client.get(detail.group(1)).text, 'id="trace-link" ') == [BATTERY]
    assert client.get(PAGE).status_code == 200


def test_the_material_flow_is_the_ledgers_masses_inputs_left(node: TraceNode) -> None:
    local = node.console.ledger.trace(OWNER, BATTERY)
    received = node.console.ledger.suppliers_of(OWNER, [b["lot"] for b in local["boundaries"]])
    flow = material_flow(
        local,
        {str(r.lot): r.supplier for r in received},
        material_name=str,
        lots_label=lambda n: f"{n} lots",
        notes={NICKEL: "no answer"},
    )
    edges = {(e["child"], e["parent"]): e["input_kg"] for e in local["edges"]}
    kg = {(link.source_label, link.target_label): link.kg for link in flow.links}
    assert kg[("cell (1 lots)", "battery (1 lots)")] == edges[("battery-t1", "cells-t1")]
    assert kg[("cobalt_hydroxide (1 lots)", "cell (1 lots)")] == edges[("cells-t1", "t-co")]
    assert kg[(COBALT, "cobalt_hydroxide (1 lots)")] == edges[("cells-t1", "t-co")]  # what the cells took
    assert kg[(f"{NICKEL} (no answer)", "nickel_mhp (1 lots)")] == edges[("cells-t1", "t-ni")]
    by_key = {n.key: n for n in flow.nodes}
    assert all(by_key[link.source].x < by_key[link.target].x for link in flow.links)  # inputs on the left
    assert FAR not in repr(flow)


def test_the_view_models_name_no_one_the_node_holds_no_relation_with() -> None:
    answer = {
        "subject": {"id": "lot-1"},
        "path": ["did:web:me", "did:web:known", "did:web:stranger"],
        "hops": 2,
        "mines_reached": 4,
        "complete": False,
        "tombstones": [{"tier": 3, "reason": "supplier refused the contract negotiation"}],
        "unreachable_suppliers": [],
        "shares_by_country": {"Co": {"CD": 0.5, "ZM": 0.25}},
        "recycled_by_country": {"Co": {"BE": 0.125}},
        "unknown_share": {"Co": 0.125},
        "high_risk_share": {"Co": 0.5},
    }
    graph = tier_graph(answer, {"did:web:known": ["cobalt"]}, material="cell", anonymous="a supplier")
    assert [(s.name, s.named) for s in graph.suppliers] == [("did:web:known", True), ("a supplier", False)]
    assert "did:web:stranger" not in repr(graph)
    assert graph.deeper_tombstones == ((3, "supplier refused the contract negotiation"),)
    assert graph.deeper == (("Co", "CD", "0.5", "50.0 %"),)
    (co,) = origins(answer, lambda c: {"CD": "DR Congo"}.get(c, c))
    assert [(s.country, s.name, s.share) for s in co.mined] == [("CD", "DR Congo", 0.5), ("ZM", "ZM", 0.25)]
    assert [s.share for s in co.recycled] == [0.125] and co.unknown == 0.125 and co.high_risk == 0.5
    # the map shades by ISO 3166 numeric code (the outlines' ids): 180 is the DR Congo, 894 Zambia
    assert map_data((co,)) == {"elements": {"Co": {"CD": 0.5, "ZM": 0.25}}, "codes": {"180": "CD", "894": "ZM"}}


def test_a_node_without_the_federated_trace_shows_its_own_ledger(make_store: MakeStore) -> None:
    plain = make_console(make_store(MIGRATIONS), lots=10)
    plain.accounts.add_user("hana", "viewer", PASSWORD, operator=OWNER)  # a hub user of the ledger's operator
    battery = next(
        str(o["battery"]["id"])
        for e in plain.ledger.events(OWNER, limit=10_000)
        for o in e["event"].get("outputs", [])
        if o.get("battery")
    )
    with TestClient(plain.app, base_url="https://testserver", follow_redirects=False) as c:
        _sign_in(c, "hana")
        page = c.get("/console/trace?subject=" + quote(battery, safe=""))
    assert page.status_code == 200 and 'id="t-local-only"' in page.text
    assert 'id="tier-graph"' not in page.text and 'id="flows"' in page.text


def test_an_input_used_at_two_steps_stands_left_of_both() -> None:
    """A lot that went into the subject directly and through an intermediate lot (a diamond):
    its column is left of the intermediate's, so every band runs left to right."""
    local = {
        "root": {"lot": "pack"},
        "lots": [
            {"id": "pack", "material": "battery"},
            {"id": "module", "material": "module"},
            {"id": "cells", "material": "cell"},
        ],
        "edges": [
            {"child": "pack", "parent": "module", "input_kg": 300.0},
            {"child": "pack", "parent": "cells", "input_kg": 20.0},
            {"child": "module", "parent": "cells", "input_kg": 280.0},
        ],
    }
    flow = material_flow(local, {}, material_name=str, lots_label=lambda n: f"{n}")
    column = {n.label: n.column for n in flow.nodes}
    assert column == {"cell (1)": 0, "module (1)": 1, "battery (1)": 2}
    by_key = {n.key: n for n in flow.nodes}
    assert all(by_key[link.source].x < by_key[link.target].x for link in flow.links)
    assert sorted(link.kg for link in flow.links) == [20.0, 280.0, 300.0]


def test_a_column_of_many_small_inputs_still_gets_room() -> None:
    """Forty inputs of one kilogram each beside one of a tonne: the column's gaps alone are
    taller than the default drawing, yet the bands keep their scale, every box a height, and
    everything stays inside the drawing."""
    lots = [{"id": "out", "material": "cell"}, {"id": "big", "material": "m-big"}]
    lots += [{"id": f"in-{i}", "material": f"m-{i:02d}"} for i in range(40)]
    edges = [{"child": "out", "parent": "big", "input_kg": 1000.0}]
    edges += [{"child": "out", "parent": f"in-{i}", "input_kg": 1.0} for i in range(40)]
    flow = material_flow({"root": {"lot": "out"}, "lots": lots, "edges": edges}, {}, material_name=str, lots_label=str)
    assert all(n.h > 0 for n in flow.nodes) and all(link.width > 0 for link in flow.links)
    widths = sorted(link.width for link in flow.links)
    assert widths[-1] >= 100 * widths[0]  # the tonne's band is drawn to scale, not squashed
    assert max(n.y + n.h for n in flow.nodes) <= flow.height
