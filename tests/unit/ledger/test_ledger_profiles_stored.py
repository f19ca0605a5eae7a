"""Profiles stored once per owner and text (``ledger_profiles``): lots refer to them by number, and
a shipment of a whole lot refers to its parent's profile without encoding it again."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from ledger_testkit import OWNER, ev, out
from sqlalchemy import func, select

from batpass.ledger import LedgerService
from batpass.ledger import _record as record_module
from batpass.ledger import _sql as t

SHIP = {"to_site": {"id": "S-2", "country": "JP"}, "destination_country": "JP", "document": "DN-1"}


def _lots(svc: LedgerService) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        return {r.id: r for r in conn.execute(select(t.lots.c.id, t.lots.c.profile_no)).all()}


def test_a_shipment_of_a_whole_lot_takes_its_parents_profile_number_without_encoding(
    ledger: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(
        [
            ev("extraction", site="MINE-AU-1", country="AU", outputs=[out("sp-1", "spodumene_concentrate", 500.0)]),
            ev("extraction", site="MINE-CL-1", country="CL", outputs=[out("sp-2", "spodumene_concentrate", 300.0)]),
        ]
    )
    encoded: list[Any] = []
    real = record_module.profile_json
    monkeypatch.setattr(record_module, "profile_json", lambda p: encoded.append(p) or real(p))
    ledger.record(
        [
            ev(
                "shipment",
                inputs=[("sp-1", 500.0)],
                outputs=[out("sp-1s", "spodumene_concentrate", 500.0)],
                shipment=SHIP,
            )
        ]
    )
    lots = _lots(ledger)
    assert encoded == []
    assert lots["sp-1s"].profile_no == lots["sp-1"].profile_no != lots["sp-2"].profile_no
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.profiles)).scalar_one() == 2
    # and what is read back is the parent's profile
    assert ledger.lot(OWNER, "sp-1s").profile == ledger.lot(OWNER, "sp-1").profile


def test_each_profile_text_is_stored_once_under_its_digest(ledger: LedgerService) -> None:
    # three lots from one mine, in two record calls: one profile
    ledger.record(
        [
            ev("extraction", site="MINE-AU-1", country="AU", outputs=[out("a", "spodumene_concentrate", 100.0)]),
            ev("extraction", site="MINE-AU-1", country="AU", outputs=[out("b", "spodumene_concentrate", 100.0)]),
        ]
    )
    ledger.record([ev("extraction", site="MINE-AU-1", country="AU", outputs=[out("c", "spodumene_concentrate", 50.0)])])
    lots = _lots(ledger)
    assert lots["a"].profile_no == lots["b"].profile_no == lots["c"].profile_no  # across record calls too
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(t.profiles.c.owner, t.profiles.c.no, t.profiles.c.digest, t.profiles.c.body)).all()
    assert [(r.owner, r.no) for r in rows] == [(OWNER, lots["a"].profile_no)]
    assert rows[0].digest == hashlib.sha256(rows[0].body.encode()).digest()  # the 32 bytes
    assert ledger.verify().ok and ledger.self_audit() == []
