"""Compliance of what a node holds beyond one stored passport: a recycler judged on the yields its
recovery events declare (both stores), a passport read from another node over HTTPS (a partner
answered by ``httpx.MockTransport``), and ``batpass comply --node`` on a real node folder, whose
bad input exits 2 with one line."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from batpass.cli._compliance import app
from batpass.compliance import ComplianceService, Status
from batpass.core.errors import Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from batpass.core.settings import Settings
from batpass.exchange import PassportFetcher
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.node import init_node, open_node
from batpass.passport import PassportRules, PassportService, load_static_product_data
from batpass.scenario import generate
from batpass.trust import NodeIdentity, generate_keypair

RECYCLER = "did:web:recycler.example"
PARTNER = "https://partner.example:8443"
EXAMPLE = Path(__file__).parents[3] / "src/batpass/passport/_data/example-ev-model.yaml"


@pytest.fixture
def recycler_ledger(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    svc = LedgerService(
        make_store([MIGRATIONS_DIR]),
        NodeIdentity(RECYCLER, [generate_keypair("Ed25519", "key-ed25519-1")]),
    )
    svc.record(generate(lots=100, owner=RECYCLER, seed=3).events)
    return svc


def test_a_recycler_is_judged_on_its_declared_recovery_yields(recycler_ledger: LedgerService) -> None:
    svc = ComplianceService(owner=RECYCLER, passports=None, ledger=recycler_ledger, trust=None)
    found = {f"{f.rule}:{f.subject}": f for f in svc.recycler(RECYCLER, dt.date(2032, 1, 1), market="EU").findings}
    # the scenario's recovery events declare Co 0.9, Li 0.8, Ni 0.9 (Annex XII Part C)
    assert found[f"recycler.recovery.2027:{RECYCLER}:cobalt"].status == Status.PASS
    assert found[f"recycler.recovery.2031:{RECYCLER}:cobalt"].status == Status.FAIL
    assert found[f"recycler.recovery.2031:{RECYCLER}:lithium"].status == Status.PASS
    # no event states copper, or a recycling efficiency: not yet determinable, never left out
    assert found[f"recycler.recovery.2031:{RECYCLER}:copper"].status == Status.NOT_YET_DETERMINABLE
    assert found[f"recycler.efficiency.2030:{RECYCLER}:lithium_based"].status == Status.NOT_YET_DETERMINABLE
    evidence = found[f"recycler.recovery.2031:{RECYCLER}:cobalt"].evidence
    assert [e.source for e in evidence] == [f"2 recovery events of {RECYCLER} in the ledger"]
    before = svc.recycler(RECYCLER, dt.date(2027, 12, 30)).findings
    assert {f.status for f in before if f.rule == "recycler.recovery.2027"} == {Status.NOT_YET_REQUIRED}
    with pytest.raises(NotFound, match="no records"):
        svc.recycler("did:web:nobody.example", dt.date(2032, 1, 1))


DOC: dict[str, Any] = {
    "passportId": "urn:uuid:5b1e0a4e-0000-4000-8000-000000000001",
    "batteryId": f"{PARTNER}/01/04012345000009/21/SN-9",
    "status": "original",
    "version": 3,
    "tiers": ["public"],
    "data": {"category": "ev", "rated_energy": {"value": 77, "unit": "kWh"}},
}


def _partner(status: int = 200, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.url.path.endswith("/qr.svg"):
            return httpx.Response(200, text="<svg/>")
        return httpx.Response(status, json=DOC if status == 200 else {"title": "x"})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def test_a_passport_on_another_node_is_read_over_https_and_judged() -> None:
    svc = ComplianceService(
        owner="did:web:jp.example", passports=None, ledger=None, trust=None, remote=PassportFetcher(None)
    )
    seen: list[httpx.Request] = []
    url = str(DOC["batteryId"])
    done = anyio.run(partial(svc.passport, url, dt.date(2027, 2, 18), market="EU", client=_partner(seen=seen)))
    assert [str(r.url) for r in seen] == [url, f"{PARTNER}/v1/passports/5b1e0a4e-0000-4000-8000-000000000001/qr.svg"]
    assert seen[0].headers["accept"] == "application/json" and "authorization" not in seen[0].headers
    report = done.report()
    scope = [f for f in report["findings"] if f["rule"] == "passport.scope.ev"]
    assert scope[0]["status"] == "pass" and "tiers public" in scope[0]["evidence"][0]["source"]
    # a remote passport brings no ledger figures here: the Art. 8 shares are not determinable
    later = anyio.run(partial(svc.passport, url, dt.date(2031, 8, 18), client=_partner())).report()
    phase1 = [f for f in later["findings"] if f["rule"] == "recycled.minimum.phase1"]
    assert len(phase1) == 4 and {f["status"] for f in phase1} == {"not yet determinable"}


def test_a_partner_that_fails_or_a_url_not_https_is_named() -> None:
    svc = ComplianceService(
        owner="did:web:jp.example", passports=None, ledger=None, trust=None, remote=PassportFetcher(None)
    )
    url = str(DOC["batteryId"])
    with pytest.raises(NotFound):
        anyio.run(partial(svc.passport, url, dt.date(2030, 1, 1), client=_partner(404)))
    with pytest.raises(Forbidden, match="refused"):  # the serving node refused the presentation
        anyio.run(partial(svc.passport, url, dt.date(2030, 1, 1), client=_partner(401)))
    with pytest.raises(UpstreamUnavailable) as err:
        anyio.run(partial(svc.passport, url, dt.date(2030, 1, 1), client=_partner(500)))
    assert err.value.details["partner"] == PARTNER
    with pytest.raises(InvalidInput):
        anyio.run(partial(svc.passport, "http://partner.example/01/1/21/2", dt.date(2030, 1, 1), client=_partner()))
    with pytest.raises(InvalidInput, match="another node"):
        anyio.run(partial(svc.passport, url, dt.date(2030, 1, 1)))
    alone = ComplianceService(owner="did:web:jp.example", passports=None, ledger=None, trust=None)
    with pytest.raises(InvalidInput, match="reads no remote passports"):
        anyio.run(partial(alone.passport, url, dt.date(2030, 1, 1), client=_partner()))


@pytest.fixture
def node_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BATPASS_HOME", str(home))
    node, _ = init_node(
        "n1", profiles=["catena-x"], settings=Settings(home=home), legal_name="N", bpnl="BPNL00000003AYRE"
    )
    node.close()
    return home


def test_comply_on_a_node_judges_its_stored_passport(node_home: Path, tmp_path: Path) -> None:
    local = open_node("n1", settings=Settings(home=node_home))
    try:
        static = load_static_product_data(EXAMPLE)
        from batpass.compliance import load_ruleset
        from batpass.core.ids import BatteryId
        from batpass.ledger import decode_summary

        battery = BatteryId(static.gtin, "SN-CLI")
        svc = PassportService(
            local.engine,
            local.identity,
            rules=PassportRules.from_ruleset(load_ruleset()),
            resolver_base=local.resolver_base,
            backup_url=local.base_url,
        )
        summary = {
            "summaryVersion": "1.0",
            "subject": {"kind": "battery", "id": battery.digital_link(local.resolver_base), "material": "battery"},
            "issuer": local.did,
            "computedAt": "2027-03-01T10:00:00Z",
            "elements": {},
            "minesReached": 0,
            "tombstones": [],
            "footprint": None,
            "credentials": [],
            "foldedSupplierSummaries": 0,
        }
        item = {"manufacturing_place": "Wolfsburg, DE", "manufacturing_date": "2027-02-20",
                "manufacturing_facility": "BPNA000000000NC1"}  # fmt: skip
        p = svc.build(static, battery, item=item, summary=decode_summary(summary))
    finally:
        local.close()
    out = tmp_path / "out"
    args = ["--node", "n1", "--passport", p.digital_link, "--at", "2027-02-18", "--market", "JP", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["rulesets"][0] == "jp@2026.1" and report["evidence"][0]["purpose"] == "passport"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--node", "n1"], "--passport or --recycler"),
        (["--node", "n1", "--passport", "urn:uuid:00000000-0000-4000-8000-000000000000"], "not found"),
        (["--node", "n1", "--recycler", "did:web:nobody.example"], "no records"),
        (["--node", "n1", "--passport", "x", "--market", "US"], "EU"),
        (["model.json", "--node", "n1"], "not both"),
    ],
)
def test_comply_on_a_node_refuses_bad_input_with_one_line(node_home: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_recycler_route_answers_findings_and_names_unknown_ones(recycler_ledger: LedgerService) -> None:
    import hashlib
    from typing import cast

    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from batpass.compliance.routes import router
    from batpass.http import NodeContext, install_error_handlers, require_json

    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    ctx = NodeContext(
        name="r",
        did=RECYCLER,
        base_url="https://r.example",
        resolver_base="https://r.example",
        profiles=("catena-x",),
        engine=recycler_ledger.engine,
        admin_key_sha256=hashlib.sha256(b"k").hexdigest(),
        production=False,
        client=cast(Any, None),
        sync_client=cast(Any, None),
        identity=recycler_ledger.identity,
        settings=None,
    )
    ctx.services[LedgerService] = recycler_ledger
    app.state.ctx = ctx
    install_error_handlers(app, {})
    client = TestClient(app)
    ok = client.get(f"/v1/recyclers/{RECYCLER}/compliance", params={"at": "2032-01-01"}, headers={"X-Api-Key": "k"})
    assert ok.status_code == 200, ok.text
    statuses = {
        f["subject"].rsplit(":", 1)[-1]: f["status"]
        for f in ok.json()["findings"]
        if f["rule"] == "recycler.recovery.2031"
    }
    assert statuses == {"cobalt": "fail", "copper": "not yet determinable", "lead": "not yet determinable",
                        "nickel": "fail", "lithium": "pass"}  # fmt: skip
    unknown = client.get("/v1/recyclers/did:web:x.example/compliance", headers={"X-Api-Key": "k"})
    assert unknown.status_code == 404 and RECYCLER in unknown.json()["detail"]
    bad = client.get(f"/v1/recyclers/{RECYCLER}/compliance", params={"market": "KR"}, headers={"X-Api-Key": "k"})
    assert bad.status_code == 400 and bad.json()["field"] == "market"
