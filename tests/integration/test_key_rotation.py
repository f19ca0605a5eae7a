"""Key rotation across nodes (issue 24), between two real nodes over HTTPS with the federation CA.

The pack maker (A) rotates its signing key with ``batpass keys rotate`` while it serves; the cell
maker (B) keeps a backup copy of A's passports and receives A's pushed ledger summaries. B
verifies what A signed before the rotation and what A signs after it, taking the new key from
A's DID document (a key id B's cached document lacks makes B fetch it again). Then A rotates its
TLS certificate and is restarted: B reaches it with the federation CA as before."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509

from batpass.core.ids import BatteryId
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, start_node, stop_node
from batpass.trust import client_ssl_context, peek, verify_compact

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "src/batpass/passport/_data/demo-ev-model.yaml"
ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2026-10-20",
    "manufacturing_facility": "BPNA000000000NC1",
}


def _event(n: int, kind: str, owner: str, country: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"rot-{n:03d}",
        "kind": kind,
        "owner": owner,
        "at": f"2026-01-01T00:00:{n:02d}Z",
        "site": {"id": f"SITE-{country}", "country": country},
        **extra,
    }


def _lot(lot: str, kg: float) -> dict[str, Any]:
    return {"lot": lot, "material": "lithium_brine_concentrate", "quantity": {"value": kg, "unit": "kg"}}


def _summary(battery_link: str, issuer: str) -> dict[str, Any]:
    """A minimal ledger-free upstream summary (docs/contracts.md) for the passport build."""
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": battery_link, "material": "battery"},
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
        "footprint": {
            "kg_co2e_per_kwh": 71.5,
            "stages": {
                "raw_material_and_preprocessing": 50.0,
                "main_production": 20.0,
                "distribution": 1.5,
                "end_of_life": None,
            },
        },
        "credentials": [],
        "foldedSupplierSummaries": 0,
    }


def _ok(r: httpx.Response, code: int = 200) -> Any:
    assert r.status_code == code, r.text[:2000]
    return r.json()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BATPASS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "batpass", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _served_serial(node: RunningNode) -> int:
    """The serial of the certificate the node presents, verified against the federation CA."""
    ctx = client_ssl_context(node.node.paths.ca_cert)
    host, port = node.node.config.host, node.node.config.port
    der = ssl.get_server_certificate((host, port), timeout=10)
    # get_server_certificate does not verify; the handshake below does, with the CA only
    with httpx.Client(verify=ctx, timeout=30) as c:
        assert c.get(node.base_url + "/health").status_code == 200
    return x509.load_pem_x509_certificate(der.encode()).serial_number


class Pair:
    def __init__(self, home: Path, maker: RunningNode, cells: RunningNode) -> None:
        self.home, self.maker, self.cells = home, maker, cells
        self.client = httpx.Client(verify=client_ssl_context(maker.node.paths.ca_cert), timeout=60)

    def push_summary(self, lot: str) -> httpx.Response:
        """A pushes its signed summary of ``lot`` to B with its own DCP self-issued token."""
        c, a, b = self.client, self.maker, self.cells
        jws = c.get(a.base_url + f"/v1/ledger/summaries/{lot}", headers=a.admin_headers()).text
        token = _ok(
            c.post(a.base_url + "/v1/auth/self-issued", json={"audience": b.did}, headers=a.admin_headers()), 201
        )
        return c.post(
            b.base_url + "/v1/ledger/summaries",
            content=jws,
            headers={"Authorization": f"Bearer {token['token']}", "Content-Type": "application/jose"},
        )

    def record_shipment(self, n: int, lot: str) -> None:
        """A extracts and ships ``lot`` to B (two events, signed into A's ledger)."""
        a = self.maker
        shipped = {"to_site": {"id": "SITE-JP", "country": "JP"}, "destination_country": "JP", "document": f"BL-{n}"}
        events = [
            _event(n, "extraction", a.did, "CL", outputs=[_lot(f"{lot}-brine", 50.0)]),
            _event(
                n + 1,
                "shipment",
                a.did,
                "CL",
                inputs=[{"lot": f"{lot}-brine", "quantity": {"value": 50.0, "unit": "kg"}}],
                outputs=[_lot(lot, 50.0)],
                shipment={**shipped, "to_owner": self.cells.did},
            ),
        ]
        _ok(self.client.post(a.base_url + "/v1/ledger/events", json=events, headers=a.admin_headers()))

    def backup_sent(self, passport_id: str, version: int) -> None:
        """Wait until A's outbox delivered ``version``'s copy to B (B checked its signature)."""
        a = self.maker
        deadline = time.monotonic() + 60
        last: Any = None
        while time.monotonic() < deadline:
            status = _ok(
                self.client.get(a.base_url + f"/v1/passports/{passport_id}/backup-status", headers=a.admin_headers())
            )
            last = [s for s in status["copies"] if s["version"] == version]
            if last and last[0]["status"] == "sent":
                return
            time.sleep(0.1)
        raise AssertionError(f"copy of v{version} not delivered to the backup node: {last}")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    home = tmp_path_factory.mktemp("rotate")
    specs = [
        NodeSpec("rot-maker", ("catena-x",), legal_name="Pack Maker AG", country="DE", bpnl="BPNL00000000R0TA"),
        NodeSpec("rot-cells", ("catena-x",), legal_name="Cells KK", country="JP", bpnl="BPNL00000000R0TB"),
    ]
    trust_lists = operator_config(1)

    def configure(runs: list[RunningNode]) -> None:
        trust_lists(runs)
        runs[0].node.config.extra["passport_backup_url"] = runs[1].base_url
        for r in runs:  # partners are found by their DIDs
            r.node.config.extra.pop("federation_hosts", None)

    with federation(home, specs, configure=configure) as (maker, cells):
        catenax_memberships(home, cells, [maker, cells])
        p = Pair(home, maker, cells)
        try:
            yield p
        finally:
            p.client.close()


def test_partners_verify_old_and_new_signatures_after_a_rotation(pair: Pair) -> None:
    c, a, b = pair.client, pair.maker, pair.cells
    # before: a summary pushed with the old key, a passport version signed with it and copied to B
    pair.record_shipment(1, "lot-before")
    _ok(pair.push_summary("lot-before"))
    static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    battery = BatteryId(str(static["gtin"]), "ROT0001")
    body = {
        "static": static,
        "battery": battery.path,
        "item": ITEM,
        "summary": _summary(battery.digital_link(a.node.resolver_base), a.did),
    }
    pid = _ok(c.post(a.base_url + "/v1/passports", json=body, headers=a.admin_headers()), 201)["passportId"]
    pair.backup_sent(pid, 1)
    old_doc = _ok(c.get(a.base_url + "/.well-known/did.json"))
    old_kid = old_doc["assertionMethod"][0]

    # A rotates its signing key while it serves
    done = _cli(pair.home, "keys", "rotate", "--node", a.name, "--signing")
    assert done.returncode == 0, done.stderr
    rotated = json.loads(done.stdout)
    assert rotated["retired"] == old_kid and rotated["kid"] != old_kid

    # A's DID document lists the new key for assertions; the old one stays, retired
    doc = _ok(c.get(a.base_url + "/.well-known/did.json"))
    methods = {vm["id"]: vm for vm in doc["verificationMethod"]}
    assert rotated["kid"] in doc["assertionMethod"] and old_kid not in doc["assertionMethod"]
    assert (
        methods[old_kid]["publicKeyJwk"]
        == {vm["id"]: vm for vm in old_doc["verificationMethod"]}[old_kid]["publicKeyJwk"]
    )
    assert "expires" in methods[old_kid] and "expires" not in methods[rotated["kid"]]

    # after: a summary signed with the new key is accepted by B (its cached document lacks the key)
    pair.record_shipment(3, "lot-after")
    jws = c.get(a.base_url + "/v1/ledger/summaries/lot-after", headers=a.admin_headers()).text
    assert peek(jws)[0]["kid"] == rotated["kid"]
    assert _ok(pair.push_summary("lot-after"))["issuer"] == a.did

    # a new passport version is signed with the new key and B keeps its copy
    _ok(
        c.post(
            a.base_url + f"/v1/passports/{pid}/dynamic",
            json={"values": {"state_of_health": {"value": 97.0, "unit": "%"}}},
            headers=a.admin_headers(),
        )
    )
    pair.backup_sent(pid, 2)
    copies = _ok(c.get(b.base_url + f"/v1/passports/backups/{pid}", headers=b.admin_headers()))["copies"]
    assert [peek(cp["jws"])[0]["kid"] for cp in copies] == [old_kid, rotated["kid"]]

    # the old version still verifies: at A, and for a relying party with A's current document
    verdict = _ok(c.get(a.base_url + f"/v1/passports/{pid}/verify", headers=a.admin_headers()))
    assert verdict["ok"] is True, verdict
    _, v1 = verify_compact(copies[0]["jws"], methods[old_kid]["publicKeyJwk"], typ=None, algs=("Ed25519",))
    assert v1["version"] == 1
    # and neither node's audit finds anything: A's batches, records and versions under both keys,
    # B's summary received before the rotation and its copies
    for node in (a, b):
        audit = _ok(c.get(node.base_url + "/v1/admin/verify", headers=node.admin_headers()))
        assert audit["ok"] is True, (node.name, audit)


def test_a_rotated_tls_certificate_is_accepted_through_the_federation_ca(pair: Pair) -> None:
    a = pair.maker
    before = _served_serial(a)
    done = _cli(pair.home, "keys", "rotate", "--node", a.name, "--tls")
    assert done.returncode == 0, done.stderr
    rotated = json.loads(done.stdout)
    assert int(rotated["previousSerial"], 16) == before
    assert Path(rotated["previousCertificate"]).exists()
    stop_node(a)
    start_node(a)
    assert _served_serial(a) == int(rotated["serial"], 16) != before
    # B reaches A over the new certificate: a summary pushed now is verified through A's document,
    # A's credential service answering B's membership query
    pair.record_shipment(5, "lot-tls")
    assert _ok(pair.push_summary("lot-tls"))["issuer"] == a.did


def test_cli_errors_are_one_line_and_exit_2(pair: Pair) -> None:
    for args, words in (
        (("keys", "rotate", "--node", pair.maker.name, "--signing", "--tls"), "not both"),
        (("keys", "rotate", "--node", pair.maker.name, "--alg", "RSA"), "Ed25519 or ES256"),
        (("keys", "rotate", "--node", "no-such-node"), "no-such-node"),
    ):
        done = _cli(pair.home, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], (args, done.stderr)


def test_a_trust_list_operator_rotates_and_its_members_follow_through_its_did_document(pair: Pair) -> None:
    """B operates the Catena-X trust list A relies on (A pinned B's key when it took list 1) and
    issued A's membership. B rotates while it serves: A takes list 2, signed with the new key,
    because B's document lists the pinned key as retired; A's membership, signed with the old key,
    still opens B's summary endpoint; a membership issued with the new key enters A's wallet."""
    c, a, b = pair.client, pair.maker, pair.cells
    done = _cli(pair.home, "keys", "rotate", "--node", b.name)  # --signing is the default
    assert done.returncode == 0, done.stderr
    new_kid = json.loads(done.stdout)["kid"]

    now = dt.datetime.now(dt.UTC)
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    trust_list = {
        "trustListVersion": "1.0",
        "ecosystem": "catena-x",
        "operator": b.did,
        "sequence": 2,
        "issuedAt": iso(now),
        "nextUpdate": iso(now + dt.timedelta(days=30)),
        "issuers": [
            {
                "did": b.did,
                "name": "Catena-X operator",
                "credentialTypes": ["MembershipCredential"],
                "validFrom": iso(now - dt.timedelta(days=1)),
                "validUntil": iso(now + dt.timedelta(days=30)),
            }
        ],
    }
    jws = _ok(c.post(b.base_url + "/v1/trust/lists/sign", json=trust_list, headers=b.admin_headers()), 201)["jws"]
    assert peek(jws)[0]["kid"] == new_kid
    body = {"ecosystem": "catena-x", "jws": jws}
    _ok(c.post(a.base_url + "/v1/trust/lists", json=body, headers=a.admin_headers()), 201)

    # A's membership from before the rotation: B verifies it (old key, dated before) on a push
    pair.record_shipment(7, "lot-operator")
    assert _ok(pair.push_summary("lot-operator"))["issuer"] == a.did

    # a membership B issues now (new key) is verified by A through B's document
    subject = {"id": a.did, "memberOf": "catena-x", "holderIdentifier": a.node.config.bpnl, "since": iso(now)}
    issued = {"type": "MembershipCredential", "subject": subject, "format": "vc+jwt"}
    credential = _ok(c.post(b.base_url + "/v1/credentials/issue", json=issued, headers=b.admin_headers()), 201)
    assert peek(credential["credential"])[0]["kid"] == new_kid
    wallet = {"credential": credential["credential"]}
    _ok(c.post(a.base_url + "/v1/credentials/wallet", json=wallet, headers=a.admin_headers()), 201)
    for node in (a, b):  # trust records, pins and wallets under both keys verify
        audit = _ok(c.get(node.base_url + "/v1/admin/verify", headers=node.admin_headers()))
        assert audit["ok"] is True, (node.name, audit)
