"""Hosted operators' site registers on the hub, on SQLite and PostgreSQL (issue 19, "Sites shared
under policy … Ouranos: under the operator's release"): an operator registers its sites; another
operator reads them only while the owner releases its register to it, and gets the hub's refusal
(a problem naming the rule, no site, no supplier named) without one, with a release to someone
else, and again once the release is withdrawn. A Catena-X partner gets them through the bridge
only under the scope ``sites`` released to its BPNL. The node's own register keeps to itself,
while the ledger's site facts and a CAHRA screening cover the operators' sites too."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ouranos_testkit import BASE, Api
from sqlalchemy import Engine

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ouranos import MIGRATIONS_DIR, OuranosHub, Principal
from batpass.ouranos._harness import build_app, seed_operator
from batpass.ouranos.errors import NotReleased
from batpass.sites import CAHRA_SAMPLE, Site, SiteService
from batpass.sites import MIGRATIONS_DIR as SITES_MIGRATIONS
from batpass.trust import load_or_create_identity

#: a Japanese nickel refinery of the owner's register (its operator is the supplier's name)
REFINERY: dict[str, Any] = {
    "siteId": "REF-JP-1-NIIHAMA",
    "name": "Niihama nickel refinery",
    "operator": "Niihama Nickel Refining KK",
    "siteType": "refinery",
    "country": "JP",
    "region": "JP-38",
    "location": {"latitude": 33.96, "longitude": 133.28},
    "minerals": ["nickel", "cobalt"],
    "certifications": [{"scheme": "RMI RMAP", "status": "conformant", "validUntil": "2028-03-31"}],
}
#: a mine in a region the synthetic CAHRA sample flags, in the owner's register
MINE: dict[str, Any] = {
    "siteId": "MINE-CD-LU-JP",
    "name": "Lualaba cobalt concession",
    "operator": "Lualaba Concession SARL",
    "siteType": "mine",
    "country": "CD",
    "region": "CD-LU",
    "location": {"latitude": -10.7, "longitude": 25.5},
    "minerals": ["cobalt"],
}
PARTNER_BPNL, OTHER_BPNL = "BPNL00000003CAR1", "BPNL00000003REC1"


@pytest.fixture
def hub(make_store: Callable[[Sequence[Path]], Engine], tmp_path: Path) -> OuranosHub:
    engine = make_store([MIGRATIONS_DIR, SITES_MIGRATIONS])
    identity = load_or_create_identity(tmp_path / "node-keys", "did:web:hub.test%3A8443")
    return OuranosHub(engine, identity, hub_home=tmp_path / "hub", base_url=BASE)


@pytest.fixture
def apis(hub: OuranosHub) -> Iterator[list[Api]]:
    ops = [seed_operator(hub, n) for n in range(3)]
    _, key = hub.issue_api_key()
    with TestClient(build_app(hub, base_url=BASE), base_url=BASE) as client:
        yield [Api(client, op, key) for op in ops]


def _release(api: Api, to: Api, flag: bool) -> Any:
    return api.put("/v1/ouranos/sites/releases", {"releasedToOperatorId": to.op.operator_id, "releasedFlag": flag})


def _read(api: Api, owner: Api) -> Any:
    return api.get(f"/v1/ouranos/operators/{owner.op.operator_id}/sites")


def _refused(r: Any) -> None:
    """The hub's refusal: 403, a problem naming the rule, no site and no supplier in it."""
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/ouranos-not-released") and "release" in body["rule"]
    for secret in (REFINERY["operator"], REFINERY["name"], REFINERY["siteId"], "JP-38"):
        assert secret not in r.text


def test_an_operator_registers_and_reads_its_own_sites(apis: list[Api]) -> None:
    owner = apis[0]
    r = owner.put("/v1/ouranos/sites", REFINERY)
    assert r.status_code == 201, r.text
    assert r.json()["operator"] == REFINERY["operator"] and "sharedWith" not in r.json()
    r = owner.put("/v1/ouranos/sites", {**REFINERY, "name": "Niihama refinery (renamed)"})
    assert r.status_code == 200
    own = owner.get("/v1/ouranos/sites").json()
    assert own["operatorId"] == owner.op.operator_id
    assert [(s["siteId"], s["name"]) for s in own["sites"]] == [(REFINERY["siteId"], "Niihama refinery (renamed)")]
    assert _read(owner, owner).json()["sites"][0]["siteId"] == REFINERY["siteId"]


