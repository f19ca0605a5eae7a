"""A node's public side for the web tests: the passport resolver, the landing page and search,
the pages' language choice, and the operator registered as the node's own participant."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parents[1] / "passport"))
from passport_testkit import EXAMPLE, ITEM, OPERATOR, make_app, make_service, make_summary

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.participants import MIGRATIONS_DIR as PARTICIPANT_MIGRATIONS
from batpass.participants import Participant, ParticipantService
from batpass.passport import MIGRATIONS_DIR as PASSPORT_MIGRATIONS
from batpass.passport import PageRenderer, PassportRules, PassportService, load_static_product_data
from batpass.trust import NodeIdentity, generate_keypair
from batpass.web import PassportPages, legal_names, mount_public_pages

__all__ = ["MIGRATIONS", "OPERATOR", "OPERATOR_NAME", "build_passport", "make_passports", "make_public_app"]

MIGRATIONS = (PASSPORT_MIGRATIONS, PARTICIPANT_MIGRATIONS)
OPERATOR_NAME = "NordCell Batteries GmbH"


def make_passports(engine: Engine) -> PassportService:
    """The operator's passport service on ``engine`` (migrated with :data:`MIGRATIONS`)."""
    identity = NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")])
    rules = PassportRules.from_ruleset(load_ruleset())
    return make_service(engine, identity, rules, FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC)))


def build_passport(svc: PassportService, battery: BatteryId) -> Any:
    return svc.build(
        load_static_product_data(EXAMPLE), battery, item=ITEM, summary=decode_summary(make_summary(battery))
    )


def make_public_app(svc: PassportService) -> Any:
    """The resolver app of the passport tests with what every node adds (``mount_public_pages``)
    and the operator registered as this node's participant."""
    ParticipantService(svc.engine).register(
        Participant(
            legal_name=OPERATOR_NAME,
            country="DE",
            did=OPERATOR,
            bpnl="BPNL00000003AYRE",
            lei="529900T8BM49AURSDO55",
        ),
        is_self=True,
    )
    app = make_app(svc)
    app.state.ctx.services[ParticipantService] = ParticipantService(svc.engine)
    # as the node wires its pages: operators by legal name from the participant register
    app.state.ctx.services[PageRenderer] = PassportPages(names=legal_names(ParticipantService(svc.engine)))
    mount_public_pages(app)
    return app


# --- a battery in each state of its life (the passport page tests, unit and browser) ----------

RECYCLER, RECYCLER_NAME = "did:web:recycler.example", "Kreislauf Recycling GmbH"
FOOTPRINT = {
    "kg_co2e_per_kwh": 0.0548573,
    "kg_co2e_per_battery": 6294.0,
    "stages": {"raw_material_and_preprocessing": 0.0401, "main_production": 0.0147573},
}
G = "04012345000009"
ORIGINAL, CADMIUM, OLD, REPURPOSED, REMAN, WASTE, ENDED = (
    BatteryId(G, s) for s in ("ST-1", "ST-2", "ST-3", "ST-3R", "ST-4M", "ST-5", "ST-6")
)


def _build(svc: PassportService, battery: BatteryId, **static_changes: Any) -> Any:
    raw = yaml.safe_load(EXAMPLE.read_text())
    static = load_static_product_data(EXAMPLE)
    if static_changes:
        path = Path(tempfile.mkdtemp()) / "model.yaml"
        for key, value in static_changes.items():
            _set(raw, key, value)
        path.write_text(yaml.safe_dump(raw))
        static = load_static_product_data(path)
    return svc.build(static, battery, item=ITEM, summary=decode_summary(make_summary(battery)), footprint=FOOTPRINT)


def _set(doc: Any, key: str, value: Any) -> None:
    """Set data point ``key`` wherever the static product data holds it."""
    if isinstance(doc, dict):
        if key in doc:
            doc[key] = value
            return
        for v in doc.values():
            _set(v, key, value)


def make_lives(svc: PassportService) -> PassportService:
    """Passports of batteries in each state of a life (with a declared footprint): original,
    Cd-marked, repurposed (new category, model and use), remanufactured, waste, recycled; the
    recycler registered as a participant, so the pages name it."""
    _build(svc, ORIGINAL)
    _build(svc, CADMIUM, cadmium_share={"value": 0.01, "unit": "%"})
    old = _build(svc, OLD)
    svc.second_life(
        [old.passport_id],
        status="repurposed",
        new_battery=REPURPOSED,
        new_operator=RECYCLER,
        actor=OPERATOR,
        category="stationary",
        use="Home storage with rooftop solar",
        values={"model_name": "HomeStore 60"},
    )
    base = _build(svc, BatteryId(G, "ST-4"))
    svc.second_life(
        [base.passport_id],
        status="remanufactured",
        new_battery=REMAN,
        new_operator=OPERATOR,
        actor=OPERATOR,
        restored_capacity_ah=190.0,
        cell_soh=[97.0, 98.0],
    )
    waste = _build(svc, WASTE)
    svc.mark_waste(waste.passport_id, waste_operator=RECYCLER, actor=OPERATOR)
    ended = _build(svc, ENDED)
    svc.mark_waste(ended.passport_id, waste_operator=OPERATOR, actor=OPERATOR)
    svc.recycle(
        ended.passport_id,
        recycler=RECYCLER,
        actor=OPERATOR,
        recovered=[{"material": "cobalt", "mass_kg": 4.2}, {"material": "lithium", "mass_kg": 5.1}],
    )
    ParticipantService(svc.engine).register(Participant(legal_name=RECYCLER_NAME, country="DE", did=RECYCLER))
    return svc
