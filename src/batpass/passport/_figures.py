"""Figures the passport states that follow from its data points, computed in one place so the
page, the API and any reader agree (issue 20: "every unit and basis spelled out").

- the carbon footprint per kWh of total energy over the service life is the declared data
  point itself (``carbon_footprint``, Annex II's functional unit);
- per kWh of rated energy (capacity) it is the battery's absolute footprint
  (``carbon_footprint_absolute``, kg CO2e) divided by its rated energy (``rated_energy``, kWh):
  a figure for comparing packs of different sizes, not the Annex II functional unit;
- the Cd and Pb marks (Art. 13(5)) are due above the ruleset's shares
  (``passport.hazard.cadmium`` / ``.lead``, as a fraction of the battery's weight; the passport
  records the shares in %).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batpass.passport.model import PassportRules

__all__ = ["FOOTPRINT_STAGES", "footprint_per_capacity", "hazard_marks"]

#: the life-cycle stages of Annex II point 4 (the use stage excluded), keys of
#: ``carbon_footprint_stages``; a stage absent from the data point is "not provided", never zero
FOOTPRINT_STAGES = ("raw_material_and_preprocessing", "main_production", "distribution", "end_of_life")


def _number(view: Mapping[str, Any], key: str) -> float | None:
    value = view.get(key)
    if isinstance(value, Mapping) and isinstance(value.get("value"), (int, float)):
        return float(value["value"])
    return None


def footprint_per_capacity(view: Mapping[str, Any]) -> float | None:
    """kg CO2e per kWh of rated energy: ``carbon_footprint_absolute`` ÷ ``rated_energy`` of the
    passport's JSON view; None when either is not declared."""
    absolute, energy = _number(view, "carbon_footprint_absolute"), _number(view, "rated_energy")
    if absolute is None or energy is None or energy <= 0:
        return None
    return absolute / energy


def hazard_marks(view: Mapping[str, Any], rules: PassportRules) -> tuple[str, ...]:
    """The chemical symbols the battery must bear (``Cd``, ``Pb``), from its declared shares."""
    marks: list[str] = []
    for symbol, key, limit in (
        ("Cd", "cadmium_share", rules.cadmium_max_share),
        ("Pb", "lead_share", rules.lead_max_share),
    ):
        share = _number(view, key)
        if share is not None and share / 100.0 > limit:
            marks.append(symbol)
    return tuple(marks)