def test_a_bad_site_is_refused_naming_the_field_and_nothing_is_stored(apis: list[Api]) -> None:
    owner = apis[0]
    no_coordinates = {k: v for k, v in REFINERY.items() if k != "location"}
    r = owner.put("/v1/ouranos/sites", no_coordinates)
    assert r.status_code == 400 and r.json()["field"] == "location.latitude"
    r = owner.put("/v1/ouranos/sites", {**REFINERY, "sharedWith": ["did:web:someone.example"]})
    assert r.status_code == 400 and r.json()["field"] == "sharedWith"
    r = owner.client.put("/v1/ouranos/sites", content=b"{not json", headers=owner.headers)
    assert r.status_code == 400 and r.json()["field"] == "body"
    assert owner.get("/v1/ouranos/sites").json()["sites"] == []
    # without the operator's credentials nothing is written either
    r = owner.client.put("/v1/ouranos/sites", json=REFINERY)
    assert r.status_code in (401, 403)
    assert owner.get("/v1/ouranos/sites").json()["sites"] == []


def test_released_visible_unreleased_refused_revoked_refused_again(apis: list[Api]) -> None:
    owner, partner, other = apis
    assert owner.put("/v1/ouranos/sites", REFINERY).status_code == 201
    _refused(_read(partner, owner))  # nothing released yet
    r = _release(owner, partner, True)
    assert r.status_code == 200
    assert [x["releasedToOperatorId"] for x in r.json()["releases"]] == [partner.op.operator_id]
    seen = _read(partner, owner)
    assert seen.status_code == 200
    site = seen.json()["sites"][0]
    assert site["operator"] == REFINERY["operator"] and site["location"] == REFINERY["location"]
    assert "sharedWith" not in site
    _refused(_read(other, owner))  # released to someone else
    # the owner lists its releases; withdrawing one refuses that reader again
    assert [x["releasedToOperatorId"] for x in owner.get("/v1/ouranos/sites/releases").json()["releases"]] == [
        partner.op.operator_id
    ]
    assert _release(owner, partner, False).json()["releases"] == []
    _refused(_read(partner, owner))


def test_releases_name_a_hosted_operator_other_than_oneself(apis: list[Api]) -> None:
    owner = apis[0]
    r = owner.put(
        "/v1/ouranos/sites/releases",
        {"releasedToOperatorId": "019b0000-0000-7000-8000-000000000001", "releasedFlag": True},
    )
    assert r.status_code == 404
    r = owner.put("/v1/ouranos/sites/releases", {"releasedToOperatorId": "not-a-uuid", "releasedFlag": True})
    assert r.status_code == 400 and r.json()["field"] == "releasedToOperatorId"
    assert _release(owner, owner, True).status_code == 400
    assert owner.get("/v1/ouranos/sites/releases").json()["releases"] == []


def test_across_the_bridge_only_under_the_sites_scope_released_to_that_bpnl(hub: OuranosHub) -> None:
    op = seed_operator(hub, 0)
    who = Principal(op.operator_id, op.account_id)
    hub.sites.put_site(who, REFINERY)
    with pytest.raises(NotReleased):
        hub.sites.bridge_sites(op.operator_id, PARTNER_BPNL)
    # releasing another scope does not release the sites
    hub.releases.put_bridge_release(who, PARTNER_BPNL, ["upstream-summary"])
    with pytest.raises(NotReleased):
        hub.sites.bridge_sites(op.operator_id, PARTNER_BPNL)
    hub.releases.put_bridge_release(who, PARTNER_BPNL, ["sites"])
    assert [s.site_id for s in hub.sites.bridge_sites(op.operator_id, PARTNER_BPNL)] == [REFINERY["siteId"]]
    for bpnl in (OTHER_BPNL, None):
        with pytest.raises(NotReleased):
            hub.sites.bridge_sites(op.operator_id, bpnl)
    hub.releases.put_bridge_release(who, PARTNER_BPNL, ["sites"], released=False)
    with pytest.raises(NotReleased):
        hub.sites.bridge_sites(op.operator_id, PARTNER_BPNL)


