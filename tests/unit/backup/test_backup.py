"""Backup and restore of a node, on SQLite and on PostgreSQL: a round trip gives the same node (DID,
keys, every table's rows) and it verifies; a wrong passphrase, an altered or truncated file, an
unknown format version and a target that holds a node are refused with nothing written."""

from __future__ import annotations

import importlib.util
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select, text

from batpass.backup import KdfParams, backup_node, restore_node
from batpass.backup._envelope import MAGIC
from batpass.compliance import load_ruleset
from batpass.core.errors import Conflict, InvalidInput
from batpass.core.ids import BatteryId
from batpass.core.settings import Settings
from batpass.ledger import decode_summary
from batpass.node import LocalNode, init_node, open_node
from batpass.node._integrity import Integrity
from batpass.passport import PassportRules, PassportService, load_static_product_data
from batpass.scenario import generate
from batpass.store import make_engine
from store_testkit import PG_URL, drop_schema, scratch_schema

PASS = "correct horse battery staple"
FAST = KdfParams(n=2**10)  # the format's cheapest scrypt: the tests' backups open in milliseconds


@pytest.fixture
def settings(store_kind: str, tmp_path: Path) -> Iterator[Settings]:
    schema = scratch_schema()
    pg = store_kind == "postgresql"
    yield Settings(home=tmp_path / "home", db_url=PG_URL if pg else None, db_schema=schema if pg else None)
    if pg:
        drop_schema(schema)


def _events(owner: str, lots: int = 10) -> list[object]:
    return list(generate(lots=lots, seed=3, owner=owner).events)


