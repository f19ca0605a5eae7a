"""The payload log on a real node over HTTPS, and the leak scan over it (issue 9 item 5).

A car maker node records every payload it receives (config ``payload_log``); a cell maker node,
its direct supplier, does not. Ordinary traffic — health, DID documents, the admin API, the cell
maker's own name, a credential the cell maker issued and the car maker verifies (so the car maker
fetches the cell maker's DID document: an outbound response) — scans clean. Then two leaks are
planted on purpose, a mine's legal name and a mine lot's mass in grams, and the scan reports
exactly those two, in the payloads that carried them."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batpass.demo._leak_scan import Canaries, scan, significant_digits, upstream_of
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.scenario import COMPANIES, generate

pytestmark = pytest.mark.integration

KNOWN = {"rhein-auto", "rotterdam-recycling"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RunningNode], Path]]:
    home = tmp_path_factory.mktemp("plog")
    log = home / "carmaker-payloads.jsonl"
    specs = [
        NodeSpec(
            "carmaker",
            ("catena-x",),
            legal_name="Europa Automobil AG",
            bpnl="BPNL00000003CAR1",
            config_extra={"payload_log": str(log)},
        ),
        NodeSpec("cellmaker", ("catena-x",), legal_name=COMPANIES["osaka-cells"].name, country="JP"),
    ]
    with federation(home, specs) as runs:
        yield home, runs, log


def _lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in log.read_text().splitlines()]


def _verify_a_cell_maker_credential(http: httpx.Client, car: RunningNode, cell: RunningNode) -> None:
    """The cell maker issues a membership credential to the car maker, which verifies it (and so
    fetches the cell maker's DID document)."""
    since = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    subject = {"id": car.did, "memberOf": "catena-x", "holderIdentifier": "BPNL00000003CAR1", "since": since}
    issued = http.post(
        cell.base_url + "/v1/credentials/issue",
        json={"type": "MembershipCredential", "subject": subject, "format": "vc+jwt"},
        headers=cell.admin_headers(),
    )
    assert issued.status_code == 201, issued.text
    verdict = http.post(car.base_url + "/v1/credentials/verify", json={"credential": issued.json()["credential"]})
    assert verdict.status_code == 200, verdict.text


def test_clean_traffic_scans_clean_and_planted_leaks_are_reported_exactly(
    fed: tuple[Path, list[RunningNode], Path],
) -> None:
    home, (car, cell), log = fed
    sc = generate(lots=10, seed=7)
    canaries = Canaries.from_scenario(sc, upstream_of(sc, "osaka-cells", stop_at=KNOWN), known=KNOWN)
    ca = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ca, timeout=30) as http:
        # --- ordinary traffic
        assert http.get(car.base_url + "/health").status_code == 200
        assert http.get(car.base_url + "/.well-known/did.json").status_code == 200
        assert http.get(car.base_url + "/v1/participants", headers=car.admin_headers()).status_code == 200
        _verify_a_cell_maker_credential(http, car, cell)
        # the direct supplier's own name and a short quantity are no leak
        r = http.post(car.base_url + "/v1/credentials/verify", json={"credential": "x", "from": cell.spec.legal_name})
        assert r.status_code in (200, 400, 422)
        clean = scan(log, canaries)
        lines = _lines(log)
        assert clean["payloads_scanned"] == len(lines) >= 6
        assert clean["leaks_found"] == 0, clean["leaks"]
        assert clean["unreadable_lines"] == 0
        # the car maker's outbound call (the cell maker's DID document) was recorded as received
        fetched = [x for x in lines if x["direction"] == "out-response"]
        assert any(str(x["url"]).startswith(cell.base_url) and x["status"] == 200 for x in fetched)

        # --- two leaks planted on purpose
        name = COMPANIES["katanga-cobalt"].name
        kg = next(q for q in canaries.quantities if q.unit == "kg" and significant_digits(q.value) >= 7)
        before = len(lines)
        r = http.post(car.base_url + "/v1/credentials/verify", json={"credential": "x", "origin": name})
        assert r.status_code in (200, 400, 422)
        r = http.post(
            car.base_url + "/v1/credentials/verify", json={"credential": "x", "massG": round(kg.value * 1000, 1)}
        )
        assert r.status_code in (200, 400, 422)
    planted = scan(log, canaries)
    assert planted["payloads_scanned"] == before + 2
    assert planted["leaks_found"] == 2
    assert [(x["payload_index"], x["canary_kind"], x["where"]) for x in planted["leaks"]] == [
        (before, "name", "body"),
        (before + 1, "quantity", "body"),
    ]
    assert planted["leaks"][1]["canary"].endswith(" g")
    assert all(x["direction"] == "in-request" for x in planted["leaks"])


def test_a_hosting_nodes_did_in_an_outbound_response_is_reported(fed: tuple[Path, list[RunningNode], Path]) -> None:
    """Were the cell maker's node also the cathode maker's host, its DID would be a canary: the DID
    document the car maker fetched from it (an outbound response) carries it."""
    home, (car, cell), log = fed
    ca = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ca, timeout=30) as http:
        _verify_a_cell_maker_credential(http, car, cell)
    sc = generate(lots=10, seed=7)
    canaries = Canaries.from_scenario(sc, ["tokai-cathode"], identifiers={"tokai-cathode": [cell.did]})
    report = scan(log, canaries)
    hits = [x for x in report["leaks"] if x["canary_kind"] == "identifier"]
    assert any(x["direction"] == "out-response" and x["url"].startswith(cell.base_url) for x in hits)
