"""A node's public side for the web tests: the passport resolver, the landing page and search,
the pages' language choice, and the operator registered as the node's own participant."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

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
