"""Shipments reconciled across nodes, on both stores (docs/outflows.md "Reconciliation across
nodes"): each outcome at its boundary — ok at exactly 0.5 % less than shipped, short just beyond,
diverted (another site, or another owner of the receiving node), missing once the window has
passed on the shipper's ledger clock, not yet due inside it — seen and alerted at both ends and
reported to an authority, the messages signed and carried through each node's outbox, and the
receiver's quantity never in anything the shipper gets.

Two (or three) ledgers on two (or three) databases stand for the nodes; a message leaves its
node's outbox and is handed to the receiving node's ``Reconciliation.receive`` as the node's
connector inbox would (test_ledger_reconciliation_connector.py; the integration test
test_reconciliation_nodes.py carries them over HTTPS between served nodes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import ev, identity, out
from sqlalchemy import Engine, select, update

from batpass.core.errors import ConfigurationError, Forbidden, InvalidInput, Unauthorized
from batpass.ledger import (
    MIGRATIONS_DIR,
    LedgerService,
    Reconciliation,
    ReconciliationOutcome,
    ReconciliationSettings,
    parse_reconciliation,
)
from batpass.ledger._reconcile import MESSAGE_TYP, Received, judge
from batpass.store import outbox_table
from batpass.trust import NodeIdentity, peek, sign_compact

SHIPPER = "did:web:shipper.example"
RECEIVER = "did:web:receiver.example"
OTHER = "did:web:receiver.example:operators:other"  # a second owner on the receiver's node
AUTHORITY = "did:web:authority.example"
SHIPPED_AT = dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.UTC)
SITE = "WH-DE-1"


class Net:
    """The nodes of one test: a ledger and its reconciliation per node URL, and the delivery of
    every message their outboxes hold (what the dispatcher does over HTTPS)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Reconciliation] = {}
        self.keys: dict[str, NodeIdentity] = {}
        self.delivered: list[dict[str, Any]] = []

    def node(
        self,
        make_store: Callable[[Sequence[Path]], Engine],
        did: str,
        *,
        extra: Mapping[str, NodeIdentity] | None = None,
        settings: ReconciliationSettings = ReconciliationSettings(),
    ) -> tuple[LedgerService, Reconciliation]:
        ident = self.keys[did] = identity(did)
        others = dict(extra or {})
        self.keys.update(others)
        ledger = LedgerService(make_store([MIGRATIONS_DIR]), ident, identities=others.get, batch_size=8)
        recon = Reconciliation(ledger, settings=settings, signer_keys=self._partner_key)
        self.nodes["https://" + did.split(":")[2]] = recon
        return ledger, recon

    def _partner_key(self, kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
        ident = self.keys.get(kid.split("#", 1)[0])
        key = ident.find(kid) if ident is not None else None
        return key.public_jwk() if key is not None else None

    def deliver(self) -> int:
        """Hand every pending message to its node until none is left; returns how many."""
        n = 0
        while True:
            moved = 0
            for recon in list(self.nodes.values()):
                with recon.engine.begin() as conn:
                    rows = conn.execute(select(outbox_table).where(outbox_table.c.status == "pending")).all()
                    conn.execute(update(outbox_table).values(status="sent"))
                for row in rows:
                    base = row.destination.split("/v1/", 1)[0]
                    assert row.destination.endswith("/v1/ledger/reconciliation/messages")
                    self.delivered.append(peek(row.body["jws"])[1])
                    self.nodes[base].receive(row.body["jws"])
                    moved += 1
            if not moved:
                return n
            n += moved


@pytest.fixture
def net() -> Net:
    return Net()


def _at(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _shipment(lot: str = "L1", kg: float = 1000.0, *, to: str = RECEIVER) -> list[dict[str, Any]]:
    return [
        ev("extraction", owner=SHIPPER, site="PLANT-NL", country="NL", outputs=[out(lot, "lithium_carbonate", kg)]),
        ev(
            "shipment",
            owner=SHIPPER,
            site="PLANT-NL",
            country="NL",
            at=_at(SHIPPED_AT),
            inputs=[(lot, kg)],
            outputs=[out(f"{lot}-D", "lithium_carbonate", kg)],
            shipment={
                "to_site": {"id": SITE, "country": "DE"},
                "destination_country": "DE",
                "document": f"BL-{lot}",
                "to_owner": to,
            },
        ),
    ]


def _receipt(kg: float, *, lot: str = "L1", owner: str = RECEIVER, site: str = SITE, days: float = 2) -> dict[str, Any]:
    return ev(
        "receipt",
        owner=owner,
        site=site,
        country="DE",
        at=_at(SHIPPED_AT + dt.timedelta(days=days)),
        outputs=[out(f"R-{lot}-{owner[-5:]}-{kg}", "lithium_carbonate", kg)],
        receipt={"from_owner": SHIPPER, "from_lot": f"{lot}-D", "document": f"BL-{lot}"},
    )


def _clock(owner: str, at: dt.datetime, n: int = 0) -> dict[str, Any]:
    """An event that moves ``owner``'s ledger time to ``at``."""
    return ev(
        "extraction",
        owner=owner,
        site="X",
        country="NL",
        at=_at(at),
        outputs=[out(f"T-{n}-{owner[-8:]}", "lithium_carbonate", 1.0)],
    )


def _outcome(recon: Reconciliation, owner: str, role: str) -> str:
    rows = [s for s in recon.outcomes(owner)["shipments"] if s["role"] == role]
    assert len(rows) == 1, rows
    return str(rows[0]["outcome"])


def _pair(net: Net, make_store: Callable[[Sequence[Path]], Engine], **kw: Any) -> tuple[Any, ...]:
    sl, sr = net.node(make_store, SHIPPER, settings=kw.pop("shipper_settings", ReconciliationSettings()))
    rl, rr = net.node(make_store, RECEIVER, **kw)
    return sl, sr, rl, rr


@pytest.mark.parametrize(
    ("received", "expected"),
    [(995.0, "ok"), (999.5, "ok"), (1200.0, "ok"), (994.99, "short"), (100.0, "short")],
)
def test_receipt_mass_within_half_a_percent_is_ok_beyond_is_short(
    net: Net, make_store: Callable[[Sequence[Path]], Engine], received: float, expected: str
) -> None:
    sl, sr, rl, rr = _pair(net, make_store)
    sl.record(_shipment())
    rl.record([_receipt(received)])
    sr.run()
    net.deliver()
    assert _outcome(rr, RECEIVER, "receiver") == expected
    assert _outcome(sr, SHIPPER, "shipper") == expected
    rule = None if expected == "ok" else "reconciliation.short"
    assert [a["rule"] for a in sr.alerts()] == ([rule] if rule else [])
    assert [a["rule"] for a in rr.alerts()] == ([rule] if rule else [])
    # the receiver sends its verdict only: its quantity is in nothing the shipper got or shows
    back = [m for m in net.delivered if m["iss"] == RECEIVER]
    assert [m["type"] for m in back] == ["verdict"] and back[0]["outcome"] == expected
    assert str(received) not in json.dumps([back, sr.outcomes(SHIPPER), sr.alerts()])


def test_a_receipt_at_another_site_is_diverted_at_both_ends(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    sl, sr, rl, rr = _pair(net, make_store)
    sl.record(_shipment())
    rl.record([_receipt(1000.0, site="WH-PL-9")])
    sr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == _outcome(rr, RECEIVER, "receiver") == "diverted"
    alert = sr.alerts()[0]
    assert alert["rule"] == "reconciliation.diverted" and alert["shipment"] == alert["evidence"]["shipment"]
    assert alert["evidence"]["to_site"] == SITE and alert["evidence"]["lot"] == "L1-D"
    assert [a["rule"] for a in rr.alerts()] == ["reconciliation.diverted"]


def test_a_receipt_by_another_owner_of_the_receiving_node_is_diverted(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    sl, sr = net.node(make_store, SHIPPER)
    rl, rr = net.node(make_store, RECEIVER, extra={OTHER: identity(OTHER)})
    sl.record(_shipment())
    rl.record([_receipt(1000.0, owner=OTHER)])
    sr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == "diverted"
    assert [a["rule"] for a in rr.alerts(RECEIVER)] == ["reconciliation.diverted"]


def test_missing_after_the_window_on_the_shippers_clock_not_yet_due_inside_it(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    sl, sr, rl, rr = _pair(net, make_store)
    sl.record(_shipment())
    rl.record([_clock(RECEIVER, SHIPPED_AT)])
    sr.run()
    net.deliver()  # the notice reaches the receiver: nothing received yet, nothing due
    assert _outcome(rr, RECEIVER, "receiver") == "pending"
    # exactly 30 days later on the shipper's ledger: still inside the window
    sl.record([_clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=30), 1)])
    sr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == "pending" and sr.alerts() == [] and rr.alerts() == []
    # a receipt dated after the window does not acknowledge the shipment
    rl.record([_receipt(1000.0, days=31)])
    sl.record([_clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=30, seconds=1), 2)])
    sr.run()
    rr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == "missing"
    assert _outcome(rr, RECEIVER, "receiver") == "missing"
    assert [a["rule"] for a in sr.alerts()] == ["reconciliation.missing"]
    assert [a["rule"] for a in rr.alerts()] == ["reconciliation.missing"]
    assert sr.run() == {} and net.deliver() == 0  # judged once: a second run changes nothing


def test_the_window_is_the_configured_one(net: Net, make_store: Callable[[Sequence[Path]], Engine]) -> None:
    sl, sr, _rl, rr = _pair(net, make_store, shipper_settings=ReconciliationSettings(window_days=5))
    sl.record(_shipment())
    sr.run()
    net.deliver()
    sl.record([_clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=5, seconds=1))])
    sr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == _outcome(rr, RECEIVER, "receiver") == "missing"
    assert rr.outcomes(RECEIVER)["shipments"][0]["due"] == (SHIPPED_AT + dt.timedelta(days=5)).isoformat()


