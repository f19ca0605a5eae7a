"""A battery's QR code keeps resolving when its operator's node is down (issue 20, "Always
resolvable"), between three real nodes over HTTPS with the federation CA.

The car maker operates the passport; its QR code points at the EU certifier's resolver role (the
car maker's ``resolver_base``); the recycler is its backup node (Art. 77(5)) and holds the signed
copies. While the car maker answers, the resolver serves its answer; stopped (SIGSTOP: it accepts
connections and never answers), the resolver gives up after 2 s and serves the recycler's signed
copy, marked as such; killed (connection refused), the same at once. A battery with no copy
anywhere is a 503 with the reason."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from batpass.core.ids import BatteryId
from batpass.demo.harness import NodeSpec, RunningNode, federation, stop_node
from batpass.trust import client_ssl_context

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "src/batpass/passport/_data/demo-ev-model.yaml"
ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2026-10-20",
    "manufacturing_facility": "BPNA000000000NC1",
}
RESTRICTED = ("state_of_health", "composition_cathode")


def _summary(link: str, issuer: str) -> dict[str, Any]:
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": link, "material": "battery"},
        "issuer": issuer,
        "computedAt": "2026-11-01T10:00:00Z",
        "elements": {
            "Li": {
                "originByCountry": {"CL": 1.0},
                "highRiskShare": 0.0,
                "recycled": {"preConsumer": 0.02, "postConsumer": 0.04},
                "custodyModels": {"segregated": 1.0},
            }
        },
        "minesReached": 1,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 0,
    }


def _ok(r: httpx.Response, code: int = 200) -> Any:
    assert r.status_code == code, r.text[:2000]
    return r.json()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNode, RunningNode, RunningNode]]:
    home = tmp_path_factory.mktemp("resolver")
    specs = [
        NodeSpec("rs-maker", ("catena-x",), legal_name="Europa Automobil AG", country="DE", bpnl="BPNL00000003CAR1"),
        NodeSpec("rs-recycler", ("catena-x",), legal_name="Kreislauf Recycling GmbH", bpnl="BPNL00000003REC1"),
        NodeSpec("rs-certifier", ("catena-x", "resolver"), legal_name="EuroCert Batterien GmbH"),
    ]

    def configure(runs: list[RunningNode]) -> None:
        maker, recycler, certifier = runs
        maker.node.config.resolver_base = certifier.base_url  # the QR codes point at the resolver
        maker.node.config.extra["passport_backup_url"] = recycler.base_url
        certifier.node.config.extra["resolver"] = {
            "routes": [{"gtinPrefix": "0401234", "operator": maker.base_url, "backup": recycler.base_url}]
        }

    with federation(home, specs, configure=configure) as runs:
        maker, recycler, certifier = runs
        try:
            yield maker, recycler, certifier
        finally:
            _signal(maker, signal.SIGCONT)  # let the harness stop it cleanly


def _signal(node: RunningNode, sig: signal.Signals) -> None:
    if node.process is None or node.process.poll() is not None:
        return
    for pid in (node.process.pid, *node.worker_pids()):
        os.kill(pid, sig)


def _backup_sent(client: httpx.Client, maker: RunningNode, pid: str, version: int) -> None:
    deadline = time.monotonic() + 60
    last: Any = None
    while time.monotonic() < deadline:
        status = _ok(client.get(maker.base_url + f"/v1/passports/{pid}/backup-status", headers=maker.admin_headers()))
        last = [s for s in status["copies"] if s["version"] == version]
        if last and last[0]["status"] == "sent":
            return
        time.sleep(0.1)
    raise AssertionError(f"copy of v{version} not delivered to the backup node: {last}")


def test_the_qr_code_resolves_from_the_backup_copy_when_the_car_maker_is_stopped(nodes: Any) -> None:
    maker, recycler, certifier = nodes
    client = httpx.Client(verify=client_ssl_context(maker.node.paths.ca_cert), timeout=30)
    static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    battery = BatteryId(str(static["gtin"]), "RSV0001")
    link = battery.digital_link(certifier.base_url)
    body = {"static": static, "battery": battery.path, "item": ITEM, "summary": _summary(link, maker.did)}
    made = _ok(client.post(maker.base_url + "/v1/passports", json=body, headers=maker.admin_headers()), 201)
    pid = made["passportId"]
    assert made["batteryId"] == link  # the QR code's URL is on the certifier's resolver
    qr = client.get(maker.base_url + f"/v1/passports/{pid}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    _backup_sent(client, maker, pid, 1)

    # the car maker answers: the resolver passes its answer on
    up = client.get(link, headers={"Accept": "application/json"})
    assert up.status_code == 200 and up.json()["passportId"] == pid and "servedFrom" not in up.json()
    assert "batpass-served-from" not in up.headers

    # the car maker is stopped (it accepts connections, never answers): after 2 s, the backup copy
    _signal(maker, signal.SIGSTOP)
    t0 = time.monotonic()
    page = client.get(link, headers={"Accept": "text/html", "Accept-Language": "en"})
    took = time.monotonic() - t0
    assert page.status_code == 200, page.text[:2000]
    assert "Served from the backup copy held by Kreislauf Recycling GmbH." in page.text
    assert 2.0 <= took < 5.0, took
    doc = client.get(link, headers={"Accept": "application/json"})
    assert doc.status_code == 200 and doc.headers["batpass-served-from"] == f'backup-copy; holder="{recycler.did}"'
    served = doc.json()
    assert served["passportId"] == pid and served["batteryId"] == link and served["tiers"] == ["public"]
    assert served["servedFrom"]["holderName"] == "Kreislauf Recycling GmbH"
    assert served["servedFrom"]["operator"] == maker.did and served["servedFrom"]["signedBy"].startswith(maker.did)
    assert not any(k in served["data"] for k in RESTRICTED)
    ja = client.get(link, headers={"Accept": "text/html", "Accept-Language": "ja"})
    assert "Kreislauf Recycling GmbHが保管するバックアップコピーから表示しています。" in ja.text
    links = client.get(link, params={"linkType": "all"})
    assert links.status_code == 200 and links.json()["linkset"][0]["anchor"] == link

    # a battery with no passport and no copy anywhere: a 503 with the reason, never a 500
    missing = client.get(BatteryId(str(static["gtin"]), "RSV9999").digital_link(certifier.base_url))
    assert missing.status_code == 503 and "holds no copy" in missing.json()["detail"]

    # the car maker is gone (connection refused): the backup copy at once
    _signal(maker, signal.SIGCONT)
    stop_node(maker)
    t0 = time.monotonic()
    gone = client.get(link, headers={"Accept": "application/json"})
    assert gone.status_code == 200 and gone.json()["servedFrom"]["holder"] == recycler.did
    assert time.monotonic() - t0 < 2.0
    client.close()
