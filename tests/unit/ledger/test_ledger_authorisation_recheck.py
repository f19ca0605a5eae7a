"""A held authorisation credential is verified again when a shipment is checked against it
(docs/outflows.md, "Re-checked per shipment"), on both stores: once its authority revokes it,
once it has expired, or once its issuer is no longer trusted as an authority, it authorises
nothing from then on — ``warn`` records the shipment and raises ``outflow.authorisation-withdrawn``,
``block`` refuses it naming the rule and writes nothing. The issuer's status list is kept within
its own lifetime and never longer. Real keys, a real signed trust list and status list, the
trust capability's verifier: nothing is mocked."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from authority_testkit import (
    AUTHORITY,
    BASE,
    CTYPE,
    OPERATOR,
    REC,
    authorisation_subject,
    authority,
    black_mass,
    ship,
    trust_registry,
)
from ledger_testkit import identity
from sqlalchemy import Engine

from batpass.core.clock import FixedClock
from batpass.core.errors import UpstreamUnavailable
from batpass.ledger import MIGRATIONS_DIR, LedgerService, OutflowPolicy, ShipmentBlocked, recheck_with
from batpass.trust import (
    DidResolver,
    StatusListCache,
    TrustRegistry,
    Verifier,
    build_credential,
    did_document,
    issue_vc_jwt,
)
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential

LIST_URL = f"{BASE}/eu-authority/status/revocation-1"
INDEX = 42
LIST_TTL_S = 60  # the status list says: keep me at most a minute (its ``ttl``)
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


class Authority:
    """The authority's side: its revocation list (published as a signed status-list credential)
    and the trust list naming it; the shipper's side: a verifier with a status cache on a clock
    the test moves (monotonic seconds) and a wall clock."""

    def __init__(self) -> None:
        self.bits = bytearray(MIN_BITS // 8)
        self.seconds = 0.0
        self.wall = FixedClock(NOW)
        self.fetches = 0
        self.reachable = True
        self.resolver = DidResolver()
        for i in (OPERATOR, AUTHORITY):
            self.resolver.pin(did_document(i))
        self.cache = StatusListCache(
            self.resolver, max_age_s=300.0, clock=lambda: self.seconds, local=self._published, wall_clock=self.wall
        )
        self.registry = self._registry(trusted=True)
        self.verifier = Verifier(self.resolver, self.registry, self.cache, clock=self.wall)

    def _published(self, url: str) -> str | None:
        if url != LIST_URL or not self.reachable:
            return None  # not published here: the cache would fetch it, and has no HTTPS client
        self.fetches += 1
        return status_list_credential(
            AUTHORITY, list_url=LIST_URL, bits=bytes(self.bits), ttl_s=LIST_TTL_S, now=self.wall.now()
        )

    def _registry(self, *, trusted: bool) -> TrustRegistry:
        types = frozenset({CTYPE}) if trusted else frozenset({"MembershipCredential"})
        return trust_registry(self.resolver, NOW - dt.timedelta(days=30), None, (authority(types),))

    def distrust(self) -> None:
        """The operator's new list names the authority for other types only."""
        self.verifier.registry = self._registry(trusted=False)

    def revoke(self) -> None:
        set_bit(self.bits, INDEX)

    def credential(self, *, valid_until: dt.datetime | None = None) -> str:
        subject = authorisation_subject(authorisationId="EU-CONSENT-7", destinations=["DE"], capKg=1000.0)
        vc = build_credential(
            issuer=AUTHORITY.did,
            ctype=CTYPE,
            subject=subject,
            valid_from=NOW - dt.timedelta(days=2),
            valid_until=valid_until or NOW + dt.timedelta(days=365),
            status=status_entry(LIST_URL, INDEX),
        )
        return issue_vc_jwt(AUTHORITY, vc, now=NOW - dt.timedelta(days=1))


def _ledger(engine: Engine, authority: Authority, mode: str = "warn") -> LedgerService:
    return LedgerService(
        engine,
        identity(REC),
        batch_size=4,
        clock=authority.wall,
        outflow_policy=OutflowPolicy(mode=mode),
        authorisation_check=recheck_with(authority.verifier.verify),
    )


def _hold(svc: LedgerService, authority: Authority, token: str) -> None:
    asyncio.run(svc.hold_authorisation(REC, token, authority.verifier.averify))


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    return make_store([MIGRATIONS_DIR])


def _used(svc: LedgerService) -> float:
    [record] = svc.authorisations(REC)
    return float(record["used_kg"])


