"""The ``cfp`` data target of ``/api/v1/datatransport`` and the CFP's PACT v3 export (extension):
a part's carbon footprint as its owner writes it, and as each operator may see it.

Rules (published ``CfpModel``; docs/rules.md "Ouranos CFP"): a write carries exactly the four
types ``preProduction``, ``mainProduction``, ``preComponent``, ``mainComponent`` (same traceId,
unit and cfpId), values keep at most 5 decimals, rounded up at the 6th (:func:`batpass.footprint.ouranos_round`),
and a bad write stores nothing; parent totals are own values + the part's own declared
component values + Σ(child as seen × amountRequired), ratings emission-weighted
(:func:`batpass.footprint.ouranos_parent_cfp`); a buyer sees one tier up, the supplier's stage
totals only if released (``cfpAcl`` ``TOTALCFP``) and their ratings only with ``TOTALDQR``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.footprint import OuranosCfp, OuranosDqr, ouranos_parent_cfp, ouranos_round
from batpass.ouranos._context import MAX_DEPTH, HubComponent, Principal, new_id, operator_or_404
from batpass.ouranos._notifications import notify
from batpass.ouranos._pact_export import CfpExport, pact_v3_of_cfp
from batpass.ouranos._sql import OuranosStore, trades
from batpass.ouranos.errors import AccessDenied, NotYourData
from batpass.ouranos.model import (
    ACTIVE_STATES,
    WRITABLE_CFP_TYPES,
    AclItemGroup,
    CfpEntry,
    CfpRecord,
    CfpResponseStatus,
    CfpType,
    Dqr,
    DqrType,
    NotificationType,
    Part,
    TradeRole,
    transition,
)
from batpass.store import UnitOfWork


class Cfps(HubComponent):
    """Operators' CFPs: written per part, read as released, exported as PACT v3."""

    def put_cfp(self, who: Principal, entries: Sequence[CfpEntry]) -> list[CfpEntry]:
        """``PUT cfp``: the four own/parts values of one part, together, rounded up at the 6th decimal."""
        me = who.operator_id
        rule4 = "Ouranos PUT cfp: preProduction, mainProduction, preComponent and mainComponent together"
        by_type: dict[CfpType, CfpEntry] = {}
        for i, e in enumerate(entries):
            if e.cfp_type not in WRITABLE_CFP_TYPES:
                raise InvalidInput(f"cfpType {e.cfp_type} cannot be written", field=f"[{i}].cfpType", rule=rule4)
            if e.cfp_type in by_type:
                raise InvalidInput(f"cfpType {e.cfp_type} is sent twice", field=f"[{i}].cfpType", rule=rule4)
            want = (
                DqrType.PRE_PROCESSING
                if e.cfp_type in (CfpType.PRE_PRODUCTION, CfpType.PRE_COMPONENT)
                else DqrType.MAIN_PROCESSING
            )
            if e.dqr_type != want:
                raise InvalidInput(
                    f"cfpType {e.cfp_type} takes dqrType {want}", field=f"[{i}].dqrType", rule="dqrType per stage"
                )
            if e.ghg_emission is None:
                raise InvalidInput(
                    f"ghgEmission of {e.cfp_type} is required (use 0 for none)", field=f"[{i}].ghgEmission", rule=rule4
                )
            by_type[e.cfp_type] = e
        missing = [str(t) for t in WRITABLE_CFP_TYPES if t not in by_type]
        if missing:
            raise InvalidInput(
                f"cfpType {', '.join(missing)} missing: a CFP write carries all four", field="cfpType", rule=rule4
            )
        first = entries[0]
        for i, e in enumerate(entries):
            if (e.trace_id, e.ghg_declared_unit, e.cfp_id) != (first.trace_id, first.ghg_declared_unit, first.cfp_id):
                raise InvalidInput(
                    "all four entries carry the same traceId, ghgDeclaredUnit and cfpId",
                    field=f"[{i}]",
                    rule=rule4,
                )
        pre, main = by_type[CfpType.PRE_PRODUCTION], by_type[CfpType.MAIN_PRODUCTION]
        rec_values = {
            t: ouranos_round(by_type[t].ghg_emission or 0, field=f"{t}.ghgEmission") for t in WRITABLE_CFP_TYPES
        }
        dqr_pre, dqr_main = _round_dqr(pre.dqr, "preProcessing"), _round_dqr(main.dqr, "mainProcessing")
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(me, first.trace_id) is None:
                raise NotYourData(
                    f"traceId {first.trace_id} is not one of your parts", rule="a CFP is written for your own part"
                )
            current = store.cfp(me, first.trace_id)
            if first.cfp_id is not None and (current is None or current.cfp_id != first.cfp_id):
                raise NotYourData(
                    f"cfpId {first.cfp_id} is not this part's CFP", rule="cfpId null creates, else the part's cfpId"
                )
            rec = CfpRecord(
                cfp_id=current.cfp_id if current else new_id(),
                trace_id=first.trace_id,
                operator_id=me,
                unit=first.ghg_declared_unit,
                pre_production=rec_values[CfpType.PRE_PRODUCTION],
                main_production=rec_values[CfpType.MAIN_PRODUCTION],
                pre_component=rec_values[CfpType.PRE_COMPONENT],
                main_component=rec_values[CfpType.MAIN_COMPONENT],
                dqr_pre=dqr_pre,
                dqr_main=dqr_main,
                updated_at=self.now(),
            )
            store.save_cfp(rec)
            for t in store.trades_where(
                trades.c.upstream_operator_id == me,
                trades.c.upstream_trace_id == first.trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            ):
                was = t.status
                t2 = replace(
                    t, status=transition(TradeRole.UPSTREAM, was, CfpResponseStatus.COMPLETED), updated_at=self.now()
                )
                store.update_trade(t2)
                kind = (
                    NotificationType.CFP_RESPONSED
                    if was == CfpResponseStatus.NOT_COMPLETED
                    else NotificationType.CFP_UPDATED
                )
                notify(store, t2.downstream_operator_id, kind, t2, self.now())
            uow.commit()
        return _own_entries(rec)

    def get_cfp(self, who: Principal, trace_ids: Sequence[str]) -> list[CfpEntry]:
        """``GET cfp``: own values, ``*Total`` for parent parts, ``*Response`` as released — with
        ``ghgEmission`` null while an answering supplier withholds its values."""
        me = who.operator_id
        out: list[CfpEntry] = []
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            for tid in dict.fromkeys(trace_ids):
                part = store.part(me, tid)
                if part is None:
                    continue
                rec = store.cfp(me, tid)
                cfp_id = rec.cfp_id if rec else None
                if rec is not None:
                    out.extend(_own_entries(rec))
                    if part.parent_flag:
                        total = _total(store, me, part, frozenset())
                        if total is not None:
                            out.extend(_stage_entries(cfp_id, tid, total, "Total"))
                if not part.parent_flag:
                    resp = _response(store, me, part, frozenset())
                    if resp is not None:
                        r = resp[0]
                        out.extend(
                            _response_entries(
                                tid, (r.pre_production, r.main_production), r.unit, (r.dqr_pre, r.dqr_main)
                            )
                        )
                    elif (withheld := _withheld(store, me, part)) is not None:
                        unit, dqr_pre, dqr_main = withheld
                        out.extend(_response_entries(tid, (None, None), unit, (dqr_pre, dqr_main)))
        return out

    def export_pact(
        self,
        operator_id: str,
        trace_id: str,
        *,
        caller: Principal | None,
        period_start: dt.datetime | None = None,
        period_end: dt.datetime | None = None,
        primary_data_share: Decimal | None = None,
        bridge_partner: str | None = None,
    ) -> dict[str, Any]:
        """A part's CFP as a PACT v3 ProductFootprint (``_pact_export``), for a Catena-X partner.

        ``caller`` is the operator's own account, or ``None`` for the hub administrator. Only a
        CFP whose owner released TOTALCFP (to any recipient) is exported; ratings only when
        TOTALDQR is released too. The values are the part's stage totals as its owner sees them
        (own + parts, as ``GET cfp`` answers ``*Total``). For the bridge (``bridge_partner``: the
        Catena-X partner's BPNL) the operator's bridge release of ``cfp`` to that partner is the
        consent instead, and it covers the ratings.
        """
        if caller is not None and caller.operator_id != operator_id:
            raise AccessDenied(
                f"operator {caller.operator_id} cannot export operator {operator_id}'s CFP",
                rule="an operator exports only its own CFPs",
            )
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            op = operator_or_404(store, operator_id)
            part = store.part(operator_id, trace_id)
            rec = store.cfp(operator_id, trace_id) if part is not None else None
            if part is None or rec is None:
                raise NotYourData(
                    f"operator {operator_id} has no CFP for traceId {trace_id}",
                    rule="a CFP is exported for the operator's own part",
                )
            recipients = store.cfp_release_recipients(operator_id, trace_id)
            groups = [store.cfp_release(operator_id, trace_id, to) for to in recipients]
            if bridge_partner is not None:
                if not store.bridge_released(operator_id, bridge_partner, "cfp"):
                    raise AccessDenied(
                        f"operator {operator_id} has not released its CFP to {bridge_partner}",
                        rule="Japan → Europe: only what the hub operator released crosses the bridge",
                    )
                groups = [{AclItemGroup.TOTALCFP: True, AclItemGroup.TOTALDQR: True}]
            if not any(g[AclItemGroup.TOTALCFP] for g in groups):
                raise NotYourData(
                    f"the CFP of traceId {trace_id} is not released",
                    rule="only a CFP its owner released (cfpAcl TOTALCFP) is exported",
                )
            total = _total(store, operator_id, part, frozenset()) if part.parent_flag else _own_cfp(rec)
            if total is None:
                raise InvalidInput(
                    f"the CFP total of traceId {trace_id} is beyond the API's range",
                    field="traceId",
                    rule="Ouranos CFP values 0-99999.99999",
                )
            item = CfpExport(
                trace_id=trace_id,
                cfp_id=rec.cfp_id,
                written_at=rec.updated_at,
                part_name=part.parts_name,
                operator_id=operator_id,
                open_operator_id=op.open_operator_id,
                operator_name=op.operator_name,
                cfp=total,
                dqr_released=any(g[AclItemGroup.TOTALDQR] for g in groups),
            )
        return pact_v3_of_cfp(
            item,
            period_start=period_start,
            period_end=period_end,
            primary_data_share=primary_data_share,
            dqr_mapping=self.context.pact_dqr_mapping,
        )


