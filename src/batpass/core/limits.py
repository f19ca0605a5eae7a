"""The limits every input shares, whichever edge it arrives at (HTTP, the command line, a file).

- Text is at most :data:`MAX_TEXT` characters unless a field says otherwise; a list holds at most
  :data:`MAX_ITEMS` items.
- Numbers are finite (no NaN or Infinity) and within a physical range: :data:`UNIT_RANGES` gives
  the range of a quantity by its unit (UCUM-like codes), :data:`MAX_MASS_KG` the largest mass a
  ledger input may name. :func:`check_number` refuses a value outside them naming the field and
  the rule.

The HTTP request models (``batpass.http``) build their constrained types from these, and the
capabilities check the same numbers in their own validation, so the command line is covered too.
This module is pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from batpass.core.errors import InvalidInput

__all__ = [
    "MAX_ITEMS",
    "MAX_JWS",
    "MAX_MASS_KG",
    "MAX_TEXT",
    "UNIT_RANGES",
    "check_number",
]

#: characters in a text field, unless the field says otherwise (4 KiB)
MAX_TEXT = 4096
#: items in a list
MAX_ITEMS = 10_000
#: characters in a signed token (a JWS, a JWT or SD-JWT credential, a presentation): 1 MiB
MAX_JWS = 1024 * 1024
#: the largest mass any input may name: a billion tonnes, more than a year of any mine's output
MAX_MASS_KG = 1e12

#: the physical range of a quantity by its unit, ``(lowest, highest)`` inclusive
UNIT_RANGES: Mapping[str, tuple[float, float]] = {
    "kg": (0.0, 1e7),  # a battery: up to 10,000 t (grid storage)
    "Ah": (0.0, 1e8),
    "kWh": (0.0, 1e12),  # lifetime energy throughput of the largest installations
    "%": (0.0, 100.0),
    "V": (0.0, 1e6),
    "W": (0.0, 1e10),
    "cycles": (0.0, 1e9),
    "year": (0.0, 1000.0),
    "Cel": (-273.15, 1e4),
    "Ohm": (0.0, 1e9),
}


def check_number(
    value: Any,
    *,
    field: str,
    rule: str,
    low: float,
    high: float,
    positive: bool = False,
) -> float:
    """``value`` as a float if it is a finite number (not a boolean) in ``[low, high]`` — above
    zero when ``positive`` — else :class:`InvalidInput` naming ``field`` and ``rule``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field}: {value!r} is not a number", field=field, rule=rule, value=value)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{field}: {value!r} is not a finite number", field=field, rule=f"finite numbers; {rule}")
    if positive and number <= 0:
        raise InvalidInput(f"{field}: {value!r} must be above zero", field=field, rule=f"> 0; {rule}", value=value)
    if not low <= number <= high:
        raise InvalidInput(
            f"{field}: {value!r} is outside {low:g} to {high:g}", field=field, rule=f"{low:g} to {high:g}; {rule}"
        )
    return number
