"""The bridge between the hub and Catena-X (issue 9 items 2–3), checked on the session's live demo
federation over HTTPS: who may ask the hub, who may use the relay, and that nothing crosses
without the hub operator's release."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx
import pytest
from demo_runner import DemoRun

from batpass.demo._story.ledger import HOSTS
from batpass.federation import MAX_DEADLINE_MS
from batpass.scenario import generate
from batpass.trust import NodeIdentity, issue_self_issued_token, load_or_create_identity

pytestmark = pytest.mark.integration


class Fed:
    def __init__(self, run: DemoRun, client: httpx.Client) -> None:
        self.out = run.out
        self.summary = run.summary
        self.client = client
        self.nodes = {n["name"]: n for n in run.summary["nodes"]}

    def url(self, name: str, path: str) -> str:
        return str(self.nodes[name]["base_url"]) + path

    def admin(self, name: str) -> dict[str, str]:
        return {"X-Api-Key": str(self.nodes[name]["admin_key"])}

    def identity(self, name: str) -> NodeIdentity:
        return load_or_create_identity(self.out / "federation" / name / "keys", str(self.nodes[name]["did"]))


@pytest.fixture(scope="module")
def fed(demo_run: DemoRun) -> Iterator[Fed]:
    ctx = ssl.create_default_context(cafile=str(demo_run.out / demo_run.summary["ca_cert"]))
    with httpx.Client(verify=ctx, timeout=30) as client:
        yield Fed(demo_run, client)


def _bearer(identity: NodeIdentity, audience: str, actor: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_self_issued_token(identity, audience=audience, bpn=None, actor=actor)}


def test_only_the_configured_bridge_may_ask_the_hub(fed: Fed) -> None:
    body = {"asset": "upstream-summary", "lot": "x", "consumer_did": fed.nodes["eu-carmaker"]["did"]}
    hub_did = str(fed.nodes["jp-hub"]["did"])
    # the car maker signs a valid self-issued token for the hub: it is still not the bridge
    r = fed.client.post(
        fed.url("jp-hub", "/v1/ouranos/bridge/answer"), json=body, headers=_bearer(fed.identity("eu-carmaker"), hub_did)
    )
    assert r.status_code == 403 and "bridge" in r.json()["detail"]
    r = fed.client.post(fed.url("jp-hub", "/v1/ouranos/bridge/answer"), json=body)
    assert r.status_code == 401


def test_relay_needs_the_operators_delegation_naming_the_bridge(fed: Fed) -> None:
    mines = str(fed.nodes["cx-mines"]["did"])
    body = {"partner": mines, "lot": "019b0000-0000-7000-8000-000000000000", "asset": "upstream-summary"}
    # a token of the car maker (not a hub operator in the bridge's crosswalk), naming the bridge
    token = issue_self_issued_token(
        fed.identity("eu-carmaker"), audience=mines, bpn=None, actor=str(fed.nodes["bridge"]["did"])
    )
    r = fed.client.post(fed.url("bridge", "/v1/bridge/relay"), json={**body, "delegation": token})
    assert r.status_code == 403 and "crosswalk" in r.json()["detail"]
    # a delegation whose actor is another connector
    token = issue_self_issued_token(
        fed.identity("eu-carmaker"), audience=mines, bpn=None, actor=str(fed.nodes["eu-recycler"]["did"])
    )
    r = fed.client.post(fed.url("bridge", "/v1/bridge/relay"), json={**body, "delegation": token})
    assert r.status_code == 401 and "actor" in r.json()["detail"]


def _pact_ids(fed: Fed) -> set[str]:
    client = fed.client.post(
        fed.url("bridge", "/v1/footprints/pact/clients"), json={"name": "test"}, headers=fed.admin("bridge")
    ).json()
    token = fed.client.post(
        fed.url("bridge", "/pact/auth/token"),
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    ).json()["access_token"]
    r = fed.client.get(fed.url("bridge", "/pact/3/footprints"), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    return {d["id"] for d in r.json()["data"]}


def test_publication_without_release_is_refused_and_nothing_is_published(fed: Fed) -> None:
    before = _pact_ids(fed)
    cell = json.loads((fed.out / "footprint" / "cell.catenax-pcf.json").read_text())
    assert cell  # the released publication of the story arrived
    ops = fed.nodes["jp-hub"]["ouranos"]["operators"]  # refiner, cathode maker, cell maker
    for operator in (ops[1], ops[2]):
        body = {
            "operatorDid": operator["did"],
            "traceId": "00000000-0000-4000-8000-000000000000",
            "partnerBpnl": "BPNL00000003REFN",  # cx-refining: nobody released anything to it
        }
        r = fed.client.post(fed.url("bridge", "/v1/bridge/publications/cfp"), json=body, headers=fed.admin("bridge"))
        assert r.status_code in (403, 404), r.text
    assert _pact_ids(fed) == before


def test_the_hubs_did_document_names_its_bridge(fed: Fed) -> None:
    # how a Catena-X node reaches a hub operator that released nothing (its reconciliation
    # messages): the hub names the bridge's DID, whose own document names the connector
    doc = fed.client.get(fed.url("jp-hub", "/.well-known/did.json")).json()
    named = [s["serviceEndpoint"] for s in doc["service"] if s["type"] == "OuranosBridgeService"]
    assert named == [fed.nodes["bridge"]["did"]]
    assert "DataService" not in {s["type"] for s in doc["service"]}


def test_operator_did_document_names_the_bridge_only_after_a_release(fed: Fed) -> None:
    ops = fed.nodes["jp-hub"]["ouranos"]["operators"]
    docs = {
        op["did"]: fed.client.get(fed.url("jp-hub", f"/operators/{op['operatorId']}/did.json")).json() for op in ops
    }
    released = {did for did, doc in docs.items() if doc.get("service")}
    # the cell maker and the cathode maker released something; the refiner nothing
    assert ops[2]["did"] in released and ops[1]["did"] in released and ops[0]["did"] not in released
    for did in released:
        (svc,) = docs[did]["service"]
        assert svc["type"] == "DataService" and svc["participantId"] == fed.nodes["bridge"]["did"]
        # DSP 2025-1 DID binding: the bridge connector's version metadata endpoint, where the
        # consumer discovers its DSP base
        bridge_root = fed.nodes["bridge"]["dsp_url"].removesuffix("/api/dsp/2025-1")
        assert svc["serviceEndpoint"] == bridge_root + "/.well-known/dspace-version"


def test_a_recall_round_the_recycling_loop_counts_each_battery_once(fed: Fed) -> None:
    """The recycler asks which batteries contain a lot of cobalt it recovered mid-run: the
    question goes through the bridge into the hub (cathode, cell maker), out again to the car
    maker, back to the recycler, and round the loop again; batteries reached by several paths
    are counted once (per-question marks), so the total is at most the demo's batteries. The loop
    goes 37 tiers deep: deeper than the default 10 s deadline reaches (each tier keeps 10 %), so
    the recall asks with the longest deadline."""
    owners = {code: "did:web:" + host.replace("/", ".") + ".test" for code, host in HOSTS.items()}
    sc = generate(owners=owners, resolver=str(fed.nodes["eu-certifier"]["base_url"]))  # the car maker's resolver
    recovered = [
        str(o["lot"])
        for e in sc.events
        if e["kind"] == "recovery"
        for o in e["outputs"]
        if o["material"] == "cobalt_sulphate"
    ]
    lot = recovered[len(recovered) // 2]
    r = fed.client.get(
        fed.url("eu-recycler", "/v1/trace/federated/" + lot),
        params={"direction": "down", "deadline_ms": MAX_DEADLINE_MS},
        headers=fed.admin("eu-recycler"),
        timeout=120,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["complete"] is True and out["hops"] >= 4
    assert 0 < out["batteries_total"] <= len(fed.summary["batteries"])
    # the recycler learns its direct customer (the cathode maker, through its DID) and counts
    assert [c["did"] for c in out["customers"]] and all(":operators:" in c["did"] for c in out["customers"])
