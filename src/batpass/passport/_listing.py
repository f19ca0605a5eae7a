"""Finding passports by what a person filters on (the console's list): model, status, category,
the date of the last change and a text in the battery identifier or model id. Answers passport
ids only, newest change first; each passport is then read through
:meth:`PassportService.get`, which checks its signed chain, so the list shows nothing unsigned.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, func, or_, select

from batpass.passport import _sql
from batpass.store import UnitOfWork

__all__ = ["PassportFilter", "count_passports", "find_passport_ids", "passport_models"]


@dataclass(frozen=True, slots=True)
class PassportFilter:
    text: str = ""
    model: str = ""
    status: str = ""
    category: str = ""
    changed_from: dt.date | None = None
    changed_to: dt.date | None = None
    #: on a hub, one hosted operator's passports only (its DID; "" for every passport)
    operator: str = ""


def count_passports(engine: Engine, *, operator: str = "") -> dict[str, int]:
    """How many passports this node holds (of ``operator`` when given), by status (``ended``
    counted apart)."""
    t = _sql.passports
    q = select(t.c.status, t.c.ended, func.count()).group_by(t.c.status, t.c.ended)
    if operator:
        q = q.where(t.c.operator == operator)
    with UnitOfWork(engine, write=False) as uow:
        rows = uow.conn.execute(q).all()
    out: dict[str, int] = {}
    for status, ended, n in rows:
        key = "ended" if ended else str(status)
        out[key] = out.get(key, 0) + int(n)
    return out


def find_passport_ids(
    engine: Engine, wanted: PassportFilter, *, limit: int = 25, offset: int = 0
) -> tuple[list[uuid.UUID], int]:
    """The ids of one page of matching passports and how many match in all."""
    t = _sql.passports
    conds = []
    if wanted.text:
        like = "%" + wanted.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(
            or_(
                t.c.gtin.like(like, escape="\\"),
                t.c.serial.like(like, escape="\\"),
                t.c.model_id.like(like, escape="\\"),
            )
        )
    if wanted.operator:
        conds.append(t.c.operator == wanted.operator)
    if wanted.model:
        conds.append(t.c.model_id == wanted.model)
    if wanted.status:
        conds.append(t.c.status == wanted.status)
    if wanted.category:
        conds.append(t.c.category == wanted.category)
    if wanted.changed_from is not None:
        conds.append(t.c.updated_at >= dt.datetime.combine(wanted.changed_from, dt.time(), dt.UTC))
    if wanted.changed_to is not None:
        end = dt.datetime.combine(wanted.changed_to, dt.time(), dt.UTC) + dt.timedelta(days=1)
        conds.append(t.c.updated_at < end)
    with UnitOfWork(engine, write=False) as uow:
        total = int(uow.conn.execute(select(func.count()).select_from(t).where(*conds)).scalar_one())
        ids = uow.conn.execute(
            select(t.c.passport_id)
            .where(*conds)
            .order_by(t.c.updated_at.desc(), t.c.passport_id)
            .limit(limit)
            .offset(offset)
        ).scalars()
        return [uuid.UUID(i) for i in ids], total


def passport_models(engine: Engine, *, operator: str = "") -> list[str]:
    """The model ids this node's passports (of ``operator`` when given) carry (the list's model
    filter)."""
    t = _sql.passports
    q = select(t.c.model_id).distinct().order_by(t.c.model_id)
    if operator:
        q = q.where(t.c.operator == operator)
    with UnitOfWork(engine, write=False) as uow:
        return [str(m) for m in uow.conn.execute(q).scalars()]
