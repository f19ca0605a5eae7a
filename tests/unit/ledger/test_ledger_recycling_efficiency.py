"""Recycling efficiency and material recovery computed from a recycler's ledger (docs/recycling.md):
what counts as input and output, the period, Annex XII's dated targets, and the label — a
simplified estimate, never a pass. On both stores; the route and the CLI answer the same."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import ev, identity, out
from sqlalchemy import Engine

from batpass.core.errors import InvalidInput
from batpass.ledger import MATERIALS, MIGRATIONS_DIR, Element, LedgerService

REC = "did:web:recycler.example"
WB = {"Li": 0.02, "Co": 0.02, "Ni": 0.1, "Cu": 0.05}  # kg per kg of waste battery
SCRAP = {"Li": 0.03, "Co": 0.03, "Ni": 0.15}


def _ev(kind: str, at: str, **kw: Any) -> dict[str, Any]:
    return ev(kind, owner=REC, site="REC-NL-1", country="NL", at=at, **kw)


def _frac(material: str, el: Element) -> float:
    fr = MATERIALS[material].fractions
    assert fr is not None
    return fr[el]


@pytest.fixture
def recycler(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    """400 kg of waste batteries and 100 kg of production scrap made into black mass; the two
    black masses and 50 kg of black mass from elsewhere recovered together on 2026-03-02."""
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(REC))
    wb = out("wb", "waste_battery", 10, assay=WB, mass_per_piece_kg=40.0)
    wb["quantity"]["unit"] = "piece"
    svc.record(
        [
            _ev("extraction", "2026-03-01T08:00:00Z", outputs=[wb]),
            _ev("extraction", "2026-03-01T08:01:00Z", outputs=[out("ps", "production_scrap", 100.0, assay=SCRAP)]),
            _ev("extraction", "2026-03-01T08:02:00Z", outputs=[out("bmx", "black_mass", 50.0, assay=SCRAP)]),
            _ev("recycling", "2026-03-01T09:00:00Z", inputs=[("wb", 400.0)], outputs=[out("bm", "black_mass", 140.0)]),
            _ev("recycling", "2026-03-01T09:01:00Z", inputs=[("ps", 100.0)], outputs=[out("bm2", "black_mass", 45.0)]),
        ]
    )
    rec = {"recycled": "post_consumer", "custody": "segregated"}
    # recovered: 6 kg Li, 6 kg Co, 30 kg Ni out of 8+3+1.5 Li, 8+3+1.5 Co, 40+15+7.5 Ni
    outs = [
        out("lc", "lithium_carbonate", 6.0 / _frac("lithium_carbonate", Element.LI), **rec),
        out("cs", "cobalt_sulphate", 6.0 / _frac("cobalt_sulphate", Element.CO), **rec),
        out("ns", "nickel_sulphate", 30.0 / _frac("nickel_sulphate", Element.NI), **rec),
    ]
    svc.record(
        [
            _ev(
                "recovery",
                "2026-03-02T10:00:00Z",
                inputs=[("bm", 140.0), ("bm2", 45.0), ("bmx", 50.0)],
                outputs=outs,
                **{"yield": {"Li": 0.9, "Co": 0.9, "Ni": 0.9}},
            )
        ]
    )
    return svc


def test_inputs_outputs_and_recovery_per_element(recycler: LedgerService) -> None:
    r = recycler.recycling_efficiency(REC)
    assert r["basis"] == "simplified estimate" and r["recycler"] == REC and r["recovery_events"] == 1
    # counted: the waste batteries behind the black mass made here, and the black mass from elsewhere;
    # the scrap's black mass is not a waste battery input (45 of the 235 kg the recovery took)
    assert r["input_kg"] == pytest.approx(400.0 + 50.0)
    assert r["excluded_input_kg"] == pytest.approx(100.0)
    share = (140.0 + 50.0) / 235.0
    made = 6.0 / _frac("lithium_carbonate", Element.LI)
    made += 6.0 / _frac("cobalt_sulphate", Element.CO) + 30.0 / _frac("nickel_sulphate", Element.NI)
    assert r["output_kg"] == pytest.approx(made * share)
    assert r["efficiency"] == pytest.approx(made * share / 450.0)
    li = r["recovery"]["Li"]
    assert li["input_kg"] == pytest.approx(400 * 0.02 + 50 * 0.03)
    assert li["recovered_kg"] == pytest.approx(6.0 * share)
    assert li["rate"] == pytest.approx(6.0 * share / 9.5)
    assert set(r["recovery"]) == {"Li", "Co", "Ni", "Cu"}  # copper went in and none came out
    assert r["recovery"]["Cu"]["rate"] == 0.0
    assert r["chemistry"] == "lithium-based"


def test_dated_targets_and_never_a_pass(recycler: LedgerService) -> None:
    r = recycler.recycling_efficiency(REC, "2026-01-01", "2027-01-01")
    # Annex XII Part B: 65 % by 2025-12-31 for lithium-based batteries; Part C from 2027-12-31
    assert r["efficiency_target"] == {"value": 0.65, "by": "2025-12-31"}
    assert r["efficiency_indication"].startswith("below the target (simplified estimate")
    assert r["recovery"]["Li"]["target"] is None and r["recovery"]["Li"]["indication"] == "no target applies yet"
    # a period ending on 2027-12-31 (exclusive) does not reach the 2027 recovery targets; one day more does
    assert recycler.recycling_efficiency(REC, "2026-01-01", "2027-12-31")["recovery"]["Li"]["target"] is None
    later = recycler.recycling_efficiency(REC, "2026-01-01", "2028-01-01")["recovery"]
    assert later["Li"]["target"] == {"value": 0.5, "by": "2027-12-31"}
    assert later["Co"]["target"] == {"value": 0.9, "by": "2027-12-31"}
    # far enough for every target: still an indication, never a pass
    last = recycler.recycling_efficiency(REC, "2026-01-01", "2032-01-01")
    said = [last["efficiency_indication"], *(v["indication"] for v in last["recovery"].values())]
    assert all(x.endswith("(simplified estimate, not a compliance result)") for x in said)
    assert not re.search(r"\bpass", json.dumps(last).replace("batpass", ""))


def test_the_period_selects_recovery_events(recycler: LedgerService) -> None:
    before = recycler.recycling_efficiency(REC, "2026-01-01T00:00:00Z", "2026-03-02T10:00:00Z")
    assert before["recovery_events"] == 0 and before["efficiency"] is None and before["recovery"] == {}
    assert before["efficiency_indication"].startswith("not computable")
    assert recycler.recycling_efficiency(REC, "2026-03-02T10:00:00Z", None)["recovery_events"] == 1
    assert recycler.recycling_efficiency("did:web:other.example")["recovery_events"] == 0


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("yesterday", None, "from"), ("2026-01-01T00:00:00", None, "from"), ("2026-02-01", "2026-01-01", "to")],
)
def test_a_bad_period_names_its_field(recycler: LedgerService, start: str, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        recycler.recycling_efficiency(REC, start, end)
    assert exc.value.field == field
