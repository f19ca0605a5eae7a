"""The unit catalogues of the imported models and their conversion to the units batpass holds.

Every unit a model's enumeration allows is listed: converted by an exact factor to the data
point's unit, or refused with the reason (never assumed to be the data point's unit). Pure.

Sources: the Catena-X ``io.catenax.battery.battery_pass:6.1.0`` enumerations
``MassUnitEnumeration``, ``LifeEnumeration``, ``ConcentrationEnumeration``,
``LinearUnitEnumeration`` (unit names of the SAMM unit catalogue, which follows UNECE
Recommendation 20); factors from UCUM (``[lb_av]`` = 0.45359237 kg, ``[oz_av]`` = 1/16 lb,
``[ston_av]`` = 2000 lb, ``[in_i]`` = 25.4 mm, ``[ft_i]`` = 12 in, ``[yd_i]`` = 3 ft,
``a`` = 365.25 d, ``mo`` = a/12).
"""

from __future__ import annotations

from collections.abc import Mapping

from batpass.core.errors import InvalidInput

__all__ = ["CONCENTRATION_TO_PERCENT", "LIFE_TO_YEAR", "LINEAR_TO_MM", "MASS_TO_KG", "REFUSED_UNITS", "convert"]

_LB = 0.45359237
#: MassUnitEnumeration -> factor to kilograms
MASS_TO_KG: Mapping[str, float] = {
    "unit:gram": 1e-3,
    "unit:kilogram": 1.0,
    "unit:tonneMetricTon": 1e3,
    "unit:tonUsOrShortTonUkorus": 2000 * _LB,
    "unit:ounceAvoirdupois": _LB / 16,
    "unit:pound": _LB,
}
#: LinearUnitEnumeration -> factor to millimetres
LINEAR_TO_MM: Mapping[str, float] = {
    "unit:millimetre": 1.0,
    "unit:centimetre": 10.0,
    "unit:metre": 1e3,
    "unit:kilometre": 1e6,
    "unit:inch": 25.4,
    "unit:foot": 304.8,
    "unit:yard": 914.4,
}
#: LifeEnumeration -> factor to years (a Julian year of 365.25 days, as UCUM's ``a``)
LIFE_TO_YEAR: Mapping[str, float] = {
    "unit:year": 1.0,
    "unit:month": 1 / 12,
    "unit:day": 1 / 365.25,
}
#: ConcentrationEnumeration -> factor to percent by mass
CONCENTRATION_TO_PERCENT: Mapping[str, float] = {
    "unit:percent": 1.0,
    "unit:partPerThousand": 1e-1,
    "unit:partPerMillion": 1e-4,
    "unit:partPerBillionUs": 1e-7,
    "unit:partPerTrillionUs": 1e-10,
}
#: units of the catalogues that batpass cannot convert, with the reason
REFUSED_UNITS: Mapping[str, str] = {
    "unit:cycle": "a warranty in cycles is not a period; batpass holds the commercial warranty in years",
    "unit:runningOrOperatingHour": (
        "a warranty in operating hours is not a calendar period; batpass holds the commercial warranty in years"
    ),
    "unit:percentVolume": (
        "a share by volume is not a share by mass without the densities; batpass holds shares in % w/w"
    ),
}

_TABLES = {"kg": MASS_TO_KG, "year": LIFE_TO_YEAR, "%": CONCENTRATION_TO_PERCENT, "mm": LINEAR_TO_MM}


def convert(value: float, unit: object, to: str, *, field: str, rule: str) -> float:
    """``value`` given in ``unit`` (a catalogue name such as ``unit:gram``) in ``to`` (kg, year, %).

    Raises :class:`InvalidInput` naming ``field`` for a unit that cannot be converted."""
    table = _TABLES[to]
    if isinstance(unit, str) and unit in table:
        return value * table[unit]
    reason = REFUSED_UNITS.get(unit) if isinstance(unit, str) else None
    raise InvalidInput(
        f"{field}: unit {unit!r} cannot be read as {to}: " + (reason or f"not one of {', '.join(sorted(table))}"),
        field=field,
        rule=rule,
        value=unit,
    )
