"""A stored received summary checked before it is used (and in the self-audit): its stored copy,
issuer and lot against its signed token, and the token's signature against the key its ``kid``
resolves to now — a key this node holds, or a supplier's key that verified a summary under that
kid on arrival, kept sealed in ``ledger_verified_keys`` by kid and key digest (docs/integrity.md):
a supplier that renews its key and keeps its kid leaves both keys there, so its earlier summaries
still verify, while a token no kept key verifies is refused. A successful verification is kept by
(token, that key) in trust's :class:`~batpass.trust.VerifiedTokens`: a token verified before is
not verified again while its key stays the same, and is judged afresh once the key row is
replaced or removed, in this process as in a restarted one. A sealed key is opened once per
(kid, digest, sealed value) in this process: the rows are read at every use, and a replaced row
(another sealed value) is opened afresh, never answered from what the old one held; a row whose
key does not match its digest verifies nothing.

A row that passed is remembered with its decoded summary (:meth:`SummaryChecks.passed`), keyed by
the row's exact stored content — every column the check reads (lot, issuer, token, stored copy) —
and the canonical JWK that verified it, which must still be one its kid resolves to at the time of
the use: a row with any column changed, or whose key was replaced or removed, misses and is judged
again. A row that fails is never
remembered. Each use gets its own copy of the decoded summary. The self-audit does not use it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, select

from batpass.core.errors import BatpassError
from batpass.core.summary import ElementShares, UpstreamSummary, decode_summary
from batpass.ledger import _sql as t
from batpass.ledger._audit import summary_payload
from batpass.ledger._summary import summary_header, verify_summary
from batpass.trust import SecretBox, VerifiedTokens

__all__ = ["SummaryChecks"]

#: tokens whose verification is kept (least recently used out first; beyond, a use verifies again)
VERIFIED_MAX = 8192
#: sealed keys kept opened, by (kid, digest, sealed value); beyond, the kept ones are dropped
UNSEALED_MAX = 1024
#: rows remembered with their decoded summary (least recently used out first)
PASSED_MAX = 2048
#: the keys a kid resolves to (none: no key)
Keys = dict[str, tuple[Mapping[str, Any], ...]]
#: the sealed keys stored for a kid, (digest, sealed value) each (``ledger_verified_keys``)
SealedRead = Callable[[str], tuple[tuple[str, str], ...]]


def sealed_in(conn: Connection) -> SealedRead:
    """Sealed keys read in ``conn``'s transaction."""
    return lambda kid: tuple((str(d), str(s)) for d, s in conn.execute(_SEALED, {"kid": kid}).all())


_k = t.verified_keys.c
_SEALED = select(_k.key_sha256, _k.sealed_jwk).where(_k.kid == bindparam("kid")).order_by(_k.verified_at.desc())


def _verifies(token: str, resolve: Callable[[str], Mapping[str, Any] | None]) -> bool:
    verify_summary(token, resolve)
    return True


