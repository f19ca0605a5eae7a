"""Partners by BPNL: the participant register answers first; otherwise the operator's BPN-DID
directory is asked for that one partner (``?bpn=`` / ``?did=``, never the whole directory) with
this node's DCP token for the operator, its gzip answer decoded and cached; an unknown BPNL is a
404 naming the rule; the connector client turns a BPNL provider into the partner's DID. The
operator is answered by ``httpx.MockTransport`` (a partner client takes a transport)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from batpass.core.errors import NotFound, UpstreamUnavailable
from batpass.dataspace import ConsumerChannels
from batpass.exchange import ConnectorClient, PartnerBpnls
from batpass.participants import MIGRATIONS_DIR, Participant, ParticipantService
from batpass.trust import NodeIdentity, generate_keypair

pytestmark = pytest.mark.anyio

ME = "did:web:car.example"
OPERATOR = "did:web:operator.example"
CELLS = ("BPNL0000JPCELL01", "did:web:hub.example:operators:cells")
KNOWN = ("BPNL00000003REC1", "did:web:recycler.example")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def identity() -> NodeIdentity:
    return NodeIdentity(ME, [generate_keypair("Ed25519", "key-ed25519-1")])


def _operator(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    directory = {CELLS[0]: CELLS[1]}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status != 200:
            return httpx.Response(status)
        bpns, dids = request.url.params.get_list("bpn"), request.url.params.get_list("did")
        found = {b: d for b, d in directory.items() if b in bpns or d in dids}
        return httpx.Response(200, content=gzip.compress(json.dumps(found).encode()))

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_partners_by_bpnl_through_the_directory(
    make_store: Callable[[Sequence[Path]], Engine], identity: NodeIdentity
) -> None:
    participants = ParticipantService(make_store([MIGRATIONS_DIR]))
    participants.register(Participant(legal_name="Recycler", country="DE", did=KNOWN[1], bpnl=KNOWN[0]))
    seen: list[httpx.Request] = []
    bdrs = {"url": "https://operator.example:8443", "did": OPERATOR}
    bpnls = PartnerBpnls(participants, identity, own_bpnl="BPNL00000003CAR1", client=_operator(seen), bdrs=bdrs)
    assert await bpnls.bpnl_of(KNOWN[1]) == KNOWN[0] and seen == []  # the register first
    assert await bpnls.bpnl_of(CELLS[1]) == CELLS[0]
    assert await bpnls.did_of(CELLS[0]) == CELLS[1]
    [asked] = seen  # cached: the directory was asked once, for that one partner
    assert asked.url.path == "/api/directory/bpn-directory" and dict(asked.url.params) == {"did": CELLS[1]}
    payload = asked.headers["authorization"].removeprefix("Bearer ").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == ME and claims["aud"] == OPERATOR and claims["bpn"] == "BPNL00000003CAR1"
    with pytest.raises(NotFound) as missing:
        await bpnls.did_of("BPNL00000003NONE")
    assert missing.value.rule == "BDRS: BPN → DID"
    assert await bpnls.bpnl_of("did:web:nobody.example") is None
    client = ConnectorClient(ConsumerChannels.__new__(ConsumerChannels), _no_did, did_of_bpnl=bpnls.did_of)
    assert await client.provider_did(CELLS[0]) == CELLS[1]
    assert await client.provider_did(KNOWN[1]) == KNOWN[1]  # a DID is taken as it is


async def test_an_operator_that_fails_is_named(
    make_store: Callable[[Sequence[Path]], Engine], identity: NodeIdentity
) -> None:
    participants = ParticipantService(make_store([MIGRATIONS_DIR]))
    bdrs = {"url": "https://operator.example:8443", "did": OPERATOR}
    bpnls = PartnerBpnls(participants, identity, own_bpnl=None, client=_operator([], status=403), bdrs=bdrs)
    with pytest.raises(UpstreamUnavailable, match="HTTP 403"):
        await bpnls.did_of(CELLS[0])
    alone = PartnerBpnls(participants, identity, own_bpnl=None, client=_operator([]), bdrs=None)
    with pytest.raises(NotFound):  # no directory configured: only the register answers
        await alone.did_of(CELLS[0])


async def _no_did(did: str) -> dict[str, object]:
    raise NotFound(did, rule="not asked")
