"""The ``parts`` and ``partsStructure`` data targets of ``/api/v1/datatransport``: an operator's
parts (each with its ``traceId``) and its two-level parts structures.

Rules (published ``PartsModel``, ``PartsStructureModel``, ``DELETE parts``): a part's
``traceId`` is minted per (plant, ``partsName``, ``supportPartsName``), which cannot change;
structures are two levels deep — a part created as a parent cannot be a child and vice versa;
a part in a structure or a live trade cannot be deleted, and deleting takes its CFP,
certificates and releases with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import and_, or_

from batpass.core.errors import Conflict, InvalidInput
from batpass.footprint import ouranos_round
from batpass.ouranos._context import HubComponent, Principal, new_id, sha256_hex
from batpass.ouranos._sql import OuranosStore, trades
from batpass.ouranos.errors import AccessDenied, NotYourData
from batpass.ouranos.model import ACTIVE_STATES, Page, Part, PartDraft, PartsStructure
from batpass.store import UnitOfWork


def _name_key(plant_id: str, parts_name: str, support: str | None) -> str:
    """traceId is minted per (operator, plant, partsName, supportPartsName) (OpenAPI PUT parts)."""
    return sha256_hex("\x1f".join((plant_id, parts_name, support or "")))


class Parts(HubComponent):
    """Operators' parts and parts structures."""

    def _resolve_part(self, store: OuranosStore, me: str, d: PartDraft, *, as_child: bool) -> tuple[Part, bool]:
        """The stored part a draft names (existing or new), checked but not yet saved."""
        if d.operator_id != me:
            raise AccessDenied("operatorId differs from the authenticated operator", rule="PartsModel.operatorId")
        if store.plant(me, d.plant_id) is None:
            raise NotYourData(f"plantId {d.plant_id} is not one of your plants", rule="PartsModel.plantId: your plants")
        key = _name_key(d.plant_id, d.parts_name, d.support_parts_name)
        current = store.part(me, d.trace_id) if d.trace_id else store.part_by_name_key(me, key)
        if d.trace_id and current is None:
            raise NotYourData(f"traceId {d.trace_id} is not one of your parts", rule="your parts only")
        if current is not None and (
            current.plant_id != d.plant_id
            or current.parts_name != d.parts_name
            or (current.support_parts_name or "") != (d.support_parts_name or "")
        ):
            raise InvalidInput(
                "plantId, partsName and supportPartsName of a part cannot change (they mint its traceId)",
                field="traceId",
                rule="OuranosPUT parts: traceId, plantId immutable",
            )
        part = Part(
            trace_id=current.trace_id if current else new_id(),
            operator_id=me,
            plant_id=d.plant_id,
            parts_name=d.parts_name,
            support_parts_name=d.support_parts_name,
            terminated_flag=d.terminated_flag,
            amount_required_unit=d.amount_required_unit,
            parent_flag=current.parent_flag if current else not as_child,
            parts_label_name=d.parts_label_name,
            parts_add_info1=d.parts_add_info1,
            parts_add_info2=d.parts_add_info2,
            parts_add_info3=d.parts_add_info3,
        )
        return part, current is None

    def put_part(self, who: Principal, draft: PartDraft) -> Part:
        """``PUT parts``: create a (parent) part, or update one; the trace id stays."""
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            part, new = self._resolve_part(store, who.operator_id, draft, as_child=False)
            store.save_part(part, _name_key(part.plant_id, part.parts_name, part.support_parts_name), new=new)
            uow.commit()
            return part

    def list_parts(
        self,
        who: Principal,
        *,
        trace_id: str | None = None,
        parts_name: str | None = None,
        plant_id: str | None = None,
        parent_flag: bool | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[Part]:
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            cursor = None
            if after is not None:
                anchor = store.part(who.operator_id, after)
                if anchor is None:
                    raise InvalidInput(
                        f"after {after} is not a cursor this list gave", field="after", rule="Link rel=next"
                    )
                cursor = (anchor.parts_name, anchor.trace_id)
            rows = store.list_parts(
                who.operator_id,
                trace_id=trace_id,
                parts_name=parts_name,
                plant_id=plant_id,
                parent_flag=parent_flag,
                after=cursor,
                limit=limit + 1,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(tuple(rows), rows[-1].trace_id if more and rows else None)

    def delete_part(self, who: Principal, trace_id: str) -> None:
        """``DELETE parts``: refused while the part is in a structure or a live trade; takes its
        CFP, certificates and releases with it."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            if store.in_structure(me, trace_id):
                raise Conflict(
                    "指定された部品は部品構成が存在するため削除できません。 (the part is in a parts structure)",
                    rule="DELETE parts: remove the parts structure first",
                )
            live = store.trades_where(
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
                or_(
                    and_(trades.c.downstream_operator_id == me, trades.c.downstream_trace_id == trace_id),
                    and_(trades.c.upstream_operator_id == me, trades.c.upstream_trace_id == trace_id),
                ),
            )
            if live:
                raise Conflict(
                    "指定された部品は依頼済みのため削除できません。 (the part is in a trade request)",
                    rule="DELETE parts: cancel or reject the request first",
                )
            store.delete_part(me, trace_id)
            uow.commit()

    def put_parts_structure(self, who: Principal, parent: PartDraft, children: Sequence[PartDraft]) -> PartsStructure:
        """``PUT partsStructure``: a parent and its children (two levels; your own plants)."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            p, p_new = self._resolve_part(store, me, parent, as_child=False)
            if not p_new and (not p.parent_flag or store.parents_of(me, p.trace_id)):
                raise InvalidInput(
                    f"part {p.trace_id} is a child part: structures are two levels deep",
                    field="parentPartsModel.traceId",
                    rule="Ouranos parts structure: two levels",
                )
            resolved: list[tuple[Part, bool, Decimal]] = []
            seen: set[str] = set()
            for i, d in enumerate(children):
                if d.amount_required is None:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}].amountRequired is required for a child part",
                        field=f"childrenPartsModel[{i}].amountRequired",
                        rule="amountRequired: the child's quantity per unit of the parent",
                    )
                amount = ouranos_round(d.amount_required, field=f"childrenPartsModel[{i}].amountRequired")
                c, c_new = self._resolve_part(store, me, d, as_child=True)
                if c.trace_id == p.trace_id or c.trace_id in seen:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}] repeats a part of this structure",
                        field=f"childrenPartsModel[{i}]",
                        rule="each child once, not the parent",
                    )
                if c.parent_flag:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}] is a parent part: structures are two levels deep",
                        field=f"childrenPartsModel[{i}].traceId",
                        rule="Ouranos parts structure: two levels",
                    )
                seen.add(c.trace_id)
                resolved.append((c, c_new, amount))
            store.save_part(p, _name_key(p.plant_id, p.parts_name, p.support_parts_name), new=p_new)
            for c, c_new, _ in resolved:
                store.save_part(c, _name_key(c.plant_id, c.parts_name, c.support_parts_name), new=c_new)
            store.replace_children(me, p.trace_id, [(c.trace_id, a) for c, _, a in resolved])
            uow.commit()
            return PartsStructure(p, tuple(replace(c, amount_required=a) for c, _, a in resolved))

    def get_parts_structure(self, who: Principal, trace_id: str) -> PartsStructure:
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            part = store.part(who.operator_id, trace_id)
            if part is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            kids = store.children(who.operator_id, trace_id)
            return PartsStructure(part, tuple(replace(c, amount_required=a) for c, a in kids))
