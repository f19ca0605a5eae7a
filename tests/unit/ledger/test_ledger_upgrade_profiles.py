"""Origin profiles stored before upstream summary 2.0 (no ``r``: recycled input counted among the
origin countries) are recomputed from the event log, once: the self-audit that flagged them is
clean afterwards, a second run changes nothing, and a profile changed in the store after 2.0 is
still a finding (the upgrade rewrites old-form profiles and what was made from them, nothing
else). Both stores."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import CHILD_8TH, OWNER, identity
from sqlalchemy import Connection, Engine, select, text

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.scenario import flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


def _old_form(profile: dict[str, Any]) -> dict[str, Any]:
    """What the ledger wrote before 2.0: one origin series, recycler countries counted in it."""
    for ep in profile["e"].values():
        rec = ep.pop("r")
        for country, share in rec.items():
            ep["c"][country] = ep["c"].get(country, 0.0) + share
    return profile


@pytest.fixture
def old_store(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(), high_risk_sites=HIGH_RISK_SITES, batch_size=50)
    svc.record(generate(lots=300, owner=OWNER, seed=5).events)
    _to_old_form(svc.engine, OWNER)
    return svc


def _profiles(conn: Connection) -> list[Any]:
    """(lot id, profile text) of every lot."""
    return list(conn.execute(select(t.lots.c.id, t.profiles.c.body.label("profile")).select_from(t.LOTS_FROM)).all())


def _to_old_form(engine: Engine, owner: str) -> int:
    """Every lot of ``owner`` given the old form of its profile (stored as a store written
    before 2.0 holds it after migration ``ledger_0007``); the number of lots."""
    with engine.begin() as conn:
        rows = _profiles(conn)
        t.set_lot_profiles(conn, owner, {r.id: json.dumps(_old_form(json.loads(r.profile))) for r in rows})
    return len(rows)


def _recycled_lots(svc: LedgerService) -> int:
    with svc.engine.connect() as conn:
        return sum(1 for (_lot, p) in _profiles(conn) if any(ep.get("r") for ep in json.loads(p)["e"].values()))


def test_old_form_profiles_are_recomputed_once_and_the_self_audit_is_clean(old_store: LedgerService) -> None:
    before = old_store.self_audit()
    # recycled input shows as origin in the old form: the self-audit flags every such lot
    assert before and {f.rule for f in before} == {"ledger.derived.lots"}
    assert _recycled_lots(old_store) == 0
    with old_store.engine.connect() as conn:
        lots = conn.execute(text("SELECT count(*) FROM ledger_lots")).scalar_one()
    assert old_store.upgrade_profiles() == {OWNER: lots}
    assert old_store.self_audit() == []
    assert _recycled_lots(old_store) > 0  # recycled input is its own series again
    # idempotent: nothing old is left, nothing is written
    assert old_store.upgrade_profiles() == {}
    assert old_store.self_audit() == []


def test_the_upgrade_rewrites_no_profile_changed_after_2_0(old_store: LedgerService) -> None:
    old_store.upgrade_profiles()
    with old_store.engine.begin() as conn:
        lot = conn.execute(text(CHILD_8TH)).scalar_one()
        changed = {r.id: r.profile.replace("0.", "0.1") for r in _profiles(conn) if r.id == lot}
        t.set_lot_profiles(conn, OWNER, changed)
    assert old_store.upgrade_profiles() == {}
    findings = old_store.self_audit()
    assert [(f.table, f.key) for f in findings] == [("ledger_lots", f"{OWNER}/{lot}")]


def test_a_node_upgrades_before_its_start_up_audit(old_store: LedgerService) -> None:
    from batpass.node._integrity import Integrity

    integrity = Integrity({"ledger": old_store.self_audit}, upgrades={"ledger": old_store.upgrade_profiles})
    integrity.start().join(60)
    assert integrity.report is not None and integrity.report.ok, integrity.report


def test_the_command_upgrades_a_node_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from batpass.cli._ledger import app
    from batpass.core.settings import Settings
    from batpass.node.local import init_node

    monkeypatch.setenv("BATPASS_HOME", str(tmp_path))
    local, _key = init_node("cells", profiles=["catena-x"], settings=Settings(home=tmp_path))
    svc = local.ledger_service()
    svc.record(generate(lots=150, owner=local.did, seed=3).events)
    n = _to_old_form(svc.engine, local.did)
    local.close()
    first = CliRunner().invoke(app, ["upgrade-profiles", "--node", "cells"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {local.did: n}
    again = CliRunner().invoke(app, ["upgrade-profiles", "--node", "cells"])
    assert again.exit_code == 0 and json.loads(again.stdout) == {}
    missing = CliRunner().invoke(app, ["upgrade-profiles", "--node", "nowhere"])
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1
