"""How many pulls one federated trace sends: the six supply-chain nodes of the demo scenario
(mines → refining → precursor → cathode → cells → pack), each a :class:`FederatedTrace` on its own
store, reaching each other through a loopback partner port that hands every pull to the partner's
provider side (``query_content``, the code the data plane runs). Over a first trace and a warm one
of another battery, every partner is asked each question once: no (asker, partner, lot) twice
within a trace, and no node pulls a partner more often than it is itself asked (one pull per
partner per question, all that partner's lots in it). The refining node ships to three of the
tiers, so it is asked three questions a trace and pulls the mining node once for each, about
other lots each time."""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.core.errors import BatpassError, NotFound
from batpass.demo._dataspace_setup import SUPPLY_CHAIN_NODES
from batpass.federation import UPSTREAM_ASSET, FederatedTrace, Refused
from batpass.federation._partners import LOT_FIELD, LOTS_FIELD, answers_by_lot, encode_lots
from batpass.federation._wire import DOWN_KEY, UP_KEY
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.scenario import Scenario, generate
from batpass.trust import NodeIdentity, generate_keypair
from did_testkit import did_documents

pytestmark = pytest.mark.anyio

OUTSIDE = "supplier's DID does not resolve (outside the dataspace)"
#: a pull as the loopback port saw it: (asker, partner, asset, lots)
Pull = tuple[str, str, str, tuple[str, ...]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _did(role: str) -> str:
    return f"did:web:{role}.example"


@dataclass
class Loopback:
    """One node's partner port: each pull goes to the partner node's provider side, as the
    asker (its consumer DID), and is written down in ``pulls``. A partner that is no node here
    (the cell maker's foil supplier) fails as an unresolvable DID does, before any pull."""

    me: str
    nodes: Mapping[str, FederatedTrace]
    pulls: list[Pull] = field(default_factory=list)

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await self._send(did, [lot], asset, role, {**(extra or {}), LOT_FIELD: lot})

    async def pull_many(
        self, did: str, lots: Sequence[str], asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> list[dict[str, Any] | Refused]:
        query = {**(extra or {}), LOTS_FIELD: encode_lots(lots)}
        try:
            return answers_by_lot(await self._send(did, lots, asset, role, query), lots, role)
        except Refused as r:
            return [r] * len(lots)

    async def _send(self, did: str, lots: Sequence[str], asset: str, role: str, query: dict[str, str]) -> Any:
        node = self.nodes.get(did)
        if node is None:
            raise Refused(f"{role}'s DID does not resolve (outside the dataspace)")
        self.pulls.append((self.me, did, asset, tuple(lots)))
        key = UP_KEY if asset == UPSTREAM_ASSET else DOWN_KEY
        try:
            return await node.query_content(
                key, consumer_did=self.me, consumer_bpnl=None, agreement_id=f"{self.me}|{did}", query=query
            )
        except NotFound as exc:
            raise Refused(f"{role} refused: no answer about this lot for this node") from exc


@dataclass
class Chain:
    nodes: dict[str, FederatedTrace]
    ports: list[Loopback]
    scenario: Scenario

    def pulls(self) -> list[Pull]:
        return [p for port in self.ports for p in port.pulls]

    def forget(self) -> None:
        for port in self.ports:
            port.pulls.clear()


@pytest.fixture
def chain(make_store: Callable[[Sequence[Path]], Engine]) -> Chain:
    owners = {code: _did(role) for role, codes in SUPPLY_CHAIN_NODES.items() for code in codes}
    scenario = generate(lots=10, seed=7, owners=owners, resolver="https://pack.example")
    ids = {_did(r): NodeIdentity(_did(r), [generate_keypair("Ed25519", "key-ed25519-1")]) for r in SUPPLY_CHAIN_NODES}
    docs = did_documents(ids)

    async def resolve(did: str) -> dict[str, Any]:
        raise BatpassError(f"{did} is outside the dataspace")

    nodes: dict[str, FederatedTrace] = {}
    ports: list[Loopback] = []
    for did, identity in ids.items():
        ledger = LedgerService(make_store([MIGRATIONS_DIR]), identity)
        ledger.record([e for e in scenario.events if e["owner"] == did])
        port = Loopback(did, nodes)
        ports.append(port)
        nodes[did] = FederatedTrace(
            ledger=ledger, identity=identity, resolve_did=resolve, cached_did=docs.get, partners=port
        )
    return Chain(nodes, ports, scenario)


def _asked_once(pulls: list[Pull], asker: str) -> None:
    """Each question once: no (asker, partner, asset, lot) in two pulls, and no node pulling a
    partner more often than it was asked itself (the operator's own trace counts once)."""
    questions = collections.Counter((a, p, asset, lot) for a, p, asset, lots in pulls for lot in lots)
    assert {q: n for q, n in questions.items() if n > 1} == {}
    asked = collections.Counter(p for _, p, _, _ in pulls) + collections.Counter([asker])
    sent = collections.Counter((a, p) for a, p, _, _ in pulls)
    assert {pair: n for pair, n in sent.items() if n > asked[pair[0]]} == {}


async def test_a_trace_over_the_scenario_asks_each_partner_each_question_once(chain: Chain) -> None:
    pack = _did("pack")
    for battery in chain.scenario.battery_ids[:2]:  # a first trace, then a warm one of another battery
        chain.forget()
        out = await chain.nodes[pack].trace(battery)
        assert out["mines_reached"] == 7 and out["hops"] == 5
        assert {t["reason"] for t in out["tombstones"]} == {OUTSIDE}  # the foil supplier alone
        pulls = chain.pulls()
        _asked_once(pulls, pack)
        by_pair = collections.Counter((a, p) for a, p, _, _ in pulls)
        # each tier's customers ask it once; the refining node is asked by three of them
        assert by_pair == {
            (pack, _did("cells")): 1,
            (_did("cells"), _did("cathode")): 1,
            (_did("cells"), _did("refining")): 1,
            (_did("cathode"), _did("precursor")): 1,
            (_did("cathode"), _did("refining")): 1,
            (_did("precursor"), _did("refining")): 1,
            (_did("refining"), _did("mining")): 3,
        }
        # its three pulls of the mining node are about three sets of lots, none asked twice
        mining = [set(lots) for a, p, _, lots in pulls if p == _did("mining")]
        assert sum(map(len, mining)) == len(set().union(*mining)) == 7
