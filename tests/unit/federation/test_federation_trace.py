"""The federated trace and recall of one node against an in-memory partner port: its direct
suppliers (and customers) answer signed summaries, refuse with each tombstone category, answer
what does not verify, or answer slowly. The answer keeps the healthy branches' shares, turns each
failed branch into a tombstone with its category (never an identity), lifts the suppliers' own
tombstones one tier, and asks at most ``concurrency`` partners at once."""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import Engine

from batpass.core.errors import InvalidInput
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.federation import (
    RECALL_ASSET,
    TOMBSTONE_CATEGORIES,
    UPSTREAM_ASSET,
    ChannelKeeper,
    FederatedTrace,
    PartnerPort,
    Refused,
    tombstone_category,
)
from batpass.federation.service import HOP_CAP_TOMBSTONE, sign_recall
from batpass.ledger import MIGRATIONS_DIR, LedgerService, encode_summary, sign_summary, verify_summary
from batpass.trust import NodeIdentity, generate_keypair
from did_testkit import did_documents

pytestmark = pytest.mark.anyio

CELLS = "did:web:cells.example"  # the node under test
COBALT = "did:web:cobalt.example"
LITHIUM = "did:web:lithium.example"
NICKEL = "did:web:nickel.example"
MANGANESE = "did:web:manganese.example"
GRAPHITE = "did:web:graphite.example"
FAR = "did:web:far.example"  # the cobalt supplier's own supplier (never asked by this node)
PACK = "did:web:pack.example"  # customers
RECYCLER = "did:web:recycler.example"