# ------------------------------------------------------------------ the CFP as an operator sees it


def _own_cfp(rec: CfpRecord) -> OuranosCfp:
    return OuranosCfp(
        pre_production=rec.pre_production,
        main_production=rec.main_production,
        pre_component=rec.pre_component,
        main_component=rec.main_component,
        unit=rec.unit,
        dqr_pre=_odqr(rec.dqr_pre),
        dqr_main=_odqr(rec.dqr_main),
    )


def _total(store: OuranosStore, owner: str, part: Part, seen: frozenset[str]) -> OuranosCfp | None:
    """The part's totals as its owner sees them: own + own-declared parts + Σ(child seen × amount)."""
    rec = store.cfp(owner, part.trace_id)
    if rec is None:
        return None
    own = _own_cfp(rec)
    if not part.parent_flag or part.trace_id in seen or len(seen) > MAX_DEPTH:
        return own
    children: list[tuple[OuranosCfp, Decimal]] = []
    if own.pre_component or own.main_component:
        children.append(
            (
                OuranosCfp(
                    Decimal(0),
                    Decimal(0),
                    own.pre_component,
                    own.main_component,
                    own.unit,
                    own.dqr_pre,
                    own.dqr_main,
                ),
                Decimal(1),
            )
        )
    for child, amount in store.children(owner, part.trace_id):
        if amount is None:
            continue
        seen_child = _child_view(store, owner, child, seen | {part.trace_id})
        if seen_child is not None:
            children.append((seen_child[0], amount))
    try:
        return ouranos_parent_cfp(
            pre_own=own.pre_production,
            main_own=own.main_production,
            children=children,
            dqr_pre_own=own.dqr_pre,
            dqr_main_own=own.dqr_main,
            unit=own.unit,
        )
    except InvalidInput:
        return None  # a total beyond the API's range is not shown rather than clipped


