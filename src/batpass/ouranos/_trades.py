"""The trade data targets of ``/api/v1/datatransport``: ``tradeRequest`` (the buyer asks a
supplier about one of its child parts), ``tradeResponse`` (the supplier accepts by linking its
own part), ``status`` (progress of a request and its upstream tree; CANCEL and REJECT) and the
``replyMessage`` extension.

Rules (published ``TradeModel``, ``StatusModel``; the request life cycle is
``model.TRANSITIONS``): a trade exists only once the supplier accepts; the buyer cancels, the
supplier rejects with a reply message, and both are final; the supplier never sees the buyer's
``amountRequired``; one live request per child part; the tree status counts trades, never names
the operators above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, or_

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.ouranos._context import MAX_DEPTH, HubComponent, Principal, new_id
from batpass.ouranos._notifications import notify
from batpass.ouranos._sql import OuranosStore, trades
from batpass.ouranos.errors import AccessDenied, NotYourData, RequestClosed
from batpass.ouranos.model import (
    ACTIVE_STATES,
    FINAL_STATES,
    CfpResponseStatus,
    NotificationType,
    Page,
    Part,
    RequestProgress,
    StatusTarget,
    Trade,
    TradeRequestDraft,
    TradeRole,
    TradeTreeStatus,
    transition,
)
from batpass.store import UnitOfWork


class Trades(HubComponent):
    """Requests, responses and their status, between the hub's operators."""

    def put_trade_request(self, who: Principal, d: TradeRequestDraft) -> Trade:
        """``PUT tradeRequest``: the buyer asks a supplier about one of its child parts."""
        me = who.operator_id
        if d.downstream_operator_id != me:
            raise AccessDenied(
                "downstreamOperatorId differs from the authenticated operator", rule="TradeModel.downstreamOperatorId"
            )
        if d.response_due_date is None:
            raise InvalidInput(
                "Validation failed, responseDueDate: cannot be blank.",
                field="statusModel.responseDueDate",
                rule="responseDueDate is required on a new request",
            )
        now = self.now()
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if d.trade_id is not None:
                t = store.trade(d.trade_id)
                if t is None or t.downstream_operator_id != me:
                    raise NotYourData(f"tradeId {d.trade_id} is not one of your requests", rule="your trades only")
                if t.status in FINAL_STATES:
                    raise RequestClosed(f"request {t.status_id} is {t.status}", rule="CANCEL and REJECT are final")
                t = replace(t, message=d.message, response_due_date=d.response_due_date, updated_at=now)
                store.update_trade(t)
                uow.commit()
                return t
            if store.operator(d.upstream_operator_id) is None:
                raise NotFound(
                    f"upstreamOperatorId {d.upstream_operator_id} is unknown", rule="TradeModel.upstreamOperatorId"
                )
            if d.upstream_operator_id == me:
                raise InvalidInput(
                    "a request goes to another operator",
                    field="tradeModel.upstreamOperatorId",
                    rule="upstream differs from downstream",
                )
            part = store.part(me, d.downstream_trace_id)
            if part is None:
                raise NotYourData(
                    f"downstreamTraceId {d.downstream_trace_id} is not one of your parts", rule="your parts only"
                )
            if part.parent_flag:
                raise InvalidInput(
                    "downstreamTraceId must be a child part (a procured part of a parts structure)",
                    field="tradeModel.downstreamTraceId",
                    rule="requests are made for child parts",
                )
            live = store.trades_where(
                trades.c.downstream_operator_id == me,
                trades.c.downstream_trace_id == d.downstream_trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            )
            if live:
                raise Conflict(
                    f"part {d.downstream_trace_id} already has the open request {live[0].status_id}",
                    rule="one live request per child part",
                )
            t = Trade(
                trade_id=new_id(),
                status_id=new_id(),
                downstream_operator_id=me,
                upstream_operator_id=d.upstream_operator_id,
                downstream_trace_id=d.downstream_trace_id,
                upstream_trace_id=None,
                request_type=d.request_type,
                message=d.message,
                reply_message=None,
                response_due_date=d.response_due_date,
                status=CfpResponseStatus.NOT_COMPLETED,
                created_at=now,
                updated_at=now,
            )
            store.insert_trade(t)
            notify(store, t.upstream_operator_id, NotificationType.REQUEST_NEW, t, self.now())
            uow.commit()
            return t

    def list_trade_requests(
        self, who: Principal, *, trace_ids: Sequence[str] | None = None, after: str | None = None, limit: int = 100
    ) -> Page[Trade]:
        conds: list[Any] = [trades.c.downstream_operator_id == who.operator_id]
        if trace_ids:
            conds.append(trades.c.downstream_trace_id.in_(list(trace_ids)))
        with UnitOfWork(self.engine, write=False) as uow:
            if trace_ids:  # OpenAPI: with traceIds, limit does not apply
                return Page(tuple(self.store(uow).trades_where(*conds)), None)
            rows = self.store(uow).trades_where(*conds, after=after, limit=limit + 1)
        return _page(rows, limit, lambda t: t.trade_id)

    def list_trade_responses(
        self, who: Principal, *, after: str | None = None, limit: int = 100
    ) -> Page[tuple[Trade, Part, RequestProgress]]:
        """``GET tradeResponse``: requests received, with the buyer's part — its amount nulled —
        and the request's progress as ``GET status`` shows it (the published ``overOne`` example)."""
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            rows = store.trades_where(trades.c.upstream_operator_id == who.operator_id, after=after, limit=limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            out = []
            for t in rows:
                part = store.part(t.downstream_operator_id, t.downstream_trace_id)
                if part is None:  # deleted after the request ended
                    continue
                out.append((t, replace(part, amount_required=None), self._progress(store, t)))
        return Page(tuple(out), rows[-1].trade_id if more and rows else None)

    def put_trade_response(self, who: Principal, trade_id: str, trace_id: str) -> Trade:
        """``PUT tradeResponse``: the supplier accepts by linking its own part."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            t = store.trade(trade_id)
            if t is None or t.upstream_operator_id != me:
                raise NotYourData(f"tradeId {trade_id} is not a request you received", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(
                    f"request {t.status_id} is {t.status}: it can no longer be answered",
                    rule="CANCEL and REJECT are final",
                )
            if store.part(me, trace_id) is None:
                raise NotYourData(
                    f"traceId {trace_id} is not one of your parts", rule="the supplier links its own part"
                )
            t = replace(t, upstream_trace_id=trace_id, updated_at=self.now())
            if store.cfp(me, trace_id) is not None:
                status = transition(TradeRole.UPSTREAM, t.status, CfpResponseStatus.COMPLETED)
                if t.status != status:
                    t = replace(t, status=status)
                    notify(store, t.downstream_operator_id, NotificationType.CFP_RESPONSED, t, self.now())
            store.update_trade(t)
            uow.commit()
            return t

    def _progress(self, store: OuranosStore, t: Trade, depth: int = 0) -> RequestProgress:
        trades_count, completed, tree = self._tree(store, t, depth, set())
        return RequestProgress(t.status, tree, completed, t.updated_at, trades_count, t.updated_at)

    def _tree(self, store: OuranosStore, t: Trade, depth: int, seen: set[str]) -> tuple[int, int, TradeTreeStatus]:
        """(trades, completed, tree status) over the upstream tree: counts only, no identities."""
        count, done = 1, (1 if t.status == CfpResponseStatus.COMPLETED else 0)
        if t.status in FINAL_STATES:
            return count, done, TradeTreeStatus.TERMINATED
        if t.upstream_trace_id is None or depth > MAX_DEPTH or t.trade_id in seen:
            return count, done, TradeTreeStatus.UNTERMINATED
        seen.add(t.trade_id)
        part = store.part(t.upstream_operator_id, t.upstream_trace_id)
        if part is None:
            return count, done, TradeTreeStatus.UNTERMINATED
        if part.terminated_flag:
            return count, done, TradeTreeStatus.TERMINATED
        kids = store.children(part.operator_id, part.trace_id)
        ended = bool(kids)
        for child, _ in kids:
            if child.terminated_flag:
                continue
            live = store.trades_where(
                trades.c.downstream_operator_id == part.operator_id,
                trades.c.downstream_trace_id == child.trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            )
            if not live:
                ended = False
                continue
            c, d, s = self._tree(store, live[0], depth + 1, seen)
            count, done = count + c, done + d
            ended = ended and s == TradeTreeStatus.TERMINATED
        return count, done, TradeTreeStatus.TERMINATED if ended else TradeTreeStatus.UNTERMINATED

    def list_status(
        self,
        who: Principal,
        *,
        status_target: StatusTarget | None = None,
        status_id: str | None = None,
        trace_id: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[tuple[Trade, RequestProgress]]:
        me = who.operator_id
        req = trades.c.downstream_operator_id == me
        res = trades.c.upstream_operator_id == me
        if trace_id is not None:
            req = and_(req, trades.c.downstream_trace_id == trace_id)
            res = and_(res, trades.c.upstream_trace_id == trace_id)
        side: Any = (
            req
            if status_target == StatusTarget.REQUEST
            else res
            if status_target == StatusTarget.RESPONSE
            else or_(req, res)
        )
        conds: list[Any] = [side]
        if status_id is not None:
            conds.append(trades.c.status_id == status_id)
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            rows = store.trades_where(*conds, after=after, limit=limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            out = tuple((t, self._progress(store, t)) for t in rows)
        return Page(out, rows[-1].trade_id if more and rows else None)

    def put_status(
        self, who: Principal, status_id: str, target: CfpResponseStatus, *, reply_message: str | None = None
    ) -> Trade:
        """``PUT status``: the buyer cancels, the supplier rejects (with a reply message)."""
        if target not in FINAL_STATES:
            raise InvalidInput(
                f"cfpResponseStatus {target} cannot be set here: only CANCEL or REJECT",
                field="requestStatus.cfpResponseStatus",
                rule="PUT status takes CANCEL or REJECT",
            )
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            t = store.trade_by_status(status_id)
            role = None if t is None else t.role_of(who.operator_id)
            if t is None or role is None:
                raise NotYourData(f"statusId {status_id} is not one of your requests", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(f"request {status_id} is already {t.status}", rule="CANCEL and REJECT are final")
            new = transition(role, t.status, target)
            t = replace(
                t,
                status=new,
                updated_at=self.now(),
                reply_message=reply_message if new == CfpResponseStatus.REJECT else t.reply_message,
            )
            store.update_trade(t)
            if new == CfpResponseStatus.CANCEL:
                notify(store, t.upstream_operator_id, NotificationType.REQUEST_CANCELED, t, self.now())
            else:
                notify(store, t.downstream_operator_id, NotificationType.REQUEST_REJECTED, t, self.now())
            uow.commit()
            return t

    def put_reply_message(self, who: Principal, status_id: str, reply_message: str) -> Trade:
        """Extension ``replyMessage``: the supplier writes to the buyer on a live request."""
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            t = store.trade_by_status(status_id)
            if t is None or t.upstream_operator_id != who.operator_id:
                raise NotYourData(f"statusId {status_id} is not a request you received", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(f"request {status_id} is {t.status}", rule="CANCEL and REJECT are final")
            t = replace(t, reply_message=reply_message, updated_at=self.now())
            store.update_trade(t)
            notify(store, t.downstream_operator_id, NotificationType.REPLY_MESSAGE_REGISTERED, t, self.now())
            uow.commit()
            return t


def _page(rows: list[Trade], limit: int, key: Callable[[Trade], str]) -> Page[Trade]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(tuple(rows), key(rows[-1]) if more and rows else None)
