"""Errors of the passport capability: subclasses of the one error tree (``batpass.core.errors``).

Every message names the field and the rule broken (a ruleset rule id, with the article of
Regulation (EU) 2023/1542 it encodes), so a reader can look it up. A message never carries the
value of a field outside the tiers the caller may read: values are shown only for public fields.
"""

from __future__ import annotations

from batpass.core.errors import Forbidden, InvalidInput, InvariantViolation, NotFound

__all__ = [
    "LifecycleViolation",
    "MissingMandatoryField",
    "NotResponsible",
    "PassportNotFound",
    "UnitMismatch",
    "WrongCategory",
]


class WrongCategory(InvalidInput):
    """The battery's category does not take a passport (Art. 77(1)) or is unknown."""

    kind = "wrong-category"
    title = "Wrong battery category"


class UnitMismatch(InvalidInput):
    """A quantity was given in a unit other than the one its data point is declared in."""

    kind = "unit-mismatch"
    title = "Unit mismatch"


class MissingMandatoryField(InvalidInput):
    """A data point required on the publishing date is absent."""

    kind = "missing-mandatory-field"
    title = "Mandatory data point missing"


class LifecycleViolation(InvariantViolation):
    """A status change the regulation does not allow (Art. 77(6), Art. 3(1)(32))."""

    kind = "lifecycle-violation"
    title = "Status change not allowed"


class NotResponsible(Forbidden):
    """A write by a party that is neither the responsible operator nor mandated by it (Art. 77(4))."""

    kind = "not-responsible"
    title = "Not responsible for this passport"


class PassportNotFound(NotFound):
    kind = "passport-not-found"
    title = "Passport not found"
