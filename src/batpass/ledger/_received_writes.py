"""Received summaries written together (group commit), each owner's in one transaction at a time.

Writing a supplier's summary recomputes the stored profiles of the lots received from it and of
everything made from them. Summaries that arrive while another of the same owner's is being
written (a car maker folding its cells' summaries from several federated traces at once) wait,
and the next writer takes all of them: one transaction, one downstream recomputation from the
union of their lots. The stored state after it is the one the same summaries written one after
another leave (a later summary for the same lot replaces an earlier one, in arrival order; the
profiles are recomputed from the stored summaries). Each caller returns once its summary is
committed, or raises what its write raised: when the transaction of a group fails, each summary
of it is written again in its own (as the reconciliation inbox applies messages that arrived
together), so one the store refuses does not fail the others.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from batpass.core.errors import BatpassError
from batpass.core.summary import UpstreamSummary, encode_summary
from batpass.ledger import _sql as t
from batpass.trust import SecretBox

__all__ = ["Received", "ReceivedWrites", "store_received"]

_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Received:
    """One verified summary to store: its token, decoded content, the key that verified it."""

    token: str
    summary: UpstreamSummary
    jwk: Mapping[str, Any] | None
    kid: str
    at: _dt.datetime


@dataclass(slots=True)
class _Waiting:
    item: Received
    done: bool = False
    error: BaseException | None = field(default=None)


class ReceivedWrites:
    """``submit(owner, item)``: store ``item`` with whatever else of ``owner`` waits; ``write``
    is one transaction storing a list of summaries of one owner."""

    def __init__(self, write: Callable[[str, Sequence[Received]], None]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._waiting: dict[str, list[_Waiting]] = {}
        self._writing: set[str] = set()

    def submit(self, owner: str, item: Received) -> None:
        self.submit_many(owner, [item])

    def submit_many(self, owner: str, items: Sequence[Received]) -> None:
        """Store ``items`` (in order) in the same write, with whatever else of ``owner`` waits;
        once all are written, raise the first of their writes' errors, if any."""
        mine = [_Waiting(item) for item in items]
        if not mine:
            return
        with self._cond:
            # appended together and popped together by one writer: all done, or none
            self._waiting.setdefault(owner, []).extend(mine)
            while not mine[0].done and owner in self._writing:
                self._cond.wait()
            if mine[0].done:  # written by the writer before
                _raise_first(mine)
                return
            self._writing.add(owner)
            batch = self._waiting.pop(owner)
        errors: list[BaseException | None]
        try:
            errors = list(self._write_all(owner, [w.item for w in batch]))
        except BaseException as exc:  # not a write's failure (interrupted): every caller learns it
            errors = [exc] * len(batch)
        with self._cond:
            for w, error in zip(batch, errors, strict=True):
                w.done, w.error = True, error
            self._writing.discard(owner)
            self._cond.notify_all()
        _raise_first(mine)

    def _write_all(self, owner: str, items: Sequence[Received]) -> list[Exception | None]:
        """Write ``items`` in one transaction; if it fails, each in its own, in arrival order (the
        stored state is then the one they leave written one after another, without the refused
        ones). Each item's error, or None."""
        if len(items) > 1:
            with contextlib.suppress(Exception):  # one was refused: each on its own below says which
                self._write(owner, items)
                return [None] * len(items)
        errors: list[Exception | None] = []
        for item in items:
            try:
                self._write(owner, [item])
                errors.append(None)
            except Exception as exc:
                errors.append(exc)
        return errors


def _raise_first(written: Sequence[_Waiting]) -> None:
    for w in written:
        if w.error is not None:
            raise w.error


def _digest_kept_rows(conn: Connection, kid: str, secrets: SecretBox) -> None:
    """Give ``kid``'s rows kept before ``ledger_0009`` (digest '') their key's digest (a row of
    the same key already there makes it redundant); a row that does not open is left as it is
    (it verifies nothing, and the self-audit reports what it was kept for)."""
    k = t.verified_keys
    for sealed in conn.execute(select(k.c.sealed_jwk).where(k.c.kid == kid, k.c.key_sha256 == "")).scalars():
        try:
            canonical = secrets.open(sealed, context=f"ledger_verified_keys/{kid}")
        except BatpassError:
            continue
        digest = t.key_sha256(canonical)
        legacy = (k.c.kid == kid) & (k.c.key_sha256 == "") & (k.c.sealed_jwk == sealed)
        if conn.execute(select(k.c.kid).where(k.c.kid == kid, k.c.key_sha256 == digest)).first() is None:
            conn.execute(k.update().where(legacy).values(key_sha256=digest))
        else:
            conn.execute(k.delete().where(legacy))


def store_received(conn: Connection, owner: str, item: Received, secrets: SecretBox | None) -> set[str]:
    """Store one received summary (replacing the lot's earlier one) and, sealed, the key that
    verified it; returns ``owner``'s lots received from its issuer's lot (whose profiles follow)."""
    summary, kid, now = item.summary, item.kid, item.at
    lot_id = summary.subject.id
    if secrets is not None and item.jwk is not None:
        # the key that verified it, sealed: the summary is checked again at every use. Kept by kid
        # and key digest: the kid's other keys stay, so its earlier summaries still verify
        canonical = json.dumps(dict(item.jwk), sort_keys=True)
        digest = t.key_sha256(canonical)
        sealed = secrets.seal(canonical, context=f"ledger_verified_keys/{kid}")
        k = t.verified_keys
        _digest_kept_rows(conn, kid, secrets)
        conn.execute(k.delete().where(k.c.kid == kid, k.c.key_sha256 == digest))
        conn.execute(k.insert().values(kid=kid, key_sha256=digest, sealed_jwk=sealed, verified_at=now))
    r = t.received_summaries
    conn.execute(r.delete().where(r.c.owner == owner, r.c.lot == lot_id))
    conn.execute(
        r.insert().values(
            owner=owner,
            lot=lot_id,
            issuer=str(summary.issuer),
            jws=item.token,
            summary=_DUMPS(encode_summary(summary)),
            received_at=now,
        )
    )
    return {child for (child,) in conn.execute(t.receipts_query(owner, str(summary.issuer), lot_id)).all()}
