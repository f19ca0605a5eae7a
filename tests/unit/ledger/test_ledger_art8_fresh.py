"""The Art. 8 figure a passport build asks for once per battery is kept between questions
(``ledger._art8_reads``), and is never served stale: a supplier's summary that arrives later
changes the battery lots' profiles (not their rows' other columns, and records no event), and a
profile text rewritten under the same number (a rebuilt derived table) changes only its digest;
each question after either gives the new figure, the same as a ledger with no kept groups."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine, select, update

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.trust import NodeIdentity

MINE = "did:web:mine.example"
BATTERY = "https://id.example/01/04012345000016/21/RA0000001"


def _resolver(*ids: NodeIdentity) -> Callable[[str], dict[str, object] | None]:
    keys = {i.key_id(i.active("Ed25519")): dict(i.active("Ed25519").public_jwk()) for i in ids}
    return keys.get


def _fleet(eng: Engine) -> tuple[LedgerService, LedgerService]:
    """A supplier that shipped cathode active material (NMC811) to ``OWNER``, which made two
    batteries of it."""
    mine_id, own_id = identity(MINE), identity(OWNER)
    resolve = _resolver(mine_id, own_id)
    mine = LedgerService(eng, mine_id, public_jwk_resolver=resolve)
    own = LedgerService(eng, own_id, public_jwk_resolver=resolve)
    mine.record(
        [
            ev("extraction", owner=MINE, site="CAM-1", country="CD", outputs=[out("cam", "cam_nmc811", 100)]),
            ev(
                "shipment",
                owner=MINE,
                site="CAM-1",
                country="CD",
                inputs=[("cam", 100)],
                outputs=[out("cam-shipped", "cam_nmc811", 100)],
                shipment={
                    "to_owner": OWNER,
                    "to_site": {"id": "S1", "country": "JP"},
                    "destination_country": "JP",
                    "document": "BL-1",
                },
            ),
        ]
    )
    batteries = [
        {
            "lot": f"battery-{n}",
            "material": "battery",
            "quantity": {"value": 1, "unit": "piece"},
            "mass_per_piece_kg": 70.0,
            "battery": {
                "id": BATTERY[:-1] + str(n),
                "model": "RA-EV-60",
                "chemistry": "NMC811",
                "capacity_kwh": 60.0,
                "category": "ev",
            },
        }
        for n in (1, 2)
    ]
    own.record(
        [
            ev(
                "receipt",
                outputs=[out("cam-in", "cam_nmc811", 100)],
                receipt={"from_owner": MINE, "from_lot": "cam-shipped", "document": "BL-1"},
            ),
            ev("assembly", inputs=[("cam-in", 50.0)], outputs=batteries),
        ]
    )
    return mine, own


def _fresh(eng: Engine, owner: str) -> dict[str, Any] | None:
    """The figure as a ledger that has kept nothing computes it."""
    return LedgerService(eng, identity(owner)).recycled_content_of(owner, BATTERY)


def test_a_summary_received_after_a_question_changes_the_next_answer(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    eng = make_store([MIGRATIONS_DIR])
    mine, own = _fleet(eng)
    before = own.recycled_content_of(OWNER, BATTERY)
    assert before is not None and before["elements"]["Co"]["unknown_mass_share"] == 1.0
    assert own.recycled_content_of(OWNER, BATTERY) == before  # asked again: the kept groups
    mark = own.change_mark(OWNER)
    own.receive_summary(OWNER, mine.signed_summary(MINE, "cam-shipped"))
    assert own.change_mark(OWNER) == mark  # no event: the event counter alone would serve stale
    after = own.recycled_content_of(OWNER, BATTERY)
    assert after is not None and after["elements"]["Co"]["unknown_mass_share"] < 1.0
    assert after == _fresh(eng, OWNER) and after != before


def test_a_profile_text_rewritten_under_its_number_changes_the_next_answer(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    eng = make_store([MIGRATIONS_DIR])
    mine, own = _fleet(eng)
    own.receive_summary(OWNER, mine.signed_summary(MINE, "cam-shipped"))
    before = own.recycled_content_of(OWNER, BATTERY)
    assert before is not None and before["elements"]["Co"]["unknown_mass_share"] < 1.0
    with eng.begin() as conn:  # the batteries' profile, every supplier's share made unknown again
        no = conn.execute(
            select(t.lots.c.profile_no).where(t.lots.c.owner == OWNER, t.lots.c.id == "battery-1")
        ).scalar_one()
        body = conn.execute(
            select(t.profiles.c.body).where(t.profiles.c.owner == OWNER, t.profiles.c.no == no)
        ).scalar_one()
        import json

        prof = json.loads(body)
        for ep in prof["e"].values():
            ep["u"] = 1.0
            ep["apre"] = ep["apost"] = ep["pre"] = ep["post"] = 0.0
        text = json.dumps(prof, sort_keys=True, separators=(",", ":"))
        conn.execute(
            update(t.profiles)
            .where(t.profiles.c.owner == OWNER, t.profiles.c.no == no)
            .values(body=text, digest=hashlib.sha256(text.encode()).digest())
        )
    after = own.recycled_content_of(OWNER, BATTERY)
    assert after is not None and after["elements"]["Co"]["unknown_mass_share"] == 1.0
    assert after == _fresh(eng, OWNER)