UNREACHABLE = "supplier unreachable"
NEGOTIATION = "supplier refused the contract negotiation"
NOT_OFFERED = "supplier offers no upstream summary to this node"
NO_ANSWER = "supplier refused: no answer about this lot for this node"
SLOW = "supplier's connector did not answer in time"
_events = itertools.count(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _ev(kind: str, owner: str, site: str, country: str, **extra: Any) -> dict[str, Any]:
    n = next(_events)
    return {
        "id": f"ev-{n:06d}",
        "kind": kind,
        "owner": owner,
        "at": f"2026-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "site": {"id": site, "country": country},
        **extra,
    }


def _kg(lot: str, kg: float) -> dict[str, Any]:
    return {"lot": lot, "quantity": {"value": kg, "unit": "kg"}}


def _out(lot: str, material: str, kg: float) -> dict[str, Any]:
    return {"lot": lot, "material": material, "quantity": {"value": kg, "unit": "kg"}}


def _extract(owner: str, site: str, country: str, lot: str, material: str, kg: float) -> dict[str, Any]:
    return _ev("extraction", owner, site, country, outputs=[_out(lot, material, kg)])


def _ship(
    owner: str, site: str, inputs: Sequence[tuple[str, float]], lot: str, material: str, to: str
) -> dict[str, Any]:
    """A shipment of bulk material (kg) to another owner."""
    kg = sum(q for _, q in inputs)
    return _ev(
        "shipment",
        owner,
        site,
        "CD",
        inputs=[_kg(i, q) for i, q in inputs],
        outputs=[_out(lot, material, kg)],
        shipment=_to(to, lot),
    )


def _ship_cells(lot: str, pieces: int, to: str) -> dict[str, Any]:
    """A shipment of this node's cells (pieces of 20 kg) to a customer."""
    out = {"lot": lot, "material": "cell", "quantity": {"value": pieces, "unit": "piece"}, "mass_per_piece_kg": 20}
    inputs = [{"lot": "cells-1", "quantity": {"value": pieces, "unit": "piece"}}]
    return _ev("shipment", CELLS, "CELLS-1", "JP", inputs=inputs, outputs=[out], shipment=_to(to, lot))


def _to(owner: str, document: str) -> dict[str, Any]:
    site = {"id": "SITE-" + owner.rsplit(":", 1)[-1], "country": "JP"}
    return {"to_site": site, "destination_country": "JP", "document": document, "to_owner": owner}


def _receive(owner: str, lot: str, material: str, kg: float, supplier: str, their_lot: str) -> dict[str, Any]:
    receipt = {"from_owner": supplier, "from_lot": their_lot, "document": their_lot}
    site = "CELLS-1" if owner == CELLS else "REF-1"
    return _ev("receipt", owner, site, "JP", outputs=[_out(lot, material, kg)], receipt=receipt)


def _identity(did: str) -> NodeIdentity:
    return NodeIdentity(did, [generate_keypair("Ed25519", "key-ed25519-1")])


@dataclass
class FakePartners:
    """An in-memory :class:`PartnerPort`: answers by (partner, lot, asset), refusals by partner
    (a category, as the connector's port raises them), delays by partner; counts the pulls in
    flight."""

    answers: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, str, str, str, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        self.calls.append((did, lot, asset, role, dict(extra or {})))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        # what this pull will come back with is settled when it is sent (a hung partner's
        # connector gives up later, whatever happens to the partner meanwhile)
        refusal, found = self.refusals.get(did), self.answers.get((did, lot, asset))
        try:
            await asyncio.sleep(self.delays.get(did, 0))
            if refusal is not None:
                raise Refused(refusal)
            if found is None:
                raise Refused(f"{role} refused: no answer about this lot for this node")
            return found
        finally:
            self.in_flight -= 1


@dataclass
class World:
    """This node (the cell maker) with five direct suppliers and two customers; the suppliers'
    own ledgers live in another store (they are other nodes)."""

    trace: FederatedTrace
    partners: FakePartners
    ids: dict[str, NodeIdentity]
    suppliers: dict[str, LedgerService]

    def summary_of(self, did: str, lot: str) -> dict[str, Any]:
        return {"summary": self.suppliers[did].signed_summary(did, lot), "tiers": 1}


@pytest.fixture
def world(make_store: Callable[[Sequence[Path]], Engine]) -> World:
    ids = {d: _identity(d) for d in (CELLS, COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE, PACK, RECYCLER)}
    theirs = make_store([MIGRATIONS_DIR])
    cobalt = LedgerService(theirs, ids[COBALT], high_risk_sites=["MINE-CD-2"])
    cobalt.record(
        [
            _extract(COBALT, "MINE-CD-1", "CD", "co-ore", "cobalt_hydroxide", 1000),
            _extract(COBALT, "MINE-CD-2", "CD", "co-risky", "cobalt_hydroxide", 100),
            # a lot the cobalt refiner bought without a summary: its own tombstone
            _receive(COBALT, "co-far", "cobalt_hydroxide", 100, FAR, "far-1"),
            _ship(
                COBALT,
                "REF-1",
                [("co-ore", 300), ("co-risky", 100), ("co-far", 100)],
                "co-ship",
                "cobalt_hydroxide",
                CELLS,
            ),
        ]
    )
    lithium = LedgerService(theirs, ids[LITHIUM])
    lithium.record(
        [
            _extract(LITHIUM, "SALAR-1", "CL", "li-brine", "lithium_brine_concentrate", 1000),
            _ship(LITHIUM, "SALAR-1", [("li-brine", 500)], "li-ship", "lithium_brine_concentrate", CELLS),
        ]
    )
    mine = LedgerService(make_store([MIGRATIONS_DIR]), ids[CELLS], high_risk_sites=["MINE-CD-2"])
    cell = {"lot": "cells-1", "material": "cell", "quantity": {"value": 100, "unit": "piece"}, "mass_per_piece_kg": 20}
    mine.record(
        [
            _receive(CELLS, "c-co", "cobalt_hydroxide", 500, COBALT, "co-ship"),
            _receive(CELLS, "c-li", "lithium_brine_concentrate", 500, LITHIUM, "li-ship"),
            _receive(CELLS, "c-ni", "nickel_mhp", 400, NICKEL, "ni-ship"),
            _receive(CELLS, "c-mn", "manganese_ore", 300, MANGANESE, "mn-ship"),
            _receive(CELLS, "c-gr", "natural_graphite_concentrate", 300, GRAPHITE, "gr-ship"),
            _ev(
                "assembly",
                CELLS,
                "CELLS-1",
                "JP",
                inputs=[_kg("c-co", 500), _kg("c-li", 500), _kg("c-ni", 400), _kg("c-mn", 300), _kg("c-gr", 300)],
                outputs=[cell],
            ),
            _ship_cells("to-pack", 50, PACK),
            _ship_cells("to-recycler", 10, RECYCLER),
        ]
    )
    docs = did_documents(ids)

    async def resolve(did: str) -> dict[str, Any]:
        raise AssertionError(f"{did}: every partner's DID document is known here")

    partners = FakePartners()
    port: PartnerPort = partners  # what FederatedTrace asks of a partner port, and no more
    trace = FederatedTrace(
        ledger=mine, identity=ids[CELLS], resolve_did=resolve, cached_did=docs.get, partners=port, concurrency=8
    )
    return World(trace, partners, ids, {COBALT: cobalt, LITHIUM: lithium})


def _cobalt_from_congo_lithium_from_chile(out: dict[str, Any]) -> None:
    """Shares of the element's mass (summary 2.0): the cobalt refiner's Congolese mines, beside the
    part of its cobalt it received without a summary (unknown, its own tier-2 tombstone); all the
    lithium from Chile. Nothing recycled, so no recycler country."""
    shares, unknown = out["shares_by_country"], out["unknown_share"]
    assert set(shares["Co"]) == {"CD"} and 0 < unknown["Co"] < 1
    assert shares["Co"]["CD"] + unknown["Co"] == pytest.approx(1.0)
    assert shares["Li"] == {"CL": pytest.approx(1.0)} and unknown["Li"] == pytest.approx(0.0)
    assert out["recycled_by_country"]["Co"] == {} and out["recycled_by_country"]["Li"] == {}


async def test_healthy_branches_stand_and_each_refusal_is_a_tombstone_with_its_category(world: World) -> None:
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = world.summary_of(COBALT, "co-ship")
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-ship")
    world.partners.refusals.update({NICKEL: UNREACHABLE, MANGANESE: NEGOTIATION, GRAPHITE: NOT_OFFERED})
    out = await world.trace.trace("cells-1")

    assert out["complete"] is False and out["direction"] == "up"
    assert out["path"][0] == CELLS  # then its direct suppliers only
    assert sorted(out["path"][1:]) == sorted([COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE])
    assert {(u["did"], u["reason"]) for u in out["unreachable_suppliers"]} == {
        (NICKEL, UNREACHABLE),
        (MANGANESE, NEGOTIATION),
        (GRAPHITE, NOT_OFFERED),
    }
    # one tombstone per failed branch, with its category; the cobalt refiner's own gap one tier up
    assert sorted((t["tier"], t["reason"]) for t in out["tombstones"]) == sorted(
        [
            (1, NEGOTIATION),
            (1, NOT_OFFERED),
            (1, UNREACHABLE),
            (2, "a supplier lot was received without an upstream summary"),
        ]
    )
    # the healthy branches' shares: cobalt from the refiner's Congolese mines, lithium from Chile
    shares = out["shares_by_country"]
    _cobalt_from_congo_lithium_from_chile(out)
    assert not shares.get("Ni") and not shares.get("Mn") and not shares.get("C_nat")
    assert out["high_risk_share"]["Co"] == pytest.approx(0.25)  # 100 of the 400 kg known came from MINE-CD-2
    assert out["mines_reached"] == 3 and out["hops"] == 1
    assert [(c[0], c[1], c[3]) for c in sorted(world.partners.calls)] == [
        (COBALT, "co-ship", "supplier"),
        (GRAPHITE, "gr-ship", "supplier"),
        (LITHIUM, "li-ship", "supplier"),
        (MANGANESE, "mn-ship", "supplier"),
        (NICKEL, "ni-ship", "supplier"),
    ]
    # the answer a customer would get is this node's own, signed, and names no supplier
    up = await world.trace.upstream("cells-1")
    signed = encode_summary(verify_summary(up.token, lambda kid: _jwk(world, kid)))
    assert signed["issuer"] == CELLS and signed["tombstones"] == out["tombstones"]
    assert all(d not in up.token + str(signed) for d in (COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE, FAR))


def _jwk(world: World, kid: str) -> Mapping[str, Any] | None:
    for i in world.ids.values():
        if i.key_id(i.active()) == kid:
            return dict(i.active().public_jwk())
    return None


async def test_a_partner_without_an_answer_about_the_lot(world: World) -> None:
    out = await world.trace.trace("cells-1")  # nobody has an answer: every branch refuses
    assert {t["reason"] for t in out["tombstones"]} == {NO_ANSWER}
    assert len(out["tombstones"]) == 5 and out["hops"] == 0 and out["mines_reached"] == 0


async def test_answers_that_do_not_hold_are_tombstones_of_their_own(world: World) -> None:
    stranger = _identity(COBALT)  # another key claiming the refiner's DID
    forged = sign_summary(world.suppliers[COBALT].summary(COBALT, "co-ship"), stranger)
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = {"summary": forged, "tiers": 1}
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-brine")  # other lot
    world.partners.answers[(NICKEL, "ni-ship", UPSTREAM_ASSET)] = {"answer": "not a summary"}
    world.partners.refusals.update({MANGANESE: UNREACHABLE, GRAPHITE: UNREACHABLE})
    out = await world.trace.trace("cells-1")
    reasons = {u["did"]: u["reason"] for u in out["unreachable_suppliers"]}
    assert reasons[COBALT] == "supplier's summary does not verify"
    assert reasons[LITHIUM] == "supplier's summary is not about the lot it shipped"
    assert reasons[NICKEL] == "supplier's answer is not an upstream summary"
    assert not out["shares_by_country"].get("Co") and not out["shares_by_country"].get("Li")


async def test_tiers_add_up_and_an_unchanged_answer_is_reused(world: World) -> None:
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = {
        "summary": world.suppliers[COBALT].signed_summary(COBALT, "co-ship"),
        "tiers": 3,  # the refiner reports three tiers at and above it
    }
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-ship")
    world.partners.refusals.update({NICKEL: UNREACHABLE, MANGANESE: UNREACHABLE, GRAPHITE: UNREACHABLE})
    first = await world.trace.trace("cells-1")
    assert first["hops"] == 3 and "cached" not in first["timing"]
    again = await world.trace.trace("cells-1")
    assert "cached" in again["timing"]  # the same inputs: the signed answer is reused ...
    assert again["tombstones"] == first["tombstones"] and again["summary"] == first["summary"]
    assert len(world.partners.calls) == 10  # ... yet every partner is asked each time
    # a branch that heals changes the answer
    world.partners.refusals.pop(NICKEL)
    world.partners.answers[(NICKEL, "ni-ship", UPSTREAM_ASSET)] = {"answer": "not a summary"}
    healed = await world.trace.trace("cells-1")
    assert "cached" not in healed["timing"]
    assert {u["did"]: u["reason"] for u in healed["unreachable_suppliers"]}[NICKEL] == (
        "supplier's answer is not an upstream summary"
    )


async def test_a_slow_partner_delays_only_its_own_branch(world: World) -> None:
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = world.summary_of(COBALT, "co-ship")
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-ship")
    # the nickel supplier is slow and its port gives up; the others are slow but answer
    world.partners.delays.update({NICKEL: 0.3, COBALT: 0.2, LITHIUM: 0.2, MANGANESE: 0.2, GRAPHITE: 0.2})
    world.partners.refusals.update({NICKEL: SLOW, MANGANESE: UNREACHABLE, GRAPHITE: UNREACHABLE})
    out = await world.trace.trace("cells-1")
    assert world.partners.most_in_flight == 5  # asked in parallel
    assert {u["did"]: u["reason"] for u in out["unreachable_suppliers"]}[NICKEL] == SLOW
    _cobalt_from_congo_lithium_from_chile(out)


async def test_at_most_concurrency_partners_are_asked_at_once(world: World) -> None:
    world.trace._concurrency = 2
    world.partners.delays.update({d: 0.05 for d in (COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE)})
    out = await world.trace.trace("cells-1")
    assert len(world.partners.calls) == 5 and world.partners.most_in_flight == 2
    assert len(out["tombstones"]) == 5


async def test_concurrent_askers_of_one_question_share_one_computation(world: World) -> None:
    world.partners.delays.update({d: 0.05 for d in (COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE)})
    a, b = await asyncio.gather(world.trace.trace("cells-1"), world.trace.trace("cells-1"))
    assert a["summary"] == b["summary"] and len(world.partners.calls) == 5


def _recall_answer(world: World, did: str, lot: str, marks: Sequence[str], tombstones: Sequence[Any] = ()) -> Any:
    answer = {
        "issuer": did,
        "subject": {"id": lot},
        "batteries": [f"https://id.example/01/0{i}" for i in range(len(marks))],
        "lots": 1,
        "batteriesBelow": 0,
        "marks": list(marks),
        "tombstones": list(tombstones),
    }
    return {"answer": sign_recall(answer, world.ids[did]), "tiers": 1}


async def test_recall_counts_the_customers_batteries_and_tombstones_a_refusal(world: World) -> None:
    world.partners.answers[(PACK, "to-pack", RECALL_ASSET)] = _recall_answer(
        world, PACK, "to-pack", ["m1", "m2", "m3"], [{"tier": 1, "reason": "customer unreachable"}]
    )
    world.partners.refusals[RECYCLER] = "customer refused the contract negotiation"
    out = await world.trace.recall("c-co")  # a lot this node received from the cobalt refiner
    assert out["direction"] == "down" and out["complete"] is False
    assert out["path"] == [CELLS, PACK]
    assert out["batteries"] == [] and out["lots"] == 4  # c-co, cells-1 and the two shipments
    assert [(c["did"], c["lot"], len(c["batteries"])) for c in out["customers"]] == [(PACK, "to-pack", 3)]
    assert out["batteries_total"] == 3
    assert sorted((t["tier"], t["reason"]) for t in out["tombstones"]) == [
        (1, "customer refused the contract negotiation"),
        (2, "customer unreachable"),
    ]
    assert out["unreachable_customers"] == [{"did": RECYCLER, "reason": "customer refused the contract negotiation"}]
    # each customer was asked about the lot shipped to it, with the question's salt
    asked = sorted((c[0], c[1], c[2], c[3]) for c in world.partners.calls)
    assert asked == [(PACK, "to-pack", RECALL_ASSET, "customer"), (RECYCLER, "to-recycler", RECALL_ASSET, "customer")]
    assert all(len(c[4]["salt"]) == 32 for c in world.partners.calls)


# -- deadlines, not timeouts ---------------------------------------------------------------------

DEADLINE = "supplier deadline exceeded"


def _healthy_cobalt_and_lithium(world: World) -> None:
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = world.summary_of(COBALT, "co-ship")
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-ship")
    world.partners.refusals.update({MANGANESE: UNREACHABLE, GRAPHITE: UNREACHABLE})


async def test_a_hung_supplier_is_cut_at_the_deadline_and_the_healthy_branches_stand(world: World) -> None:
    _healthy_cobalt_and_lithium(world)
    world.partners.delays[NICKEL] = 60.0  # stopped, not dead: it never answers
    started = time.monotonic()
    out = await world.trace.trace("cells-1", deadline_ms=1000)
    assert time.monotonic() - started < 5.0  # cut at about 0.8 s; generous for a loaded machine
    assert {u["did"]: u["reason"] for u in out["unreachable_suppliers"]} == {
        NICKEL: DEADLINE,
        MANGANESE: UNREACHABLE,
        GRAPHITE: UNREACHABLE,
    }
    assert sorted((t["tier"], t["reason"]) for t in out["tombstones"]) == sorted(
        [
            (1, DEADLINE),
            (1, UNREACHABLE),
            (1, UNREACHABLE),
            (2, "a supplier lot was received without an upstream summary"),
        ]
    )
    _cobalt_from_congo_lithium_from_chile(out)
    assert out["deadline_ms"] == 1000
    # each supplier was asked with what was left minus max(200 ms, 10 %): at most 800 ms of 1 s
    passed = [float(c[4]["deadline_ms"]) for c in world.partners.calls]
    assert len(passed) == 5 and all(500 <= ms <= 800 for ms in passed), passed


async def test_a_branch_with_under_300_ms_left_is_tombstoned_without_being_asked(world: World) -> None:
    _healthy_cobalt_and_lithium(world)
    out = await world.trace.trace("cells-1", deadline_ms=450)  # 450 - 200 = 250 ms: too little to ask
    assert world.partners.calls == []
    assert [t for t in out["tombstones"] if t["tier"] == 1] == [{"tier": 1, "reason": DEADLINE}] * 5


async def test_a_question_after_its_asker_gave_up_is_answered_afresh(world: World) -> None:
    """The second trace after a hung one reported a running supplier as unreachable: the first
    question's computation outlived its asker (the customer's connector gave up) and the next
    question joined it, inheriting the failure it was still waiting for."""
    _healthy_cobalt_and_lithium(world)
    # the cobalt refiner hangs; its connector will give up (as an HTTP client times out) later
    world.partners.delays[COBALT] = 1.5
    world.partners.refusals[COBALT] = UNREACHABLE
    with anyio.move_on_after(0.3) as gave_up:  # the customer stops waiting for the first answer
        await world.trace.upstream("to-pack", PACK)
    assert gave_up.cancelled_caught
    # the refiner is back: a new question is answered from it, not from the abandoned one
    world.partners.delays.pop(COBALT)
    world.partners.refusals.pop(COBALT)
    again = await world.trace.upstream("to-pack", PACK)
    assert NICKEL in again.failed and COBALT not in again.failed, again.failed
    assert ("CD" in dict(again.summary.elements["Co"].mined_by_country or {})) is True


async def test_the_question_carries_its_deadline_to_the_provider(world: World) -> None:
    _healthy_cobalt_and_lithium(world)

    async def ask(deadline: str | None) -> Any:
        query = {"lot": "to-pack"} | ({"deadline_ms": deadline} if deadline is not None else {})
        return await world.trace.query_content(
            "lot", consumer_did=PACK, consumer_bpnl=None, agreement_id="agreement-1", query=query
        )

    answer = await ask("2000")
    assert isinstance(answer["summary"], str) and answer["tiers"] >= 2
    assert all(1000 <= float(c[4]["deadline_ms"]) <= 1800 for c in world.partners.calls)
    world.partners.calls.clear()
    await ask(None)  # a question without a deadline: the default 10 s
    assert all(8000 <= float(c[4]["deadline_ms"]) <= 9000 for c in world.partners.calls)
    for bad in ("0", "-5", "nan", "inf", "1e9", "ten", "300001", "9" * 40):
        with pytest.raises(InvalidInput) as caught:
            await ask(bad)
        assert caught.value.field == "deadline_ms", bad


async def test_deeper_tombstones_count_once_per_tier_and_reason(world: World) -> None:
    """Gaps below reached by several paths (a DAG, a recycling loop cut by its deadline) do not
    multiply with the paths: the answer stays small enough to sign and verify."""
    cut = [{"tier": 1, "reason": "customer deadline exceeded"}] * 40 + [{"tier": 2, "reason": "customer unreachable"}]
    world.partners.answers[(PACK, "to-pack", RECALL_ASSET)] = _recall_answer(world, PACK, "to-pack", ["m1"], cut)
    world.partners.answers[(RECYCLER, "to-recycler", RECALL_ASSET)] = _recall_answer(
        world, RECYCLER, "to-recycler", ["m2"], cut
    )
    world.partners.refusals[NICKEL] = UNREACHABLE  # not a customer: never asked in a recall
    out = await world.trace.recall("c-co")
    assert sorted((t["tier"], t["reason"]) for t in out["tombstones"]) == [
        (2, "customer deadline exceeded"),
        (3, "customer unreachable"),
    ]
    assert out["batteries_total"] == 2


async def test_a_recall_cut_by_the_ledgers_hop_cap_says_so(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recall whose own ledger search stopped at its hop cap is not complete: it carries a
    tombstone saying so, instead of a silently shorter answer."""
    world.partners.answers[(PACK, "to-pack", RECALL_ASSET)] = _recall_answer(world, PACK, "to-pack", ["m1"], [])
    world.partners.answers[(RECYCLER, "to-recycler", RECALL_ASSET)] = _recall_answer(
        world, RECYCLER, "to-recycler", [], []
    )
    whole = await world.trace.recall("c-co")
    assert whole["complete"] is True and whole["lots"] == 4
    ledger = world.trace.ledger
    monkeypatch.setattr(ledger, "trace", functools.partial(type(ledger).trace, ledger, max_hops=1))
    ledger.record([_extract(CELLS, "MINE-X", "CL", "x-ore", "lithium_brine_concentrate", 1)])  # a new change mark
    cut = await world.trace.recall("c-co")
    assert cut["complete"] is False and cut["lots"] < whole["lots"]
    assert [(t["tier"], t["reason"]) for t in cut["tombstones"]] == [(1, HOP_CAP_TOMBSTONE)]


@dataclass
class RecordedMetrics:
    """A :class:`batpass.federation.FederationMetrics` that keeps what it hears."""

    questions: list[tuple[str, str]] = field(default_factory=list)
    tombstones: list[tuple[str, str]] = field(default_factory=list)

    def question(self, direction: str, asker: str, seconds: float) -> None:
        assert seconds >= 0
        self.questions.append((direction, asker))

    def tombstone(self, direction: str, category: str) -> None:
        self.tombstones.append((direction, category))


async def test_each_question_and_lost_branch_reaches_the_metrics_port_by_category(world: World) -> None:
    metrics = world.trace.metrics = RecordedMetrics()
    world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = world.summary_of(COBALT, "co-ship")
    world.partners.answers[(LITHIUM, "li-ship", UPSTREAM_ASSET)] = world.summary_of(LITHIUM, "li-ship")
    world.partners.refusals.update({NICKEL: UNREACHABLE, MANGANESE: NEGOTIATION, GRAPHITE: NOT_OFFERED})
    await world.trace.trace("cells-1")
    await world.trace.upstream("cells-1", PACK)  # a partner's pull
    assert metrics.questions == [("up", "operator"), ("up", "partner")]
    assert sorted(metrics.tombstones) == sorted([("up", "unreachable"), ("up", "refused"), ("up", "refused")] * 2)
    # a category never carries the partner or the lot
    assert all(c in TOMBSTONE_CATEGORIES for _, c in metrics.tombstones)


def test_every_tombstone_reason_has_a_category() -> None:
    cases = {
        "supplier deadline exceeded": "deadline",
        "customer unreachable": "unreachable",
        "supplier's connector did not answer in time": "unreachable",
        "supplier refused the transfer": "refused",
        "customer terminated the contract negotiation": "refused",
        "supplier offers no upstream summary to this node": "refused",
        NO_ANSWER: "refused",
        "supplier's summary does not verify": "invalid",
        "customer's recall answer is not about the lot shipped to it": "invalid",
        "partner's DID does not resolve (outside the dataspace)": "invalid",
        "supplier has no DataService (DSP connector) in its DID document": "invalid",
        "ledger hop cap reached": "hop_cap",
        "something new": "other",
    }
    assert {reason: tombstone_category(reason) for reason in cases} == cases


# -- one pull per partner per question ------------------------------------------------------------


@dataclass
class BatchingPartners(FakePartners):
    """A partner port that asks one partner about several lots at once (as the connector's does)."""

    batches: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)

    async def pull_many(
        self, did: str, lots: Sequence[str], asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> list[dict[str, Any] | Refused]:
        self.batches.append((did, tuple(lots), asset))
        out: list[dict[str, Any] | Refused] = []
        for lot in lots:
            try:
                out.append(await self.pull(did, lot, asset, role, extra))
            except Refused as r:
                out.append(r)
        return out


def _cells_from_two_cobalt_lots(world: World) -> None:
    """The cobalt refiner ships two more lots; this node makes ``cells-2`` of both."""
    world.suppliers[COBALT].record(
        [
            _ship(COBALT, "REF-1", [("co-ore", 100)], "co-ship-b", "cobalt_hydroxide", CELLS),
            _ship(COBALT, "REF-1", [("co-ore", 100)], "co-ship-c", "cobalt_hydroxide", CELLS),
        ]
    )
    cell = {"lot": "cells-2", "material": "cell", "quantity": {"value": 10, "unit": "piece"}, "mass_per_piece_kg": 20}
    world.trace.ledger.record(
        [
            _receive(CELLS, "c-co-b", "cobalt_hydroxide", 100, COBALT, "co-ship-b"),
            _receive(CELLS, "c-co-c", "cobalt_hydroxide", 100, COBALT, "co-ship-c"),
            _ev("assembly", CELLS, "CELLS-1", "JP", inputs=[_kg("c-co-b", 100), _kg("c-co-c", 100)], outputs=[cell]),
        ]
    )


async def test_a_partner_is_asked_once_about_all_its_lots(world: World) -> None:
    _cells_from_two_cobalt_lots(world)
    batching = BatchingPartners()
    world.trace.partners = batching
    for lot in ("co-ship-b", "co-ship-c"):
        batching.answers[(COBALT, lot, UPSTREAM_ASSET)] = world.summary_of(COBALT, lot)
    out = await world.trace.trace("cells-2")
    assert batching.batches == [(COBALT, ("co-ship-b", "co-ship-c"), UPSTREAM_ASSET)]
    assert out["complete"] is True and out["path"] == [CELLS, COBALT]
    assert set(out["shares_by_country"]["Co"]) == {"CD"}
    # a lot the partner refuses alone is that lot's tombstone; the other lot's answer stands
    del batching.answers[(COBALT, "co-ship-c", UPSTREAM_ASSET)]
    again = await world.trace.trace("cells-2")
    assert [t["reason"] for t in again["tombstones"]] == ["supplier refused: no answer about this lot for this node"]
    assert len(batching.batches) == 2


async def test_a_list_pull_answers_each_lot_and_refuses_the_others_alone(world: World) -> None:
    """The provider side: ``?lots=[...]`` answers a list, one entry per lot; a lot not shipped
    to the asker is refused in its entry as it would be alone (404); ``?lot=ID`` is unchanged."""
    world.partners.refusals.update({d: UNREACHABLE for d in (COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE)})
    ask = functools.partial(
        world.trace.query_content, "lot", consumer_did=PACK, consumer_bpnl=None, agreement_id="ag-1"
    )
    out = await ask(query={"lots": '["to-pack", "to-recycler", "to-pack"]'})
    answers = out["answers"]
    assert [a["lot"] for a in answers] == ["to-pack", "to-recycler"]
    summary = verify_summary(answers[0]["summary"], world.trace.ledger.resolve_key)
    assert summary.subject.id == "to-pack" and answers[0]["tiers"] == 1
    assert answers[1] == {"lot": "to-recycler", "refused": "not-found"}
    single = await ask(query={"lot": "to-pack"})
    assert set(single) == {"summary", "tiers", "ms"}
    for bad in ("to-pack", "[]", '["x", 3]', "[" + ",".join(['"x"'] * 257) + "]"):
        with pytest.raises(InvalidInput) as ei:
            await ask(query={"lots": bad})
        assert ei.value.field == "lots"


# -- channels ready before they are needed ---------------------------------------------------------


@dataclass
class PreparingPartners:
    """What the keeper asks of the connector's partner port: open a channel, renew it."""

    refusals: dict[str, str] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    prepared: list[tuple[str, str, str]] = field(default_factory=list)
    renewed: list[tuple[str, str, float]] = field(default_factory=list)

    async def prepare(self, did: str, asset: str, role: str) -> None:
        self.prepared.append((did, asset, role))
        if did in self.refusals:
            raise Refused(self.refusals[did])
        if did in self.broken:
            raise RuntimeError("a bug")

    async def renew(self, did: str, asset: str, role: str, *, fresh_for_s: float) -> None:
        self.renewed.append((did, asset, fresh_for_s))


async def test_the_keeper_opens_a_channel_to_each_partner_the_ledger_names_and_renews_them(world: World) -> None:
    now = [1000.0]
    port = PreparingPartners(refusals={NICKEL: UNREACHABLE})
    keeper = ChannelKeeper(
        ledger=world.trace.ledger,
        owner=CELLS,
        partners=port,  # type: ignore[arg-type]
        retry_s=5.0,
        renew_every_s=30.0,
        fresh_for_s=120.0,
        page=3,  # the start-up read takes several pages
        clock=lambda: now[0],
    )
    await keeper.step()  # start-up: every receipt's supplier, every shipment's customer
    suppliers = {COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE}
    assert {(d, a) for d, a, _ in port.prepared} == {(d, UPSTREAM_ASSET) for d in suppliers} | {
        (PACK, RECALL_ASSET),
        (RECYCLER, RECALL_ASSET),
    }
    status = keeper.status()
    assert status["wanted"] == 7 and status["ready"] == 6
    assert [c for c in status["channels"] if c["state"] != "ready"] == [
        {"partner": NICKEL, "asset": UPSTREAM_ASSET, "role": "supplier", "state": "failed", "reason": UNREACHABLE}
    ]
    await keeper.step()  # nothing new: nobody asked again, the failed one waits for its retry
    assert len(port.prepared) == 7
    now[0] += 5.0
    port.refusals.clear()
    await keeper.step()
    assert port.prepared[-1] == (NICKEL, UPSTREAM_ASSET, "supplier") and keeper.status()["ready"] == 7
    # the first receipt naming a new supplier opens its channel at the next round
    world.trace.ledger.record([_receive(CELLS, "c-far", "cobalt_hydroxide", 10, FAR, "far-9")])
    await keeper.step()
    assert port.prepared[-1] == (FAR, UPSTREAM_ASSET, "supplier") and len(port.prepared) == 9
    # a failure of another kind waits for its retry too (rather than being tried every round)
    port.broken.add(PACK)
    world.trace.ledger.record([_ship_cells("to-pack-2", 1, PACK)])
    assert (PACK, RECALL_ASSET) in keeper.channels
    keeper.channels[(PACK, RECALL_ASSET)].ready = False  # as if never opened
    await keeper.step()
    await keeper.step()
    assert [p for p in port.prepared if p[0] == PACK] == [(PACK, RECALL_ASSET, "customer")] * 2
    assert keeper.status()["ready"] == 7
    port.broken.clear()
    now[0] += 5.0
    await keeper.step()
    assert keeper.status()["ready"] == 8
    assert port.renewed == []
    now[0] += 25.0  # renewal is due: every open channel, fresh for the next 120 s
    await keeper.step()
    assert sorted(d for d, _, _ in port.renewed) == sorted([*suppliers, FAR, PACK, RECYCLER])
    assert {s for _, _, s in port.renewed} == {120.0}


async def test_a_list_pull_asks_each_supplier_once_for_all_its_lots(world: World) -> None:
    """Two lots of one list pull made of the same supplier lots: each lot keeps its own signed
    answer, but their onward questions go out together, one pull per supplier (its lots once),
    rather than one pull per lot and supplier."""
    world.trace.ledger.record([_ship_cells("to-pack-2", 5, PACK)])
    batching = BatchingPartners()
    world.trace.partners = batching
    for did, lot in ((COBALT, "co-ship"), (LITHIUM, "li-ship")):
        batching.answers[(did, lot, UPSTREAM_ASSET)] = world.summary_of(did, lot)
    out = await world.trace.query_content(
        "lot", consumer_did=PACK, consumer_bpnl=None, agreement_id="ag-1", query={"lots": '["to-pack","to-pack-2"]'}
    )
    asked = sorted((did, lots) for did, lots, _ in batching.batches)
    assert asked == sorted((d, (lot,)) for d, lot in world.trace._up_branches("to-pack").partners)
    subjects = [verify_summary(a["summary"], world.trace.ledger.resolve_key).subject.id for a in out["answers"]]
    assert subjects == ["to-pack", "to-pack-2"]
    # the suppliers that answer stand in both; the others are each lot's tombstones
    for a in out["answers"]:
        summary = verify_summary(a["summary"], world.trace.ledger.resolve_key)
        assert set(summary.elements["Co"].mined_by_country or {}) == {"CD"}
        assert len([t for t in summary.tombstones if t.reason == NO_ANSWER]) == 3


async def test_a_list_pull_lot_that_joins_another_question_does_not_hold_back_the_others(world: World) -> None:
    """A lot of a list pull whose answer another question is already computing waits for that
    computation, but the list's other lots send their questions at once, not after it."""
    world.trace.ledger.record([_ship_cells("to-pack-2", 5, PACK)])
    # the cobalt refiner answers after far longer than the waits below: only questions sent while
    # to-pack's computation still waits on it can be counted (no race with a loaded machine)
    batching = BatchingPartners(delays={COBALT: 120.0})
    world.trace.partners = batching
    for did, lot in ((COBALT, "co-ship"), (LITHIUM, "li-ship")):
        batching.answers[(did, lot, UPSTREAM_ASSET)] = world.summary_of(did, lot)
    ask = functools.partial(
        world.trace.query_content, "lot", consumer_did=PACK, consumer_bpnl=None, agreement_id="ag-1"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ask, query={"lot": "to-pack"}))  # hangs on the cobalt refiner
        direct = {COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE}
        await _until(lambda: {b[0] for b in batching.batches} == direct)  # each direct supplier asked
        asked_before = len(batching.batches)
        tg.start_soon(functools.partial(ask, query={"lots": '["to-pack","to-pack-2"]'}))
        # to-pack-2's questions go out while to-pack's computation still waits on the refiner
        await _until(lambda: len(batching.batches) >= 2 * asked_before)
        assert len(batching.batches) == 2 * asked_before
        tg.cancel_scope.cancel()


async def _until(done: Callable[[], bool], within_s: float = 30.0) -> None:
    """Let the event loop run until ``done()``; fail after ``within_s`` (far below any held partner's delay)."""
    with anyio.fail_after(within_s):
        while not done():
            await anyio.sleep(0.01)


async def test_a_supplier_summary_is_folded_in_when_its_content_changes_not_when_only_re_signed(world: World) -> None:
    """The fold compares what a supplier's summary says: a new token saying something else is
    stored (and changes this node's answer), a token re-signed later saying the same is not."""
    from dataclasses import replace

    from batpass.core.summary import Tombstone

    cobalt = world.suppliers[COBALT]
    base = cobalt.summary(COBALT, "co-ship")
    world.partners.refusals.update({LITHIUM: UNREACHABLE, NICKEL: UNREACHABLE, MANGANESE: UNREACHABLE})
    world.partners.refusals[GRAPHITE] = UNREACHABLE

    def answer(summary: Any) -> None:
        token = sign_summary(summary, world.ids[COBALT])
        world.partners.answers[(COBALT, "co-ship", UPSTREAM_ASSET)] = {"summary": token, "tiers": 2}

    def stored_jws() -> str:
        return world.trace.ledger.received_summaries(CELLS, ["co-ship"])["co-ship"].jws

    answer(base)
    first = await world.trace.trace("cells-1")
    kept = stored_jws()
    assert (await world.trace.trace("cells-1"))["timing"].get("cached") is not None  # warm: reused
    # the same content signed again at another time: not folded in, the answer still reused
    answer(replace(base, computed_at="2030-01-01T00:00:00Z"))
    again = await world.trace.trace("cells-1")
    assert stored_jws() == kept and again["timing"].get("cached") is not None
    assert again["summary"] == first["summary"]
    # something else said: folded in, and this node's answer changes with it
    answer(replace(base, tombstones=(*base.tombstones, Tombstone(tier=1, reason="supplier unreachable"))))
    changed = await world.trace.trace("cells-1")
    assert stored_jws() != kept and "cached" not in changed["timing"]
    assert len(changed["tombstones"]) > len(first["tombstones"])


# -- channels opened on first contact --------------------------------------------------------------


@dataclass
class GatedPartners(PreparingPartners):
    """A partner port whose journeys wait until the test opens the gate (each call counted)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def prepare(self, did: str, asset: str, role: str) -> None:
        self.prepared.append((did, asset, role))
        await self.gate.wait()
        if did in self.refusals:
            raise Refused(self.refusals[did])


async def test_a_customers_contact_opens_each_supplier_channel_once_without_waiting(world: World) -> None:
    """A node that does not open ahead opens its supplier channels when a customer contacts it:
    the contact returns at once (the journeys still running), concurrent contacts open each
    channel once, its customer channels stay closed, and a stranger opens nothing."""
    now = [1000.0]
    port = GatedPartners(refusals={NICKEL: UNREACHABLE})
    keeper = ChannelKeeper(
        ledger=world.trace.ledger,
        owner=CELLS,
        partners=port,  # type: ignore[arg-type]
        ahead=False,
        concurrency=4,
        retry_s=5.0,
        clock=lambda: now[0],
    )
    await keeper.start()
    assert not keeper.running  # no background job: contacts only
    keeper.contacted("did:web:stranger.example")
    await keeper.settle_contacts()
    assert port.prepared == [] and keeper.status()["contacts"] == 0
    for _ in range(3):  # three questions' contacts while the journeys are under way
        keeper.contacted(PACK)
    await _until(lambda: len(port.prepared) == 4)
    await asyncio.sleep(0.01)
    # the contacts returned before any journey ended; at most four journeys at once
    assert keeper.status()["ready"] == 0 and len(port.prepared) == 4
    port.gate.set()
    await keeper.settle_contacts()
    suppliers = {COBALT, LITHIUM, NICKEL, MANGANESE, GRAPHITE}
    assert sorted(port.prepared) == sorted((d, UPSTREAM_ASSET, "supplier") for d in suppliers)
    status = keeper.status()
    assert status["ahead"] is False and status["ready"] == 4 and status["contacts"] == 3
    assert {(c["partner"], c["state"]) for c in status["channels"] if c["role"] == "customer"} == {
        (PACK, "pending"),
        (RECYCLER, "pending"),
    }
    # the failed supplier waits for its retry time, whoever contacts the node
    keeper.contacted(RECYCLER)
    await keeper.settle_contacts()
    assert len(port.prepared) == 5
    now[0] += 5.0
    port.refusals.clear()
    keeper.contacted(RECYCLER)
    await keeper.settle_contacts()
    assert port.prepared[-1] == (NICKEL, UPSTREAM_ASSET, "supplier") and keeper.status()["ready"] == 5
    # a supplier's contact (a recall on its way down) opens the customer channels
    keeper.contacted(COBALT)
    await keeper.settle_contacts()
    assert sorted(p for p in port.prepared if p[2] == "customer") == [
        (PACK, RECALL_ASSET, "customer"),
        (RECYCLER, RECALL_ASSET, "customer"),
    ]
    assert keeper.status()["ready"] == 7


async def test_a_contact_while_the_job_opens_the_same_channel_does_not_open_it_twice(world: World) -> None:
    """The background job and a contact share the channels being opened: one journey each."""
    port = GatedPartners()
    keeper = ChannelKeeper(
        ledger=world.trace.ledger,
        owner=CELLS,
        partners=port,  # type: ignore[arg-type]
        concurrency=8,
    )
    step = asyncio.create_task(keeper.step())
    await _until(lambda: len(port.prepared) == 7)
    keeper.contacted(PACK)
    keeper.contacted(COBALT)
    await _until(lambda: keeper.contacts == 2)  # both chose what to open while the journeys run
    await asyncio.sleep(0.01)
    port.gate.set()
    await step
    await keeper.settle_contacts()
    assert len(port.prepared) == 7 and len(set(port.prepared)) == 7
    assert keeper.status()["ready"] == 7


async def test_a_list_pull_naming_a_lot_with_a_lone_surrogate_is_refused_naming_it(world: World) -> None:
    """``?lots=`` is JSON read by the provider itself (``parse_lots``), whose escapes may spell a
    lone surrogate no store can take as a parameter: refused as the other readers refuse it
    (RFC 8259 §8.2), naming the member, before any query."""
    ask = functools.partial(
        world.trace.query_content, "lot", consumer_did=PACK, consumer_bpnl=None, agreement_id="ag-1"
    )
    with pytest.raises(InvalidInput) as ei:
        await ask(query={"lots": '["to-pack", "to-\\ud800"]'})
    assert (ei.value.field, ei.value.rule, ei.value.status) == ("lots.1", SCALAR_TEXT_RULE, 400)
