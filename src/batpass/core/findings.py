"""Findings of a self-audit: a stored row that breaks an integrity rule (a signed record that
no longer verifies, a cached copy that differs from its signed form).

A finding is reported, never raised: the row it names is left out of what the node relies on,
and the node keeps serving what still verifies. Capabilities produce findings (for example
``batpass.trust.TrustService.audit``); the node gathers them. Pure value, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """``table`` and ``key`` name the stored row, ``rule`` the integrity rule it breaks (a short
    id such as ``trust-list-signed``), ``detail`` what was seen."""

    table: str
    key: str
    rule: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"table": self.table, "key": self.key, "rule": self.rule, "detail": self.detail}
