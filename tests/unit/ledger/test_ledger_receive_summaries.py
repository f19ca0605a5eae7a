"""Several supplier summaries received at once (``LedgerService.receive_summaries``, what a
federated question folds in when its suppliers' answers changed): one transaction with one
recomputation of what follows from them, leaving the store as receiving them one after another
does — the same stored summaries and the same profiles of every lot made from them. On the demo
scenario's refining node, receiving the mining node's seven summaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from batpass.demo._dataspace_setup import SUPPLY_CHAIN_NODES
from batpass.ledger import MIGRATIONS_DIR, LedgerService, encode_summary
from batpass.scenario import generate
from batpass.trust import NodeIdentity, generate_keypair

MINING, REFINING = "did:web:mining.example", "did:web:refining.example"


def _node(engine: Engine, did: str, events: list[dict[str, Any]], keys: dict[str, Any]) -> LedgerService:
    led = LedgerService(engine, NodeIdentity(did, [generate_keypair("Ed25519", "key-ed25519-1")]))
    led = LedgerService(engine, led.identity, public_jwk_resolver=keys.get)
    led.record([e for e in events if e["owner"] == did])
    return led


def test_summaries_received_together_are_one_write_and_leave_what_one_by_one_leaves(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    owners = {code: f"did:web:{role}.example" for role, codes in SUPPLY_CHAIN_NODES.items() for code in codes}
    events = generate(lots=10, seed=7, owners=owners, resolver="https://pack.example").events
    keys: dict[str, Any] = {}
    mining = _node(make_store([MIGRATIONS_DIR]), MINING, events, keys)
    key = mining.identity.active("Ed25519")
    keys[mining.identity.key_id(key)] = key.public_jwk()
    shipped = [e["receipt"]["from_lot"] for e in events if e["owner"] == REFINING and "receipt" in e]
    assert len(shipped) == 7
    tokens = [mining.signed_summary(MINING, lot) for lot in shipped]
    one_by_one = _node(make_store([MIGRATIONS_DIR]), REFINING, events, keys)
    for token in tokens:
        one_by_one.receive_summary(REFINING, token)
    together = _node(make_store([MIGRATIONS_DIR]), REFINING, events, keys)
    writes: list[int] = []
    write = together._received_writes._write
    together._received_writes._write = lambda owner, items: (writes.append(len(items)), write(owner, items))[1]

    got = together.receive_summaries(REFINING, tokens)

    assert [s.subject.id for s in got] == shipped
    assert writes == [7]
    stored = {lot: r.jws for lot, r in together.received_summaries(REFINING, shipped).items()}
    assert stored == {lot: r.jws for lot, r in one_by_one.received_summaries(REFINING, shipped).items()}
    assert sorted(stored.values()) == sorted(tokens)
    # what the refiner made of them and shipped on: the same profiles (its signed summaries' content)
    made = [e["outputs"][0]["lot"] for e in events if e["owner"] == REFINING and e["kind"] == "shipment"]
    assert made

    def content(led: LedgerService, lot: str) -> dict[str, Any]:
        return encode_summary(replace(led.summary(REFINING, lot), computed_at=""))

    for lot in made:
        assert content(together, lot) == content(one_by_one, lot)
    assert together.receive_summaries(REFINING, []) == [] and writes == [7]  # nothing to write: no write
