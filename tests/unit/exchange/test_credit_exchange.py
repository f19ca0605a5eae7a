"""The recycler's credit-account source (``recycled-content-credit``) on a real ledger, on both
stores: the claimant is the agreement's consumer, never the body; claim ids are kept per claimant;
a claim beyond the credit is recorded as a double claim and answered without the other
claimants' identities; malformed claims change nothing."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.dataspace import DataPlaneReply, ProxyAssetSource
from batpass.exchange import CreditAccounts
from batpass.ledger import MATERIALS, MIGRATIONS_DIR, LedgerService
from batpass.trust import NodeIdentity, generate_keypair

pytestmark = pytest.mark.anyio

RECYCLER = "did:web:recycler.example"
MAKER_A = "did:web:maker-a.example"
MAKER_B = "did:web:maker-b.example"
LOT = "coso4-1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _credited() -> float:
    fractions = MATERIALS["cobalt_sulphate"].fractions
    assert fractions is not None
    return 100.0 * next(f for el, f in fractions.items() if el.value == "Co")


@pytest.fixture
def accounts(make_store: Callable[[Sequence[Path]], Engine]) -> CreditAccounts:
    ledger = LedgerService(make_store([MIGRATIONS_DIR]), NodeIdentity(RECYCLER, [generate_keypair("Ed25519", "k1")]))
    site = {"id": "REC-1", "country": "DE"}
    ledger.record(
        [
            {
                "id": "e1",
                "kind": "extraction",
                "owner": RECYCLER,
                "at": "2026-03-01T08:00:00Z",
                "site": site,
                "outputs": [
                    {
                        "lot": "bm-1",
                        "material": "black_mass",
                        "quantity": {"value": 300, "unit": "kg"},
                        "assay": {"Co": 0.1},
                    }
                ],
            },
            {
                "id": "e2",
                "kind": "recovery",
                "owner": RECYCLER,
                "at": "2026-03-02T08:00:00Z",
                "site": site,
                "inputs": [{"lot": "bm-1", "quantity": {"value": 300, "unit": "kg"}}],
                "outputs": [
                    {
                        "lot": LOT,
                        "material": "cobalt_sulphate",
                        "quantity": {"value": 100, "unit": "kg"},
                        "recycled": "post_consumer",
                    }
                ],
            },
        ]
    )
    return CreditAccounts(ledger)


async def _send(
    acc: CreditAccounts,
    body: Any,
    *,
    did: str = MAKER_A,
    method: str = "POST",
    path: str = "claims",
    query: dict[str, str] | None = None,
) -> DataPlaneReply:
    return await acc.proxy(
        "claims",
        method=method,
        path=path,
        query=query or {},
        body=body,
        consumer_did=did,
        consumer_bpnl=None,
        agreement_id="agreement-1",
    )


def _claim(claim_id: str, kg: float, subject: str = "battery-A1") -> dict[str, Any]:
    return {"id": claim_id, "lot": LOT, "element": "Co", "kg": kg, "subject": subject}


async def test_a_claim_beyond_the_credit_is_a_double_claim_without_names(accounts: CreditAccounts) -> None:
    assert isinstance(accounts, ProxyAssetSource)
    x = _credited()
    first = await _send(accounts, _claim("c-1", 0.7 * x))
    assert first.status == 201
    assert first.content["claim"]["status"] == "accepted" and first.content["claim"]["id"] == "c-1"
    assert first.content["account"]["creditedKg"] == pytest.approx(x)
    assert first.content["account"]["remainingKg"] == pytest.approx(0.3 * x)
    # another claimant, the same id (its own namespace), more than is left
    second = await _send(accounts, _claim("c-1", 0.5 * x, "battery-B1"), did=MAKER_B)
    assert second.status == 409
    assert second.content["type"].endswith("/double-claim") and second.content["status"] == 409
    assert second.content["claim"]["status"] == "double_claim"
    assert second.content["account"]["debitedKg"] == pytest.approx(0.7 * x)
    assert second.content["account"]["earlierClaims"] == 1
    text = json.dumps(second.content)
    assert MAKER_A not in text and "battery-A1" not in text
    # the evidence at the recycler: the claimants are the agreements' consumers
    [dc] = accounts.ledger.double_claims(RECYCLER)
    assert [(c["claimant"], c["status"], c["subject"]) for c in dc["claims"]] == [
        (MAKER_A, "accepted", "battery-A1"),
        (MAKER_B, "double_claim", "battery-B1"),
    ]
    assert len({c["id"] for c in dc["claims"]}) == 2  # one id, two claimants, two claims
    # a replay answers the stored claim and debits nothing twice; other content under the id: 409
    again = await _send(accounts, _claim("c-1", 0.7 * x))
    assert again.status == 201 and again.content["claim"]["replayed"] is True
    assert MAKER_B not in json.dumps(again.content)
    with pytest.raises(Conflict):
        await _send(accounts, _claim("c-1", 0.1 * x))
    assert len(accounts.ledger.double_claims(RECYCLER)[0]["claims"]) == 2


_MALFORMED: list[tuple[Any, str]] = [
    ({**_claim("c-9", 1.0), "claimant": MAKER_B}, "claimant"),
    ({**_claim("c-9", 1.0), "note": "x"}, "note"),
    (_claim("c-9", -1.0), "kg"),
    (_claim("c-9", math.inf), "kg"),
    ({**_claim("c-9", 1.0), "kg": True}, "kg"),
    ({**_claim("c-9", 1.0), "kg": "1"}, "kg"),
    (_claim("bad id!", 1.0), "id"),
    ({**_claim("c-9", 1.0), "lot": ""}, "lot"),
    ({k: v for k, v in _claim("c-9", 1.0).items() if k != "subject"}, "subject"),
    (["not", "an", "object"], "(body)"),
]


async def test_a_malformed_claim_is_refused_and_changes_nothing(accounts: CreditAccounts) -> None:
    for body, field in _MALFORMED:
        with pytest.raises(InvalidInput) as err:
            await _send(accounts, body)
        assert err.value.field == field, body
    # nothing was debited: the whole credit is still there
    full = await _send(accounts, _claim("c-all", _credited()))
    assert full.status == 201 and full.content["account"]["debitedKg"] == 0


async def test_only_a_post_of_claims_is_served(accounts: CreditAccounts) -> None:
    with pytest.raises(NotFound):
        await _send(accounts, _claim("c-1", 1.0), path="accounts")
    with pytest.raises(InvalidInput):
        await _send(accounts, None, method="GET")
    with pytest.raises(InvalidInput):
        await _send(accounts, _claim("c-1", 1.0), query={"claimant": MAKER_B})
    with pytest.raises(InvalidInput):
        await accounts.content("claims", participant_bpnl=None, agreement_id="agreement-1")
    with pytest.raises(NotFound):  # an account the recycler does not keep
        await _send(accounts, {**_claim("c-1", 1.0), "lot": "no-such-lot"})
    assert accounts.ledger.double_claims(RECYCLER) == []
