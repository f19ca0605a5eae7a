"""The material catalogue as versioned data: every compound's fractions follow from its formula
(re-derived here by hand for the cited formulas), the chemistries of issue 19 and their
precursors are known (an NCA cell's cathode is no longer refused), the catalogue is identified
by name, version and the digest of its canonical JSON, and an unknown material names the
catalogue it was checked against."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
import rfc8785
from ledger_testkit import OWNER, ev, event_catalogue_digests, out
from sqlalchemy import text

from batpass.core.errors import InvalidInput
from batpass.ledger import CATALOGUE, MATERIALS, Element, LedgerService
from batpass.ledger._materials import _DOC, _DOC_PATH, parse_catalogue

W = {"H": 1.008, "Li": 6.94, "O": 15.999, "Na": 22.990, "Al": 26.982, "Ti": 47.867}
W |= {"Mn": 54.938, "Fe": 55.845, "Co": 58.933, "Ni": 58.693, "P": 30.974}


def _mass(**atoms: float) -> float:
    return sum(W[a] * n for a, n in atoms.items())


@pytest.mark.parametrize(
    ("code", "element", "expected"),
    [
        # LiNi0.8Co0.15Al0.05O2
        ("cam_nca", Element.NI, 0.8 * W["Ni"] / _mass(Li=1, Ni=0.8, Co=0.15, Al=0.05, O=2)),
        ("cam_nca", Element.AL, 0.05 * W["Al"] / _mass(Li=1, Ni=0.8, Co=0.15, Al=0.05, O=2)),
        # Ni0.8Co0.15Al0.05(OH)2
        ("pcam_nca", Element.CO, 0.15 * W["Co"] / _mass(Ni=0.8, Co=0.15, Al=0.05, O=2, H=2)),
        # LiCoO2 and Co3O4
        ("cam_lco", Element.CO, W["Co"] / _mass(Li=1, Co=1, O=2)),
        ("cobalt_oxide", Element.CO, 3 * W["Co"] / _mass(Co=3, O=4)),
        # LiMn0.6Fe0.4PO4
        ("cam_lmfp", Element.MN, 0.6 * W["Mn"] / _mass(Li=1, Mn=0.6, Fe=0.4, P=1, O=4)),
        # Li4Ti5O12
        ("lto", Element.LI, 4 * W["Li"] / _mass(Li=4, Ti=5, O=12)),
        # LiNi0.5Mn0.3Co0.2O2, Ni0.6Mn0.2Co0.2(OH)2, LiNi0.9Mn0.05Co0.05O2
        ("cam_nmc532", Element.MN, 0.3 * W["Mn"] / _mass(Li=1, Ni=0.5, Mn=0.3, Co=0.2, O=2)),
        ("pcam_nmc622", Element.NI, 0.6 * W["Ni"] / _mass(Ni=0.6, Mn=0.2, Co=0.2, O=2, H=2)),
        ("cam_nmc955", Element.CO, 0.05 * W["Co"] / _mass(Li=1, Ni=0.9, Mn=0.05, Co=0.05, O=2)),
        # NaNi1/3Fe1/3Mn1/3O2 (sodium-ion layered oxide)
        ("cam_nfm111", Element.NI, W["Ni"] / 3 / _mass(Na=1, Ni=1 / 3, Fe=1 / 3, Mn=1 / 3, O=2)),
    ],
)
def test_fractions_are_the_formulas_stoichiometry(code: str, element: Element, expected: float) -> None:
    fractions = MATERIALS[code].fractions
    assert fractions is not None
    assert fractions[element] == pytest.approx(expected, rel=1e-9)
    assert "stoichiometry" in MATERIALS[code].source


def test_new_chemistries_are_active_materials_with_their_chemistry() -> None:
    chem = {m.chemistry for m in MATERIALS.values() if m.active_material and m.chemistry}
    assert {"NCA", "LCO", "LMFP", "LTO", "NMC532", "NMC622", "NMC811", "NMC955", "SIB-NFM", "LFP"} <= chem
    for code in ("pcam_nca", "pcam_nmc532", "pcam_nmc622", "pcam_nmc955", "pcam_lmfp", "pcam_nfm111"):
        assert MATERIALS[code].strategic and not MATERIALS[code].active_material
    # sodium-ion's anode is non-graphitic carbon: no graphite is counted
    assert MATERIALS["hard_carbon"].fractions == {}
    for m in MATERIALS.values():
        assert m.fractions is None or sum(m.fractions.values()) <= 1.0


def test_an_nca_cathode_is_recorded(ledger: LedgerService) -> None:
    made = ev("extraction", site="CAM-JP-1", country="JP", outputs=[out("nca-1", "cam_nca", 100.0)])
    assert ledger.record([made]).recorded == 1


def test_an_unknown_material_names_the_catalogue(ledger: LedgerService) -> None:
    e = ev("extraction", site="M", country="CL", outputs=[out("z", "unobtainium", 1.0)])
    with pytest.raises(InvalidInput) as info:
        ledger.record([e])
    assert info.value.field == "events[0].outputs[0].material"
    assert f"catalogue {CATALOGUE.label} ({CATALOGUE.digest})" in str(info.value)
    assert CATALOGUE.label == "batpass-materials@2026.12"


def test_the_catalogue_is_identified_by_the_digest_of_its_canonical_json() -> None:
    doc = json.loads(_DOC_PATH.read_text(encoding="utf-8"))
    assert CATALOGUE.digest == "sha256:" + hashlib.sha256(rfc8785.dumps(doc)).hexdigest()
    changed = copy.deepcopy(dict(_DOC))
    changed["materials"][0]["grade"]["massFraction"] = 0.055
    other = parse_catalogue(changed)
    assert other.digest != CATALOGUE.digest and other.version == CATALOGUE.version
    assert other.materials["spodumene_concentrate"].fractions != MATERIALS["spodumene_concentrate"].fractions


# --- each event records the catalogue it was checked with


def _record_two(ledger: LedgerService) -> None:
    ledger.record(
        [ev("extraction", site=f"M{i}", country="CL", outputs=[out(f"b{i}", "cam_nca", 10.0 + i)]) for i in range(2)]
    )


def test_each_event_records_the_catalogue_digest(ledger: LedgerService) -> None:
    _record_two(ledger)
    assert event_catalogue_digests(ledger.engine) == [CATALOGUE.digest, CATALOGUE.digest]
    assert ledger.verify().ok and ledger.self_audit() == []


def test_events_recorded_before_the_catalogue_was_versioned_still_verify_and_replay(ledger: LedgerService) -> None:
    _record_two(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_events SET catalogue_no = NULL"))
    assert ledger.verify().ok and ledger.self_audit() == []


def test_an_event_checked_with_a_catalogue_this_code_does_not_ship_is_reported(ledger: LedgerService) -> None:
    _record_two(ledger)
    other = "sha256:" + "0" * 64
    with ledger.engine.begin() as conn:
        conn.execute(text("INSERT INTO ledger_catalogues (digest) VALUES (:c)"), {"c": other})
        no = conn.execute(text("SELECT no FROM ledger_catalogues WHERE digest = :c"), {"c": other}).scalar_one()
        conn.execute(text("UPDATE ledger_events SET catalogue_no = :n WHERE seq = 2"), {"n": no})
    rep = ledger.verify()
    # the chain names the event; the replay of the log refuses it
    assert [(p.rule, p.seq) for p in rep.problems] == [("ledger.catalogue.unknown", 2), ("ledger.replay", None)]
    assert other in rep.problems[0].message and CATALOGUE.label in rep.problems[0].message
    findings = ledger.self_audit()
    assert [f.rule for f in findings] == ["ledger.catalogue.unknown", "ledger.replay"]
    assert all(other in f.detail for f in findings)


@pytest.mark.parametrize("change", ["number", "deleted"])
def test_an_event_whose_catalogue_number_the_store_does_not_name_is_reported(
    ledger: LedgerService, change: str
) -> None:
    """Events name their catalogue by a number of ``ledger_catalogues``: a changed number, or the
    catalogue's row deleted, leaves an event without the catalogue it was checked with. Verify
    names each such event and the replay refuses the log, as for a catalogue not shipped."""
    _record_two(ledger)
    with ledger.engine.begin() as conn:
        if change == "number":
            conn.execute(text("UPDATE ledger_events SET catalogue_no = catalogue_no + 7000 WHERE seq = 2"))
        else:
            conn.execute(text("DELETE FROM ledger_catalogues"))
        numbers = conn.execute(text("SELECT catalogue_no FROM ledger_events ORDER BY seq")).scalars().all()
    named = [2] if change == "number" else [1, 2]
    rep = ledger.verify()
    assert [(p.rule, p.seq) for p in rep.problems] == [
        *(("ledger.catalogue.unknown", n) for n in named),
        ("ledger.replay", None),
    ]
    findings = ledger.self_audit()
    assert [f.rule for f in findings] == [*(["ledger.catalogue.unknown"] * len(named)), "ledger.replay"]
    assert [(f.table, f.key) for f in findings][-1] == ("ledger_events", OWNER)
    if change == "number":  # the replay names the number no row of ledger_catalogues has (a 7000s one)
        assert numbers[1] > 7000
        assert str(numbers[1]) in rep.problems[-1].message and str(numbers[1]) in findings[-1].detail