def _response(store: OuranosStore, reader: str, child: Part, seen: frozenset[str]) -> tuple[OuranosCfp, str] | None:
    """What the supplier of ``child`` released to ``reader``: stage totals (and ratings)."""
    live = store.trades_where(
        trades.c.downstream_operator_id == reader,
        trades.c.downstream_trace_id == child.trace_id,
        trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
    )
    t = next((x for x in live if x.accepted), None)
    if t is None or t.upstream_trace_id is None:
        return None
    release = store.cfp_release(t.upstream_operator_id, t.upstream_trace_id, reader)
    if not release[AclItemGroup.TOTALCFP]:
        return None
    up = store.part(t.upstream_operator_id, t.upstream_trace_id)
    if up is None:
        return None
    total = _total(store, t.upstream_operator_id, up, seen)
    if total is None:
        return None
    dqr_ok = release[AclItemGroup.TOTALDQR]
    try:
        return (
            OuranosCfp(
                total.pre_total,
                total.main_total,
                Decimal(0),
                Decimal(0),
                total.unit,
                total.dqr_pre if dqr_ok else None,
                total.dqr_main if dqr_ok else None,
            ),
            t.upstream_operator_id,
        )
    except InvalidInput:
        return None


def _withheld(store: OuranosStore, reader: str, child: Part) -> tuple[str, OuranosDqr | None, OuranosDqr | None] | None:
    """The supplier answered but withholds its values (no TOTALCFP release): the published example
    ``requestCfpNull`` still answers both ``*Response`` entries, ``ghgEmission`` null, in the
    supplier's unit, with the ratings if TOTALDQR is released (else null). ``None`` before the
    supplier accepted and answered (the published ``zero`` example: nothing to show)."""
    live = store.trades_where(
        trades.c.downstream_operator_id == reader,
        trades.c.downstream_trace_id == child.trace_id,
        trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
    )
    t = next((x for x in live if x.accepted), None)
    if t is None or t.upstream_trace_id is None:
        return None
    up = store.part(t.upstream_operator_id, t.upstream_trace_id)
    total = None if up is None else _total(store, t.upstream_operator_id, up, frozenset())
    if total is None:
        return None
    dqr_ok = store.cfp_release(t.upstream_operator_id, t.upstream_trace_id, reader)[AclItemGroup.TOTALDQR]
    return total.unit, total.dqr_pre if dqr_ok else None, total.dqr_main if dqr_ok else None


