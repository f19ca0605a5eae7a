"""A partner's payload that spells a lone surrogate as a JSON escape (``"\\ud800"``) decodes to a
string neither store can write (their text is UTF-8). A signed summary carrying one passes the
signature check; it is refused where it is decoded — a 400 problem naming the member and the
rule — and nothing is stored, on both stores. The same for an event body (``POST
/v1/ledger/events``) and a reconciliation message."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_testkit import ev, identity, ledger_api, lithium_supplier, out
from sqlalchemy import Engine, func, select

from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ledger import MIGRATIONS_DIR, LedgerService, encode_summary
from batpass.ledger import _sql as t
from batpass.ledger._summary import SUMMARY_TYP
from batpass.trust import SecretBox, sign_compact

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
SUPPLIER = "did:web:refiner.example"
LONE = "\ud800"


class Pair:
    def __init__(self, client: TestClient, receiver: LedgerService, supplier: LedgerService) -> None:
        self.client, self.receiver, self.supplier = client, receiver, supplier

    def signed(self, wire: dict[str, Any]) -> str:
        """``wire`` signed by the supplier as its summaries are signed, but with no codec or
        schema in between (a partner's own signer); ``ensure_ascii`` writes the escape."""
        kp = self.supplier.identity.active("Ed25519")
        payload = json.dumps(wire, sort_keys=True, separators=(",", ":")).encode()
        return sign_compact({"kid": self.supplier.identity.key_id(kp), "typ": SUMMARY_TYP}, payload, kp)

    def counts(self) -> tuple[int, ...]:
        with self.receiver.engine.connect() as conn:
            return tuple(
                conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.received_summaries, t.events, t.lots)
            )


@pytest.fixture
def pair(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[Pair]:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    sup_key = supplier.identity.active("Ed25519")
    keys = {supplier.identity.key_id(sup_key): sup_key.public_jwk()}
    receiver = LedgerService(
        make_store([MIGRATIONS_DIR]), identity(), public_jwk_resolver=keys.get, secrets=SecretBox.generate()
    )
    with ledger_api(receiver, KEY, name="cells", base_url="https://cells.example") as client:
        yield Pair(client, receiver, supplier)


def _problem(r: Any, field: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == field
    assert body["rule"] == SCALAR_TEXT_RULE


@pytest.mark.parametrize(
    ("field", "spoil"),
    [
        ("subject.id", lambda w: w["subject"].update(id="ore" + LONE)),
        ("tombstones.0.reason", lambda w: w.update(tombstones=[{"tier": 1, "reason": "timeout" + LONE}])),
        ("credentials.0", lambda w: w.update(credentials=["eyJ" + LONE])),
    ],
)
def test_a_signed_summary_with_a_lone_surrogate_is_refused_and_not_stored(
    pair: Pair, field: str, spoil: Callable[[dict[str, Any]], None]
) -> None:
    wire = encode_summary(pair.supplier.summary(SUPPLIER, "ore-shipped"))
    good = pair.signed(wire)
    spoil(wire)
    before = pair.counts()
    _problem(pair.client.post("/v1/ledger/summaries", content=pair.signed(wire), headers=ADMIN), field)
    assert pair.counts() == before
    # the same summary without the lone surrogate is received (the refusal was the text alone)
    assert pair.client.post("/v1/ledger/summaries", content=good, headers=ADMIN).status_code == 200
    assert pair.counts()[0] == before[0] + 1


def test_an_event_body_with_a_lone_surrogate_is_refused_and_not_stored(pair: Pair) -> None:
    event = ev(
        "receipt",
        outputs=[out("ore-in", "lithium_brine_concentrate", 50.0)],
        receipt={"from_owner": SUPPLIER, "from_lot": "ore-shipped", "document": "BL" + LONE},
    )
    before = pair.counts()
    for body in (json.dumps([event]), json.dumps(event)):  # a JSON array, then JSON Lines
        r = pair.client.post("/v1/ledger/events", content=body, headers=ADMIN)
        assert r.status_code == 400, r.text
        assert r.json()["rule"] == SCALAR_TEXT_RULE
        assert "receipt.document" in r.json()["field"]
    assert pair.counts() == before
