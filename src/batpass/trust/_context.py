"""What the trust components of one node share: the node's engine and identity, its DID
resolver, trust registry, status-list cache and verifier, and the standing findings about the
signed trust store (docs/trust-lists.md "Stored signed"), and the clock they all read.

``TrustService`` (``service.py``) builds one :class:`TrustContext` and the components that share
it — the issuer with its status lists (``_issuer.py``), the nonces (``_nonces.py``), the
recognition and trust-list operator (``_recognition.py``), the relying party (``_relying_party.py``)
and the holder (``_holder.py``). This module knows none of their rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from batpass.core.clock import Clock
from batpass.core.findings import Finding
from batpass.store import UnitOfWork
from batpass.trust import _stored
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, GuardedFetcher
from batpass.trust._status import StatusListCache
from batpass.trust._trustlist import TrustRegistry
from batpass.trust._verify import Verifier

__all__ = ["StandingFindings", "TrustContext", "log"]

log = logging.getLogger("batpass.trust")


class StandingFindings:
    """The findings standing against the signed trust store: those of the last full read, kept
    up to date as rows are written or read again (a wallet read, a refused pin)."""

    def __init__(self) -> None:
        self._items: list[Finding] = []

    @property
    def items(self) -> tuple[Finding, ...]:
        return tuple(self._items)

    def replace(self, found: Iterable[Finding]) -> None:
        """After a full read: these are the findings now, each logged."""
        self._items = list(found)
        for f in self._items:
            log.warning("trust: %s %s breaks %s: %s", f.table, f.key, f.rule, f.detail)

    def settle(self, table: str, key: str, found: Iterable[Finding] = ()) -> None:
        """Replace the standing findings about one row (after it was written, or read again)."""
        before = set(self._items)
        self._items = [f for f in self._items if (f.table, f.key) != (table, key)]
        for f in found:
            if f not in self._items:
                if f not in before:
                    log.warning("trust: %s %s breaks %s: %s", f.table, f.key, f.rule, f.detail)
                self._items.append(f)

    def about(self, key: str) -> Finding | None:
        """The first standing finding about the row ``key``, if any."""
        return next((f for f in self._items if f.key == key), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustContext:
    """One per node; every component holds the same one, so they resolve, trust and verify
    through the same objects and see the same findings."""

    engine: Engine
    identity: NodeIdentity
    #: the node's public base URL, without a trailing slash
    base_url: str
    #: the ecosystem whose trust list and recognition policy this node follows
    ecosystem: str
    #: the configured operator DID of each ecosystem's trust list
    operators: dict[str, str]
    profiles: tuple[str, ...]
    bpn: str | None
    #: the node's HTTPS client (none: offline)
    client: httpx.AsyncClient | None
    fetcher: GuardedFetcher
    resolver: DidResolver
    status: StatusListCache
    registry: TrustRegistry
    verifier: Verifier
    findings: StandingFindings
    #: the node's one clock: every time a component stamps, signs or checks against
    clock: Clock

    def read_store(self) -> _stored.Stored:
        """Every trust table read back through its signatures; its findings become the standing
        ones (docs/decisions/2026-12-06-signed-trust-store.md)."""
        with UnitOfWork(self.engine, write=False) as uow:
            stored = _stored.read_all(uow.conn, self.identity, operators=self.operators, ecosystem=self.ecosystem)
        self.findings.replace(stored.findings)
        return stored
