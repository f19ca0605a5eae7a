"""Recycled-content claims debit the recycler's credit account through its connector (issue 8
item 8), across three Catena-X nodes over HTTPS: a recycler whose ledger credits X kg of cobalt
recovered from black mass, and two battery makers. Maker A claims 0.7 X, maker B 0.5 X: B's claim
is recorded and flagged as a double claim at the recycler, with the evidence (both claims, their
kilograms and claimants as DCP verified them); B gets a clear 409 saying so, with the account's
figures but not who claimed before; A never learns B's identity.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from batpass.cli._ledger import app as ledger_cli
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.ledger import MATERIALS

pytestmark = pytest.mark.integration

LOT = "coso4-2026-001"
COSO4_KG = 400.0
BATTERY_A = "https://id.maker-a.example/01/04012345000016/21/A-0001"
BATTERY_B = "https://id.maker-b.example/01/04012345000023/21/B-0001"


@dataclass
class Setup:
    home: Path
    recycler: RunningNode
    maker_a: RunningNode
    maker_b: RunningNode
    credited_kg: float

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(self.home))), timeout=60)


def _events(owner: str) -> list[dict[str, Any]]:
    site = {"id": "REC-DE-1", "country": "DE"}
    return [
        {
            "id": "rec-ev-1",
            "kind": "extraction",
            "owner": owner,
            "at": "2026-03-01T08:00:00Z",
            "site": site,
            "outputs": [
                {
                    "lot": "bm-2026-001",
                    "material": "black_mass",
                    "quantity": {"value": 1000, "unit": "kg"},
                    "assay": {"Co": 0.1, "Ni": 0.1, "Li": 0.03},
                }
            ],
        },
        {
            "id": "rec-ev-2",
            "kind": "recovery",
            "owner": owner,
            "at": "2026-03-02T08:00:00Z",
            "site": site,
            "inputs": [{"lot": "bm-2026-001", "quantity": {"value": 1000, "unit": "kg"}}],
            "outputs": [
                {
                    "lot": LOT,
                    "material": "cobalt_sulphate",
                    "quantity": {"value": COSO4_KG, "unit": "kg"},
                    "recycled": "post_consumer",
                }
            ],
        },
    ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("credits")
    specs = [
        NodeSpec("cr-recycler", ("catena-x",), legal_name="recycler", bpnl="BPNL00000000801R"),
        NodeSpec("cr-maker-a", ("catena-x",), legal_name="battery maker A", bpnl="BPNL00000000802A"),
        NodeSpec("cr-maker-b", ("catena-x",), legal_name="battery maker B", bpnl="BPNL00000000803B"),
    ]
    with federation(home, specs, configure=operator_config(0)) as runs:
        recycler, maker_a, maker_b = runs
        catenax_memberships(home, recycler, runs)
        fractions = MATERIALS["cobalt_sulphate"].fractions
        assert fractions is not None
        co = next(f for el, f in fractions.items() if el.value == "Co")
        s = Setup(home, recycler, maker_a, maker_b, COSO4_KG * co)
        with s.client() as c:
            r = c.post(
                recycler.base_url + "/v1/ledger/events", json=_events(recycler.did), headers=recycler.admin_headers()
            )
            assert r.status_code == 200, r.text
        yield s


def _claim(s: Setup, c: httpx.Client, maker: RunningNode, claim_id: str, kg: float, battery: str) -> httpx.Response:
    body = {"recycler": s.recycler.did, "id": claim_id, "lot": LOT, "element": "Co", "kg": kg, "subject": battery}
    return c.post(maker.base_url + "/v1/ledger/claims/remote", json=body, headers=maker.admin_headers())


def test_a_second_claimant_beyond_the_credit_is_caught_at_the_recycler(setup: Setup) -> None:
    s = setup
    x = s.credited_kg
    with s.client() as c:
        # the recycler offers its credit accounts to members
        r = _claim(s, c, s.maker_a, "claim-1", 0.7 * x, BATTERY_A)
        assert r.status_code == 201, r.text
        a = r.json()
        assert a["claim"]["status"] == "accepted" and a["claim"]["id"] == "claim-1"
        assert a["account"]["creditedKg"] == pytest.approx(x)
        assert a["account"]["debitedKg"] == 0
        assert a["account"]["remainingKg"] == pytest.approx(0.3 * x)

        r = _claim(s, c, s.maker_b, "claim-1", 0.5 * x, BATTERY_B)  # the same id, another claimant: no clash
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        b = r.json()
        assert b["type"].endswith("/double-claim") and "Art. 8" in b["rule"]
        assert b["claim"]["status"] == "double_claim" and b["claim"]["kg"] == pytest.approx(0.5 * x)
        assert b["account"]["creditedKg"] == pytest.approx(x)
        assert b["account"]["debitedKg"] == pytest.approx(0.7 * x)
        assert b["account"]["remainingKg"] == pytest.approx(0.3 * x)
        assert b["account"]["earlierClaims"] == 1
        assert "double claim" in b["detail"]
        # B learns how much was claimed before, never by whom or for what
        text = json.dumps(b)
        assert s.maker_a.did not in text and BATTERY_A not in text and "BPNL00000000802A" not in text

        # the evidence stays with the recycler: both claims, their kilograms and verified claimants
        r = c.get(s.recycler.base_url + "/v1/ledger/double-claims", headers=s.recycler.admin_headers())
        assert r.status_code == 200, r.text
        [dc] = r.json()
        assert dc["lot"] == LOT
        claims = {c_["claimant"]: c_ for c_ in dc["claims"]}
        assert set(claims) == {s.maker_a.did, s.maker_b.did}
        assert claims[s.maker_a.did]["status"] == "accepted"
        assert claims[s.maker_a.did]["kg"] == pytest.approx(0.7 * x)
        assert claims[s.maker_a.did]["subject"] == BATTERY_A
        assert claims[s.maker_b.did]["status"] == "double_claim"
        assert claims[s.maker_b.did]["kg"] == pytest.approx(0.5 * x)
        assert claims[s.maker_b.did]["subject"] == BATTERY_B

        # A asks again (a replay of its claim): the stored claim, nothing of B, nothing debited twice
        r = _claim(s, c, s.maker_a, "claim-1", 0.7 * x, BATTERY_A)
        assert r.status_code == 201, r.text
        again = r.json()
        assert again["claim"]["status"] == "accepted" and again["claim"].get("replayed") is True
        text = json.dumps(again)
        assert s.maker_b.did not in text and BATTERY_B not in text and "BPNL00000000803B" not in text
        r = c.get(s.recycler.base_url + "/v1/ledger/double-claims", headers=s.recycler.admin_headers())
        assert len(r.json()) == 1 and len(r.json()[0]["claims"]) == 2

        # what is left can still be claimed; the same kilograms twice by A are caught too
        r = _claim(s, c, s.maker_a, "claim-2", 0.3 * x * 0.99, BATTERY_A)
        assert r.status_code == 201, r.text
        r = _claim(s, c, s.maker_a, "claim-3", 0.05 * x, BATTERY_A)
        assert r.status_code == 409 and r.json()["claim"]["status"] == "double_claim", r.text


def test_an_unknown_account_and_a_bad_claim_are_refused(setup: Setup) -> None:
    s = setup
    with s.client() as c:
        r = c.post(
            s.maker_b.base_url + "/v1/ledger/claims/remote",
            json={
                "recycler": s.recycler.did,
                "id": "c-x",
                "lot": "no-such-lot",
                "element": "Co",
                "kg": 1.0,
                "subject": BATTERY_B,
            },
            headers=s.maker_b.admin_headers(),
        )
        assert r.status_code == 404, r.text
        r = c.post(
            s.maker_b.base_url + "/v1/ledger/claims/remote",
            json={
                "recycler": s.recycler.did,
                "id": "c-y",
                "lot": LOT,
                "element": "Co",
                "kg": -1.0,
                "subject": BATTERY_B,
            },
            headers=s.maker_b.admin_headers(),
        )
        assert r.status_code == 400 and r.json()["field"] == "kg", r.text
        r = c.get(s.recycler.base_url + "/v1/ledger/double-claims", headers=s.recycler.admin_headers())
        assert all(cl["lot"] == LOT for dc in r.json() for cl in dc["claims"])
        # the route is the operator's: no admin key, no claim
        r = c.post(s.maker_b.base_url + "/v1/ledger/claims/remote", json={"recycler": s.recycler.did})
        assert r.status_code == 401


def test_the_cli_sends_a_claim_through_the_running_node(setup: Setup) -> None:
    s = setup
    env = {"BATPASS_HOME": str(s.home), "BATPASS_ADMIN_KEY": s.maker_b.admin_key}
    base = ["claim", LOT, "--node", s.maker_b.name, "--recycler", s.recycler.did, "--element", "Co"]
    tiny = [*base, "--kg", str(s.credited_kg * 1e-4), "--subject", BATTERY_B, "--id", "cli-1"]
    r = CliRunner().invoke(ledger_cli, tiny, env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["claim"]["status"] == "accepted" and out["recycler"] == s.recycler.did
    beyond = [*base, "--kg", str(s.credited_kg * 2), "--subject", BATTERY_B, "--id", "cli-2"]
    r = CliRunner().invoke(ledger_cli, beyond, env=env)
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout)["claim"]["status"] == "double_claim"
    assert "double claim" in r.stderr
    r = CliRunner().invoke(ledger_cli, beyond, env={**env, "BATPASS_ADMIN_KEY": ""})
    assert r.exit_code == 2 and "admin key" in r.stderr
