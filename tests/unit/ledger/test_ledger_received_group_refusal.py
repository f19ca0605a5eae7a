"""Received summaries of one owner written together (one transaction) do not fail together: when
the store refuses one of them, each is written again on its own, and each caller gets its own
answer — the others are stored, the refused one's caller gets the store's refusal. On a real
store: the owner's chain head is held so that the summaries queue behind a first write, and the
store refuses one lot (a trigger on ``ledger_received_summaries``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import OWNER, identity, lithium_supplier
from sqlalchemy import Engine, text

from batpass.ledger import MIGRATIONS_DIR, LedgerService, decode_summary, encode_summary, sign_summary
from batpass.ledger import _sql as t
from batpass.store import UnitOfWork
from batpass.trust import SecretBox

SUPPLIER = "did:web:refiner.example"
REFUSED = "refused-lot"

_SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_lot BEFORE INSERT ON ledger_received_summaries
WHEN NEW.lot = '{REFUSED}' BEGIN SELECT RAISE(ABORT, 'this store refuses the lot'); END
"""
_PG_FUNCTION = f"""
CREATE FUNCTION refuse_lot() RETURNS trigger AS $$
BEGIN
  IF NEW.lot = '{REFUSED}' THEN RAISE EXCEPTION 'this store refuses the lot'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = (
    "CREATE TRIGGER refuse_lot BEFORE INSERT ON ledger_received_summaries FOR EACH ROW EXECUTE FUNCTION refuse_lot()"
)


def _refuse_lot(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(_PG_FUNCTION))
            conn.execute(text(_PG_TRIGGER))
        else:
            conn.execute(text(_SQLITE_TRIGGER))


def _wait_for(cond: Callable[[], bool]) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < 20
        time.sleep(0.005)


def test_a_refused_summary_does_not_fail_the_others_written_with_it(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    sup_key = supplier.identity.active("Ed25519")
    keys = {supplier.identity.key_id(sup_key): sup_key.public_jwk()}
    receiver = LedgerService(
        make_store([MIGRATIONS_DIR]), identity(), public_jwk_resolver=keys.get, secrets=SecretBox.generate()
    )
    wire = encode_summary(supplier.summary(SUPPLIER, "ore-shipped"))

    def token(lot: str) -> str:
        wire["subject"]["id"] = lot
        return sign_summary(decode_summary(wire), supplier.identity)

    tokens = {lot: token(lot) for lot in ("lot-0", REFUSED, "lot-2")}
    _refuse_lot(receiver.engine)
    answers: dict[str, BaseException | None] = {}

    def receive(lot: str) -> None:
        try:
            receiver.receive_summary(OWNER, tokens[lot])
            answers[lot] = None
        except Exception as exc:  # the store's refusal, whatever the driver calls it
            answers[lot] = exc

    writes = receiver._received_writes
    threads = [threading.Thread(target=receive, args=(lot,)) for lot in tokens]
    with UnitOfWork(receiver.engine) as held:
        t.lock_head(held.conn, OWNER)  # the owner's writers wait for this transaction
        threads[0].start()
        _wait_for(lambda: OWNER in writes._writing)  # the first write waits for the lock
        for n, th in enumerate(threads[1:], 1):
            th.start()
            _wait_for(lambda n=n: len(writes._waiting.get(OWNER, [])) == n)
    for th in threads:
        th.join(30)
    assert answers["lot-0"] is None and answers["lot-2"] is None
    assert isinstance(answers[REFUSED], Exception)
    stored = receiver.received_summaries(OWNER, list(tokens))
    assert sorted(stored) == ["lot-0", "lot-2"]


def test_a_lone_refused_summary_fails_its_caller(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    sup_key = supplier.identity.active("Ed25519")
    keys: dict[str, Any] = {supplier.identity.key_id(sup_key): sup_key.public_jwk()}
    receiver = LedgerService(make_store([MIGRATIONS_DIR]), identity(), public_jwk_resolver=keys.get)
    wire = encode_summary(supplier.summary(SUPPLIER, "ore-shipped"))
    wire["subject"]["id"] = REFUSED
    _refuse_lot(receiver.engine)
    with pytest.raises(Exception):  # noqa: B017 - the driver's refusal, which differs per store
        receiver.receive_summary(OWNER, sign_summary(decode_summary(wire), supplier.identity))
    assert receiver.received_summaries(OWNER, [REFUSED]) == {}
