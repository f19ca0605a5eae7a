"""A node that audits itself: every capability's self-audit gathered in one report, run at start-up
(in the background) and on demand (``GET /v1/admin/verify``, ``batpass verify --node NAME``), and
the routes a finding puts out of service until the store is repaired.

Per area: ``ledger`` (hash chain, batch signatures, derived rows replayed, received summaries),
``passport`` (every signed chain and served row, backup copies) and ``trust`` (trust lists and
the keys pinned for them, recognition rules, held credentials). A ledger or trust finding answers
503 with the reason on that area's routes (``/health`` stays up, ``/ready`` says why); a passport
finding refuses that passport wherever it is read (the passport checks itself at every read).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import IntegrityViolation
from batpass.core.findings import Finding
from batpass.http import problem_response

__all__ = ["Integrity", "IntegrityGate", "IntegrityReport"]

log = logging.getLogger("batpass.integrity")

#: the routes an area's findings put out of service (path prefixes)
BLOCKS: Mapping[str, tuple[str, ...]] = {
    "ledger": ("/v1/ledger", "/v1/trace"),
    "trust": ("/v1/trust",),
}


@dataclass(frozen=True)
class IntegrityReport:
    """One self-audit: findings per area, when it ran and how long it took."""

    findings: Mapping[str, tuple[Finding, ...]]
    at: dt.datetime
    seconds: float

    @property
    def ok(self) -> bool:
        return not any(self.findings.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "at": self.at.isoformat(),
            "seconds": round(self.seconds, 3),
            "areas": {
                area: {"ok": not found, "findings": [f.to_json() for f in found]}
                for area, found in sorted(self.findings.items())
            },
        }


@dataclass
class Integrity:
    """The node's audits by area and the last report. Thread-safe: the start-up audit runs in a
    worker thread while requests are served."""

    audits: Mapping[str, Callable[[], list[Finding]]]
    _report: IntegrityReport | None = None
    _running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: when a run starts and how long it took
    clock: Clock = field(default_factory=SystemClock, kw_only=True)
    #: idempotent upgrades of stored data, by area, run once before the start-up audit (the
    #: ledger's profiles stored before summary 2.0); one that fails is logged, and the audit says
    #: what is left
    upgrades: Mapping[str, Callable[[], object]] = field(default_factory=dict, kw_only=True)

    def run(self) -> IntegrityReport:
        """Run every audit now; an audit that fails outright is itself a finding."""
        with self._lock:
            self._running = True
        started = self.clock.now()
        findings: dict[str, tuple[Finding, ...]] = {}
        for area, audit in self.audits.items():
            try:
                findings[area] = tuple(audit())
            except IntegrityViolation as exc:
                findings[area] = (Finding(exc.table or area, exc.key or "-", str(exc.rule), exc.message),)
            except Exception as exc:
                log.exception("self-audit of %s failed", area)
                findings[area] = (Finding(area, "-", f"{area}.audit", f"the audit could not run: {exc}"),)
        seconds = (self.clock.now() - started).total_seconds()
        report = IntegrityReport(findings, started, seconds)
        with self._lock:
            self._report, self._running = report, False
        for area, found in findings.items():
            for f in found:
                log.error("integrity finding in %s: %s %s: %s (%s)", area, f.table, f.key, f.detail, f.rule)
        return report

    def start(self) -> threading.Thread:
        """The start-up upgrades and audit, in the background (a large ledger replays for a while)."""
        with self._lock:
            self._running = True
        thread = threading.Thread(target=self._start_up, name="batpass-self-audit", daemon=True)
        thread.start()
        return thread

    def _start_up(self) -> None:
        for area, upgrade in self.upgrades.items():
            try:
                upgrade()
            except Exception:
                log.exception("start-up upgrade of %s failed", area)
        self.run()

    @property
    def report(self) -> IntegrityReport | None:
        with self._lock:
            return self._report

    def readiness(self) -> list[str]:
        """Why the node is not ready (empty: it is)."""
        with self._lock:
            report, running = self._report, self._running
        if report is None:
            return ["the start-up self-audit is running"] if running else ["no self-audit has run"]
        return [
            f"{area}: {len(found)} integrity finding(s), e.g. {found[0].table} {found[0].key}: {found[0].detail}"
            for area, found in sorted(report.findings.items())
            if found and area in BLOCKS
        ]

    def blocked(self, path: str) -> IntegrityViolation | None:
        """The refusal for a request to ``path`` while its area has findings, or None."""
        report = self.report
        if report is None:
            return None
        for area, prefixes in BLOCKS.items():
            found = report.findings.get(area)
            if found and path.startswith(prefixes):
                first = found[0]
                return IntegrityViolation(
                    f"the {area} store failed its self-audit ({len(found)} finding(s); first: {first.table} "
                    f"{first.key}: {first.detail}); these routes answer again once it is repaired and verified",
                    table=first.table,
                    key=first.key,
                    rule=first.rule,
                )
        return None


class IntegrityGate:
    """ASGI middleware: 503 problem details on the routes of an area with findings."""

    def __init__(self, app: ASGIApp, *, integrity: Callable[[], Integrity | None]) -> None:
        self.app = app
        self.integrity = integrity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.integrity() if scope["type"] == "http" else None
        refusal = state.blocked(scope.get("path", "")) if state is not None else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await problem_response(refusal, instance=scope.get("path"))(scope, receive, send)