class SummaryChecks:
    """``problem(conn, row)``: why a stored received summary cannot be used (None: it can)."""

    def __init__(self, resolve_key: Callable[[str], Mapping[str, Any] | None], secrets: SecretBox | None) -> None:
        self._resolve_key = resolve_key
        self._secrets = secrets
        self.verified = VerifiedTokens(VERIFIED_MAX)
        self._unsealed: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        #: (lot, issuer, jws, summary) -> (kid, canonical JWK or None, decoded summary)
        self._passed: OrderedDict[tuple[str, str, str, str], tuple[str, str | None, UpstreamSummary]] = OrderedDict()

    def arrived(self, token: str, jwk: Mapping[str, Any] | None) -> None:
        """``token`` was verified with ``jwk`` on arrival: its uses need not verify it again
        while the key its kid resolves to is ``jwk``."""
        if jwk is not None:
            self.verified.keep(token, jwk, True)

    def problem(self, conn: Connection | SealedRead, row: Any, keys: Keys | None = None) -> str | None:
        """Why ``row`` (of ``ledger_received_summaries``) cannot be used, or None. ``conn`` (or a
        reader of sealed keys of the same snapshot) gives the kept keys; ``keys`` keeps the keys
        looked up for one pass over many rows (a supplier signs many with one key)."""
        return self._judge(conn, row, {} if keys is None else keys)[0]

    def _judge(
        self, conn: Connection | SealedRead, row: Any, keys: Keys
    ) -> tuple[str | None, Mapping[str, Any] | None]:
        """(why ``row`` cannot be used or None, the key that verified it)."""
        try:
            payload = summary_payload(row.jws)
        except (ValueError, IndexError) as exc:
            return f"the stored token is not a compact JWS ({exc})", None
        try:
            stored = json.loads(row.summary)
        except ValueError:
            stored = None
        if stored != payload:
            return "the stored copy differs from the signed token", None
        if payload.get("issuer") != row.issuer or (payload.get("subject") or {}).get("id") != row.lot:
            return "issuer or lot differ from the signed token", None
        try:
            kid = str(summary_header(row.jws).get("kid"))
        except BatpassError as exc:
            return f"the stored token has no readable header ({exc.message})", None
        if kid not in keys:
            keys[kid] = self.known_keys(conn, kid)
        jwks = keys[kid]
        if not jwks:
            if self._secrets is None:
                return None, None  # a ledger without sealed keys (tests, tools): the copy matched its token
            return f"no verified key is kept for {kid} (the key row was removed, or the token replaced)", None
        failure = ""
        for jwk in jwks:  # the kid's keys, the latest verified first
            try:
                self.verified.verify(row.jws, _the(jwk), _verifies)
            except BatpassError as exc:
                failure = exc.message
                continue
            return None, jwk
        return f"the signature does not verify with {kid} ({failure})", None

    def passed(self, conn: Connection | SealedRead, row: Any, keys: Keys | None = None) -> UpstreamSummary | str:
        """The summary ``row`` carries if it passes :meth:`problem` (a copy of the one remembered
        when the same row content passed with a key its kid still resolves to), else why not."""
        content = (row.lot, row.issuer, row.jws, row.summary)
        keys = {} if keys is None else keys
        kept = self._passed.get(content)
        if kept is not None:
            kid, canon, summary = kept
            if kid not in keys:
                keys[kid] = self.known_keys(conn, kid)
            if canon in {_canonical(k) for k in keys[kid]} or (canon is None and not keys[kid]):
                with suppress(KeyError):  # dropped meanwhile by another thread's use
                    self._passed.move_to_end(content)
                return copy_summary(summary)
        problem, jwk = self._judge(conn, row, keys)
        if problem is not None:
            return problem
        summary = decode_summary(summary_payload(row.jws))
        kid = str(summary_header(row.jws).get("kid"))  # _judge read it, and looked its keys up
        self._passed[content] = (kid, _canonical(jwk), summary)
        with suppress(KeyError):  # another thread's use may empty it first
            while len(self._passed) > PASSED_MAX:
                self._passed.popitem(last=False)
        return copy_summary(summary)

    def known_keys(self, conn: Connection | SealedRead, kid: str) -> tuple[Mapping[str, Any], ...]:
        """The key this node holds under ``kid`` (its identities), or the keys that verified a
        summary under it on arrival, the latest first (read in ``conn``'s transaction: a summary
        written in it is checked with its own key). The rows are read at every call; only their
        opening is kept, by (kid, digest, sealed value)."""
        own = self._resolve_key(kid)
        if own is not None:
            return (own,)
        if self._secrets is None:
            return ()
        rows = (sealed_in(conn) if isinstance(conn, Connection) else conn)(kid)
        return tuple(jwk for digest, sealed in rows if (jwk := self._open(kid, digest, sealed)) is not None)

    def _open(self, kid: str, digest: str, sealed: str) -> dict[str, Any] | None:
        """The key a row holds; None if it does not open, or is not the key its digest names (a
        row from before ``ledger_0009`` has no digest yet)."""
        at = (kid, digest, sealed)
        if at in self._unsealed:
            return self._unsealed[at]
        assert self._secrets is not None
        jwk: dict[str, Any] | None
        try:
            canonical = self._secrets.open(sealed, context=f"ledger_verified_keys/{kid}")
        except BatpassError:
            jwk = None  # a changed sealed key verifies nothing
        else:
            matches = digest in ("", t.key_sha256(canonical))
            jwk = json.loads(canonical) if matches else None
        if len(self._unsealed) >= UNSEALED_MAX:
            self._unsealed.clear()
        self._unsealed[at] = jwk
        return jwk


def _the(jwk: Mapping[str, Any]) -> Callable[[str], Mapping[str, Any] | None]:
    """A resolver answering ``jwk`` for the token's kid (the one being tried)."""
    return lambda _kid: jwk


def _canonical(jwk: Mapping[str, Any] | None) -> str | None:
    return None if jwk is None else json.dumps(dict(jwk), sort_keys=True, separators=(",", ":"))


def copy_summary(summary: UpstreamSummary) -> UpstreamSummary:
    """``summary`` with its own copies of every mutable member (the mappings and the footprint):
    a caller changing what it was given changes nothing another one is given."""
    return replace(
        summary,
        elements={sym: _copy_element(el) for sym, el in summary.elements.items()},
        footprint=None if summary.footprint is None else _copy_json(summary.footprint),
    )


def _copy_element(el: ElementShares) -> ElementShares:
    return replace(
        el,
        mined_by_country=None if el.mined_by_country is None else dict(el.mined_by_country),
        custody_models=dict(el.custody_models),
        recycled_by_country=None if el.recycled_by_country is None else dict(el.recycled_by_country),
    )


def _copy_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value
