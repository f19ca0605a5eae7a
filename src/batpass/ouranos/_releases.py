"""What an operator releases, and to whom: the extensions ``cfpAcl`` (its CFP totals and
ratings, per part and per buyer) and ``cfpCertificationAcl`` (its certificates), its consent
that the hub's bridge offers its data to a Catena-X partner (``/v1/ouranos/bridge/releases``),
and the signed upstream summaries it publishes for the bridge.

Rules: an operator releases only its own parts, to operators hosted on the hub; nothing crosses
the bridge without the operator's release of that scope to that partner (BPNL); a summary is
served only to those its owner released it to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from batpass.core.errors import InvalidIdentifier, InvalidInput, NotFound
from batpass.core.ids import Bpnl
from batpass.ouranos._context import HubComponent, Principal
from batpass.ouranos.errors import NotYourData
from batpass.ouranos.model import AclItemGroup, CertificationRelease, CfpRelease
from batpass.store import UnitOfWork

#: what an operator may release to a Catena-X partner through its bridge
BRIDGE_SCOPES = ("upstream-summary", "downstream-recall", "cfp", "certificates", "sites")


@dataclass(frozen=True)
class BridgeRelease:
    partner_bpnl: str
    scope: str
    released_at: dt.datetime


class Releases(HubComponent):
    """Operators' releases: to buyers on the hub, and to Catena-X partners through the bridge."""

    # ---------------------------------------------------------------- cfpAcl, cfpCertificationAcl

    def put_cfp_release(self, who: Principal, trace_id: str, to: str, groups: dict[AclItemGroup, bool]) -> CfpRelease:
        """Extension ``cfpAcl``: release (or withdraw) TOTALCFP / TOTALDQR of a part to one operator."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="you release your own parts")
            if store.operator(to) is None:
                raise NotFound(f"releasedToOperatorId {to} is unknown", rule="release to a hosted operator")
            for g, flag in groups.items():
                store.set_cfp_release(me, trace_id, to, g, flag)
            uow.commit()
            return CfpRelease(me, trace_id, to, store.cfp_release(me, trace_id, to))

    def get_cfp_releases(self, who: Principal, trace_id: str) -> list[CfpRelease]:
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            return [
                CfpRelease(me, trace_id, to, store.cfp_release(me, trace_id, to))
                for to in store.cfp_release_recipients(me, trace_id)
            ]

    def put_certification_release(self, who: Principal, trace_id: str, to: str, flag: bool) -> CertificationRelease:
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="you release your own parts")
            if store.operator(to) is None:
                raise NotFound(f"releasedToOperatorId {to} is unknown", rule="release to a hosted operator")
            store.set_certification_release(me, trace_id, to, flag)
            uow.commit()
        return CertificationRelease(me, trace_id, to, flag)

    def get_certification_releases(self, who: Principal, trace_id: str) -> list[CertificationRelease]:
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            return [
                CertificationRelease(me, trace_id, to, f)
                for to, f in store.certification_release_recipients(me, trace_id)
            ]

    # ---------------------------------------------------------------- to Catena-X, through the bridge

    def put_bridge_release(
        self, who: Principal, partner_bpnl: str, scopes: Sequence[str], *, released: bool = True
    ) -> list[BridgeRelease]:
        """The operator's consent (or its withdrawal) that the bridge offers ``scopes`` of its
        data to one Catena-X partner, named by BPNL. Nothing crosses the bridge without it."""
        try:
            bpnl = str(Bpnl(partner_bpnl))
        except InvalidIdentifier as exc:
            raise InvalidInput(exc.message, field="partnerBpnl", rule=exc.rule) from exc
        bad = sorted(set(scopes) - set(BRIDGE_SCOPES))
        if not scopes or bad:
            raise InvalidInput(
                f"scopes {bad or list(scopes)} are not releasable; choose from {list(BRIDGE_SCOPES)}",
                field="scopes",
                rule="bridge release scopes",
            )
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            for scope in dict.fromkeys(scopes):
                store.set_bridge_release(who.operator_id, bpnl, scope, released)
            uow.commit()
        return self.bridge_releases(who)

    def bridge_releases(self, who: Principal) -> list[BridgeRelease]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = self.store(uow).bridge_releases(who.operator_id)
        return [BridgeRelease(b, sc, at) for b, sc, at in rows]

    def bridge_released(self, operator_id: str, partner_bpnl: str | None, scope: str) -> bool:
        if not partner_bpnl:
            return False
        with UnitOfWork(self.engine, write=False) as uow:
            return self.store(uow).bridge_released(operator_id, partner_bpnl, scope)

    # ---------------------------------------------------------------- upstream summaries, for the bridge

    def publish_summary(self, operator_id: str, trace_id: str, summary_jws: str) -> None:
        """Store the signed upstream summary the operator's ledger partition produced for a part."""
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(operator_id, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not a part of operator {operator_id}", rule="own parts only")
            store.save_summary(operator_id, trace_id, summary_jws)
            uow.commit()

    def release_summary(self, operator_id: str, trace_id: str, to: str, *, released: bool = True) -> None:
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(operator_id, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not a part of operator {operator_id}", rule="own parts only")
            if store.operator(to) is None:
                raise NotFound(f"operator {to} is unknown", rule="release to a hosted operator")
            store.set_summary_release(operator_id, trace_id, to, released)
            uow.commit()

    def upstream_summary(self, reader_operator_id: str, owner_operator_id: str, trace_id: str) -> str:
        """The owner's summary JWS for a part, only if the owner released it to the reader."""
        with UnitOfWork(self.engine, write=False) as uow:
            jws = self.store(uow).released_summary(owner_operator_id, trace_id, reader_operator_id)
        if jws is None:
            raise NotFound(
                f"no upstream summary of {trace_id} released to {reader_operator_id}",
                rule="summaries are served to those the owner released them to",
            )
        return jws
