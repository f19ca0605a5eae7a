"""Where an owner's upstream graph ends (``LedgerService.upstream_boundary``, what the federated
trace asks its suppliers about) is what the full upstream trace says: the same root lot, the same
boundary lots in the same order, the same hop-cap flag — with and without supplier summaries
folded in, on both stores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger_testkit import identity
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.scenario import COMPANIES, generate


def _as_trace_says(svc: LedgerService, owner: str, subject: str) -> tuple[str, list[str], bool]:
    trace = svc.trace(owner, subject)
    return str(trace["root"]["lot"]), [str(b["lot"]) for b in trace["boundaries"]], bool(trace["hop_cap_reached"])


def test_the_boundary_is_the_upstream_traces(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    sc: Any = generate(lots=120, seed=11)
    ids = {c.did: identity(c.did) for c in COMPANIES.values()}
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity("did:web:node.example"), identities=ids.get)
    svc.record(sc.events)
    subjects: list[tuple[str, str]] = []
    for e in sc.events:  # every owner's lots and batteries of each kind of event, a few each
        for o in e.get("outputs", []):
            subjects.append((e["owner"], o["lot"]))
            if o.get("battery"):
                subjects.append((e["owner"], o["battery"]["id"]))
    picked = subjects[:: max(1, len(subjects) // 60)]
    crossing = [s for s in picked if _as_trace_says(svc, *s)[1]]
    assert crossing and len(crossing) < len(picked)  # both kinds: graphs that end at a receipt, and not
    for owner, subject in picked:
        assert svc.upstream_boundary(owner, subject) == _as_trace_says(svc, owner, subject)
    # a supplier's summary folded in changes the profiles the trace reports, not where it ends
    receipt = next(e for e in sc.events if e["kind"] == "receipt")
    supplier, supplier_lot = receipt["receipt"]["from_owner"], receipt["receipt"]["from_lot"]
    svc.receive_summary(receipt["owner"], svc.signed_summary(supplier, supplier_lot))
    for owner, subject in crossing:
        assert svc.upstream_boundary(owner, subject) == _as_trace_says(svc, owner, subject)