def _passport_testkit() -> Any:
    """The passport tests' example battery (``tests/unit/passport/passport_testkit.py``)."""
    path = Path(__file__).parents[1] / "passport" / "passport_testkit.py"
    spec = importlib.util.spec_from_file_location("passport_testkit_for_backup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def node(settings: Settings) -> Iterator[LocalNode]:
    """A node with a ledger and two signed passports."""
    local, _ = init_node("maker", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
    local.ledger_service().record(_events(local.did))  # type: ignore[arg-type]
    kit = _passport_testkit()
    passports = PassportService(
        local.engine,
        local.identity,
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base=local.resolver_base,
        backup_url=local.base_url,
    )
    static = load_static_product_data(kit.EXAMPLE)
    for serial in ("BK-1", "BK-2"):
        battery = BatteryId("04012345000009", serial)
        passports.build(static, battery, item=kit.ITEM, summary=decode_summary(kit.make_summary(battery)))
    yield local
    local.close()


def _rows(local: LocalNode) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(local.engine)
    with local.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one() for name, t in meta.tables.items()}


def _audit(local: LocalNode) -> dict[str, object]:
    return Integrity(local.self_audits()).run().to_json()


def _files(home: Path) -> dict[str, bytes]:
    return {
        p.relative_to(home).as_posix(): p.read_bytes()
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("node.db")
    }


def test_a_round_trip_gives_the_same_node_and_it_verifies(
    node: LocalNode, settings: Settings, store_kind: str, tmp_path: Path
) -> None:
    rows, files = _rows(node), _files(node.home)
    assert rows["ledger_events"] > 10 and rows["passport_passports"] == 2
    out = tmp_path / "maker.bpk"
    summary = backup_node(node, out, PASS, kdf=FAST)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert summary.store == store_kind and summary.file_bytes == out.stat().st_size
    assert out.read_bytes().startswith(MAGIC) and b"ledger_events" not in out.read_bytes()
    if store_kind == "postgresql":  # the database is lost: the schema restores where it was
        node.close()
        assert settings.db_schema is not None
        drop_schema(settings.db_schema)
        admin = make_engine(PG_URL)  # a DBA created it again, empty (the other tests restore with none)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{settings.db_schema}"'))
            conn.commit()
        admin.dispose()
    elsewhere = settings.model_copy(update={"home": tmp_path / "new-home"})
    restored = restore_node(out, "maker", PASS, settings=elsewhere)
    assert restored.home == elsewhere.home / "maker" and restored.did == node.did
    again = open_node("maker", settings=elsewhere)
    try:
        assert again.did == node.did
        assert again.identity.active().kid == node.identity.active().kid
        assert _files(again.home) == files  # config, keys, certificates: byte for byte
        assert _rows(again) == rows
        report = _audit(again)
        assert report["ok"] is True and set(report["areas"]) == {"ledger", "passport", "trust"}  # type: ignore[call-overload]
        assert stat.S_IMODE(again.home.stat().st_mode) == 0o700
        for name in files:  # the private keys stay 600
            assert (again.home / name).stat().st_mode == (node.home / name).stat().st_mode, name
    finally:
        again.close()
    assert sorted(p.name for p in elsewhere.home.iterdir()) == ["maker"]  # no staging left behind


def test_a_wrong_passphrase_writes_nothing(node: LocalNode, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    elsewhere = settings.model_copy(update={"home": tmp_path / "new-home"})
    with pytest.raises(InvalidInput, match="passphrase does not open this backup"):
        restore_node(out, "maker", "not the passphrase", settings=elsewhere)
    assert not elsewhere.home.exists()


def test_a_restore_over_an_existing_node_is_refused(node: LocalNode, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    before = _files(node.home)
    with pytest.raises(Conflict, match="already holds a node"):
        restore_node(out, "maker", PASS, settings=settings)
    assert _files(node.home) == before
    assert sorted(p.name for p in settings.home.iterdir()) == ["_ca", "maker"]


@pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)
def test_a_postgresql_schema_holding_tables_is_refused(node: LocalNode, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    elsewhere = settings.model_copy(update={"home": tmp_path / "new-home"})
    with pytest.raises(Conflict, match=f"schema {settings.db_schema} already holds"):
        restore_node(out, "maker", PASS, settings=elsewhere)
    assert list(elsewhere.home.iterdir()) == []


@pytest.mark.parametrize("where", ["header", "first chunk", "middle", "last byte", "truncated"])
def test_an_altered_or_truncated_file_writes_nothing(
    node: LocalNode, settings: Settings, store_kind: str, tmp_path: Path, where: str
) -> None:
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    node.close()
    data = bytearray(out.read_bytes())
    header_end = 14 + int.from_bytes(data[10:14], "big")
    if where == "truncated":
        data = data[: len(data) - 100]
    else:
        index = {
            "header": header_end - 5,
            "first chunk": header_end + 10,
            "middle": (header_end + len(data)) // 2,
            "last byte": len(data) - 1,
        }[where]
        data[index] ^= 0x01
    out.write_bytes(bytes(data))
    if store_kind == "postgresql":
        assert settings.db_schema is not None
        drop_schema(settings.db_schema)
    elsewhere = settings.model_copy(update={"home": tmp_path / "new-home"})
    with pytest.raises(InvalidInput, match=r"damaged|passphrase|altered|truncated") as exc:
        restore_node(out, "maker", PASS, settings=elsewhere)
    assert "Traceback" not in str(exc.value)
    assert not (elsewhere.home / "maker").exists()
    assert not elsewhere.home.exists() or list(elsewhere.home.iterdir()) == []
    if store_kind == "postgresql":
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": settings.db_schema}
            ).scalar_one()
        engine.dispose()
        assert found == 0


def test_an_unknown_format_version_is_named(node: LocalNode, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    data = bytearray(out.read_bytes())
    data[8:10] = (7).to_bytes(2, "big")
    out.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="format version 7") as exc:
        restore_node(out, "maker", PASS, settings=settings.model_copy(update={"home": tmp_path / "new-home"}))
    assert exc.value.rule == "this batpass reads backup format version 1"
    with pytest.raises(InvalidInput, match="not a batpass backup"):
        restore_node(Path(__file__), "maker", PASS, settings=settings.model_copy(update={"home": tmp_path / "h"}))


def test_a_backup_never_overwrites_a_file(node: LocalNode, tmp_path: Path) -> None:
    out = tmp_path / "maker.bpk"
    out.write_bytes(b"keep")
    with pytest.raises(Conflict, match="already exists"):
        backup_node(node, out, PASS, kdf=FAST)
    assert out.read_bytes() == b"keep"


def test_a_backup_taken_while_the_node_writes_is_consistent(
    settings: Settings, store_kind: str, tmp_path: Path
) -> None:
    """A writer records the ledger in small transactions while backups are taken: each backup
    holds some prefix of those transactions, and restores to a node that verifies."""
    local, _ = init_node("maker", profiles=["catena-x"], settings=settings)
    events = _events(local.did, lots=300)
    ledger = local.ledger_service()
    ledger.record(events[:20])  # type: ignore[arg-type]
    failures: list[BaseException] = []
    committed = threading.Event()

    def write() -> None:
        try:
            for start in range(20, len(events), 5):
                ledger.record(events[start : start + 5])  # type: ignore[arg-type]
                committed.set()
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    outs: list[Path] = []
    while writer.is_alive() and len(outs) < 4:
        committed.wait(10)  # at least one more transaction since the last backup
        committed.clear()
        outs.append(tmp_path / f"maker-{len(outs)}.bpk")
        backup_node(local, outs[-1], PASS, kdf=FAST)
    writer.join()
    assert not failures, failures
    total = _rows(local)["ledger_events"]
    local.close()
    counts = []
    for i, out in enumerate(outs):
        if store_kind == "postgresql":
            assert settings.db_schema is not None
            drop_schema(settings.db_schema)
        elsewhere = settings.model_copy(update={"home": tmp_path / f"restored-{i}"})
        restore_node(out, "maker", PASS, settings=elsewhere)
        again = open_node("maker", settings=elsewhere)
        try:
            report = _audit(again)
            assert report["ok"] is True, report
            counts.append(_rows(again)["ledger_events"])
        finally:
            again.close()
    # SQLite's copy takes milliseconds, so several are taken while the writer runs; pg_dump one or more
    assert len(counts) >= (2 if store_kind == "sqlite" else 1), (counts, total)
    assert counts[0] > 20 and counts[-1] <= total and counts == sorted(counts), (counts, total)


def test_a_node_restores_under_another_name(
    node: LocalNode, settings: Settings, store_kind: str, tmp_path: Path
) -> None:
    """A copy beside the original (another home folder; on PostgreSQL the schema must be free)."""
    out = tmp_path / "maker.bpk"
    backup_node(node, out, PASS, kdf=FAST)
    if store_kind == "postgresql":
        node.close()
        assert settings.db_schema is not None
        drop_schema(settings.db_schema)
    restore_node(out, "maker-copy", PASS, settings=settings.model_copy(update={"home": tmp_path / "copies"}))
    copy = open_node("maker-copy", settings=settings.model_copy(update={"home": tmp_path / "copies"}))
    try:
        assert copy.config.name == "maker-copy" and copy.did == node.did
        assert _audit(copy)["ok"] is True
    finally:
        copy.close()
