"""Received supplier summaries are used only in their signed form: the key that verified one on
arrival is kept sealed with the node's secrets key, and every later use (and the self-audit)
checks the stored copy against the token and the token against that key — without the network."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from ledger_testkit import OWNER, change_stored_summary, identity, lithium_receipt, lithium_supplier, sealed_receiver
from sqlalchemy import Engine, text

from batpass.core.errors import IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService, decode_summary, encode_summary, sign_summary
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store.migrations import alembic_config

SUPPLIER = "did:web:refiner.example"


@pytest.fixture
def pair(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[LedgerService, LedgerService, dict[str, Any]]:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    keys: dict[str, Any] = {}  # what DID resolution gave when the summary arrived
    receiver = sealed_receiver(make_store([MIGRATIONS_DIR]), supplier, keys)
    kid = supplier.identity.key_id(supplier.identity.active("Ed25519"))
    keys.clear()  # from now on, no network: only the sealed key
    return supplier, receiver, {"kid": kid, "keys": keys}


def _renewed_arrival(supplier: LedgerService, receiver: LedgerService, info: dict[str, Any]) -> None:
    """The supplier, its key renewed under the same DID and key id, ships lot ``ore-2`` too: the
    receiver records its receipt and receives its summary, resolving the kid to the new key."""
    receiver.record([lithium_receipt(SUPPLIER, "ore-2", "ore-in-2", document="BL-2")])
    wire = encode_summary(supplier.summary(SUPPLIER, "ore-shipped"))
    wire["subject"]["id"] = "ore-2"
    renewed = identity(SUPPLIER)  # same DID and key id, another key
    renewed_key = renewed.active("Ed25519")
    assert renewed.key_id(renewed_key) == info["kid"]
    info["keys"][info["kid"]] = renewed_key.public_jwk()  # what DID resolution gives now
    receiver.receive_summary(OWNER, sign_summary(decode_summary(wire), renewed))
    info["keys"].clear()


def test_a_received_summary_is_checked_with_its_sealed_key(pair: tuple[LedgerService, LedgerService, Any]) -> None:
    _, receiver, _ = pair
    assert receiver.self_audit() == []
    got = receiver.received_summaries(OWNER, ["ore-shipped"])
    assert got["ore-shipped"].summary.issuer == SUPPLIER


def _findings(receiver: LedgerService) -> set[tuple[str, str]]:
    """The self-audit of a restarted node (a process remembers the tokens it already verified)."""
    restarted = LedgerService(
        receiver.engine, receiver.identity, public_jwk_resolver=receiver.resolve_key, secrets=receiver.secrets
    )
    return {(f.table, f.rule) for f in restarted.self_audit()}


def test_a_changed_stored_copy_is_refused_at_use_and_found(pair: tuple[LedgerService, LedgerService, Any]) -> None:
    _, receiver, _ = pair
    change_stored_summary(receiver.engine)
    with pytest.raises(IntegrityViolation) as caught:
        receiver.received_summaries(OWNER, ["ore-shipped"])
    assert caught.value.table == "ledger_received_summaries" and caught.value.status == 503
    assert ("ledger_received_summaries", "ledger.summary.signed") in _findings(receiver)


def test_a_token_re_signed_by_another_key_is_refused(pair: tuple[LedgerService, LedgerService, Any]) -> None:
    supplier, receiver, _ = pair
    summary = encode_summary(supplier.summary(SUPPLIER, "ore-shipped"))
    summary["elements"]["Li"]["minedByCountry"] = {"AU": 1.0}
    forger = identity(SUPPLIER)  # same DID and key id, another private key
    token = sign_summary(decode_summary(summary), forger)
    with receiver.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_received_summaries SET jws = :j, summary = :s"),
            {"j": token, "s": json.dumps(summary, sort_keys=True, separators=(",", ":"))},
        )
    assert ("ledger_received_summaries", "ledger.summary.signed") in _findings(receiver)


def test_a_removed_or_changed_sealed_key_is_found(pair: tuple[LedgerService, LedgerService, Any]) -> None:
    _, receiver, _ = pair
    with receiver.engine.begin() as conn:
        sealed = conn.execute(text("SELECT sealed_jwk FROM ledger_verified_keys")).scalar_one()
        conn.execute(text("UPDATE ledger_verified_keys SET sealed_jwk = :s"), {"s": sealed[:-4] + "AAAA"})
    assert ("ledger_received_summaries", "ledger.summary.signed") in _findings(receiver)
    with receiver.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_verified_keys"))
    assert ("ledger_received_summaries", "ledger.summary.signed") in _findings(receiver)


def test_a_summary_verified_in_this_process_is_judged_again_when_its_key_changes(
    pair: tuple[LedgerService, LedgerService, Any],
) -> None:
    """What this process verified is kept by (token, key): once the key its kid resolves to is
    another one, or none, the same process (not only a restarted one) refuses and finds it."""
    _, receiver, info = pair
    assert receiver.self_audit() == [] and receiver.secrets is not None  # verified and kept
    kid = info["kid"]
    other = identity(SUPPLIER).active("Ed25519").public_jwk()  # same DID and key id, another key
    sealed = receiver.secrets.seal(json.dumps(dict(other), sort_keys=True), context=f"ledger_verified_keys/{kid}")
    with receiver.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_verified_keys SET sealed_jwk = :s"), {"s": sealed})
    found = {(f.table, f.rule) for f in receiver.self_audit()}
    assert ("ledger_received_summaries", "ledger.summary.signed") in found
    with pytest.raises(IntegrityViolation) as caught:
        receiver.received_summaries(OWNER, ["ore-shipped"])
    assert caught.value.table == "ledger_received_summaries"
    with receiver.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_verified_keys"))
    found = {(f.table, f.rule) for f in receiver.self_audit()}
    assert ("ledger_received_summaries", "ledger.summary.signed") in found


def test_a_kid_whose_key_changes_keeps_the_earlier_summaries_usable_and_an_unknown_key_refused(
    pair: tuple[LedgerService, LedgerService, Any],
) -> None:
    """``ledger_verified_keys`` keeps each key that verified a summary, by kid and key digest:
    when a later summary arrives under the same kid verified by another key (a supplier that
    renewed its key and kept its key id), the earlier summary still verifies with the key that
    verified it on arrival — in this process as in a restarted one — while a token signed by a
    key that verified nothing here (same kid, a third key) is still refused. Before (one key per
    kid, replaced on arrival): the earlier summary was refused at its next use."""
    supplier, receiver, info = pair
    assert receiver.received_summaries(OWNER, ["ore-shipped"])  # verified on arrival, kept
    _renewed_arrival(supplier, receiver, info)
    assert receiver.received_summaries(OWNER, ["ore-2"])  # the later one verifies with its key
    assert receiver.received_summaries(OWNER, ["ore-shipped"])["ore-shipped"].summary.issuer == SUPPLIER
    assert _findings(receiver) == set()
    with receiver.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_verified_keys")).scalar_one() == 2
    forged = encode_summary(supplier.summary(SUPPLIER, "ore-shipped"))
    forged["elements"]["Li"]["minedByCountry"] = {"AU": 1.0}
    token = sign_summary(decode_summary(forged), identity(SUPPLIER))  # same kid, a key unknown here
    with receiver.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_received_summaries SET jws = :j, summary = :s WHERE lot = 'ore-shipped'"),
            {"j": token, "s": json.dumps(forged, sort_keys=True, separators=(",", ":"))},
        )
    with pytest.raises(IntegrityViolation) as caught:
        receiver.received_summaries(OWNER, ["ore-shipped"])
    assert (caught.value.table, caught.value.rule, caught.value.status) == (
        "ledger_received_summaries",
        "ledger.summary.signed",
        503,
    )
    assert receiver.received_summaries(OWNER, ["ore-2"])  # the renewed key's summary is untouched
    assert ("ledger_received_summaries", "ledger.summary.signed") in _findings(receiver)


def test_a_kept_opened_key_is_not_used_once_its_row_changes(pair: tuple[LedgerService, LedgerService, Any]) -> None:
    """A sealed key is opened once and kept by (kid, sealed value); each use reads the row again,
    so a replaced key (same kid, another key), an altered or a removed row is refused at the
    next use in this process, and the original row is accepted again."""
    _, receiver, info = pair
    assert receiver.secrets is not None
    kid = info["kid"]
    assert receiver.received_summaries(OWNER, ["ore-shipped"])  # the key opened and kept
    with receiver.engine.begin() as conn:
        original = conn.execute(text("SELECT sealed_jwk FROM ledger_verified_keys")).scalar_one()
    other = identity(SUPPLIER).active("Ed25519").public_jwk()  # same DID and key id, another key
    replaced = receiver.secrets.seal(json.dumps(dict(other), sort_keys=True), context=f"ledger_verified_keys/{kid}")
    for changed in (replaced, original[:-4] + "AAAA"):
        with receiver.engine.begin() as conn:
            conn.execute(text("UPDATE ledger_verified_keys SET sealed_jwk = :s"), {"s": changed})
        with pytest.raises(IntegrityViolation) as caught:
            receiver.received_summaries(OWNER, ["ore-shipped"])
        assert caught.value.table == "ledger_received_summaries" and caught.value.rule == "ledger.summary.signed"
        with receiver.engine.begin() as conn:
            conn.execute(text("UPDATE ledger_verified_keys SET sealed_jwk = :s"), {"s": original})
        assert receiver.received_summaries(OWNER, ["ore-shipped"])["ore-shipped"].summary.issuer == SUPPLIER
    with receiver.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_verified_keys"))
    with pytest.raises(IntegrityViolation):
        receiver.received_summaries(OWNER, ["ore-shipped"])


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    cfg = alembic_config([STORE_MIGRATIONS, MIGRATIONS_DIR])
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


def test_ledger_0009_keeps_the_keys_of_a_store_with_data_and_a_renewed_key_keeps_the_earlier_summaries(
    pair: tuple[LedgerService, LedgerService, Any],
) -> None:
    """A store taken back to ``ledger_0008`` (one key per kid, the summary it verified stored),
    then migrated: the kept key is copied without its digest (a migration cannot open it), the
    summary is used and audited as before, and when the kid arrives again with a renewed key the
    kept row gets its digest and both keys are kept — the earlier summary still usable."""
    supplier, receiver, info = pair
    engine = receiver.engine
    with engine.connect() as conn:
        sealed = conn.execute(text("SELECT sealed_jwk FROM ledger_verified_keys")).scalar_one()
    _migrate(engine, "downgrade", "ledger_0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kid, sealed_jwk FROM ledger_verified_keys")).all() == [(info["kid"], sealed)]
    _migrate(engine, "upgrade", "heads")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kid, key_sha256, sealed_jwk FROM ledger_verified_keys")).all()
    assert [tuple(r) for r in rows] == [(info["kid"], "", sealed)]
    restarted = LedgerService(
        engine, receiver.identity, public_jwk_resolver=receiver.resolve_key, secrets=receiver.secrets
    )
    assert restarted.received_summaries(OWNER, ["ore-shipped"])["ore-shipped"].summary.issuer == SUPPLIER
    assert _findings(restarted) == set()

    _renewed_arrival(supplier, restarted, info)
    with engine.connect() as conn:
        digests = {r[0] for r in conn.execute(text("SELECT key_sha256 FROM ledger_verified_keys")).all()}
    assert len(digests) == 2 and "" not in digests
    assert restarted.received_summaries(OWNER, ["ore-shipped", "ore-2"]).keys() == {"ore-shipped", "ore-2"}
    assert _findings(restarted) == set()
    with engine.connect() as conn:  # taken back: one key per kid, the one that verified last
        latest = conn.execute(
            text("SELECT sealed_jwk FROM ledger_verified_keys ORDER BY verified_at DESC, key_sha256 DESC")
        ).first()
    _migrate(engine, "downgrade", "ledger_0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kid, sealed_jwk FROM ledger_verified_keys")).all() == [
            (info["kid"], latest[0])
        ]
    _migrate(engine, "upgrade", "heads")
