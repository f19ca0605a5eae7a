"""A finding of a node's self-audit: what does not hold, and where.

Each capability audits its own tables (``audit() -> list[Finding]``); the node gathers them for
``batpass verify`` and ``GET /v1/admin/verify``. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """``table`` and ``key`` say where (``ledger_lots``, ``did:web:…/LOT-7``), ``rule`` the check
    that failed (``ledger.derived.lots``), ``detail`` what was found, in words."""

    table: str
    key: str
    rule: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
