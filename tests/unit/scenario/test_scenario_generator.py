"""The seeded scenario: deterministic, scaled by lots, element masses per kWh plausible."""

from __future__ import annotations

import pytest

from batpass.ledger import ELEMENTS
from batpass.ledger.model import parse_event
from batpass.scenario import DEMO_LOTS, PLAUSIBLE_KG_PER_KWH, generate


def test_seeded_and_scaled() -> None:
    a, b = generate(lots=300, seed=3), generate(lots=300, seed=3)
    assert a.events == b.events
    assert generate(lots=300, seed=4).events != a.events
    assert a.lots >= 300 and len(a.batteries) >= 10
    demo = generate(lots=DEMO_LOTS)
    assert 150 <= len(demo.batteries) <= 250
    assert demo.black_mass_shipment is not None
    for i, e in enumerate(a.events):
        parse_event(e, path=f"events[{i}]")


def test_cell_element_masses_per_kwh_are_plausible() -> None:
    from batpass.ledger._materials import MATERIALS
    from batpass.scenario import CHEMISTRIES

    for name, chem in CHEMISTRIES.items():
        cam = MATERIALS[chem.cam].fractions
        assert cam is not None
        per_kwh = {el.value: chem.cam_kg_per_kwh * cam.get(el, 0.0) for el in ELEMENTS}
        per_kwh["C_nat"] = chem.graphite_kg_per_kwh * 0.9995
        per_kwh["Cu"] = chem.copper_kg_per_kwh * 0.998
        per_kwh["Al"] = chem.aluminium_kg_per_kwh * 0.998
        for el, (lo, hi) in PLAUSIBLE_KG_PER_KWH[name].items():
            assert lo <= per_kwh[el] <= hi, (name, el, per_kwh[el])


def test_rejects_out_of_range_scale() -> None:
    from batpass.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        generate(lots=5)
