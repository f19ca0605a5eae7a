"""Verification of a partition's event log: the hash chain and the signed batch roots (the
derived rows are checked by replay, in ``_audit``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, LargeBinary, select, type_coerce

from batpass.ledger import _sql as t
from batpass.ledger._chain import GENESIS, event_hash, merkle_root, verify_batch
from batpass.ledger._materials import CATALOGUE, CATALOGUES
from batpass.ledger._zprofile import EVENT_ZDICTS, unpack_or_none

__all__ = ["VerifyProblem", "VerifyReport", "verify_chain"]

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifyProblem:
    owner: str
    rule: str
    message: str
    seq: int | None = None
    #: where, for problems outside the event log itself (a derived row, a received summary)
    table: str | None = None
    key: str | None = None


@dataclass
class VerifyReport:
    owners: int = 0
    events: int = 0
    batches: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    conn: Connection, owner: str, rep: VerifyReport, resolve_key: Callable[[str], Mapping[str, Any] | None]
) -> None:
    """Check ``owner``'s hash chain (gaps, edited, deleted or reordered events, the head) and its
    signed batches (signature with the key ``resolve_key`` finds, Merkle root, chain of roots,
    ranges, events claiming a batch with no signed root), adding what fails to ``rep``."""

    def problem(rule: str, msg: str, seq: int | None = None) -> None:
        rep.problems.append(VerifyProblem(owner, rule, msg, seq))

    head = conn.execute(select(t.heads).where(t.heads.c.owner == owner)).first()
    batch_list = conn.execute(select(t.batches).where(t.batches.c.owner == owner).order_by(t.batches.c.batch_no)).all()
    # PostgreSQL stores the body compressed (``ledger_0013``): read as the bytes it is and decoded
    # here, so a body that does not decompress is an edited event, not an error
    packed = conn.dialect.name == "postgresql"
    rows = conn.execute(
        select(
            t.events.c.seq,
            type_coerce(t.events.c.body, LargeBinary) if packed else t.events.c.body,
            t.events.c.hash,
            t.events.c.batch_no,
            t.event_catalogue,
            t.events.c.catalogue_no,
        )
        .select_from(t.EVENTS_FROM)
        .where(t.events_of(owner))
        .order_by(t.events.c.seq)
    )
    prev = GENESIS
    expected_seq = 1
    by_batch: dict[int, list[str]] = {}
    n = 0
    last_seq = 0
    for seq, body, stored, bno, catalogue, catalogue_no in rows:
        n += 1
        h = t.hash_hex(stored)
        if catalogue_no is not None and catalogue is None:  # a number ``ledger_catalogues`` lacks
            problem(
                "ledger.catalogue.unknown",
                f"event {seq}: checked with material catalogue number {catalogue_no}, which this store does not name",
                seq,
            )
        elif catalogue is not None and catalogue not in CATALOGUES:
            problem(
                "ledger.catalogue.unknown",
                f"event {seq}: checked with material catalogue {catalogue}, which this code does not ship"
                f" (it checks with {CATALOGUE.label}, {CATALOGUE.digest})",
                seq,
            )
        if seq != expected_seq:
            problem("ledger.chain.gap", f"event sequence jumps from {expected_seq - 1} to {seq}: rows deleted", seq)
        text = unpack_or_none(body, EVENT_ZDICTS) if packed else body
        recomputed = event_hash(owner, seq, prev, text) if text is not None else None
        if recomputed != h:
            problem(
                "ledger.chain.hash",
                f"event {seq}: stored hash does not match its body and predecessor (edited, deleted or reordered rows)",
                seq,
            )
        prev = h
        expected_seq = seq + 1
        last_seq = seq
        by_batch.setdefault(bno, []).append(h)
    rep.events += n
    if head is not None:
        if head.seq != last_seq:
            problem("ledger.chain.head", f"the chain head says {head.seq} events, the table ends at {last_seq}")
        elif head.hash != prev:
            problem("ledger.chain.head", "the last event's hash differs from the recorded chain head")
    prev_root = GENESIS
    expected_batch = 1
    for b in batch_list:
        rep.batches += 1
        if b.batch_no != expected_batch:
            problem("ledger.batch.gap", f"batch numbers jump from {expected_batch - 1} to {b.batch_no}")
        expected_batch = b.batch_no + 1
        payload = verify_batch(b.jws, resolve_key)
        if payload is None:
            problem("ledger.batch.signature", f"batch {b.batch_no}: signature does not verify with {b.kid}")
            continue
        leaves = by_batch.pop(b.batch_no, [])
        # a stored hash changed into something that is no hash at all cannot be a leaf of the
        # signed root: the batch fails as any other changed leaf does, the audit goes on
        root: str | None = merkle_root(leaves) if all(_SHA256_HEX.fullmatch(x) for x in leaves) else None
        if payload.get("owner") != owner or payload.get("batch") != b.batch_no:
            problem("ledger.batch.signature", f"batch {b.batch_no}: signed payload names another batch or owner")
        if payload.get("root") != root or b.root != root:
            problem(
                "ledger.batch.root",
                f"batch {b.batch_no}: Merkle root over its events does not match the "
                "signed root (events edited, deleted or moved)",
            )
        if payload.get("prevRoot") != prev_root:
            problem("ledger.batch.chain", f"batch {b.batch_no}: previous root differs (a batch is missing)")
        if (payload.get("firstSeq"), payload.get("lastSeq")) != (b.first_seq, b.last_seq) or len(
            leaves
        ) != b.last_seq - b.first_seq + 1:
            problem(
                "ledger.batch.range",
                f"batch {b.batch_no}: holds {len(leaves)} events, signed for "
                f"{payload.get('firstSeq')}..{payload.get('lastSeq')}",
            )
        signed_root = payload.get("root", root)
        prev_root = signed_root if isinstance(signed_root, str) else ""
    for bno in sorted(by_batch):
        problem("ledger.batch.unsigned", f"{len(by_batch[bno])} events claim batch {bno}, which has no signed root")
