"""CX-0152 ``FrameworkAgreement eq DataExchangeGovernance:1.0`` in the ODRL evaluator: the
participant's verified ``DataExchangeGovernanceCredential`` must be present, valid at evaluation
time and for ``contractVersion`` 1.0 (one credential for both, as Tractus-X EDC checks); a
refusal names why. (The verifier side, from a real DCP presentation: tests/unit/trust.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.dataspace import (
    MIGRATIONS_DIR,
    Asset,
    DataspaceSettings,
    DspProvider,
    EvaluationContext,
    OfferDefinition,
    Participant,
    PresentedCredential,
    evaluate,
)
from batpass.dataspace._odrl import project_access

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
FRAMEWORK = "DataExchangeGovernanceCredential"
MEMBERSHIP = PresentedCredential(frozenset({"MembershipCredential"}), {"memberOf": "catena-x"}, NOW.replace(year=2027))


def framework(version: str = "1.0", until: dt.datetime | None = NOW + dt.timedelta(days=30)) -> PresentedCredential:
    return PresentedCredential(frozenset({FRAMEWORK}), {"contractVersion": version}, until, "did:web:operator")


def who(*creds: PresentedCredential, refused: dict[str, str] | None = None) -> Participant:
    types = frozenset(t for c in (MEMBERSHIP, *creds) for t in c.types)
    return Participant("did:web:p", "BPNL000000000AAA", types, (MEMBERSHIP, *creds), refused=refused or {})


def usage(right: Any = "DataExchangeGovernance:1.0", op: str = "eq") -> dict[str, Any]:
    fa = {"leftOperand": "FrameworkAgreement", "operator": op, "rightOperand": right}
    return {"permission": [{"action": "use", "constraint": [{"and": [fa]}]}]}


def decide(p: Participant, policy: dict[str, Any] | None = None, now: dt.datetime = NOW) -> tuple[bool, str]:
    d = evaluate(policy or usage(), EvaluationContext(p, now=now))
    return d.allowed, "; ".join(d.failures)


def test_present_credential_holds() -> None:
    assert decide(who(framework())) == (True, "")
    # the operand may carry the cx-policy prefix; the version part is optional (type only)
    assert decide(who(framework()), usage("DataExchangeGovernance"))[0]
    fa = {
        "leftOperand": "cx-policy:FrameworkAgreement",
        "operator": "odrl:eq",
        "rightOperand": "DataExchangeGovernance:1.0",
    }
    assert decide(who(framework()), {"permission": [{"action": "use", "constraint": [fa]}]})[0]


def test_missing_credential_is_refused() -> None:
    assert decide(who()) == (False, f"FrameworkAgreement DataExchangeGovernance:1.0: no verified {FRAMEWORK}")


@pytest.mark.parametrize(
    "credential",
    [
        framework(until=NOW - dt.timedelta(seconds=1)),
        framework(until=NOW - dt.timedelta(days=400)),
    ],
)
def test_expired_credential_is_refused(credential: PresentedCredential) -> None:
    allowed, why = decide(who(credential))
    assert credential.valid_until is not None
    head = "FrameworkAgreement DataExchangeGovernance:1.0"
    assert not allowed and why == f"{head}: the {FRAMEWORK} expired at {credential.valid_until.isoformat()}"
    # one live credential of the right version among expired ones is enough
    assert decide(who(credential, framework()))[0]
    # valid until and including its end
    assert decide(who(framework(until=NOW)))[0]


def test_a_credential_the_verifier_refused_is_named_with_its_reason() -> None:
    p = who(refused={FRAMEWORK: "revoked: credential revoked by its issuer"})
    allowed, why = decide(p)
    assert not allowed and why == (
        f"FrameworkAgreement DataExchangeGovernance:1.0: the {FRAMEWORK} presented was not accepted "
        "(revoked: credential revoked by its issuer)"
    )


def test_another_contract_version_is_refused() -> None:
    allowed, why = decide(who(framework("2.0")))
    assert not allowed and why.endswith(f"the {FRAMEWORK} is for contractVersion 2.0, not 1.0")
    assert decide(who(framework("2.0")), usage("DataExchangeGovernance:2.0"))[0]
    # the expired 1.0 and the live 2.0 credential do not add up to a live 1.0
    assert not decide(who(framework("1.0", until=NOW - dt.timedelta(days=1)), framework("2.0")))[0]


def test_operators_other_than_eq_are_refused() -> None:
    allowed, why = decide(who(framework()), usage(op="neq"))
    assert not allowed and "operator neq not supported" in why


def test_a_participant_known_by_types_only_is_taken_at_its_type() -> None:
    """In-process verifiers (no presentation) report credential types only."""
    bare = Participant("did:web:p", "BPNL000000000AAA", frozenset({"MembershipCredential", FRAMEWORK}))
    assert decide(bare)[0]
    assert not decide(Participant("did:web:p", "BPNL000000000AAA", frozenset({"MembershipCredential"})))[0]


def test_access_policies_gate_the_catalog_on_the_credential_type() -> None:
    gates = project_access({**usage(), "permission": [{**usage()["permission"][0], "action": "access"}]})
    assert gates.credentials == {FRAMEWORK}


def test_catalog_pages_do_not_end_where_the_evaluator_drops_offers(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The SQL gates know a framework credential's type only; the evaluator also its
    contractVersion. Offers the evaluator drops from a full page must not end the paging."""
    provider = DspProvider(
        make_store([MIGRATIONS_DIR]),
        settings=DataspaceSettings(did="did:web:provider.test", base_url="https://provider.test"),
        verifier=Refuse(),
        token_issuer=Refuse(),
    )
    provider.register_asset(Asset(id="asset-1", source="json", source_key="k"))
    member = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
    fa = {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}
    for oid, constraints in (("offer-a", [member, fa]), ("offer-b", [member, fa]), ("offer-c", [member])):
        access = {"permission": [{"action": "access", "constraint": [{"and": constraints}]}]}
        provider.register_offer(OfferDefinition(oid, "asset-1", access, usage()))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        page, cursor = provider.catalog(who(framework("2.0")), limit=2, cursor=cursor)
        seen += [o["@id"] for d in page.get("dataset", []) for o in d["hasPolicy"]]
        if cursor is None:
            break
    assert seen == ["offer-c"]
    page, _ = provider.catalog(who(framework("1.0")), limit=10)
    assert sorted(o["@id"] for d in page["dataset"] for o in d["hasPolicy"]) == ["offer-a", "offer-b", "offer-c"]


class Refuse:
    """Ports the catalog never uses."""

    async def verify(self, authorization: str | None) -> Participant:
        raise AssertionError("the catalog takes a verified participant")

    def issue(self, *, audience: str) -> str:
        raise AssertionError("the catalog sends nothing")
