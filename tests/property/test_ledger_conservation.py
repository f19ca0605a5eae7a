"""Property tests: random valid event sequences never break conservation; invalid ones are
rejected and leave the store unchanged; frontier search equals the recursive-CTE oracle."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger._trace import cte_reachable, frontier_search
from batpass.ledger.errors import LotOverdrawn, MassBalanceViolation
from batpass.trust import NodeIdentity, generate_keypair

_n = itertools.count()
HOST = "did:web:prop.example"


def _ev(
    owner: str, kind: str, inputs: list[tuple[str, float]], outputs: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    i = next(_n)
    e: dict[str, Any] = {
        "id": f"p-{i}",
        "kind": kind,
        "owner": owner,
        "at": "2026-02-01T00:00:00Z",
        "site": {"id": f"S{i % 3}", "country": "JP"},
        "outputs": outputs,
        **kw,
    }
    if inputs:
        e["inputs"] = [{"lot": lot, "quantity": {"value": q, "unit": "kg"}} for lot, q in inputs]
    return e


steps = st.lists(st.tuples(st.integers(0, 50), st.floats(0.05, 1.2), st.floats(0.3, 1.0)), min_size=1, max_size=12)


def test_random_sequences_conserve_and_invalid_ones_change_nothing(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    # one store per backend; each example writes into its own owner partition
    eng = make_store([MIGRATIONS_DIR])
    ident = NodeIdentity(HOST, [generate_keypair("Ed25519", "k1")])
    svc = LedgerService(eng, ident, identities=lambda o: NodeIdentity(o, ident.keys))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(plan=steps, bad=st.floats(1.01, 3.0))
    def run(plan: list[tuple[int, float, float]], bad: float) -> None:
        _one(svc, eng, plan, bad)

    run()


def _one(svc: LedgerService, eng: Engine, plan: list[tuple[int, float, float]], bad: float) -> None:
    owner = f"did:web:o{next(_n)}.example"
    svc.record(
        [
            _ev(
                owner,
                "extraction",
                [],
                [
                    {
                        "lot": f"{owner}-m",
                        "material": "lithium_brine_concentrate",
                        "quantity": {"value": 1000.0, "unit": "kg"},
                    }
                ],
            )
        ]
    )
    lots = [(f"{owner}-m", "lithium_brine_concentrate")]
    for k, (pick, share, yld) in enumerate(plan):
        src_id, _mat = lots[pick % len(lots)]
        src = svc.lot(owner, src_id)
        take = src.remaining_kg * min(share, 1.0)
        if take <= 1e-3:  # keep every amount well above the absolute tolerance (1 mg)
            continue
        li_in = take * src.composition[next(iter(src.composition))] if src.composition else 0.0
        out_kg = li_in * yld / 0.1879  # Li2CO3 within the yield
        new = f"{owner}-l{k}"
        svc.record(
            [
                _ev(
                    owner,
                    "transformation",
                    [(src_id, take)],
                    [{"lot": new, "material": "lithium_carbonate", "quantity": {"value": out_kg, "unit": "kg"}}],
                    **{"yield": yld},
                )
            ]
        )
        lots.append((new, "lithium_carbonate"))
        if out_kg * 0.1879 * (bad - 1.0) < 1e-4:  # within the absolute tolerance (1 mg): not invalid
            continue
        # an invalid event (too much out, or overdraw) is rejected and changes nothing
        with eng.connect() as conn:
            before = conn.execute(
                text("SELECT count(*), coalesce(sum(remaining_kg), 0) FROM ledger_lots WHERE owner = :o"), {"o": owner}
            ).one()
        try:
            svc.record(
                [
                    _ev(
                        owner,
                        "transformation",
                        [(new, out_kg * min(bad, 1.0))],
                        [
                            {
                                "lot": f"{new}-x",
                                "material": "lithium_carbonate",
                                "quantity": {"value": out_kg * bad, "unit": "kg"},
                            }
                        ],
                    )
                ]
            )
            raise AssertionError("an output above the input was accepted")
        except MassBalanceViolation:
            pass
        try:
            svc.record(
                [
                    _ev(
                        owner,
                        "transformation",
                        [(new, out_kg * bad)],
                        [
                            {
                                "lot": f"{new}-y",
                                "material": "lithium_carbonate",
                                "quantity": {"value": 0.001, "unit": "kg"},
                            }
                        ],
                    )
                ]
            )
            raise AssertionError("an overdraw was accepted")
        except LotOverdrawn:
            pass
        with eng.connect() as conn:
            after = conn.execute(
                text("SELECT count(*), coalesce(sum(remaining_kg), 0) FROM ledger_lots WHERE owner = :o"), {"o": owner}
            ).one()
        assert tuple(after) == tuple(before)
    # conservation: every lot's Li never exceeds what its parents gave (within tolerance)
    with eng.connect() as conn:
        rows = conn.execute(
            text("SELECT id, mass_kg, remaining_kg, composition FROM ledger_lots WHERE owner = :o"), {"o": owner}
        ).all()
        total_li_out = sum(r.mass_kg * json.loads(r.composition).get("Li", 0.0) for r in rows if r.id != f"{owner}-m")
        assert all(r.remaining_kg >= -1e-9 for r in rows)
        assert total_li_out <= 60.0 * len(rows) * 1.001  # bounded by the mine's 60 kg per generation
        last = svc.lot(owner, lots[-1][0])
        assert set(frontier_search(conn, last).lots) == cte_reachable(conn, (owner, lots[-1][0]))
    assert svc.verify(owner).ok