def test_the_nodes_register_keeps_to_itself_but_the_ledger_knows_every_site(hub: OuranosHub) -> None:
    a, b = seed_operator(hub, 0), seed_operator(hub, 1)
    hub.sites.put_site(Principal(a.operator_id, ""), REFINERY)
    hub.sites.put_site(Principal(a.operator_id, ""), MINE)
    node = SiteService(hub.engine)
    assert node.list() == [] and node.overview()["registered"] == 0  # GET /v1/sites shows none of them
    with pytest.raises(NotFound):
        node.get(MINE["siteId"])
    # a site id is unique on the node: another register cannot take it, nor can the node's own
    with pytest.raises(Conflict):
        hub.sites.put_site(Principal(b.operator_id, ""), MINE)
    with pytest.raises(Conflict):
        node.register(Site.from_json(MINE))
    assert hub.sites.register.get(MINE["siteId"], owner=a.operator_id).name == MINE["name"]
    # the CAHRA data set screens the operators' sites too, and the ledger's facts count them
    _, flagged = node.load_cahra(json.loads(CAHRA_SAMPLE.read_text()))
    assert flagged == 1
    facts = node.site_facts()
    assert {REFINERY["siteId"], MINE["siteId"]} <= facts.known
    assert REFINERY["siteId"] in facts.certified and facts.flagged == {MINE["siteId"]}
    own = {s.site_id: s for s in hub.sites.own_sites(Principal(a.operator_id, ""))}
    screening = own[MINE["siteId"]].screening
    assert screening is not None and screening.flagged


def test_a_site_body_must_be_an_object(hub: OuranosHub) -> None:
    op = seed_operator(hub, 0)
    with pytest.raises(InvalidInput):
        hub.sites.put_site(Principal(op.operator_id, ""), copy.deepcopy([REFINERY]))  # type: ignore[arg-type]


def test_migrations_match_the_tables(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from batpass.store.metadata import metadata

    engine = make_store([MIGRATIONS_DIR, SITES_MIGRATIONS])
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, metadata) if _table_of(d) in {"sites", "ouranos_site_release"}]
    assert diff == []


def _table_of(diff: Any) -> str | None:
    """The table an Alembic autogenerate diff is about (a modify diff comes as a list)."""
    op = diff[0] if isinstance(diff, list) else diff
    for part in op[1:]:
        table = getattr(part, "table", None)
        if getattr(part, "name", None) is not None and hasattr(part, "columns") and table is None:
            return str(part.name)  # a Table
        if table is not None and hasattr(table, "name"):
            return str(table.name)  # a Column, an Index
    names = [p for p in op[1:] if isinstance(p, str)]
    return next((n for n in names if n in {"sites", "ouranos_site_release"}), None)  # (op, schema, table, ...)