def test_not_missing_while_the_notice_has_not_left(net: Net, make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """The shipper judges ``missing`` only once the receiver was told: a notice still in the
    outbox (its receiver's node unreachable so far) keeps the shipment pending."""
    sl, sr, _rl, _rr = _pair(net, make_store)
    sl.record([*_shipment(), _clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=60))])
    sr.run()
    assert sr.run() == {} and _outcome(sr, SHIPPER, "shipper") == "pending"
    net.deliver()
    assert sr.run() == {"missing": 1}


def test_a_late_receipt_reported_within_the_window_turns_missing_to_ok(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    sl, sr, rl, rr = _pair(net, make_store)
    sl.record([*_shipment(), _clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=40))])
    sr.run()
    net.deliver()
    sr.run()
    net.deliver()
    assert _outcome(sr, SHIPPER, "shipper") == "missing"
    rl.record([_receipt(1000.0, days=3)])  # recorded late, dated within the window
    rr.run()
    net.deliver()
    assert _outcome(rr, RECEIVER, "receiver") == "ok"
    assert _outcome(sr, SHIPPER, "shipper") == "ok" and sr.alerts() == []


def test_alerts_are_reported_to_the_configured_authority(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    cfg = ReconciliationSettings(authority=AUTHORITY)
    sl, sr = net.node(make_store, SHIPPER, settings=cfg)
    rl, _rr = net.node(make_store, RECEIVER, settings=cfg)
    _, ar = net.node(make_store, AUTHORITY)
    sl.record(_shipment())
    rl.record([_receipt(900.0)])
    sr.run()
    net.deliver()
    reports = ar.outcomes(AUTHORITY)["shipments"]
    assert sorted(r["reported_by"] for r in reports) == [RECEIVER, SHIPPER]
    assert {r["outcome"] for r in reports} == {"short"} and all("shipped_kg" not in r for r in reports)
    assert len(ar.alerts(AUTHORITY)) == 2
    assert not [m for m in net.delivered if m["aud"] == AUTHORITY and ("kg" in m or "900" in json.dumps(m))]


def test_shipments_between_owners_of_one_node_reconcile_without_a_message(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    ledger, recon = net.node(make_store, SHIPPER, extra={RECEIVER: identity(RECEIVER)})
    ledger.record([*_shipment(), _receipt(990.0)])
    recon.run()
    assert net.deliver() == 0
    assert _outcome(recon, SHIPPER, "shipper") == _outcome(recon, RECEIVER, "receiver") == "short"


def test_forged_or_misaddressed_messages_change_nothing(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    sl, sr, _rl, rr = _pair(net, make_store)
    sl.record(_shipment())
    sr.run()
    with sr.engine.begin() as conn:
        jws = conn.execute(select(outbox_table.c.body)).scalar_one()["jws"]
    notice = peek(jws)[1]
    head, body, sig = jws.split(".")
    with pytest.raises(Unauthorized):  # a signature that does not verify
        rr.receive(f"{head}.{body}.{sig[:-4]}AAAA")
    with pytest.raises(InvalidInput):
        rr.receive("not-a-jws")
    verdict = {k: v for k, v in notice.items() if k not in ("kg", "window_days")}
    verdict.update(type="verdict", outcome="ok", iss=RECEIVER, aud=SHIPPER)
    with pytest.raises(Unauthorized):  # signed by the receiver's key, posing as the shipper
        sr.receive(_signed({**verdict, "iss": SHIPPER}, net.keys[RECEIVER]))
    third = identity("did:web:third.example")
    net.keys[third.did] = third
    with pytest.raises(Forbidden):  # a verdict from someone who is no side of the shipment
        sr.receive(_signed({**verdict, "iss": third.did}, third))
    with pytest.raises(Forbidden):  # a notice for an owner this node keeps no ledger for
        rr.receive(_signed({**notice, "to_owner": OTHER, "aud": OTHER}, net.keys[SHIPPER]))
    assert rr.outcomes(RECEIVER)["shipments"] == [] and _outcome(sr, SHIPPER, "shipper") == "pending"
    assert sr.receive(_signed(verdict, net.keys[RECEIVER]))["outcome"] == "ok"  # the genuine one counts


def _signed(msg: Mapping[str, Any], ident: NodeIdentity) -> str:
    kp = ident.active("Ed25519")
    payload = json.dumps(msg, sort_keys=True, separators=(",", ":")).encode()
    return sign_compact({"kid": ident.key_id(kp), "typ": MESSAGE_TYP}, payload, kp)


def test_judge_boundaries() -> None:
    kw: dict[str, Any] = {
        "shipped_kg": 200.0,
        "to_owner": RECEIVER,
        "to_site": SITE,
        "shipped_at": SHIPPED_AT,
        "window_days": 30,
        "now": SHIPPED_AT,
    }
    due = SHIPPED_AT + dt.timedelta(days=30)
    assert judge(**kw, receipts=[Received(RECEIVER, SITE, 199.0, due)]) is ReconciliationOutcome.OK
    assert judge(**kw, receipts=[Received(RECEIVER, SITE, 198.999, due)]) is ReconciliationOutcome.SHORT
    assert judge(**kw, receipts=[Received(RECEIVER, SITE, 150.0, due), Received(RECEIVER, SITE, 50.0, due)]) == "ok"
    assert judge(**kw, receipts=[Received(OTHER, SITE, 200.0, due)]) is ReconciliationOutcome.DIVERTED
    late = [Received(RECEIVER, SITE, 200.0, due + dt.timedelta(seconds=1))]
    assert judge(**kw, receipts=late) is ReconciliationOutcome.PENDING
    assert judge(**{**kw, "now": due}, receipts=[]) is ReconciliationOutcome.PENDING
    assert judge(**{**kw, "now": due + dt.timedelta(seconds=1)}, receipts=late) is ReconciliationOutcome.MISSING


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"window_days": 0}, "reconciliation.window_days"),
        ({"window_days": "30"}, "reconciliation.window_days"),
        ({"authority": "https://authority.example"}, "reconciliation.authority"),
        ({"windows": 3}, "reconciliation"),
    ],
)
def test_a_bad_reconciliation_config_is_refused_naming_it(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_reconciliation(raw)
    assert err.value.rule == field
    assert parse_reconciliation({"window_days": 7, "authority": AUTHORITY}) == ReconciliationSettings(7, AUTHORITY)


def test_a_senders_did_is_resolved_before_the_message_is_handled(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    """``prefetch`` (the node wires its did:web resolver) fetches the sender's DID document on the
    event loop, so the handler's worker thread never waits for a partner's thread to serve it."""
    sl, sr, rl, _ = _pair(net, make_store)
    asked: list[str] = []

    async def fetch(did: str) -> None:
        asked.append(did)

    recon = Reconciliation(rl, prefetch=fetch)
    sl.record(_shipment())
    sr.run()
    with sr.engine.begin() as conn:
        jws = conn.execute(select(outbox_table.c.body)).scalar_one()["jws"]
    asyncio.run(recon.prefetch(jws))
    asyncio.run(recon.prefetch("not-a-jws"))  # left to receive() to refuse
    assert asked == [SHIPPER]
    asyncio.run(Reconciliation(sl, prefetch=fetch).prefetch(jws))  # its own key: nothing to fetch
    assert asked == [SHIPPER]


def test_a_receiver_outside_the_federation_is_not_told_and_judged_by_the_shipper_alone(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    """A receiver whose DID does not resolve gets no notice (nothing for the outbox to retry until
    it gives up); past the window the shipper alone finds the shipment missing."""
    sl, _ = net.node(make_store, SHIPPER)
    recon = Reconciliation(sl, reachable=lambda did: did != RECEIVER)
    sl.record([*_shipment(), _clock(SHIPPER, SHIPPED_AT + dt.timedelta(days=31))])
    recon.run()  # recorded, and at once past its window with nobody to wait for
    with sl.engine.begin() as conn:
        assert conn.execute(select(outbox_table)).all() == []
    assert _outcome(recon, SHIPPER, "shipper") == "missing" and recon.run() == {}
    assert [a["rule"] for a in recon.alerts()] == ["reconciliation.missing"]


def test_messages_arriving_together_are_applied_as_one_by_one(
    net: Net, make_store: Callable[[Sequence[Path]], Engine]
) -> None:
    """The inbox applies a burst of messages in one transaction (``receive_many``): each gets
    the answer it would alone; a refused one (bad signature, or refused while applied) changes
    nothing and the others still count."""
    sl, sr, rl, rr = _pair(net, make_store)
    sl.record(_shipment("L1") + _shipment("L2", 500.0))
    rl.record([_receipt(1000.0, lot="L1"), _receipt(100.0, lot="L2")])
    sr.run()
    with sr.engine.begin() as conn:
        notices = [r["jws"] for r in conn.execute(select(outbox_table.c.body).order_by(outbox_table.c.id)).scalars()]
        conn.execute(update(outbox_table).values(status="sent"))
    assert len(notices) == 2
    head, body, sig = notices[0].split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    misaddressed = _signed({**peek(notices[0])[1], "to_owner": OTHER, "aud": OTHER}, net.keys[SHIPPER])
    got = rr.receive_many([notices[0], forged, notices[1], notices[1]])
    assert [g if isinstance(g, dict) else type(g) for g in got] == [
        {"type": "notice", "shipment": peek(notices[0])[1]["shipment"], "outcome": "ok"},
        Unauthorized,
        {"type": "notice", "shipment": peek(notices[1])[1]["shipment"], "outcome": "short"},
        {"type": "notice", "shipment": peek(notices[1])[1]["shipment"], "outcome": "short"},  # a replay
    ]
    # one refused while applied: the others are applied each on its own
    again = rr.receive_many([misaddressed, notices[0]])
    assert isinstance(again[0], Forbidden) and again[1] == got[0]
    assert sorted(s["outcome"] for s in rr.outcomes(RECEIVER)["shipments"]) == ["ok", "short"]
    net.deliver()  # the verdicts, once each
    assert sorted(s["outcome"] for s in sr.outcomes(SHIPPER)["shipments"]) == ["ok", "short"]
    assert sorted(m["outcome"] for m in net.delivered if m["type"] == "verdict") == ["ok", "short"]
