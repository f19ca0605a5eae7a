"""`verify` catches edited, deleted and reordered rows (the tests tamper with the database)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import CHILD_8TH, OWNER, ev, identity, out
from sqlalchemy import Connection, Engine, LargeBinary, delete, select, text, type_coerce, update

from batpass.core.errors import IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._zprofile import ZDICTS, pack, pack_event, unpack, unpack_event
from batpass.scenario import flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

#: the scenario's mines the synthetic CAHRA sample flags (the artisanal cobalt site)
HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


def _fill(ledger: LedgerService) -> None:
    ledger.record(
        [
            ev("extraction", site=f"M{i}", country="CL", outputs=[out(f"b{i}", "lithium_brine_concentrate", 100.0 + i)])
            for i in range(10)
        ]
    )


def test_clean_ledger_verifies(ledger: LedgerService) -> None:
    _fill(ledger)
    rep = ledger.verify()
    assert rep.ok, rep.problems
    assert (rep.events, rep.batches) == (10, 3)


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "delete_tail"])
def test_tampering_is_detected(ledger: LedgerService, tamper: str) -> None:
    _fill(ledger)
    with ledger.engine.begin() as conn:
        if tamper == "edit":  # the text, through the column's type (stored compressed on PostgreSQL)
            body = conn.execute(select(t.events.c.body).where(t.events.c.seq == 6)).scalar_one()
            assert "105.0" in body
            conn.execute(update(t.events).where(t.events.c.seq == 6).values(body=body.replace("105.0", "999.0")))
        elif tamper == "delete":
            conn.execute(text("DELETE FROM ledger_events WHERE seq = 3"))
        elif tamper == "delete_tail":
            conn.execute(text("DELETE FROM ledger_events WHERE seq = 10"))
        else:
            conn.execute(text("UPDATE ledger_events SET seq = -1 WHERE seq = 2"))
            conn.execute(text("UPDATE ledger_events SET seq = 2 WHERE seq = 7"))
            conn.execute(text("UPDATE ledger_events SET seq = 7 WHERE seq = -1"))
    rep = ledger.verify()
    assert not rep.ok
    rules = {p.rule for p in rep.problems}
    assert rules & {"ledger.chain.hash", "ledger.chain.gap", "ledger.chain.head", "ledger.batch.root"}


@pytest.mark.parametrize("stored", [b"\xff" * 32, b"\xab", b"", b"\xab" * 31 + b"\xc3\xa9", "zz" * 32, "ab" * 32])
def test_a_stored_event_hash_that_is_not_a_hash_is_a_finding(ledger: LedgerService, stored: bytes | str) -> None:
    """A changed byte can leave an event's stored hash (32 bytes) another length, or, on SQLite,
    whose columns take any type, text instead of bytes: verify names the chain and the batch it
    breaks instead of stopping with "the audit could not run"."""
    _fill(ledger)
    if isinstance(stored, str) and ledger.engine.dialect.name != "sqlite":
        pytest.skip("a bytea column holds no text")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_events SET hash = :h WHERE seq = 4"), {"h": stored})
    rep = ledger.verify()
    rules = {p.rule for p in rep.problems}
    assert {"ledger.chain.hash", "ledger.batch.root"} <= rules, rep.problems


@pytest.mark.parametrize("change", ["byte", "cut", "version", "recompressed"])
def test_a_stored_event_body_that_does_not_read_back_is_a_finding(ledger: LedgerService, change: str) -> None:
    """PostgreSQL stores an event's body compressed (``ledger_0013``): a changed byte, a cut
    stream or an unknown dictionary version is an edited event for verify and a finding of the
    self-audit (never a zlib error), and a changed text compressed again breaks the chain."""
    if ledger.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores the event's text")
    _fill(ledger)
    raw = type_coerce(t.events.c.body, LargeBinary)
    with ledger.engine.begin() as conn:
        stored = bytes(conn.execute(select(raw).where(t.events.c.seq == 4)).scalar_one())
        assert '"CL"' in unpack_event(stored)
        changed = {
            "byte": stored[:-6] + bytes([stored[-6] ^ 0x40]) + stored[-5:],
            "cut": stored[: len(stored) // 2],
            "version": bytes([200]) + stored[1:],
            "recompressed": pack_event(unpack_event(stored).replace('"CL"', '"AR"')),
        }[change]
        conn.execute(update(t.events).where(t.events.c.seq == 4).values(body=type_coerce(changed, LargeBinary)))
    rep = ledger.verify()
    assert "ledger.chain.hash" in {p.rule for p in rep.problems}, rep.problems
    findings = ledger.self_audit()
    assert ("ledger_events", "ledger.chain.hash") in {(f.table, f.rule) for f in findings}


def test_forged_signature_is_detected(ledger: LedgerService) -> None:
    _fill(ledger)
    with ledger.engine.begin() as conn:
        jws = conn.execute(text("SELECT jws FROM ledger_batches WHERE batch_no = 2")).scalar_one()
        head, payload, sig = jws.split(".")
        forged = f"{head}.{payload}.{'A' * len(sig)}"
        conn.execute(text("UPDATE ledger_batches SET jws = :j WHERE batch_no = 2"), {"j": forged})
    rep = ledger.verify()
    assert "ledger.batch.signature" in {p.rule for p in rep.problems}


# --- derived state: every row the event log determines is recomputed by replaying the log


@pytest.fixture
def scenario_ledger(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    sc = generate(lots=300, owner=OWNER, seed=5)
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(), high_risk_sites=HIGH_RISK_SITES, batch_size=50)
    svc.record(sc.events)
    return svc


def test_a_clean_scenario_ledger_replays_to_what_is_stored(scenario_ledger: LedgerService) -> None:
    rep = scenario_ledger.verify()
    assert rep.ok, rep.problems[:5]
    assert scenario_ledger.self_audit() == []


def _one(conn: Connection, sql: str) -> Any:
    return conn.execute(text(sql)).first()


_LOT_NO_OF = "(SELECT lot_no FROM ledger_lots WHERE id = :id)"


@pytest.mark.parametrize(
    ("table", "sql", "rule"),
    [
        # the case: a lot's remaining mass raised in the store
        (
            "ledger_lots",
            "UPDATE ledger_lots SET remaining_kg = remaining_kg + 2000 WHERE id = :id",
            "ledger.derived.lots",
        ),
        ("ledger_lots", "UPDATE ledger_lots SET country = 'XX' WHERE id = :id", "ledger.derived.lots"),
        (  # the lot pointed at another of the owner's stored profiles
            "ledger_lots",
            "UPDATE ledger_lots SET profile_no = profile_no % (SELECT max(no) FROM ledger_profiles) + 1 WHERE id = :id",
            "ledger.derived.lots",
        ),
        ("ledger_lots", "DELETE FROM ledger_lots WHERE id = :id", "ledger.derived.lots"),
        (
            "ledger_edges",
            f"UPDATE ledger_edges SET input_kg = input_kg * 2 WHERE child_no = {_LOT_NO_OF}",
            "ledger.derived.edges",
        ),
        (
            "ledger_edges",
            f"DELETE FROM ledger_edges WHERE child_no = {_LOT_NO_OF}",
            "ledger.derived.edges",
        ),
    ],
)
def test_a_changed_derived_row_is_found_with_table_key_and_rule(
    scenario_ledger: LedgerService, table: str, sql: str, rule: str
) -> None:
    with scenario_ledger.engine.begin() as conn:
        lot = _one(conn, CHILD_8TH).child
        assert conn.execute(text(sql), {"id": lot}).rowcount >= 1
    findings = scenario_ledger.self_audit()
    assert findings, "not detected"
    expected = {(table, rule)}
    if sql.startswith("DELETE FROM ledger_lots"):  # the edges name the lot by its row's number
        expected.add(("ledger_edges", "ledger.derived.edges"))
    assert {(f.table, f.rule) for f in findings} == expected
    assert all(f.key.endswith(lot) or lot in f.key for f in findings if f.table == table)
    assert not scenario_ledger.verify().ok


_PROFILE_OF = "(SELECT profile_no FROM ledger_lots WHERE id = :id)"
_LOTS_AND_PROFILES = {("ledger_lots", "ledger.derived.lots"), ("ledger_profiles", "ledger.derived.profiles")}


def _flip_a_byte(body: bytes) -> bytes:
    """A byte in the middle of the compressed stream changed (Adler-32 or the stream fails)."""
    i = len(body) // 2
    return body[:i] + bytes((body[i] ^ 0x5A,)) + body[i + 1 :]


@pytest.mark.parametrize(
    ("change", "found"),
    [
        # the text of a stored profile changed (compressed again, the digest kept): every lot
        # using it, and the row against its digest
        ("text", _LOTS_AND_PROFILES),
        # a changed byte of the compressed body: it does not decompress
        ("byte", _LOTS_AND_PROFILES),
        # the body cut short
        ("cut", _LOTS_AND_PROFILES),
        # the body's dictionary version changed to one this code does not ship
        ("version", _LOTS_AND_PROFILES),
        # the digest changed (the text kept): the address no longer names the text
        ("digest", {("ledger_profiles", "ledger.derived.profiles")}),
        # the row deleted: the lots using it have no profile
        ("delete", {("ledger_lots", "ledger.derived.lots")}),
    ],
)
def test_a_changed_stored_profile_is_found(scenario_ledger: LedgerService, change: str, found: set[Any]) -> None:
    """Profiles are stored once per owner and text (``ledger_profiles``, the text compressed): a
    change to one is found by the self-audit, for the lot whose profile was changed among
    others; a body that does not decompress is a finding, and reading the lot is refused with
    IntegrityViolation naming the table (never a decompression error)."""
    p = t.profiles
    raw = type_coerce(p.c.body, LargeBinary)
    with scenario_ledger.engine.begin() as conn:
        lot = _one(conn, CHILD_8TH).child
        no = conn.execute(text(f"SELECT {_PROFILE_OF}"), {"id": lot}).scalar_one()
        where = (p.c.owner == OWNER) & (p.c.no == no)
        body = bytes(conn.execute(select(raw).where(where)).scalar_one())
        assert unpack(body).startswith("{")
        if change == "delete":
            n = conn.execute(delete(p).where(where)).rowcount
        elif change == "digest":
            digest = bytes(conn.execute(select(p.c.digest).where(where)).scalar_one())
            n = conn.execute(update(p).where(where).values(digest=bytes((digest[0] ^ 1,)) + digest[1:])).rowcount
        else:
            changed = {
                "text": pack(unpack(body).replace("0.", "0.1")),
                "byte": _flip_a_byte(body),
                "cut": body[: len(body) // 2],
                "version": bytes((max(ZDICTS) + 1,)) + body[1:],
            }[change]
            n = conn.execute(update(p).where(where).values({p.c.body: type_coerce(changed, LargeBinary)})).rowcount
        assert n == 1
    findings = scenario_ledger.self_audit()
    assert {(f.table, f.rule) for f in findings} == found
    if ("ledger_lots", "ledger.derived.lots") in found:
        assert any(f.table == "ledger_lots" and f.key.endswith(lot) for f in findings)
    assert not scenario_ledger.verify().ok
    if change in ("byte", "cut", "version"):
        with pytest.raises(IntegrityViolation) as refused:
            scenario_ledger.lot(OWNER, lot)
        assert (refused.value.table, refused.value.rule) == ("ledger_profiles", "ledger.derived.profiles")


def test_a_changed_credit_is_found(scenario_ledger: LedgerService) -> None:
    with scenario_ledger.engine.begin() as conn:
        assert conn.execute(text("UPDATE ledger_credits SET credited_kg = credited_kg * 10")).rowcount >= 1
    assert {f.rule for f in scenario_ledger.self_audit()} == {"ledger.derived.credits"}
