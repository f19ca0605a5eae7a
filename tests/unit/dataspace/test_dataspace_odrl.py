"""ODRL evaluation against the requesting participant (CX-0152 constraints)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from batpass.core.errors import ConfigurationError, InvalidInput, Unauthorized
from batpass.dataspace import FixedTokenVerifier, Participant, usage_purposes
from batpass.dataspace._odrl import EvaluationContext, evaluate, normalise_policy, project_access

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
MEMBER = Participant(
    "did:web:a",
    "BPNL000000000AAA",
    frozenset({"MembershipCredential", "DataExchangeGovernanceCredential"}),
    region="EU",
)
STRANGER = Participant("did:web:b", "BPNL000000000BBB", frozenset())


def pol(*constraints: dict[str, Any], action: str = "use") -> dict[str, Any]:
    return {"permission": [{"action": action, "constraint": [{"and": list(constraints)}]}]}


def c(left: str, op: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


@pytest.mark.parametrize(
    ("constraint", "member", "stranger"),
    [
        (c("Membership", "eq", "active"), True, False),
        (c("FrameworkAgreement", "eq", "DataExchangeGovernance:1.0"), True, False),
        (c("UsagePurpose", "isAnyOf", ["cx.circular.dpp:1"]), True, True),
        (c("BusinessPartnerNumber", "isAnyOf", ["BPNL000000000AAA"]), True, False),
        (c("BusinessPartnerNumber", "isNoneOf", ["BPNL000000000AAA"]), False, True),
        (c("BusinessPartnerGroup", "isAnyOf", ["oem"]), True, False),
        (c("spatial", "eq", "EU"), True, False),
        (c("dateTime", "lteq", "2026-12-31T00:00:00Z"), True, True),
        (c("dateTime", "gteq", "2027-01-01T00:00:00Z"), False, False),
        (c("DataProvisioningEndDate", "eq", "2026-01-01T00:00:00Z"), False, False),
        (c("ConfidentialInformationMeasures", "eq", "cx.confidentiality.measures:1"), True, True),
        (c("SomethingUnknown", "eq", "x"), False, False),
    ],
)
def test_constraints(constraint: dict[str, Any], member: bool, stranger: bool) -> None:
    groups = frozenset({"oem"})
    assert evaluate(pol(constraint), EvaluationContext(MEMBER, groups, NOW)).allowed is member
    assert evaluate(pol(constraint), EvaluationContext(STRANGER, frozenset(), NOW)).allowed is stranger


def test_logical_and_failures_named() -> None:
    d = evaluate(
        pol(c("Membership", "eq", "active"), c("BusinessPartnerNumber", "isAnyOf", ["BPNL000000000ZZZ"])),
        EvaluationContext(STRANGER, now=NOW),
    )
    assert not d.allowed and len(d.failures) == 2 and "Membership" in d.failures[0]
    either = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "or": [
                            c("Membership", "eq", "active"),
                            c("BusinessPartnerNumber", "isAnyOf", ["BPNL000000000BBB"]),
                        ]
                    }
                ],
            }
        ]
    }
    assert evaluate(either, EvaluationContext(STRANGER, now=NOW)).allowed
    assert not evaluate({"permission": []}, EvaluationContext(MEMBER, now=NOW)).allowed


def test_usage_purposes_and_normalisation() -> None:
    p = pol(c("UsagePurpose", "isAnyOf", ["cx.circular.dpp:1"]), c("Membership", "eq", "active"))
    assert usage_purposes(p) == {"cx.circular.dpp:1"}
    reordered = {
        "@id": "x",
        "@type": "Offer",
        "target": "t",
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "and": [
                            c("cx-policy:Membership", "eq", "active"),
                            c("UsagePurpose", "isAnyOf", "cx.circular.dpp:1"),
                        ]
                    }
                ],
            }
        ],
    }
    assert normalise_policy(reordered) == normalise_policy(p)
    assert normalise_policy(pol(c("Membership", "eq", "active"))) != normalise_policy(p)


def test_access_projection_refuses_what_sql_cannot_filter() -> None:
    with pytest.raises(InvalidInput):
        project_access(
            {"permission": [{"action": "access", "constraint": [{"or": [c("Membership", "eq", "active")]}]}]}
        )
    with pytest.raises(InvalidInput):
        project_access(pol(c("spatial", "eq", "EU"), action="access"))
    g = project_access(pol(c("BusinessPartnerNumber", "isAnyOf", ["A"]), c("BusinessPartnerNumber", "isAnyOf", ["B"])))
    assert g.impossible


def test_fixed_token_mode_refused_in_production_and_demo() -> None:
    for production, demo in ((True, False), (False, True)):
        with pytest.raises(ConfigurationError):
            FixedTokenVerifier("x" * 32, MEMBER, production=production, demo=demo)


@pytest.mark.anyio
async def test_fixed_token_mode_in_development() -> None:
    v = FixedTokenVerifier("tck-token-0123456789", MEMBER, production=False, demo=False)
    assert await v.verify("Bearer tck-token-0123456789") is MEMBER
    with pytest.raises(Unauthorized):
        await v.verify("Bearer other")
    with pytest.raises(Unauthorized):
        await v.verify(None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
