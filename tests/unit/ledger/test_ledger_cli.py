"""`batpass scenario generate` and `batpass ledger record|verify|trace|outflows|authorise`
against a real node folder (SQLite)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batpass.cli._ledger import app, scenario_app
from batpass.core.settings import Settings
from batpass.node.local import init_node

runner = CliRunner()


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, Path]:
    monkeypatch.setenv("BATPASS_HOME", str(tmp_path))
    local, _key = init_node("cells", profiles=["catena-x"], settings=Settings(home=tmp_path))
    did = local.did
    db = local.paths.database
    local.close()
    return "cells", did, db


def test_generate_record_trace_verify_outflows(node: tuple[str, str, Path], tmp_path: Path) -> None:
    name, did, db = node
    events = tmp_path / "events.jsonl"
    r = runner.invoke(scenario_app, ["--lots", "150", "--out", str(events), "--seed", "3", "--node", name])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    lines = events.read_text().splitlines()
    assert info["events"] == len(lines) > 0 and info["owners"] == 1
    assert all(json.loads(x)["owner"] == did for x in lines)

    auth = tmp_path / "events.jsonl.authorisations.json"
    r = runner.invoke(app, ["authorise", str(auth), "--node", name])
    assert r.exit_code == 0, r.output

    r = runner.invoke(app, ["record", str(events), "--node", name, "--chunk", "40"])
    assert r.exit_code == 0, r.output
    totals = json.loads(r.stdout)
    assert totals["recorded"] == len(lines) and totals["alerts"] == 1
    assert "recording events" in r.stderr
    # a second run replays idempotently
    r = runner.invoke(app, ["record", str(events), "--node", name])
    assert r.exit_code == 0 and json.loads(r.stdout)["replayed"] == len(lines)

    bid = info["battery_ids"][0]
    r = runner.invoke(app, ["trace", bid, "--node", name])
    assert r.exit_code == 0, r.output
    up = json.loads(r.stdout)
    li = up["elements"]["Li"]
    parts = sum(li["minedByCountry"].values()) + sum(li["recycledByCountry"].values()) + li["unknownShare"]
    assert up["mines_reached"] > 0 and parts == pytest.approx(1.0)
    assert "origin of" in r.stderr and "Li" in r.stderr
    first_lot = json.loads(lines[0])["outputs"][0]["lot"]
    r = runner.invoke(app, ["trace", first_lot, "--down", "--node", name])
    assert r.exit_code == 0 and json.loads(r.stdout)["direction"] == "down"

    r = runner.invoke(app, ["outflows", "--node", name])
    assert r.exit_code == 0 and [a["rule"] for a in json.loads(r.stdout)] == ["outflow.destination"]

    # the scenario's recycler (this node's partition): efficiency and recovery from its ledger
    r = runner.invoke(app, ["recycling-efficiency", "--node", name, "--from", "2026-01-01", "--to", "2027-01-01"])
    assert r.exit_code == 0, r.output
    eff = json.loads(r.stdout)
    assert eff["basis"] == "simplified estimate" and eff["recovery_events"] > 0 and eff["recycler"] == did
    assert 0 < eff["efficiency"] < 1 and {"Li", "Co", "Ni"} <= set(eff["recovery"])
    assert "simplified estimate: efficiency" in r.stderr
    r = runner.invoke(app, ["recycling-efficiency", "--node", name, "--from", "soon"])
    assert r.exit_code == 2 and "from must be an RFC 3339 timestamp" in r.output

    r = runner.invoke(app, ["verify", "--node", name])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ok"] is True

    # tamper with the database file: verify exits 1
    with sqlite3.connect(db) as conn:
        n = conn.execute("UPDATE ledger_events SET body = replace(body, 'MINE', 'MYNE') WHERE seq = 2").rowcount
        assert n == 1
    r = runner.invoke(app, ["verify", "--node", name])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["ok"] is False


def test_bad_lines_exit_2_naming_line_field_rule(node: tuple[str, str, Path], tmp_path: Path) -> None:
    name, did, _ = node
    mine = {
        "id": "ev-1",
        "kind": "extraction",
        "owner": did,
        "at": "2026-01-01T00:00:00Z",
        "site": {"id": "MINE-CL-1", "country": "CL"},
        "outputs": [
            {"lot": "brine-1", "material": "lithium_brine_concentrate", "quantity": {"value": 100, "unit": "kg"}}
        ],
    }
    over = {
        "id": "ev-2",
        "kind": "transformation",
        "owner": did,
        "at": "2026-01-01T00:01:00Z",
        "site": {"id": "S1", "country": "JP"},
        "inputs": [{"lot": "brine-1", "quantity": {"value": 130, "unit": "kg"}}],
        "outputs": [{"lot": "lc-1", "material": "lithium_carbonate", "quantity": {"value": 10, "unit": "kg"}}],
    }
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(mine) + "\n\n" + json.dumps(dict(mine, id="ev-x", kind="teleport")) + "\n")
    r = runner.invoke(app, ["record", str(f), "--node", name])
    assert r.exit_code == 2
    err = " ".join(r.stderr.split())
    assert "bad.jsonl:3" in err and "line 3.kind" in err and len(r.stderr.strip().splitlines()) <= 3

    f.write_text(json.dumps(mine) + "\n{not json\n")
    r = runner.invoke(app, ["record", str(f), "--node", name])
    assert r.exit_code == 2 and "bad.jsonl:2" in " ".join(r.stderr.split())

    f.write_text(json.dumps(mine) + "\n" + json.dumps(over) + "\n")
    r = runner.invoke(app, ["record", str(f), "--node", name])
    assert r.exit_code == 2
    err = " ".join(r.stderr.split())
    assert "bad.jsonl:2" in err and "130" in err and "rule" in err
    r = runner.invoke(app, ["verify", "--node", name])
    assert r.exit_code == 0 and json.loads(r.stdout)["events"] == 0  # nothing of the chunk was stored

    r = runner.invoke(app, ["record", str(tmp_path / "missing.jsonl"), "--node", name])
    assert r.exit_code == 2 and "cannot read" in r.stderr


def test_a_blocking_node_refuses_a_prohibited_shipment_in_one_line(node: tuple[str, str, Path], tmp_path: Path) -> None:
    """docs/outflows.md: a node in ``block`` mode refuses the shipment, exit 2, nothing stored."""
    name, did, _ = node
    cfg_path = tmp_path / name / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["extra"]["outflows"] = {"mode": "block"}
    cfg_path.write_text(json.dumps(cfg))
    site = {"id": "REC-NL-1", "country": "NL"}
    made = {
        "id": "ev-bm",
        "kind": "extraction",
        "owner": did,
        "at": "2026-11-10T08:00:00Z",
        "site": site,
        "outputs": [
            {"lot": "bm", "material": "black_mass", "quantity": {"value": 50, "unit": "kg"}, "assay": {"Li": 0.04}}
        ],
    }
    shipped = {
        "id": "ev-in",
        "kind": "shipment",
        "owner": did,
        "at": "2026-11-10T09:00:00Z",
        "site": site,
        "inputs": [{"lot": "bm", "quantity": {"value": 50, "unit": "kg"}}],
        "outputs": [{"lot": "bm-in", "material": "black_mass", "quantity": {"value": 50, "unit": "kg"}}],
        "shipment": {"to_site": {"id": "IN-1", "country": "IN"}, "destination_country": "IN", "document": "BL-IN"},
    }
    f = tmp_path / "bm.jsonl"
    f.write_text(json.dumps(made) + "\n" + json.dumps(shipped) + "\n")
    r = runner.invoke(app, ["record", str(f), "--node", name])
    assert r.exit_code == 2
    err = " ".join(r.stderr.split())
    assert "bm.jsonl:2" in err and "outflow.prohibited (eu.wsr.export-non-oecd)" in err
    assert len(r.stderr.strip().splitlines()) <= 4, r.stderr
    r = runner.invoke(app, ["verify", "--node", name])
    assert r.exit_code == 0 and json.loads(r.stdout)["events"] == 0


def test_hold_authorisation_refuses_an_issuer_no_list_names_as_an_authority(node: tuple[str, str, Path]) -> None:
    """`batpass ledger hold-authorisation`: a well-signed export authorisation from an issuer the
    node's trust lists do not name for ExportAuthorisationCredential authorises nothing — one
    line naming the rule, exit 2, nothing held (docs/outflows.md "Authorisations as credentials")."""
    import datetime as dt

    from batpass.trust import build_credential, issue_vc_jwt, new_did_key_identity

    name, did, _ = node
    issuer, now = new_did_key_identity(), dt.datetime.now(dt.UTC)
    subject = {
        "id": did,
        "authorisationId": "SELF-MADE-1",
        "materials": ["black_mass"],
        "destinations": ["KR"],
        "capKg": 100.0,
        "periodStart": "2026-01-01T00:00:00Z",
        "periodEnd": "2027-01-01T00:00:00Z",
    }
    vc = build_credential(
        issuer=issuer.did,
        ctype="ExportAuthorisationCredential",
        subject=subject,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=30),
    )
    r = runner.invoke(app, ["hold-authorisation", issue_vc_jwt(issuer, vc), "--node", name])
    err = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "ledger.authorisation.authority" in err and "authorises nothing" in err, r.output
    r = runner.invoke(app, ["authorisations", "--node", name])
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_reconcile_reports_each_shipment_and_writes_its_notice(node: tuple[str, str, Path], tmp_path: Path) -> None:
    """``batpass ledger reconcile``: a shipment to another owner is pending until its receiver's
    verdict, and its notice waits in the outbox for the receiver's node (its did:web host)."""
    name, did, db = node
    events = [
        {
            "id": "e1",
            "kind": "extraction",
            "owner": did,
            "at": "2026-01-02T00:00:00Z",
            "site": {"id": "P1", "country": "JP"},
            "outputs": [{"lot": "L1", "material": "lithium_carbonate", "quantity": {"value": 10, "unit": "kg"}}],
        },
        {
            "id": "e2",
            "kind": "shipment",
            "owner": did,
            "at": "2026-01-03T00:00:00Z",
            "site": {"id": "P1", "country": "JP"},
            "inputs": [{"lot": "L1", "quantity": {"value": 10, "unit": "kg"}}],
            "outputs": [{"lot": "L1-D", "material": "lithium_carbonate", "quantity": {"value": 10, "unit": "kg"}}],
            "shipment": {
                "to_site": {"id": "W1", "country": "JP"},
                "destination_country": "JP",
                "document": "BL-1",
                "to_owner": "did:web:buyer.example%3A8443",
            },
        },
    ]
    file = tmp_path / "ship.jsonl"
    file.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert runner.invoke(app, ["record", str(file), "--node", name]).exit_code == 0
    r = runner.invoke(app, ["reconcile", "--node", name])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["changed"] == {"pending": 1} and out["counts"]["shipper"]["pending"] == 1
    (row,) = out["shipments"]
    assert row["shipment"] == "e2" and row["lot"] == "L1-D" and row["due"].startswith("2026-02-02")
    with sqlite3.connect(db) as conn:
        (dest,) = conn.execute("SELECT destination FROM outbox WHERE kind = 'ledger.reconciliation'").fetchone()
    assert dest == "https://buyer.example:8443/v1/ledger/reconciliation/messages"
    assert json.loads(runner.invoke(app, ["reconcile", "--node", name]).stdout)["changed"] == {}


def test_reconcile_refuses_a_bad_window_in_one_line(node: tuple[str, str, Path], tmp_path: Path) -> None:
    name, _did, _db = node
    cfg = tmp_path / name / "config.json"
    data = json.loads(cfg.read_text())
    data["extra"]["reconciliation"] = {"window_days": 0}
    cfg.write_text(json.dumps(data))
    r = runner.invoke(app, ["reconcile", "--node", name])
    assert r.exit_code == 2 and "reconciliation.window_days" in r.stderr and len(r.stderr.strip().splitlines()) == 1
