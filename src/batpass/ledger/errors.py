"""Errors of the material ledger: subclasses of the one error tree (batpass.core.errors), each
carrying the rule id it enforces (see batpass.ledger.model)."""

from __future__ import annotations

from batpass.core.errors import Conflict, InvalidInput, InvariantViolation

__all__ = ["DoubleClaim", "LotOverdrawn", "MassBalanceViolation", "ShipmentBlocked", "UnitMismatch"]


class LotOverdrawn(InvariantViolation):
    """``ledger.lot.balance``: an event takes more from a lot than it holds."""

    kind = "lot-overdrawn"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **details: object) -> None:
        super().__init__(message, rule=rule, **details)
        self.field = field


class MassBalanceViolation(InvariantViolation):
    """``ledger.mass.element``: outputs hold more of an element than inputs × yield give."""

    kind = "mass-balance"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **details: object) -> None:
        super().__init__(message, rule=rule, **details)
        self.field = field


class UnitMismatch(InvalidInput):
    """``ledger.unit.declared-mass``: a unit that converts only through a mass nobody declared."""

    kind = "unit-mismatch"


class DoubleClaim(Conflict):
    """A recycled-content claim debits more than a credit account holds (Art. 8; the account is
    kept by the recycler that produced the material). ``claims`` lists the claims involved."""

    kind = "double-claim"
    status = 409


class ShipmentBlocked(InvariantViolation):
    """``outflow.*``: a node in ``block`` mode refuses a shipment outside every valid
    authorisation, or one no authorisation can cover (docs/outflows.md); nothing is written."""

    kind = "shipment-blocked"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **details: object) -> None:
        super().__init__(message, rule=rule, field=field, **details)
        self.field = field
