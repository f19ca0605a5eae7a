"""Property: the catalog's SQL filter shows exactly the offers the ODRL evaluator allows."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from batpass.core.clock import FixedClock
from batpass.dataspace import MIGRATIONS_DIR, Asset, DataspaceSettings, DspProvider, OfferDefinition, Participant
from batpass.dataspace import _sql as t
from batpass.dataspace._odrl import EvaluationContext, evaluate

BPNS = ["BPNL000000000AAA", "BPNL000000000BBB", "BPNL000000000CCC"]
GROUPS = ["oem", "tier1"]
CREDS = ["MembershipCredential", "DataExchangeGovernanceCredential"]
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

atomic = st.one_of(
    st.just({"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}),
    st.just({"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}),
    st.builds(
        lambda op, v: {"leftOperand": "BusinessPartnerNumber", "operator": op, "rightOperand": v},
        st.sampled_from(["isAnyOf", "isNoneOf"]),
        st.lists(st.sampled_from(BPNS), min_size=1, max_size=2, unique=True),
    ),
    st.builds(
        lambda op, v: {"leftOperand": "BusinessPartnerGroup", "operator": op, "rightOperand": v},
        st.sampled_from(["isAnyOf", "isNoneOf"]),
        st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True),
    ),
    st.builds(
        lambda op, days: {
            "leftOperand": "dateTime",
            "operator": op,
            "rightOperand": (NOW + dt.timedelta(days=days)).isoformat(),
        },
        st.sampled_from(["lteq", "lt", "gteq", "gt"]),
        st.integers(-3, 3),
    ),
    st.just({"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": ["cx.circular.dpp:1"]}),
)
policies = st.lists(atomic, min_size=0, max_size=4).map(
    lambda cs: {"permission": [{"action": "access", "constraint": [{"and": cs}] if cs else []}]}
)
participants = st.builds(
    lambda bpn, creds, groups: (Participant("did:web:p", bpn, frozenset(creds)), frozenset(groups)),
    st.sampled_from([*BPNS, None]),
    st.sets(st.sampled_from(CREDS)),
    st.sets(st.sampled_from(GROUPS)),
)

counter = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(policies, min_size=1, max_size=6), participants)
def test_sql_filter_equals_evaluator(
    make_store: Callable[[Sequence[Path]], Engine],
    offers: list[dict[str, Any]],
    who: tuple[Participant, frozenset[str]],
) -> None:
    engine = _engine(make_store)
    provider = DspProvider(
        engine,
        settings=DataspaceSettings(did="did:web:prov", base_url="https://prov"),
        verifier=None,
        token_issuer=None,
        clock=FixedClock(NOW),
    )  # type: ignore[arg-type]
    with engine.begin() as conn:
        for table in (t.offer_gates, t.offers, t.bpn_groups):
            conn.execute(delete(table))
    participant, groups = who
    if participant.bpnl:
        provider.set_groups(participant.bpnl, groups)
    provider.register_asset(Asset(id="a", source="json", source_key="k"))
    for i, access in enumerate(offers):
        provider.register_offer(
            OfferDefinition(
                id=f"o{i}", asset_id="a", access_policy=access, usage_policy={"permission": [{"action": "use"}]}
            )
        )
    with engine.connect() as conn:
        rows = t.visible_offers(
            conn,
            bpnl=participant.bpnl,
            groups=sorted(groups if participant.bpnl else ()),
            credentials=sorted(participant.memberships),
            now=NOW,
            after=None,
            limit=100,
        )
    sql_ids = {r.id for r in rows}
    ctx = EvaluationContext(participant, groups if participant.bpnl else frozenset(), NOW)
    expected = {f"o{i}" for i, access in enumerate(offers) if evaluate(access, ctx).allowed}
    assert sql_ids == expected


_engines: dict[int, Engine] = {}


def _engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    key = id(make_store)
    if key not in _engines:
        _engines.clear()
        _engines[key] = make_store([MIGRATIONS_DIR])
    return _engines[key]
