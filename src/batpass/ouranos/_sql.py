"""The hub's tables and their SQL store. Every table carries the hub-internal ``operator_id`` of
the operator owning the row, so each query is partitioned by operator; decimals are stored as
their canonical text (exact on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from batpass.core.clock import Clock, SystemClock
from batpass.ouranos.model import (
    AclItemGroup,
    AmountUnit,
    Certification,
    CertificationFile,
    CfpRecord,
    CfpResponseStatus,
    Dqr,
    Notification,
    NotificationType,
    Operator,
    Part,
    Plant,
    RequestType,
    Trade,
)
from batpass.store import UnitOfWork, UTCDateTime, metadata

U = 36  # canonical UUID text

operators = Table(
    "ouranos_operator",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("open_operator_id", String(20), nullable=False, unique=True),
    Column("operator_name", String(256), nullable=False),
    Column("operator_address", String(256), nullable=False),
    Column("global_operator_id", String(256), nullable=True, unique=True),
    Column("did", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "ouranos_account",
    metadata,
    Column("account_id", String(320), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("password_hash", Text, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("password_changed_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "ouranos_api_key",
    metadata,
    Column("key_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=True, index=True),
    Column("key_sha256", String(64), nullable=False, unique=True),
    Column("label", String(256), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

plants = Table(
    "ouranos_plant",
    metadata,
    Column("plant_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("open_plant_id", String(26), nullable=False),
    Column("plant_name", String(256), nullable=False),
    Column("plant_address", String(256), nullable=False),
    Column("global_plant_id", String(256), nullable=True),
    UniqueConstraint("operator_id", "open_plant_id", name="uq_ouranos_plant_open_plant_id"),
)

parts = Table(
    "ouranos_part",
    metadata,
    Column("trace_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("plant_id", String(U), nullable=False),
    Column("parts_name", String(50), nullable=False),
    Column("support_parts_name", String(50), nullable=True),
    Column("name_key", String(200), nullable=False),
    Column("terminated_flag", Boolean, nullable=False),
    Column("amount_required_unit", String(16), nullable=True),
    Column("parent_flag", Boolean, nullable=False),
    Column("parts_label_name", String(50), nullable=True),
    Column("parts_add_info1", String(50), nullable=True),
    Column("parts_add_info2", String(50), nullable=True),
    Column("parts_add_info3", String(50), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("operator_id", "name_key", name="uq_ouranos_part_name_key"),
)

structures = Table(
    "ouranos_structure",
    metadata,
    Column("operator_id", String(U), nullable=False, index=True),
    Column("parent_trace_id", String(U), primary_key=True),
    Column("child_trace_id", String(U), primary_key=True),
    Column("amount_required", String(16), nullable=True),
)

trades = Table(
    "ouranos_trade",
    metadata,
    Column("trade_id", String(U), primary_key=True),
    Column("status_id", String(U), nullable=False, unique=True),
    Column("downstream_operator_id", String(U), nullable=False, index=True),
    Column("upstream_operator_id", String(U), nullable=False, index=True),
    Column("downstream_trace_id", String(U), nullable=False, index=True),
    Column("upstream_trace_id", String(U), nullable=True, index=True),
    Column("request_type", String(8), nullable=False),
    Column("message", String(1000), nullable=True),
    Column("reply_message", String(1000), nullable=True),
    Column("response_due_date", Date, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cfps = Table(
    "ouranos_cfp",
    metadata,
    Column("trace_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("cfp_id", String(U), nullable=False, unique=True),
    Column("unit", String(32), nullable=False),
    Column("pre_production", String(16), nullable=False),
    Column("main_production", String(16), nullable=False),
    Column("pre_component", String(16), nullable=False),
    Column("main_component", String(16), nullable=False),
    Column("dqr_pre_ter", String(16), nullable=True),
    Column("dqr_pre_ger", String(16), nullable=True),
    Column("dqr_pre_tir", String(16), nullable=True),
    Column("dqr_main_ter", String(16), nullable=True),
    Column("dqr_main_ger", String(16), nullable=True),
    Column("dqr_main_tir", String(16), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

cfp_releases = Table(
    "ouranos_cfp_release",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("trace_id", String(U), primary_key=True),
    Column("released_to_operator_id", String(U), primary_key=True),
    Column("acl_item_group", String(16), primary_key=True),
    Column("released_flag", Boolean, nullable=False),
)

certifications = Table(
    "ouranos_certification",
    metadata,
    Column("cfp_certification_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("trace_id", String(U), nullable=False, index=True),
    Column("description", String(100), nullable=True),
)

certification_files = Table(
    "ouranos_certification_file",
    metadata,
    Column("file_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("cfp_certification_id", String(U), nullable=True, index=True),
    Column("file_name", String(256), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

certification_releases = Table(
    "ouranos_certification_release",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("trace_id", String(U), primary_key=True),
    Column("released_to_operator_id", String(U), primary_key=True),
    Column("released_flag", Boolean, nullable=False),
)

notifications = Table(
    "ouranos_notification",
    metadata,
    Column("notification_id", String(U), primary_key=True),
    Column("operator_id", String(U), nullable=False, index=True),
    Column("notification_type", String(32), nullable=False),
    Column("trade_id", String(U), nullable=False),
    Column("notified_at", UTCDateTime, nullable=False),
)

summaries = Table(
    "ouranos_summary",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("trace_id", String(U), primary_key=True),
    Column("summary_jws", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

summary_releases = Table(
    "ouranos_summary_release",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("trace_id", String(U), primary_key=True),
    Column("released_to_operator_id", String(U), primary_key=True),
)

#: an operator's consent that its bridge offers one kind of its data to one Catena-X partner
bridge_releases = Table(
    "ouranos_partner_release",
    metadata,
    Column("operator_id", String(U), primary_key=True),
    Column("partner_bpnl", String(16), primary_key=True),
    Column("scope", String(32), primary_key=True),
    Column("released_at", UTCDateTime, nullable=False),
)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _txt(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class OuranosStore:
    """The SQL side of the hub; one instance per unit of work, stamping rows with ``clock``."""

    def __init__(self, uow: UnitOfWork, *, clock: Clock = SystemClock()) -> None:
        self.conn = uow.conn
        self.clock = clock

    # -- operators, accounts, keys --------------------------------------------------------------

    def operator(self, operator_id: str) -> Operator | None:
        row = self.conn.execute(select(operators).where(operators.c.operator_id == operator_id)).mappings().first()
        return None if row is None else _operator(row)

    def operator_by_open_id(self, open_operator_id: str) -> Operator | None:
        q = select(operators).where(operators.c.open_operator_id == open_operator_id)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _operator(row)

    def operators_by_ids(self, ids: Sequence[str]) -> list[Operator]:
        rows = self.conn.execute(select(operators).where(operators.c.operator_id.in_(list(ids)))).mappings()
        found = {r["operator_id"]: _operator(r) for r in rows}
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    def all_operators(self) -> list[Operator]:
        rows = self.conn.execute(select(operators).order_by(operators.c.open_operator_id)).mappings()
        return [_operator(r) for r in rows]

    def global_operator_id_taken(self, global_id: str, *, besides: str) -> bool:
        q = select(operators.c.operator_id).where(
            operators.c.global_operator_id == global_id, operators.c.operator_id != besides
        )
        return self.conn.execute(q).first() is not None

    def insert_operator(self, op: Operator) -> None:
        self.conn.execute(
            insert(operators).values(
                operator_id=op.operator_id,
                open_operator_id=op.open_operator_id,
                operator_name=op.operator_name,
                operator_address=op.operator_address,
                global_operator_id=op.global_operator_id,
                did=op.did,
                created_at=self.clock.now(),
            )
        )

    def update_operator(self, op: Operator) -> None:
        self.conn.execute(
            update(operators)
            .where(operators.c.operator_id == op.operator_id)
            .values(
                operator_name=op.operator_name,
                operator_address=op.operator_address,
                global_operator_id=op.global_operator_id,
            )
        )

    def account(self, account_id: str) -> RowMapping | None:
        return self.conn.execute(select(accounts).where(accounts.c.account_id == account_id)).mappings().first()

    def upsert_account(self, account_id: str, operator_id: str, password_hash: str) -> None:
        values = {
            "operator_id": operator_id,
            "password_hash": password_hash,
            "failed_logins": 0,
            "locked_until": None,
            "password_changed_at": self.clock.now(),
        }
        if self.account(account_id) is None:
            self.conn.execute(insert(accounts).values(account_id=account_id, **values))
        else:
            self.conn.execute(update(accounts).where(accounts.c.account_id == account_id).values(**values))

    def set_login_failures(self, account_id: str, count: int, locked_until: dt.datetime | None) -> None:
        self.conn.execute(
            update(accounts)
            .where(accounts.c.account_id == account_id)
            .values(failed_logins=count, locked_until=locked_until)
        )

    def insert_api_key(self, key_id: str, operator_id: str | None, key_sha256: str, label: str) -> None:
        self.conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                operator_id=operator_id,
                key_sha256=key_sha256,
                label=label,
                revoked=False,
                created_at=self.clock.now(),
            )
        )

    def api_key(self, key_sha256: str) -> RowMapping | None:
        q = select(api_keys).where(api_keys.c.key_sha256 == key_sha256, api_keys.c.revoked.is_(False))
        return self.conn.execute(q).mappings().first()

    def revoke_api_key(self, key_id: str) -> bool:
        res = self.conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked=True))
        return bool(res.rowcount)

    # -- plants ----------------------------------------------------------------------------------

    def plants(self, operator_id: str) -> list[Plant]:
        q = select(plants).where(plants.c.operator_id == operator_id).order_by(plants.c.open_plant_id)
        return [_plant(r) for r in self.conn.execute(q).mappings()]

    def plant(self, operator_id: str, plant_id: str) -> Plant | None:
        q = select(plants).where(plants.c.operator_id == operator_id, plants.c.plant_id == plant_id)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _plant(row)

    def save_plant(self, p: Plant, *, new: bool) -> None:
        values = {
            "open_plant_id": p.open_plant_id,
            "plant_name": p.plant_name,
            "plant_address": p.plant_address,
            "global_plant_id": p.global_plant_id,
        }
        if new:
            self.conn.execute(insert(plants).values(plant_id=p.plant_id, operator_id=p.operator_id, **values))
        else:
            self.conn.execute(
                update(plants)
                .where(plants.c.operator_id == p.operator_id, plants.c.plant_id == p.plant_id)
                .values(**values)
            )

    # -- parts and structures --------------------------------------------------------------------

    def part(self, operator_id: str, trace_id: str) -> Part | None:
        q = select(parts).where(parts.c.operator_id == operator_id, parts.c.trace_id == trace_id)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _part(row)

    def part_any(self, trace_id: str) -> Part | None:
        """A part whatever its owner: for views the service has already entitled."""
        row = self.conn.execute(select(parts).where(parts.c.trace_id == trace_id)).mappings().first()
        return None if row is None else _part(row)

    def part_by_name_key(self, operator_id: str, name_key: str) -> Part | None:
        q = select(parts).where(parts.c.operator_id == operator_id, parts.c.name_key == name_key)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _part(row)

    def list_parts(
        self,
        operator_id: str,
        *,
        trace_id: str | None,
        parts_name: str | None,
        plant_id: str | None,
        parent_flag: bool | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[Part]:
        conds: list[Any] = [parts.c.operator_id == operator_id]
        if trace_id is not None:
            conds.append(parts.c.trace_id == trace_id)
        if parts_name is not None:
            conds.append(parts.c.parts_name == parts_name)
        if plant_id is not None:
            conds.append(parts.c.plant_id == plant_id)
        if parent_flag is not None:
            conds.append(parts.c.parent_flag.is_(parent_flag))
        if after is not None:
            name, tid = after
            conds.append(or_(parts.c.parts_name > name, and_(parts.c.parts_name == name, parts.c.trace_id > tid)))
        q = select(parts).where(*conds).order_by(parts.c.parts_name, parts.c.trace_id).limit(limit)
        return [_part(r) for r in self.conn.execute(q).mappings()]

    def save_part(self, p: Part, name_key: str, *, new: bool) -> None:
        values = {
            "terminated_flag": p.terminated_flag,
            "amount_required_unit": None if p.amount_required_unit is None else str(p.amount_required_unit),
            "parts_label_name": p.parts_label_name,
            "parts_add_info1": p.parts_add_info1,
            "parts_add_info2": p.parts_add_info2,
            "parts_add_info3": p.parts_add_info3,
        }
        if new:
            self.conn.execute(
                insert(parts).values(
                    trace_id=p.trace_id,
                    operator_id=p.operator_id,
                    plant_id=p.plant_id,
                    parts_name=p.parts_name,
                    support_parts_name=p.support_parts_name,
                    name_key=name_key,
                    parent_flag=p.parent_flag,
                    created_at=self.clock.now(),
                    **values,
                )
            )
        else:
            self.conn.execute(
                update(parts)
                .where(parts.c.operator_id == p.operator_id, parts.c.trace_id == p.trace_id)
                .values(**values)
            )

    def delete_part(self, operator_id: str, trace_id: str) -> None:
        """Delete a part with its CFP, certificates, files and releases (OpenAPI DELETE parts)."""
        own = and_
        self.conn.execute(delete(cfps).where(own(cfps.c.operator_id == operator_id, cfps.c.trace_id == trace_id)))
        for table in (cfp_releases, certification_releases, summaries, summary_releases):
            self.conn.execute(delete(table).where(table.c.operator_id == operator_id, table.c.trace_id == trace_id))
        cert_ids = [
            r[0]
            for r in self.conn.execute(
                select(certifications.c.cfp_certification_id).where(
                    certifications.c.operator_id == operator_id, certifications.c.trace_id == trace_id
                )
            )
        ]
        if cert_ids:
            self.conn.execute(
                delete(certification_files).where(
                    certification_files.c.operator_id == operator_id,
                    certification_files.c.cfp_certification_id.in_(cert_ids),
                )
            )
            self.conn.execute(delete(certifications).where(certifications.c.cfp_certification_id.in_(cert_ids)))
        self.conn.execute(delete(parts).where(parts.c.operator_id == operator_id, parts.c.trace_id == trace_id))

    def children(self, operator_id: str, parent_trace_id: str) -> list[tuple[Part, Decimal | None]]:
        q = (
            select(parts, structures.c.amount_required)
            .join(structures, structures.c.child_trace_id == parts.c.trace_id)
            .where(structures.c.operator_id == operator_id, structures.c.parent_trace_id == parent_trace_id)
            .order_by(parts.c.parts_name, parts.c.trace_id)
        )
        return [(_part(r), _dec(r["amount_required"])) for r in self.conn.execute(q).mappings()]

    def parents_of(self, operator_id: str, child_trace_id: str) -> list[str]:
        q = select(structures.c.parent_trace_id).where(
            structures.c.operator_id == operator_id, structures.c.child_trace_id == child_trace_id
        )
        return [r[0] for r in self.conn.execute(q)]

    def in_structure(self, operator_id: str, trace_id: str) -> bool:
        q = select(structures.c.parent_trace_id).where(
            structures.c.operator_id == operator_id,
            or_(structures.c.parent_trace_id == trace_id, structures.c.child_trace_id == trace_id),
        )
        return self.conn.execute(q).first() is not None

    def replace_children(
        self, operator_id: str, parent_trace_id: str, children: Iterable[tuple[str, Decimal | None]]
    ) -> None:
        self.conn.execute(
            delete(structures).where(
                structures.c.operator_id == operator_id, structures.c.parent_trace_id == parent_trace_id
            )
        )
        rows = [
            {
                "operator_id": operator_id,
                "parent_trace_id": parent_trace_id,
                "child_trace_id": c,
                "amount_required": _txt(a),
            }
            for c, a in children
        ]
        if rows:
            self.conn.execute(insert(structures), rows)

    # -- trades ----------------------------------------------------------------------------------

    def trade(self, trade_id: str) -> Trade | None:
        row = self.conn.execute(select(trades).where(trades.c.trade_id == trade_id)).mappings().first()
        return None if row is None else _trade(row)

    def trade_by_status(self, status_id: str) -> Trade | None:
        row = self.conn.execute(select(trades).where(trades.c.status_id == status_id)).mappings().first()
        return None if row is None else _trade(row)

    def trades_where(self, *conds: Any, after: str | None = None, limit: int | None = None) -> list[Trade]:
        allc = list(conds)
        if after is not None:
            allc.append(trades.c.trade_id < after)
        q = select(trades).where(*allc).order_by(trades.c.trade_id.desc())
        if limit is not None:
            q = q.limit(limit)
        return [_trade(r) for r in self.conn.execute(q).mappings()]

    def insert_trade(self, t: Trade) -> None:
        self.conn.execute(insert(trades).values(**_trade_values(t)))

    def update_trade(self, t: Trade) -> None:
        values = _trade_values(t)
        del values["trade_id"]
        self.conn.execute(update(trades).where(trades.c.trade_id == t.trade_id).values(**values))

    # -- CFP -------------------------------------------------------------------------------------

    def cfp(self, operator_id: str, trace_id: str) -> CfpRecord | None:
        q = select(cfps).where(cfps.c.operator_id == operator_id, cfps.c.trace_id == trace_id)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _cfp(row)

    def cfp_by_id(self, cfp_id: str) -> CfpRecord | None:
        row = self.conn.execute(select(cfps).where(cfps.c.cfp_id == cfp_id)).mappings().first()
        return None if row is None else _cfp(row)

    def save_cfp(self, rec: CfpRecord) -> None:
        values = {
            "cfp_id": rec.cfp_id,
            "unit": rec.unit,
            "pre_production": _txt(rec.pre_production),
            "main_production": _txt(rec.main_production),
            "pre_component": _txt(rec.pre_component),
            "main_component": _txt(rec.main_component),
            "dqr_pre_ter": _txt(rec.dqr_pre.ter),
            "dqr_pre_ger": _txt(rec.dqr_pre.ger),
            "dqr_pre_tir": _txt(rec.dqr_pre.tir),
            "dqr_main_ter": _txt(rec.dqr_main.ter),
            "dqr_main_ger": _txt(rec.dqr_main.ger),
            "dqr_main_tir": _txt(rec.dqr_main.tir),
            "updated_at": rec.updated_at,
        }
        if self.cfp(rec.operator_id, rec.trace_id) is None:
            self.conn.execute(insert(cfps).values(trace_id=rec.trace_id, operator_id=rec.operator_id, **values))
        else:
            self.conn.execute(
                update(cfps)
                .where(cfps.c.operator_id == rec.operator_id, cfps.c.trace_id == rec.trace_id)
                .values(**values)
            )

    # -- releases --------------------------------------------------------------------------------

    def cfp_release(self, operator_id: str, trace_id: str, to: str) -> dict[AclItemGroup, bool]:
        q = select(cfp_releases.c.acl_item_group, cfp_releases.c.released_flag).where(
            cfp_releases.c.operator_id == operator_id,
            cfp_releases.c.trace_id == trace_id,
            cfp_releases.c.released_to_operator_id == to,
        )
        got = {AclItemGroup(g): bool(f) for g, f in self.conn.execute(q)}
        return {g: got.get(g, False) for g in AclItemGroup}

    def cfp_release_recipients(self, operator_id: str, trace_id: str) -> list[str]:
        q = (
            select(cfp_releases.c.released_to_operator_id)
            .where(cfp_releases.c.operator_id == operator_id, cfp_releases.c.trace_id == trace_id)
            .distinct()
        )
        return sorted(r[0] for r in self.conn.execute(q))

    def set_cfp_release(self, operator_id: str, trace_id: str, to: str, group: AclItemGroup, flag: bool) -> None:
        key = (
            (cfp_releases.c.operator_id == operator_id)
            & (cfp_releases.c.trace_id == trace_id)
            & (cfp_releases.c.released_to_operator_id == to)
            & (cfp_releases.c.acl_item_group == str(group))
        )
        if self.conn.execute(select(cfp_releases.c.released_flag).where(key)).first() is None:
            self.conn.execute(
                insert(cfp_releases).values(
                    operator_id=operator_id,
                    trace_id=trace_id,
                    released_to_operator_id=to,
                    acl_item_group=str(group),
                    released_flag=flag,
                )
            )
        else:
            self.conn.execute(update(cfp_releases).where(key).values(released_flag=flag))

    def certification_release(self, operator_id: str, trace_id: str, to: str) -> bool:
        q = select(certification_releases.c.released_flag).where(
            certification_releases.c.operator_id == operator_id,
            certification_releases.c.trace_id == trace_id,
            certification_releases.c.released_to_operator_id == to,
        )
        row = self.conn.execute(q).first()
        return bool(row[0]) if row else False

    def certification_release_recipients(self, operator_id: str, trace_id: str) -> list[tuple[str, bool]]:
        q = select(certification_releases.c.released_to_operator_id, certification_releases.c.released_flag).where(
            certification_releases.c.operator_id == operator_id, certification_releases.c.trace_id == trace_id
        )
        return sorted((r[0], bool(r[1])) for r in self.conn.execute(q))

    def set_certification_release(self, operator_id: str, trace_id: str, to: str, flag: bool) -> None:
        key = (
            (certification_releases.c.operator_id == operator_id)
            & (certification_releases.c.trace_id == trace_id)
            & (certification_releases.c.released_to_operator_id == to)
        )
        if self.conn.execute(select(certification_releases.c.released_flag).where(key)).first() is None:
            self.conn.execute(
                insert(certification_releases).values(
                    operator_id=operator_id, trace_id=trace_id, released_to_operator_id=to, released_flag=flag
                )
            )
        else:
            self.conn.execute(update(certification_releases).where(key).values(released_flag=flag))

    # -- certificates ----------------------------------------------------------------------------

    def certifications(self, operator_id: str, trace_id: str) -> list[Certification]:
        q = (
            select(certifications)
            .where(certifications.c.operator_id == operator_id, certifications.c.trace_id == trace_id)
            .order_by(certifications.c.cfp_certification_id)
        )
        out = []
        for row in self.conn.execute(q).mappings():
            fq = (
                select(certification_files.c.file_id, certification_files.c.file_name)
                .where(
                    certification_files.c.operator_id == operator_id,
                    certification_files.c.cfp_certification_id == row["cfp_certification_id"],
                )
                .order_by(certification_files.c.file_id)
            )
            files = tuple(CertificationFile(operator_id, f, n) for f, n in self.conn.execute(fq))
            out.append(Certification(row["cfp_certification_id"], row["trace_id"], row["description"], files))
        return out

    def certification(self, cert_id: str) -> RowMapping | None:
        q = select(certifications).where(certifications.c.cfp_certification_id == cert_id)
        return self.conn.execute(q).mappings().first()

    def save_certification(self, operator_id: str, cert: Certification, *, new: bool) -> None:
        if new:
            self.conn.execute(
                insert(certifications).values(
                    cfp_certification_id=cert.cfp_certification_id,
                    operator_id=operator_id,
                    trace_id=cert.trace_id,
                    description=cert.description,
                )
            )
        else:
            self.conn.execute(
                update(certifications)
                .where(certifications.c.cfp_certification_id == cert.cfp_certification_id)
                .values(description=cert.description)
            )
        self.conn.execute(
            update(certification_files)
            .where(
                certification_files.c.operator_id == operator_id,
                certification_files.c.cfp_certification_id == cert.cfp_certification_id,
            )
            .values(cfp_certification_id=None)
        )
        for f in cert.files:
            self.conn.execute(
                update(certification_files)
                .where(certification_files.c.operator_id == operator_id, certification_files.c.file_id == f.file_id)
                .values(cfp_certification_id=cert.cfp_certification_id)
            )

    def insert_file(self, operator_id: str, file_id: str, file_name: str, content: bytes) -> None:
        self.conn.execute(
            insert(certification_files).values(
                file_id=file_id,
                operator_id=operator_id,
                cfp_certification_id=None,
                file_name=file_name,
                content=content,
                created_at=self.clock.now(),
            )
        )

    def file(self, operator_id: str, file_id: str) -> RowMapping | None:
        q = select(certification_files).where(
            certification_files.c.operator_id == operator_id, certification_files.c.file_id == file_id
        )
        return self.conn.execute(q).mappings().first()

    # -- notifications ---------------------------------------------------------------------------

    def insert_notification(self, n: Notification) -> None:
        self.conn.execute(
            insert(notifications).values(
                notification_id=n.notification_id,
                operator_id=n.operator_id,
                notification_type=str(n.notification_type),
                trade_id=n.trade_id,
                notified_at=n.notified_at,
            )
        )

    def notifications(
        self, operator_id: str, *, kind: NotificationType | None, after: str | None, limit: int
    ) -> list[tuple[str, NotificationType, str, dt.datetime]]:
        conds: list[Any] = [notifications.c.operator_id == operator_id]
        if kind is not None:
            conds.append(notifications.c.notification_type == str(kind))
        if after is not None:
            conds.append(notifications.c.notification_id < after)
        q = select(notifications).where(*conds).order_by(notifications.c.notification_id.desc()).limit(limit)
        return [
            (r["notification_id"], NotificationType(r["notification_type"]), r["trade_id"], r["notified_at"])
            for r in self.conn.execute(q).mappings()
        ]

    # -- upstream summaries (for the bridge) -----------------------------------------------------

    def save_summary(self, operator_id: str, trace_id: str, jws: str) -> None:
        key = (summaries.c.operator_id == operator_id) & (summaries.c.trace_id == trace_id)
        if self.conn.execute(select(summaries.c.trace_id).where(key)).first() is None:
            self.conn.execute(
                insert(summaries).values(
                    operator_id=operator_id, trace_id=trace_id, summary_jws=jws, updated_at=self.clock.now()
                )
            )
        else:
            self.conn.execute(update(summaries).where(key).values(summary_jws=jws, updated_at=self.clock.now()))

    def set_summary_release(self, operator_id: str, trace_id: str, to: str, released: bool) -> None:
        key = (
            (summary_releases.c.operator_id == operator_id)
            & (summary_releases.c.trace_id == trace_id)
            & (summary_releases.c.released_to_operator_id == to)
        )
        self.conn.execute(delete(summary_releases).where(key))
        if released:
            self.conn.execute(
                insert(summary_releases).values(operator_id=operator_id, trace_id=trace_id, released_to_operator_id=to)
            )

    def released_summary(self, operator_id: str, trace_id: str, to: str) -> str | None:
        q = (
            select(summaries.c.summary_jws)
            .join(
                summary_releases,
                (summary_releases.c.operator_id == summaries.c.operator_id)
                & (summary_releases.c.trace_id == summaries.c.trace_id),
            )
            .where(
                summaries.c.operator_id == operator_id,
                summaries.c.trace_id == trace_id,
                summary_releases.c.released_to_operator_id == to,
            )
        )
        row = self.conn.execute(q).first()
        return None if row is None else str(row[0])

    # -- releases to Catena-X partners through the bridge -------------------------------------

    def set_bridge_release(self, operator_id: str, partner_bpnl: str, scope: str, released: bool) -> None:
        key = (
            (bridge_releases.c.operator_id == operator_id)
            & (bridge_releases.c.partner_bpnl == partner_bpnl)
            & (bridge_releases.c.scope == scope)
        )
        self.conn.execute(delete(bridge_releases).where(key))
        if released:
            self.conn.execute(
                insert(bridge_releases).values(
                    operator_id=operator_id, partner_bpnl=partner_bpnl, scope=scope, released_at=self.clock.now()
                )
            )

    def bridge_releases(self, operator_id: str) -> list[tuple[str, str, dt.datetime]]:
        q = (
            select(bridge_releases.c.partner_bpnl, bridge_releases.c.scope, bridge_releases.c.released_at)
            .where(bridge_releases.c.operator_id == operator_id)
            .order_by(bridge_releases.c.partner_bpnl, bridge_releases.c.scope)
        )
        return [(str(r[0]), str(r[1]), r[2]) for r in self.conn.execute(q)]

    def bridge_released(self, operator_id: str, partner_bpnl: str, scope: str) -> bool:
        q = select(bridge_releases.c.scope).where(
            bridge_releases.c.operator_id == operator_id,
            bridge_releases.c.partner_bpnl == partner_bpnl,
            bridge_releases.c.scope == scope,
        )
        return self.conn.execute(q).first() is not None


def _operator(r: RowMapping) -> Operator:
    return Operator(
        r["operator_id"],
        r["open_operator_id"],
        r["operator_name"],
        r["operator_address"],
        r["global_operator_id"],
        r["did"],
    )


def _plant(r: RowMapping) -> Plant:
    return Plant(
        r["plant_id"], r["operator_id"], r["open_plant_id"], r["plant_name"], r["plant_address"], r["global_plant_id"]
    )


def _part(r: RowMapping) -> Part:
    unit = r["amount_required_unit"]
    return Part(
        trace_id=r["trace_id"],
        operator_id=r["operator_id"],
        plant_id=r["plant_id"],
        parts_name=r["parts_name"],
        support_parts_name=r["support_parts_name"],
        terminated_flag=bool(r["terminated_flag"]),
        amount_required_unit=None if unit is None else AmountUnit(unit),
        parent_flag=bool(r["parent_flag"]),
        parts_label_name=r["parts_label_name"],
        parts_add_info1=r["parts_add_info1"],
        parts_add_info2=r["parts_add_info2"],
        parts_add_info3=r["parts_add_info3"],
    )


def _trade(r: RowMapping) -> Trade:
    return Trade(
        trade_id=r["trade_id"],
        status_id=r["status_id"],
        downstream_operator_id=r["downstream_operator_id"],
        upstream_operator_id=r["upstream_operator_id"],
        downstream_trace_id=r["downstream_trace_id"],
        upstream_trace_id=r["upstream_trace_id"],
        request_type=RequestType(r["request_type"]),
        message=r["message"],
        reply_message=r["reply_message"],
        response_due_date=r["response_due_date"],
        status=CfpResponseStatus(r["status"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _trade_values(t: Trade) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id,
        "status_id": t.status_id,
        "downstream_operator_id": t.downstream_operator_id,
        "upstream_operator_id": t.upstream_operator_id,
        "downstream_trace_id": t.downstream_trace_id,
        "upstream_trace_id": t.upstream_trace_id,
        "request_type": str(t.request_type),
        "message": t.message,
        "reply_message": t.reply_message,
        "response_due_date": t.response_due_date,
        "status": str(t.status),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def _cfp(r: RowMapping) -> CfpRecord:
    return CfpRecord(
        cfp_id=r["cfp_id"],
        trace_id=r["trace_id"],
        operator_id=r["operator_id"],
        unit=r["unit"],
        pre_production=Decimal(r["pre_production"]),
        main_production=Decimal(r["main_production"]),
        pre_component=Decimal(r["pre_component"]),
        main_component=Decimal(r["main_component"]),
        dqr_pre=Dqr(_dec(r["dqr_pre_ter"]), _dec(r["dqr_pre_ger"]), _dec(r["dqr_pre_tir"])),
        dqr_main=Dqr(_dec(r["dqr_main_ter"]), _dec(r["dqr_main_ger"]), _dec(r["dqr_main_tir"])),
        updated_at=r["updated_at"],
    )
