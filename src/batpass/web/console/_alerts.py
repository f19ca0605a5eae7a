"""The alerts the node already records, gathered for the console: outflows of strategic materials
(``LedgerService.outflows``), double claims of recycled content (``LedgerService.double_claims``)
and shipments not acknowledged by their receivers (``Reconciliation.alerts``, in the same shape
as the outflows), each with its evidence and where it stands (``AccountService.alert_states``: open, acknowledged,
resolved, with the note and who set it).

An alert's key names its kind and its record: ``outflow:<owner>:<id>``,
``double-claim:<owner>|<lot>|<element>``, ``reconciliation:<owner>:<id>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from batpass.accounts import AccountService, AlertState
from batpass.http import NodeContext
from batpass.ledger import LedgerService, Reconciliation
from batpass.web._i18n import N_

__all__ = ["KINDS", "RULE_NAMES", "STATE_NAMES", "Alert", "alerts_for"]

KINDS = {
    "outflow": N_("Outflow of a strategic material"),
    "double-claim": N_("Double claim of recycled content"),
    "reconciliation": N_("Shipment not acknowledged by its receiver"),
}
RULE_NAMES = {
    "outflow.no-authorisation": N_("shipped abroad without an export authorisation"),
    "outflow.destination": N_("shipped to a country no authorisation names"),
    "outflow.cap": N_("beyond the quantity the authorisation allows"),
    "outflow.authorisation-withdrawn": N_("under an authorisation revoked, expired or no longer from an authority"),
    "ledger.credit.double-claim": N_("recycled mass claimed more than once"),
    "reconciliation.missing": N_("no receipt within the window"),
    "reconciliation.short": N_("received less than shipped, beyond the tolerance of the mass"),
    "reconciliation.diverted": N_("received by another owner or at another site"),
}
STATE_NAMES = {
    AlertState.OPEN: N_("open"),
    AlertState.ACKNOWLEDGED: N_("acknowledged"),
    AlertState.RESOLVED: N_("resolved"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    kind: str
    rule: str
    owner: str
    evidence: tuple[tuple[str, str], ...]
    #: one line telling this alert from the others (material, quantity, route; or the lot)
    summary: str = ""
    state: AlertState = AlertState.OPEN
    note: str = ""
    by: str = ""
    at: dt.datetime | None = None


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".").replace(",", " ")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _outflow_line(ev: dict[str, Any]) -> str:
    """``black_mass, 1 200 kg, NL → KR, 2026-01-05``: what was shipped, where, when."""
    qty = ev.get("quantity_kg")
    amount = f", {_text(float(qty))} kg" if isinstance(qty, int | float) else ""
    route = f", {ev.get('from_country', '?')} → {ev.get('destination_country', '?')}"
    return f"{ev.get('material', '?')}{amount}{route}, {str(ev.get('at', ''))[:10]}"


def alerts_for(ctx: NodeContext, operator: str | None) -> list[Alert]:
    """Every alert of the ledger ``operator`` keeps (a hub user's scope), or of every ledger on
    this node when ``operator`` is ``None``; open ones first."""
    ledger = ctx.services.get(LedgerService)
    if ledger is None:
        return []
    found: list[Alert] = []
    for o in ledger.outflows(operator):
        found.append(
            Alert(
                key=f"outflow:{o['owner']}:{o['id']}",
                kind="outflow",
                rule=str(o["rule"]),
                owner=str(o["owner"]),
                evidence=tuple((str(k), _text(v)) for k, v in o["evidence"].items()),
                summary=_outflow_line(o["evidence"]),
            )
        )
    recon = ctx.services.get(Reconciliation)
    for o in recon.alerts(operator) if recon is not None else []:
        ev = o["evidence"]
        found.append(
            Alert(
                key=f"reconciliation:{o['owner']}:{o['id']}",
                kind="reconciliation",
                rule=str(o["rule"]),
                owner=str(o["owner"]),
                evidence=tuple((str(k), _text(v)) for k, v in ev.items()),
                summary=f"{ev.get('document', '?')}, {ev.get('role', '?')}, {str(ev.get('shipped_at', ''))[:10]}",
            )
        )
    owners = [operator] if operator else ledger.owners() or [ledger.identity.did]
    for owner in owners:
        for d in ledger.double_claims(owner):
            claims = "; ".join(
                f"{c['claimant']} {_text(c['kg'])} kg {c['element']} ({c['status']})" for c in d["claims"]
            )
            found.append(
                Alert(
                    key=f"double-claim:{d['account']}",
                    kind="double-claim",
                    rule="ledger.credit.double-claim",
                    owner=owner,
                    evidence=(("account", str(d["account"])), ("lot", str(d["lot"])), ("claims", claims)),
                    summary=f"{d['lot']} ({len(d['claims'])})",
                )
            )
    states = ctx.service(AccountService).alert_states([a.key for a in found])
    out = []
    for a in found:
        if a.key in states:
            state, note, by, at = states[a.key]
            a = Alert(a.key, a.kind, a.rule, a.owner, a.evidence, a.summary, state, note, by, at)
        out.append(a)
    order = {AlertState.OPEN: 0, AlertState.ACKNOWLEDGED: 1, AlertState.RESOLVED: 2}
    return sorted(out, key=lambda a: order[a.state])