def test_a_revoked_authorisation_alerts_in_warn_mode_once_its_list_ages_out(engine: Engine) -> None:
    authority = Authority()
    svc = _ledger(engine, authority)
    _hold(svc, authority, authority.credential())
    assert (
        svc.record([black_mass("bm", 500.0), ship("bm", 10.0, "DE", n=1)]).alerts == ()
    )  # before revocation: authorised
    authority.revoke()
    # within the list's own lifetime (its ttl, 60 s) the copy the node holds still says valid
    authority.seconds += LIST_TTL_S - 1
    assert svc.record([ship("bm", 10.0, "DE", n=2)]).alerts == ()
    # never longer: past it the list is fetched again, and the authorisation is withdrawn
    authority.seconds += 2
    authority.wall.advance(dt.timedelta(minutes=5))
    res = svc.record([ship("bm", 10.0, "DE", n=3)])
    [alert] = res.alerts
    assert alert["rule"] == "outflow.authorisation-withdrawn"
    [shown] = alert["evidence"]["authorisations"]
    assert (shown["id"], shown["kind"], shown["issuer"]) == ("EU-CONSENT-7", "credential", AUTHORITY.did)
    assert shown["withdrawn"]["reason"] == "revoked" and shown["withdrawn"]["at"] == authority.wall.now().isoformat()
    assert _used(svc) == 20.0  # the withdrawn credential covered nothing more
    # withdrawn from then on, even without asking again (the authority's list unreachable now)
    authority.reachable = False
    authority.seconds += 3600
    [again] = svc.record([ship("bm", 1.0, "DE", n=4)]).alerts
    assert again["rule"] == "outflow.authorisation-withdrawn"
    [record] = svc.authorisations(REC)
    assert record["withdrawn"]["reason"] == "revoked" and record["withdrawn"]["rule"].startswith("credential.revoked")
    # the self-audit's replay (no verifier) judges each shipment as it was judged
    assert svc.self_audit(REC) == []


def test_block_mode_refuses_a_shipment_under_a_revoked_authorisation(engine: Engine) -> None:
    authority = Authority()
    svc = _ledger(engine, authority, "block")
    _hold(svc, authority, authority.credential())
    assert svc.record([black_mass("bm", 500.0), ship("bm", 10.0, "DE", n=1)]).alerts == ()
    authority.revoke()
    authority.seconds += LIST_TTL_S + 1
    with pytest.raises(ShipmentBlocked) as info:
        svc.record([ship("bm", 10.0, "DE", n=2)])
    assert info.value.rule == "outflow.authorisation-withdrawn (eu.wsr.intra-eu)"
    assert info.value.details["alerts"][0]["evidence"]["authorisations"][0]["withdrawn"]["reason"] == "revoked"
    # nothing written: the lot keeps its mass, the authorisation its use, the chain its length
    assert svc.lot(REC, "bm").remaining_kg == pytest.approx(490.0)
    assert _used(svc) == 10.0
    assert svc.verify(REC).ok


def test_an_expired_authorisation_authorises_nothing(engine: Engine) -> None:
    authority = Authority()
    svc = _ledger(engine, authority, "block")
    _hold(svc, authority, authority.credential(valid_until=NOW + dt.timedelta(days=1)))
    assert svc.record([black_mass("bm", 500.0), ship("bm", 10.0, "DE", n=1)]).alerts == ()
    authority.wall.advance(dt.timedelta(days=2))  # the credential's validUntil has passed
    with pytest.raises(ShipmentBlocked) as info:
        svc.record([ship("bm", 10.0, "DE", n=2)])
    [gone] = info.value.details["alerts"][0]["evidence"]["authorisations"]
    assert gone["withdrawn"]["reason"] == "expired"
    assert _used(svc) == 10.0


def test_an_issuer_no_longer_trusted_as_an_authority_authorises_nothing(engine: Engine) -> None:
    authority = Authority()
    svc = _ledger(engine, authority)
    _hold(svc, authority, authority.credential())
    assert svc.record([black_mass("bm", 500.0), ship("bm", 10.0, "DE", n=1)]).alerts == ()
    authority.distrust()  # the operator's new trust list names it for other types only
    authority.wall.advance(dt.timedelta(hours=1))
    [alert] = svc.record([ship("bm", 5.0, "DE", n=2)]).alerts
    assert alert["rule"] == "outflow.authorisation-withdrawn"
    [gone] = alert["evidence"]["authorisations"]
    assert gone["withdrawn"]["reason"] == "issuer-not-trusted-for-type"
    assert gone["withdrawn"]["rule"].startswith("ledger.authorisation.authority")
    assert svc.self_audit(REC) == []


def test_a_status_that_cannot_be_checked_records_nothing(engine: Engine) -> None:
    authority = Authority()
    svc = _ledger(engine, authority)
    _hold(svc, authority, authority.credential())
    assert svc.record([black_mass("bm", 500.0)]).alerts == ()
    authority.reachable = False
    authority.seconds += LIST_TTL_S + 1  # the held copy has aged out, and the list cannot be fetched
    with pytest.raises(UpstreamUnavailable) as info:
        svc.record([ship("bm", 10.0, "DE", n=1)])
    assert info.value.details["field"] == "authorisation"
    assert info.value.rule is not None and "status-unavailable" in info.value.rule
    assert svc.lot(REC, "bm").remaining_kg == pytest.approx(500.0)
    [record] = svc.authorisations(REC)
    assert record["withdrawn"] is None and record["used_kg"] == 0.0
    authority.reachable = True  # reachable again: it authorises, as before
    assert svc.record([ship("bm", 10.0, "DE", n=2)]).alerts == ()