def _response_entries(
    trace_id: str,
    values: tuple[Decimal | None, Decimal | None],
    unit: str,
    dqr: tuple[OuranosDqr | None, OuranosDqr | None],
) -> list[CfpEntry]:
    """The two ``*Response`` entries: the supplier's answer, no CFP record of the reader's, so
    ``cfpId`` is null (the published ``request``, ``requestCfpNull`` and ``requestDqrNull``)."""
    return [
        CfpEntry(
            None,
            trace_id,
            values[0],
            unit,
            CfpType.PRE_PRODUCTION_RESPONSE,
            DqrType.PRE_PROCESSING_RESPONSE,
            _dqr(dqr[0]),
        ),
        CfpEntry(
            None,
            trace_id,
            values[1],
            unit,
            CfpType.MAIN_PRODUCTION_RESPONSE,
            DqrType.MAIN_PROCESSING_RESPONSE,
            _dqr(dqr[1]),
        ),
    ]


def _child_view(store: OuranosStore, owner: str, child: Part, seen: frozenset[str]) -> tuple[OuranosCfp, str] | None:
    resp = _response(store, owner, child, seen)
    if resp is not None:
        return resp
    rec = store.cfp(owner, child.trace_id)
    return None if rec is None else (_own_cfp(rec), owner)


def _own_entries(rec: CfpRecord) -> list[CfpEntry]:
    return [
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.pre_production,
            rec.unit,
            CfpType.PRE_PRODUCTION,
            DqrType.PRE_PROCESSING,
            rec.dqr_pre,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.main_production,
            rec.unit,
            CfpType.MAIN_PRODUCTION,
            DqrType.MAIN_PROCESSING,
            rec.dqr_main,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.pre_component,
            rec.unit,
            CfpType.PRE_COMPONENT,
            DqrType.PRE_PROCESSING,
            rec.dqr_pre,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.main_component,
            rec.unit,
            CfpType.MAIN_COMPONENT,
            DqrType.MAIN_PROCESSING,
            rec.dqr_main,
        ),
    ]


def _stage_entries(cfp_id: str | None, trace_id: str, c: OuranosCfp, suffix: str) -> list[CfpEntry]:
    pre_d, main_d = DqrType(f"preProcessing{suffix}"), DqrType(f"mainProcessing{suffix}")
    return [
        CfpEntry(cfp_id, trace_id, c.pre_production, c.unit, CfpType(f"preProduction{suffix}"), pre_d, _dqr(c.dqr_pre)),
        CfpEntry(
            cfp_id, trace_id, c.main_production, c.unit, CfpType(f"mainProduction{suffix}"), main_d, _dqr(c.dqr_main)
        ),
        CfpEntry(cfp_id, trace_id, c.pre_component, c.unit, CfpType(f"preComponent{suffix}"), pre_d, _dqr(c.dqr_pre)),
        CfpEntry(
            cfp_id, trace_id, c.main_component, c.unit, CfpType(f"mainComponent{suffix}"), main_d, _dqr(c.dqr_main)
        ),
    ]


def _round_dqr(d: Dqr, stage: str) -> Dqr:
    def r(v: Decimal | None, name: str) -> Decimal | None:
        return None if v is None else ouranos_round(v, field=f"{stage}.dqrValue.{name}")

    return Dqr(r(d.ter, "TeR"), r(d.ger, "GeR"), r(d.tir, "TiR"))


def _odqr(d: Dqr) -> OuranosDqr | None:
    if d.ter is None or d.ger is None or d.tir is None:
        return None
    return OuranosDqr(d.ter, d.ger, d.tir)


def _dqr(d: OuranosDqr | None) -> Dqr:
    return Dqr(None, None, None) if d is None else Dqr(d.ter, d.ger, d.tir)
