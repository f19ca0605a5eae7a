"""The outflow watch on both stores (docs/outflows.md): a shipment alerts only when a rule or the
node's policy asks for an authorisation it lacks; in ``block`` mode such a shipment is refused
with the rule (RFC 9457, 422, naming the field) and nothing of the call is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from authority_testkit import REC, black_mass
from fastapi.testclient import TestClient
from ledger_testkit import ev, identity, ledger_api, out
from sqlalchemy import Engine, func, select

from batpass.ledger import MIGRATIONS_DIR, Element, LedgerService, OutflowPolicy, ShipmentBlocked
from batpass.ledger import _sql as t

KEY = "test-admin-key"
ADMIN = {"X-Api-Key": KEY}
AFTER = "2026-11-16T09:00:00Z"  # black mass is hazardous waste from 2026-11-09
BEFORE = "2026-11-08T23:59:59Z"


IDENTITY = identity(REC)


def _ledger(engine: Engine, policy: OutflowPolicy = OutflowPolicy()) -> LedgerService:
    return LedgerService(engine, IDENTITY, batch_size=4, outflow_policy=policy)


def _ship(lot: str, kg: float, to: str, at: str, *, new: str | None = None) -> dict[str, Any]:
    return ev(
        "shipment",
        owner=REC,
        site="REC-NL-1",
        country="NL",
        at=at,
        inputs=[(lot, kg)],
        outputs=[out(new or f"{lot}-{to}", "black_mass", kg)],
        shipment={"to_site": {"id": f"S-{to}", "country": to}, "destination_country": to, "document": f"BL-{to}"},
    )


def _counts(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        counts: dict[str, Any] = {
            tbl.name: conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for tbl in (t.events, t.lots, t.edges, t.alerts, t.batches)
        }
        counts["heads"] = [tuple(r) for r in conn.execute(select(t.heads).order_by(t.heads.c.owner)).all()]
        counts["used"] = [tuple(r) for r in conn.execute(select(t.authorisations.c.id, t.authorisations.c.used_kg))]
    return counts


def _authorise(svc: LedgerService, destinations: list[str]) -> None:
    svc.authorise_export(
        REC,
        {
            "id": "CONSENT-1",
            "holder": REC,
            "material": "black_mass",
            "destinations": destinations,
            "cap_kg": 1000.0,
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2027-12-31T23:59:59Z",
        },
    )


def test_inside_the_eu_black_mass_is_checked_once_it_is_hazardous_waste(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    svc = _ledger(make_store([MIGRATIONS_DIR]))
    res = svc.record([black_mass("bm"), _ship("bm", 10.0, "DE", BEFORE), _ship("bm", 10.0, "BE", AFTER)])
    assert [a["rule"] for a in res.alerts] == ["outflow.no-authorisation"]
    evidence = res.alerts[0]["evidence"]
    assert evidence["destination_country"] == "BE"
    assert evidence["requirement"]["rule"] == "eu.wsr.intra-eu"
    assert "(EU) 2024/1157" in evidence["requirement"]["instrument"]
    assert evidence["requirement"]["waste_class"] == "eu.hazardous.black-mass"
    assert evidence["requirement"]["rules"].startswith("batpass-shipment-rules@")
    assert [a["rule"] for a in svc.outflows(REC)] == ["outflow.no-authorisation"]
    # within one country: nothing to authorise, nothing alerted
    assert svc.record([_ship("bm", 10.0, "NL", AFTER)]).alerts == ()


def test_covered_shipments_do_not_alert_and_others_name_what_they_broke(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    svc = _ledger(make_store([MIGRATIONS_DIR]))
    _authorise(svc, ["EU", "JP"])
    res = svc.record(
        [
            black_mass("bm"),
            _ship("bm", 10.0, "DE", AFTER),  # covered
            _ship("bm", 10.0, "KR", AFTER),  # OECD, needs consent the authorisation does not give
            _ship("bm", 10.0, "IN", AFTER),  # non-OECD: no authorisation can cover it
        ]
    )
    assert [(a["rule"], a["evidence"]["destination_country"]) for a in res.alerts] == [
        ("outflow.destination", "KR"),
        ("outflow.prohibited", "IN"),
    ]
    assert res.alerts[1]["evidence"]["requirement"]["rule"] == "eu.wsr.export-non-oecd"


def test_a_non_waste_material_alerts_only_under_the_nodes_policy(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    li2co3 = [
        ev("extraction", owner=REC, site="REC-NL-1", country="NL", outputs=[out("lc", "lithium_carbonate", 50.0)])
    ]

    def ship(n: int) -> dict[str, Any]:
        return ev(
            "shipment",
            owner=REC,
            site="REC-NL-1",
            country="NL",
            inputs=[("lc", 5.0)],
            outputs=[out(f"lc-us-{n}", "lithium_carbonate", 5.0)],
            shipment={"to_site": {"id": "US-1", "country": "US"}, "destination_country": "US", "document": "BL"},
        )

    assert _ledger(engine).record([*li2co3, ship(1)]).alerts == ()
    controlled = _ledger(engine, OutflowPolicy(controlled=frozenset({Element.LI})))
    alerts = controlled.record([ship(2)]).alerts
    assert [(a["rule"], a["evidence"]["requirement"]["rule"]) for a in alerts] == [
        ("outflow.no-authorisation", "node.controlled-materials")
    ]


def test_block_refuses_the_shipment_and_leaves_the_store_intact(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    svc = _ledger(engine, OutflowPolicy(mode="block"))
    _authorise(svc, ["EU"])
    svc.record([black_mass("bm"), _ship("bm", 10.0, "DE", AFTER)])  # covered: recorded
    before = _counts(engine)
    assert before["used"] == [("CONSENT-1", 10.0)]
    batch = [black_mass("bm2"), _ship("bm2", 5.0, "DE", AFTER), _ship("bm2", 10.0, "IN", AFTER)]
    with pytest.raises(ShipmentBlocked) as exc:
        svc.record(batch)
    err = exc.value
    assert err.status == 422 and err.details["field"] == "events[2].inputs[0]"
    assert err.rule == "outflow.prohibited (eu.wsr.export-non-oecd)"
    assert "(EU) 2024/1157" in err.message
    assert _counts(engine) == before  # nothing of the call, not even the covered shipment before it
    # warned rather than blocked, the same call records and alerts
    res = _ledger(engine).record(batch)
    assert res.recorded == 3 and [a["rule"] for a in res.alerts] == ["outflow.prohibited"]
    assert svc.verify().ok
    # the self-audit replays the log (warned shipments included) though the node now blocks
    assert svc.self_audit(REC) == []


def test_block_does_not_refuse_a_shipment_awaiting_classification(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(REC), outflow_policy=OutflowPolicy(mode="block"))
    made = ev(
        "extraction",
        owner=REC,
        site="REC-JP-1",
        country="JP",
        outputs=[out("bm", "black_mass", 20.0, assay={"Li": 0.04})],
    )
    shipped = ev(
        "shipment",
        owner=REC,
        site="REC-JP-1",
        country="JP",
        inputs=[("bm", 20.0)],
        outputs=[out("bm-kr", "black_mass", 20.0)],
        shipment={"to_site": {"id": "KR-1", "country": "KR"}, "destination_country": "KR", "document": "BL-KR"},
    )
    res = svc.record([made, shipped])
    assert res.recorded == 2 and [a["rule"] for a in res.alerts] == ["outflow.needs-classification"]


@pytest.fixture
def blocking_api(make_store: Callable[[Sequence[Path]], Engine]) -> Iterator[tuple[TestClient, Engine]]:
    engine = make_store([MIGRATIONS_DIR])
    svc = _ledger(engine, OutflowPolicy(mode="block"))
    with ledger_api(svc, KEY, name="recycler", base_url="https://recycler.example") as client:
        yield client, engine


def test_a_blocked_shipment_is_a_problem_naming_field_and_rule(blocking_api: tuple[TestClient, Engine]) -> None:
    client, engine = blocking_api
    before = _counts(engine)
    r = client.post("/v1/ledger/events", json=[black_mass("bm"), _ship("bm", 10.0, "KR", AFTER)], headers=ADMIN)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == "events[1].inputs[0]"
    assert body["rule"] == "outflow.no-authorisation (eu.wsr.export-oecd)"
    assert body["type"].endswith("/shipment-blocked")
    assert _counts(engine) == before


def test_the_scenarios_waste_export_is_refused_by_a_blocking_car_maker(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The demo's prevention story (README step 5): the car maker's node blocks; its two
    end-of-life packs declared waste and shipped to a non-OECD buyer after 2026-11-09 are refused
    under the export prohibition, nothing of the call written; a warning node records and alerts."""
    from batpass.scenario import WASTE_EXPORT_AT, generate

    car = "did:web:carmaker.example"
    sc = generate(lots=300, seed=3, owner=car)
    attempt = sc.refused_attempt
    assert [e["kind"] for e in attempt] == ["status_change", "status_change", "collection", "shipment"]
    assert attempt[-1]["id"] == sc.refused_shipment and attempt[-1]["at"] == WASTE_EXPORT_AT
    assert not {e["id"] for e in attempt} & {e["id"] for e in sc.events}
    engine = make_store([MIGRATIONS_DIR])
    ident = identity(car)
    LedgerService(engine, ident, batch_size=64).record(sc.events)  # the scenario, warned
    before = _counts(engine)
    blocking = LedgerService(engine, ident, batch_size=64, outflow_policy=OutflowPolicy(mode="block"))
    with pytest.raises(ShipmentBlocked) as exc:
        blocking.record(attempt)
    assert exc.value.rule == "outflow.prohibited (eu.wsr.export-non-oecd)"
    assert exc.value.details["field"] == "events[3].inputs[0]"
    assert _counts(engine) == before
    # the same call on a node that warns: recorded, and alerted under the same rule
    res = LedgerService(engine, ident, batch_size=64).record(attempt)
    assert res.recorded == 4
    assert [(a["rule"], a["evidence"]["requirement"]["rule"]) for a in res.alerts] == [
        ("outflow.prohibited", "eu.wsr.export-non-oecd")
    ]
    assert res.alerts[0]["evidence"]["requirement"]["waste_class"] == "eu.hazardous.waste-battery"
