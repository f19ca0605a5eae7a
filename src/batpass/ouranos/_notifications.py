"""The hub's ``notifications`` data target (extension; the traceability back end's notification
types): what happened to an operator's trades, written by the trade and CFP use cases in their
own unit of work (:func:`notify`) and read here, newest first.
"""

from __future__ import annotations

import datetime as dt

from batpass.ouranos._context import HubComponent, Principal, new_id
from batpass.ouranos._sql import OuranosStore
from batpass.ouranos.model import Notification, NotificationType, Page, Trade
from batpass.store import UnitOfWork


def notify(store: OuranosStore, to: str, kind: NotificationType, trade: Trade, at: dt.datetime) -> None:
    """Tell operator ``to`` that ``kind`` happened to ``trade`` (in the caller's unit of work)."""
    store.insert_notification(
        Notification(
            new_id(),
            to,
            kind,
            trade.trade_id,
            trade.downstream_operator_id,
            trade.upstream_operator_id,
            trade.downstream_trace_id,
            trade.upstream_trace_id,
            at,
        )
    )


class Notifications(HubComponent):
    """``GET notifications``: an operator's notifications, with the trade's current parties and parts."""

    def list_notifications(
        self, who: Principal, *, kind: NotificationType | None = None, after: str | None = None, limit: int = 100
    ) -> Page[Notification]:
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            rows = store.notifications(who.operator_id, kind=kind, after=after, limit=limit + 1)
            more = len(rows) > limit
            out = []
            for nid, k, trade_id, at in rows[:limit]:
                t = store.trade(trade_id)
                if t is None:
                    continue
                out.append(
                    Notification(
                        nid,
                        who.operator_id,
                        k,
                        trade_id,
                        t.downstream_operator_id,
                        t.upstream_operator_id,
                        t.downstream_trace_id,
                        t.upstream_trace_id,
                        at,
                    )
                )
        return Page(tuple(out), rows[limit - 1][0] if more else None)