def test_an_operators_registered_mines_give_its_summaries_site_shares(
    make_store: Callable[[Sequence[Path]], Engine], tmp_path: Path
) -> None:
    """The hub's ledger reads its site facts as the node wires it (``SiteService.site_facts``):
    a partition's nickel mined at a mine its operator registered (certified) counts as certified,
    no longer as unknown; the mine no register knows stays unknown. The summary names no site."""
    import datetime as dt

    from batpass.core.clock import FixedClock
    from batpass.core.summary import encode_summary
    from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
    from batpass.ledger import LedgerService

    engine = make_store([MIGRATIONS_DIR, SITES_MIGRATIONS, LEDGER_MIGRATIONS])
    identity = load_or_create_identity(tmp_path / "node-keys", "did:web:hub.test%3A8443")
    hub = OuranosHub(engine, identity, hub_home=tmp_path / "hub", base_url=BASE)
    op = seed_operator(hub, 0)
    did = hub.operator_did_document(op.operator_id)["id"]
    clock = FixedClock(dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC))
    ledger = LedgerService(
        hub.engine,
        hub.identity,
        identities=lambda owner: hub.operator_identity(op.operator_id) if owner == did else None,
        high_risk_sites=SiteService(hub.engine, clock=clock).site_facts,
        clock=clock,
    )

    def extraction(site: str, lot: str, i: int) -> dict[str, Any]:
        return {
            "id": f"ev-{lot}",
            "kind": "extraction",
            "owner": did,
            "at": f"2026-01-01T00:00:0{i}Z",
            "site": {"id": site, "country": "PH"},
            "outputs": [{"lot": lot, "material": "nickel_mhp", "quantity": {"value": 100, "unit": "kg"}}],
        }

    ledger.record(
        [
            extraction("MINE-PH-PLW-1", "ni-1", 1),
            extraction("MINE-PH-XX-9", "ni-9", 2),
            {
                "id": "ev-blend",
                "kind": "transformation",
                "owner": did,
                "at": "2026-01-01T00:00:05Z",
                "site": {"id": "MINE-PH-PLW-1", "country": "PH"},
                "inputs": [{"lot": lot, "quantity": {"value": 100, "unit": "kg"}} for lot in ("ni-1", "ni-9")],
                "outputs": [{"lot": "ni-mix", "material": "nickel_mhp", "quantity": {"value": 200, "unit": "kg"}}],
            },
        ]
    )
    before = ledger.summary(did, "ni-mix").elements["Ni"].sites
    assert (before.certified, before.flagged, before.unknown) == pytest.approx((0.0, 0.0, 1.0))
    hub.sites.put_site(
        Principal(op.operator_id, ""),
        {
            "siteId": "MINE-PH-PLW-1",
            "name": "Palawan nickel mine",
            "operator": "Palawan Nickel Corp",
            "siteType": "mine",
            "country": "PH",
            "region": "PH-PLW",
            "location": {"latitude": 8.54, "longitude": 117.42},
            "minerals": ["nickel"],
            "certifications": [{"scheme": "Nickel Mark", "status": "certified", "validUntil": "2029-12-31"}],
        },
    )
    summary = ledger.summary(did, "ni-mix")
    after = summary.elements["Ni"].sites
    assert (after.certified, after.flagged, after.unknown) == pytest.approx((0.5, 0.0, 0.5))
    wire = json.dumps(encode_summary(summary))
    assert "MINE-PH-PLW-1" not in wire and "Palawan" not in wire


def _put_raw(api: Api, path: str, body: Any) -> Any:
    """``body`` as JSON with its escapes kept (``\\ud800`` stays an escape on the wire)."""
    return api.client.put(path, content=json.dumps(body), headers={**api.headers, "Content-Type": "application/json"})


def _scalar_text_refusal(r: Any, field: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["field"], r.json()["rule"]) == (field, SCALAR_TEXT_RULE)


def test_a_site_with_a_lone_surrogate_is_refused_naming_the_member_and_nothing_is_stored(
    apis: list[Api], hub: OuranosHub
) -> None:
    """``PUT /v1/ouranos/sites`` reads its body itself. Before: with ``json.loads`` and no check,
    so the text reached the site rules and the problem encoder (a 500)."""
    owner = apis[0]
    for field, site in (
        ("siteId", {**REFINERY, "siteId": "REF-JP-1\ud800"}),
        ("name", {**REFINERY, "name": "Niihama\ud800"}),
        ("minerals.1", {**REFINERY, "minerals": ["nickel", "cobalt\ud800"]}),
        ("note", {**REFINERY, "note": "\ud800"}),
    ):
        _scalar_text_refusal(_put_raw(owner, "/v1/ouranos/sites", site), field)
    assert owner.get("/v1/ouranos/sites").json()["sites"] == []
    assert owner.put("/v1/ouranos/sites", REFINERY).status_code == 201  # the same site without it


def test_a_release_with_a_lone_surrogate_is_refused_naming_the_member_and_nothing_is_stored(
    apis: list[Api],
) -> None:
    """``PUT /v1/ouranos/sites/releases`` on the hub's own app (the harness the hub's tests,
    conformance runs and benchmarks use). Before: only the node's app-wide dependency refused
    it; on the hub's app a declared member was refused under pydantic's own rule
    (``string_unicode``) and an undeclared member's text was taken."""
    owner, reader = apis[0], apis[1]
    for field, body in (
        ("releasedToOperatorId", {"releasedToOperatorId": reader.op.operator_id + "\ud800", "releasedFlag": True}),
        ("note", {"releasedToOperatorId": reader.op.operator_id, "releasedFlag": True, "note": "\ud800"}),
    ):
        _scalar_text_refusal(_put_raw(owner, "/v1/ouranos/sites/releases", body), field)
    assert owner.get("/v1/ouranos/sites/releases").json()["releases"] == []
