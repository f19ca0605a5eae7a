"""Credit accounts under concurrent claims: several workers (threads with their own database
connections, as several server processes would have) claiming the same recovered kilograms at
once must never debit an account beyond its credit, on either store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import identity
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.scenario import flagged_sites, generate
from batpass.sites import CAHRA_SAMPLE, load_cahra

RECYCLER = "did:web:recycler.example"
WORKERS = 8

#: the scenario's mines the synthetic CAHRA sample flags (the artisanal cobalt site)
HIGH_RISK_SITES = flagged_sites(load_cahra(CAHRA_SAMPLE))


def test_concurrent_claims_never_overdraw_an_account(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    sc = generate(lots=200, owner=RECYCLER, seed=3)
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(RECYCLER), high_risk_sites=HIGH_RISK_SITES)
    svc.record(sc.events)
    recovered = next(
        o["lot"]
        for e in sc.events
        if e["kind"] == "recovery"
        for o in e["outputs"]  # type: ignore[attr-defined]
        if o["material"] == "cobalt_sulphate"
    )
    lot = svc.lot(RECYCLER, recovered)
    credit = sum(kg for el, kg in lot.composition.items() if el.value == "Co") * lot.mass_kg
    share = credit * 0.3  # room for three claims, not for eight
    start = threading.Barrier(WORKERS)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def claim(n: int) -> None:
        try:
            start.wait()
            results.append(
                svc.claim_recycled(
                    RECYCLER,
                    claim_id=f"claim-{n}",
                    lot=recovered,
                    element="Co",
                    kg=share,
                    claimant=f"did:web:maker-{n}.example",
                    subject=f"battery-{n}",
                )
            )
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(WORKERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    accepted = [r for r in results if r["status"] == "accepted"]
    assert len(accepted) == 3
    assert sum(float(r["kg"]) for r in accepted) <= credit * (1 + 1e-9)  # type: ignore[arg-type]
    # every refused claim names the claims that had already debited the account
    for r in results:
        if r["status"] == "double_claim":
            assert len(r["conflicting_claims"]) == 3  # type: ignore[arg-type]
    assert len(svc.double_claims(RECYCLER)) == WORKERS - 3


def test_concurrent_replays_of_one_claim_debit_once(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """A claim sent again while the first attempt is still in flight (a retry after a timeout)
    is answered with the stored claim: one debit, no error."""
    sc = generate(lots=200, owner=RECYCLER, seed=3)
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(RECYCLER), high_risk_sites=HIGH_RISK_SITES)
    svc.record(sc.events)
    recovered = next(
        o["lot"]
        for e in sc.events
        if e["kind"] == "recovery"
        for o in e["outputs"]  # type: ignore[attr-defined]
        if o["material"] == "cobalt_sulphate"
    )
    start = threading.Barrier(WORKERS)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def claim() -> None:
        try:
            start.wait()
            results.append(
                svc.claim_recycled(
                    RECYCLER,
                    claim_id="retried",
                    lot=recovered,
                    element="Co",
                    kg=0.5,
                    claimant="did:web:maker.example",
                    subject="battery-1",
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(WORKERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert {(r["id"], r["status"]) for r in results} == {("retried", "accepted")}
    assert not svc.double_claims(RECYCLER)
