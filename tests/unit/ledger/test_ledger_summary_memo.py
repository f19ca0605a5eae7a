"""A stored received summary that passed its check is remembered with its decoded summary
(``ledger._received_check.SummaryChecks.passed``), keyed by the row's exact content and the key
its kid resolves to now — on both stores. Any column changed, or the key replaced or removed,
is judged again (and refused); a remembered summary is handed out as the caller's own copy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import OWNER, ev, identity, lithium_supplier, out
from sqlalchemy import Engine, text

from batpass.core.errors import IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _received_check as received_check
from batpass.trust import SecretBox, generate_keypair

SUPPLIER = "did:web:refiner.example"
LOT = "ore-shipped"


class Receiver:
    def __init__(self, ledger: LedgerService, keys: dict[str, Any], kid: str) -> None:
        self.ledger, self.keys, self.kid = ledger, keys, kid

    def read(self, lot: str = LOT) -> Any:
        return self.ledger.received_summaries(OWNER, [lot])

    def update(self, sql: str, **params: Any) -> None:
        with self.ledger.engine.begin() as conn:
            conn.execute(text(sql), params)


@pytest.fixture
def receiver(make_store: Callable[[Sequence[Path]], Engine]) -> Receiver:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    keys: dict[str, Any] = {}
    ledger = LedgerService(
        make_store([MIGRATIONS_DIR]),
        identity(),
        public_jwk_resolver=lambda kid: keys.get(kid),
        secrets=SecretBox.generate(),
    )
    ledger.record(
        [
            ev(
                "receipt",
                outputs=[out("ore-in", "lithium_brine_concentrate", 50.0)],
                receipt={"from_owner": SUPPLIER, "from_lot": LOT, "document": "BL-1"},
            )
        ]
    )
    sup_key = supplier.identity.active("Ed25519")
    kid = supplier.identity.key_id(sup_key)
    keys[kid] = sup_key.public_jwk()
    ledger.receive_summary(OWNER, supplier.signed_summary(SUPPLIER, LOT))
    return Receiver(ledger, keys, kid)


def _remembered(r: Receiver) -> Any:
    """Read twice: the second read is answered from what the first remembered."""
    first = r.read()
    assert r.read() == first
    return first


def _with_li_changed(summary: str) -> str:
    stored = json.loads(summary)
    stored["elements"]["Li"]["minedByCountry"] = {"AU": 1.0}
    return json.dumps(stored)


def test_a_second_read_of_the_same_row_does_not_decode_it_again(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[object] = []
    real = received_check.decode_summary

    def counting(obj: object) -> Any:
        decoded.append(obj)
        return real(obj)

    monkeypatch.setattr(received_check, "decode_summary", counting)
    first = receiver.read()
    again = receiver.read()
    assert again == first and len(decoded) <= 1


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE ledger_received_summaries SET issuer = 'did:web:other.example'",
        "UPDATE ledger_received_summaries SET jws = jws || 'x'",
        "UPDATE ledger_received_summaries SET summary = :changed",
        "UPDATE ledger_received_summaries SET summary = :reordered",
    ],
    ids=["issuer", "jws", "summary", "summary-text-only"],
)
def test_a_remembered_row_with_a_column_changed_is_refused(receiver: Receiver, change: str) -> None:
    _remembered(receiver)
    with receiver.ledger.engine.connect() as conn:
        summary = conn.execute(text("SELECT summary FROM ledger_received_summaries")).scalar_one()
    params = {"changed": _with_li_changed(summary), "reordered": json.dumps(json.loads(summary), indent=1)}
    receiver.update(change, **{k: v for k, v in params.items() if f":{k}" in change})
    if ":reordered" in change:  # the same JSON in other text: judged again, and it still matches
        assert receiver.read()[LOT].summary.issuer == SUPPLIER
        return
    with pytest.raises(IntegrityViolation) as caught:
        receiver.read()
    assert caught.value.table == "ledger_received_summaries" and caught.value.rule == "ledger.summary.signed"


def test_a_remembered_row_moved_to_another_lot_is_refused(receiver: Receiver) -> None:
    _remembered(receiver)
    receiver.update("UPDATE ledger_received_summaries SET lot = 'ore-other'")
    assert receiver.read() == {}
    with pytest.raises(IntegrityViolation):
        receiver.read("ore-other")


def test_a_remembered_row_whose_resolved_key_was_replaced_is_refused(receiver: Receiver) -> None:
    _remembered(receiver)
    receiver.keys[receiver.kid] = generate_keypair("Ed25519", receiver.kid).public_jwk()
    with pytest.raises(IntegrityViolation):
        receiver.read()


def test_a_remembered_row_whose_sealed_key_was_replaced_or_removed_is_refused(receiver: Receiver) -> None:
    receiver.keys.clear()  # the key kept sealed on arrival is the one that answers now
    _remembered(receiver)
    secrets = receiver.ledger.secrets
    assert secrets is not None
    other = generate_keypair("Ed25519", receiver.kid).public_jwk()
    sealed = secrets.seal(json.dumps(dict(other), sort_keys=True), context=f"ledger_verified_keys/{receiver.kid}")
    with receiver.ledger.engine.connect() as conn:
        kept = conn.execute(text("SELECT sealed_jwk FROM ledger_verified_keys")).scalar_one()
    receiver.update("UPDATE ledger_verified_keys SET sealed_jwk = :s", s=sealed)
    with pytest.raises(IntegrityViolation):
        receiver.read()
    receiver.update("UPDATE ledger_verified_keys SET sealed_jwk = :s", s=kept)
    assert receiver.read()[LOT].issuer == SUPPLIER  # the right key again: it passes
    receiver.update("DELETE FROM ledger_verified_keys")
    with pytest.raises(IntegrityViolation):
        receiver.read()


def test_a_remembered_summary_is_each_callers_own(receiver: Receiver) -> None:
    first = _remembered(receiver)
    pristine = copy.deepcopy(first)
    li = first[LOT].summary.elements["Li"]
    assert li.mined_by_country is not None
    li.mined_by_country["XX"] = 1.0  # type: ignore[index]
    li.custody_models["XX"] = 1.0  # type: ignore[index]
    first[LOT].summary.elements.pop("Li")  # type: ignore[attr-defined]
    if first[LOT].summary.footprint is not None:
        first[LOT].summary.footprint.clear()  # type: ignore[attr-defined]
    again = receiver.read()
    assert again == pristine
    assert again[LOT].summary is not pristine[LOT].summary


def test_no_more_rows_are_remembered_than_the_bound(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[object] = []
    real = received_check.decode_summary
    monkeypatch.setattr(received_check, "decode_summary", lambda obj: decoded.append(obj) or real(obj))
    monkeypatch.setattr(received_check, "PASSED_MAX", 0)
    receiver.ledger._summary_checks._passed.clear()  # what arrival's recomputation remembered
    first = receiver.read()
    assert receiver.read() == first and len(decoded) == 2  # nothing kept: decoded again
