"""The record path's pure parts as they were before the bulk-ingest work (issue #3), kept
verbatim as the reference the faster code must agree with: ``reference_apply_event`` (the
invariants) and ``reference_mix_profile`` (origin profiles). Only tests import this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.ledger._materials import ELEMENTS, MATERIALS, Element
from batpass.ledger.errors import LotOverdrawn, MassBalanceViolation
from batpass.ledger.model import (
    _BALANCE_EPS,
    MASS_TOLERANCE_ABS_KG,
    MASS_TOLERANCE_REL,
    CustodyModel,
    Edge,
    Effect,
    Event,
    EventKind,
    LedgerView,
    Lot,
    LotId,
    OutputSpec,
    Unit,
    _apply_correction,
    _fmt,
    _held_lot,
    _input_kg,
    _output_kg,
)

Profile = dict[str, Any]
_ORDER = {m.value: m.strength for m in CustodyModel}
_ZERO = {
    "c": {},
    "r": {},
    "s": {},
    "hx": 0.0,
    "cx": 0.0,
    "ox": 0.0,
    "fd": {},
    "pre": 0.0,
    "post": 0.0,
    "cm": {},
    "u": 1.0,
    "a": 0.0,
    "apre": 0.0,
    "apost": 0.0,
}


def reference_apply_event(ev: Event, view: LedgerView) -> Effect:
    """Check ``ev`` against the ledger as ``view`` shows it and return what it changes.

    Raises (nothing is changed): :class:`NotFound` for unknown lots or events,
    :class:`UnitMismatch`, :class:`LotOverdrawn`, :class:`MassBalanceViolation`,
    :class:`Conflict` for reused lot ids and lots no longer held.
    """
    eff = Effect()
    owner = ev.owner
    if ev.kind is EventKind.CORRECTION:
        return _apply_correction(ev, view, eff)
    if ev.kind is EventKind.STATUS_CHANGE:
        assert ev.status_lot is not None and ev.status is not None
        lot = _held_lot(view, owner, ev.status_lot, "event.status.lot")
        if lot.unit is not Unit.PIECE:
            raise InvalidInput(
                f"lot {lot.id} is {lot.material}; a status applies to batteries (pieces)",
                field="event.status.lot",
                rule="Annex XIII battery status",
            )
        eff.status[lot.id] = ev.status
        return eff

    # inputs: resolve, convert, check balances (a lot listed twice is summed)
    taken: dict[LotId, float] = {}
    parents: list[tuple[Lot, float]] = []
    for i, inp in enumerate(ev.inputs):
        lot = _held_lot(view, owner, inp.lot, f"event.inputs[{i}].lot")
        kg = _input_kg(lot, inp.quantity, f"event.inputs[{i}].quantity")
        taken[lot.id] = taken.get(lot.id, 0.0) + kg
        parents.append((lot, kg))
    for lot_id, kg in taken.items():
        held = view.lot(owner, lot_id)
        assert held is not None
        lot = held
        if kg > lot.remaining_kg * (1 + _BALANCE_EPS) + _BALANCE_EPS:
            raise LotOverdrawn(
                f"lot {lot_id} holds {_fmt(lot.remaining_kg)}, event {ev.id} takes {_fmt(kg)}",
                field="event.inputs",
                rule="ledger.lot.balance",
                lot=str(lot_id),
                holds_kg=lot.remaining_kg,
                takes_kg=kg,
            )
    # a receipt from the owner's own dispatched lot is an input like any other
    cross_receipt = False
    if ev.receipt is not None:
        if ev.receipt.from_owner == owner:
            src = view.lot(owner, ev.receipt.from_lot)
            if src is None:
                raise NotFound(
                    f"lot {ev.receipt.from_lot} of owner {owner} is not in the ledger",
                    rule="ledger.lot.known",
                    field="event.receipt.from_lot",
                )
            kg = _output_kg(ev.outputs[0])
            if src.remaining_kg + _BALANCE_EPS < kg * (1 - _BALANCE_EPS):
                raise LotOverdrawn(
                    f"lot {src.id} holds {_fmt(src.remaining_kg)}, event {ev.id} takes {_fmt(kg)}",
                    field="event.receipt.from_lot",
                    rule="ledger.lot.balance",
                )
            taken[src.id] = kg
            parents.append((src, kg))
        else:
            cross_receipt = True

    # input element masses
    in_el = dict.fromkeys(ELEMENTS, 0.0)
    for lot, kg in parents:
        for el, f in lot.composition.items():
            in_el[el] += kg * f
    weakest_in: CustodyModel | None = None
    for lot, _ in parents:
        if weakest_in is None or lot.custody.strength > weakest_in.strength:
            weakest_in = lot.custody

    # outputs: fixed, assayed, or derived from the inputs (a move keeps the input's composition)
    inherits = ev.kind is EventKind.SHIPMENT or (ev.receipt is not None and not cross_receipt)
    outs: list[tuple[OutputSpec, float]] = []
    fixed_el = dict.fromkeys(ELEMENTS, 0.0)
    derived_mass = 0.0
    for i, o in enumerate(ev.outputs):
        if view.lot(owner, o.lot) is not None:
            raise Conflict(
                f"lot {o.lot} already exists in the ledger of {owner}",
                rule="ledger.lot.unique",
                field=f"event.outputs[{i}].lot",
            )
        mass = _output_kg(o)
        outs.append((o, mass))
        comp = o.assay if o.assay is not None else (None if inherits else MATERIALS[o.material].fractions)
        if comp is None:
            derived_mass += mass
        else:
            for el, f in comp.items():
                fixed_el[el] += mass * f
    is_source = ev.kind is EventKind.EXTRACTION or cross_receipt
    available = {el: in_el[el] * ev.yield_for(el) for el in ELEMENTS}
    if ev.kind is EventKind.SHIPMENT:
        src_mat = {lot.material for lot, _ in parents}
        if len(src_mat) != 1 or ev.outputs[0].material not in src_mat:
            raise InvalidInput(
                f"a shipment moves one material unchanged: inputs are {sorted(src_mat)}, output is "
                f"{ev.outputs[0].material}",
                field="event.outputs[0].material",
                rule="ledger.shipment.outputs",
            )
    derived_comp: dict[Element, float] = {}
    if derived_mass > 0:
        if is_source:
            raise InvalidInput(
                "a lot of variable composition needs an assay when nothing went into it",
                field="event.outputs",
                rule="ledger.assay.required",
            )
        p0 = parents[0] if len(parents) == 1 else None
        if (
            inherits
            and p0 is not None
            and p0[1] == derived_mass
            and not any(fixed_el.values())
            and all(ev.yield_for(el) == 1.0 for el in p0[0].composition)
        ):
            # a whole-quantity move of one lot: the composition is the lot's own, exactly (the
            # division below would agree only to rounding, and the profile could not be shared)
            derived_comp = {el: min(1.0, f) for el, f in p0[0].composition.items() if f > 0}
        else:
            for el in ELEMENTS:
                rest = max(0.0, available[el] - fixed_el[el])
                if rest > 0:
                    derived_comp[el] = min(1.0, rest / derived_mass)
        if sum(derived_comp.values()) > 1.0 + MASS_TOLERANCE_REL:
            raise MassBalanceViolation(
                f"event {ev.id}: the tracked elements the inputs give "
                f"({_fmt(sum(derived_comp.values()) * derived_mass)}) exceed the {_fmt(derived_mass)} declared "
                "for the outputs: declare the output mass, an assay or yields",
                field="event.outputs",
                rule="ledger.mass.element",
            )
    if not is_source:
        out_el = dict(fixed_el)
        for el, f in derived_comp.items():
            out_el[el] += f * derived_mass
        for el in ELEMENTS:
            allowed = available[el]
            if out_el[el] > allowed * (1 + MASS_TOLERANCE_REL) + MASS_TOLERANCE_ABS_KG:
                raise MassBalanceViolation(
                    f"event {ev.id}: outputs hold {_fmt(out_el[el])} of {el.value}, inputs give "
                    f"{_fmt(in_el[el])} × yield {ev.yield_for(el):g} = {_fmt(allowed)} "
                    f"(tolerance {MASS_TOLERANCE_REL:g} relative)",
                    field="event.outputs",
                    rule="ledger.mass.element",
                    element=el.value,
                    outputs_kg=out_el[el],
                    allowed_kg=allowed,
                )

    site = ev.shipment.to_site if ev.shipment is not None else ev.site
    for o, mass in outs:
        comp_map = o.assay if o.assay is not None else (None if inherits else MATERIALS[o.material].fractions)
        comp = dict(comp_map) if comp_map is not None else derived_comp
        custody = o.custody or (weakest_in if weakest_in is not None else CustodyModel.IDENTITY_PRESERVED)
        recycled = o.recycled
        if recycled is None and ev.kind is EventKind.SHIPMENT:
            recycled = parents[0][0].recycled if len({p.recycled for p, _ in parents}) == 1 else None
        lot = Lot(
            owner=owner,
            id=o.lot,
            material=o.material,
            unit=o.quantity.unit,
            quantity=o.quantity.value,
            mass_kg=mass,
            remaining_kg=mass,
            mass_per_piece_kg=o.mass_per_piece_kg,
            site=site.id,
            country=site.country,
            custody=custody,
            recycled=recycled,
            composition=comp,
            produced_at=ev.at,
            event_id=ev.id,
            kind=ev.kind,
            status="original" if o.battery is not None else None,
            battery=o.battery,
        )
        if ev.shipment is not None and ev.shipment.to_owner not in (None, owner):
            lot.held = False
            lot.remaining_kg = 0.0
            eff.released.append(lot.id)
        eff.new_lots.append(lot)
        eff.parents[lot.id] = parents
        for p, kg in parents:
            eff.edges.append(Edge(lot.id, owner, p.id, ev.id, kg))
        if cross_receipt and ev.receipt is not None:
            eff.edges.append(Edge(lot.id, ev.receipt.from_owner, ev.receipt.from_lot, ev.id, mass))
    eff.debits = taken
    return eff


def _ref_downgrade(cm: dict[str, float], model: CustodyModel) -> dict[str, float]:
    limit = model.strength
    out: dict[str, float] = {}
    for k, v in cm.items():
        kk = k if _ORDER[k] >= limit else model.value
        out[kk] = out.get(kk, 0.0) + v
    return out


def _ref_acc(target: dict[str, float], src: Mapping[str, float], w: float) -> None:
    for k, v in src.items():
        target[k] = target.get(k, 0.0) + v * w


def reference_mix_profile(
    lot: Lot, parents: Sequence[tuple[Lot, float]], parent_profiles: Sequence[Profile]
) -> Profile:
    """Profile of ``lot`` produced from ``parents`` (each with the kg it gave to the event)."""
    if (
        len(parents) == 1
        and parents[0][0].composition == lot.composition
        and parents[0][0].custody.strength >= lot.custody.strength
    ):
        # a move (shipment, own receipt) of one lot: same profile, custody unchanged or weaker
        p0 = parent_profiles[0]
        if parents[0][0].custody == lot.custody and parents[0][0].is_active_material == lot.is_active_material:
            return p0
    active = lot.is_active_material
    e: dict[str, Any] = {}
    mines: set[str] = set()
    xm: dict[str, int] = {}
    for prof in parent_profiles:
        mines.update(prof["mines"])
        xm.update(prof["xm"])
    for el, f in lot.composition.items():
        if f <= 0:
            continue
        key = el.value
        W = 0.0
        Wa = 0.0
        c: dict[str, float] = {}
        r: dict[str, float] = {}  # recycled input by recycler country (summary 2.0)
        s: dict[str, float] = {}
        cm: dict[str, float] = {}
        fd: dict[str, float] = {}  # site findings folded from supplier summaries
        hx = cx = ox = pre = post = u = apre = apost = 0.0
        for (plot, kg), prof in zip(parents, parent_profiles, strict=True):
            pf = plot.composition.get(el, 0.0)
            if pf <= 0:
                continue
            ep = prof["e"].get(key)
            if ep is None:
                continue
            w = kg * pf
            W += w
            _ref_acc(c, ep["c"], w)
            _ref_acc(r, ep["r"], w)
            _ref_acc(s, ep["s"], w)
            _ref_acc(cm, ep["cm"], w)
            hx += ep["hx"] * w
            cx += ep.get("cx", 0.0) * w
            ox += ep.get("ox", 0.0) * w
            _ref_acc(fd, ep.get("fd", {}), w)
            pre += ep["pre"] * w
            post += ep["post"] * w
            u += ep["u"] * w
            wa = w * ep["a"]
            Wa += wa
            apre += ep["apre"] * wa
            apost += ep["apost"] * wa
        if W <= 0:
            e[key] = dict(_ZERO, cm={lot.custody.value: 1.0}, c={}, r={}, s={}, fd={})
            continue
        inv = 1.0 / W
        ep2 = {
            "c": {k: v * inv for k, v in c.items()},
            "r": {k: v * inv for k, v in r.items()},
            "s": {k: v * inv for k, v in s.items()},
            "hx": hx * inv,
            "cx": cx * inv,
            "ox": ox * inv,
            "fd": {k: v * inv for k, v in fd.items()},
            "pre": pre * inv,
            "post": post * inv,
            "cm": _ref_downgrade({k: v * inv for k, v in cm.items()}, lot.custody),
            "u": u * inv,
            "a": Wa * inv,
            "apre": apre / Wa if Wa > 0 else 0.0,
            "apost": apost / Wa if Wa > 0 else 0.0,
        }
        if active:
            ep2["a"], ep2["apre"], ep2["apost"] = 1.0, ep2["pre"], ep2["post"]
        e[key] = ep2
    return {"e": e, "mines": sorted(mines), "xm": xm}
