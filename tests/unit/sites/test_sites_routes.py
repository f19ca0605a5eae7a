"""``/v1/sites`` on a served node: registered with the admin key, refused naming the field
(RFC 9457) with nothing stored, read under the sharing policy, and screened with a CAHRA data set
loaded over the API (another form refused with the reason)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sites_testkit import HAUT_LOMAMI, KOLWEZI, sample, site

from batpass.core.settings import Settings
from batpass.node import create_app, init_node
from batpass.node._adapters import SelfIssuedCaller
from batpass.passport import CallerVerifier
from batpass.trust import DidResolver, NodeIdentity, UsedTokens, did_document, generate_keypair, issue_self_issued_token


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(home=tmp_path / "home")
    local, key = init_node(
        "mines", profiles=["catena-x"], settings=settings, legal_name="Mines", bpnl="BPNL00000003MINE"
    )
    local.close()
    with TestClient(create_app(settings, node_name="mines"), base_url=local.base_url) as client:
        yield client, {"X-Api-Key": key}


def test_register_read_and_screen(node: tuple[TestClient, dict[str, str]]) -> None:
    client, admin = node
    r = client.put("/v1/sites", json=KOLWEZI, headers=admin)
    assert r.status_code == 201 and r.json()["screening"] is None
    assert client.put("/v1/sites", json=KOLWEZI, headers=admin).status_code == 200  # replaced
    assert client.put("/v1/sites", json=HAUT_LOMAMI, headers=admin).status_code == 201

    r = client.put("/v1/sites/cahra", json=sample(), headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dataset": "batpass-synthetic-cahra-sample@2026-06-30",
        "synthetic": True,
        "flagged": 1,
        "changes": {"newly_listed": ["MINE-CD-2"], "no_longer_listed": [], "findings_outdated": []},
    }
    full = client.get("/v1/sites/MINE-CD-2", headers=admin).json()
    assert full["operator"] == "Kolwezi Artisanal Cooperative"
    assert full["screening"]["outcome"] == "enhanced due diligence required"
    assert full["screening"]["dataset"] == "batpass-synthetic-cahra-sample@2026-06-30"
    assert client.get("/v1/sites/overview").json() == {
        "registered": 2,
        "certified": 1,
        "high_risk": 1,
        "cahra_dataset": "batpass-synthetic-cahra-sample@2026-06-30",
    }


def test_anyone_reads_the_public_summary_only(node: tuple[TestClient, dict[str, str]]) -> None:
    client, admin = node
    client.put("/v1/sites", json=HAUT_LOMAMI, headers=admin)
    public = client.get("/v1/sites").json()
    assert [s["siteId"] for s in public] == ["MINE-CD-1"]
    text = str(public) + client.get("/v1/sites/MINE-CD-1").text
    assert "Katanga Cobalt SARL" not in text and "-8.74" not in text and "doc:ra-2026" not in text
    assert public[0]["region"] == "CD-HL" and public[0]["certified"] is True
    assert client.get("/v1/sites/MINE-CD-9").status_code == 404


def test_writes_need_the_admin_key(node: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = node
    assert client.put("/v1/sites", json=KOLWEZI).status_code == 401
    assert client.put("/v1/sites/cahra", json=sample()).status_code == 401
    assert client.get("/v1/sites").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in KOLWEZI.items() if k != "country"}, "country"),
        ({k: v for k, v in KOLWEZI.items() if k != "location"}, "location.latitude"),
        (site(KOLWEZI, region="ZM-01"), "region"),
    ],
)
def test_a_bad_site_is_a_problem_naming_the_field(
    node: tuple[TestClient, dict[str, str]], body: dict[str, object], field: str
) -> None:
    client, admin = node
    r = client.put("/v1/sites", json=body, headers=admin)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field
    assert client.get("/v1/sites", headers=admin).json() == []  # nothing stored


def test_a_cahra_data_set_of_an_unknown_form_is_refused_with_the_reason(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, admin = node
    client.put("/v1/sites", json=KOLWEZI, headers=admin)
    client.put("/v1/sites/cahra", json=sample(), headers=admin)
    bad = sample()
    bad["countries"][0]["code"] = "CD"  # alpha-2 where the form has alpha-3
    r = client.put("/v1/sites/cahra", json=bad, headers=admin)
    assert r.status_code == 400
    problem = r.json()
    assert problem["field"] == "$.countries[0].code" and "unknown form" in problem["detail"]
    assert client.get("/v1/sites/cahra/current").json()["dataset"] == "batpass-synthetic-cahra-sample@2026-06-30"
    assert client.get("/v1/sites/overview").json()["high_risk"] == 1


def test_a_partner_named_in_shared_with_reads_the_full_record(node: tuple[TestClient, dict[str, str]]) -> None:
    """Real DCP self-issued tokens, verified by the node's ``CallerVerifier`` adapter against the
    partners' DID documents (pinned as the node would have fetched them)."""
    client, admin = node
    partner = NodeIdentity("did:web:partner.example", [generate_keypair("Ed25519", "key-ed25519-1")])
    stranger = NodeIdentity("did:web:stranger.example", [generate_keypair("Ed25519", "key-ed25519-1")])
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    resolver = DidResolver()
    for who in (partner, stranger):
        resolver.pin(did_document(who))
    ctx.services[CallerVerifier] = SelfIssuedCaller(resolver, audience=ctx.did, used=UsedTokens(ctx.engine))
    client.put("/v1/sites", json=HAUT_LOMAMI, headers=admin)  # sharedWith: did:web:partner.example

    def read(who: NodeIdentity) -> dict[str, object]:
        token = issue_self_issued_token(who, audience=ctx.did, bpn=None, ttl_s=300)
        r = client.get("/v1/sites/MINE-CD-1", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    assert read(partner)["operator"] == "Katanga Cobalt SARL"
    assert "operator" not in read(stranger)
    forged = NodeIdentity(partner.did, [generate_keypair("Ed25519", "key-ed25519-1")])
    token = issue_self_issued_token(forged, audience=ctx.did, bpn=None, ttl_s=300)
    assert client.get("/v1/sites/MINE-CD-1", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_findings_and_screenings_name_their_cahra_edition_over_http(node: tuple[TestClient, dict[str, str]]) -> None:
    """A finding over the API is stamped with the edition in use (one naming another is a 400
    problem naming ``dataset``); after a newer edition the site shows the change and the finding
    as made against the old one."""
    client, admin = node
    client.put("/v1/sites", json=KOLWEZI, headers=admin)
    client.put("/v1/sites/cahra", json=sample(), headers=admin)
    old = "batpass-synthetic-cahra-sample@2026-06-30"
    finding = {"kind": "CAHRA finding", "reference": "doc:edd-1", "date": "2026-11-30"}
    r = client.post("/v1/sites/MINE-CD-2/due-diligence", json={**finding, "dataset": "other@2026-01-01"}, headers=admin)
    assert r.status_code == 400 and r.json()["field"] == "dataset"
    r = client.post("/v1/sites/MINE-CD-2/due-diligence", json=finding, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["dueDiligence"][-1]["dataset"] == old and r.json()["cahraFinding"]["current"] is True
    newer = sample()
    newer["version"] = {"data_updated": "2026-12-31", "reports_updated": "2026-12-31"}
    newer["countries"][0]["reports"] = newer["countries"][0]["reports"][1:]  # Lualaba no longer listed
    loaded = client.put("/v1/sites/cahra", json=newer, headers=admin).json()
    assert loaded["flagged"] == 0
    # what the operator must look at: the sites whose screening changed, the findings now outdated
    assert loaded["changes"] == {
        "newly_listed": [],
        "no_longer_listed": ["MINE-CD-2"],
        "findings_outdated": ["MINE-CD-2"],
    }
    full = client.get("/v1/sites/MINE-CD-2", headers=admin).json()
    assert full["screening"]["dataset"] == "batpass-synthetic-cahra-sample@2026-12-31"
    assert (full["screening"]["previous"], full["screening"]["change"]) == (old, "no longer listed")
    assert full["cahraFinding"] == {"reference": "doc:edd-1", "date": "2026-11-30", "dataset": old, "current": False}
    public = client.get("/v1/sites/MINE-CD-2").json()  # anyone: the screening and its change, no evidence
    assert public["screening"]["change"] == "no longer listed" and "cahraFinding" not in public
