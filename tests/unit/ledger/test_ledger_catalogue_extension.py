"""A node extends the material catalogue with its own materials (element fractions with their
sources), on SQLite and PostgreSQL: the effective catalogue has its own label and digest, each
event records the digest it was checked with, and replay and ``verify`` use that catalogue —
also on a ledger whose current catalogue is another. An unknown material names the catalogue it
was checked against; an extension that redefines a shipped code, or whose fractions cannot be
computed, is refused naming the member."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import OWNER, ev, event_catalogue_digests, identity, out
from sqlalchemy import Engine

from batpass.core.errors import InvalidInput
from batpass.ledger import CATALOGUE, CATALOGUES, MIGRATIONS_DIR, Element, LedgerService, extend_catalogue

#: a node's extension: the spinel cathode LiMn2O4 (LMO), which the shipped catalogue does not know
EXTENSION: dict[str, Any] = {
    "catalogue": "node-example",
    "version": "1",
    "materials": [
        {
            "code": "cam_lmo",
            "name": "Lithium manganese oxide cathode (LMO spinel)",
            "formula": {"Li": 1, "Mn": 2, "O": 4},
            "source": "LiMn2O4 stoichiometry; IUPAC/CIAAW 2021 atomic weights",
            "activeMaterial": True,
        }
    ],
}


@pytest.fixture
def engine(make_store: Callable[[Sequence[Path]], Engine]) -> Engine:
    return make_store([MIGRATIONS_DIR])


def _extended() -> Any:
    return extend_catalogue(CATALOGUE, EXTENSION)


def test_the_extension_adds_materials_under_its_own_label_and_digest() -> None:
    cat = _extended()
    assert cat.label == "batpass-materials+node-example@2026.12+1"
    assert cat.digest != CATALOGUE.digest and CATALOGUES[cat.digest] is cat
    mn = cat.materials["cam_lmo"].fractions
    # LiMn2O4: Mn 2 x 54.938 of 6.94 + 2 x 54.938 + 4 x 15.999 = 180.812 g/mol
    assert mn is not None and mn[Element.MN] == pytest.approx(109.876 / 180.812, rel=1e-9)
    assert mn[Element.LI] == pytest.approx(6.94 / 180.812, rel=1e-9)
    assert set(cat.materials) == set(CATALOGUE.materials) | {"cam_lmo"}
    assert extend_catalogue(CATALOGUE, EXTENSION) is cat  # the same content is the same catalogue


def test_a_node_records_its_own_material_and_replays_with_the_right_catalogue(engine: Engine) -> None:
    cat = _extended()
    node = LedgerService(engine, identity(), catalogue=cat)
    node.record([ev("extraction", site="M1", country="CL", outputs=[out("nca-1", "cam_nca", 10.0)])])
    node.record([ev("extraction", site="M2", country="FR", outputs=[out("lmo-1", "cam_lmo", 5.0)])])
    assert event_catalogue_digests(engine) == [cat.digest, cat.digest]
    lot = node.lot(OWNER, "lmo-1")
    assert lot.is_active_material and lot.composition[Element.MN] == pytest.approx(109.876 / 180.812, rel=1e-9)
    # a ledger whose current catalogue is the shipped one, over the same store (side by side)
    plain = LedgerService(engine, node.identity)
    assert plain.verify().ok and plain.self_audit() == []
    plain.record([ev("extraction", site="M3", country="CL", outputs=[out("nca-2", "cam_nca", 3.0)])])
    assert event_catalogue_digests(engine) == [cat.digest, cat.digest, CATALOGUE.digest]
    assert node.verify().ok and node.self_audit() == []


def test_an_unknown_material_names_the_catalogue_it_was_checked_against(engine: Engine) -> None:
    cat = _extended()
    plain, node = LedgerService(engine, identity()), LedgerService(engine, identity(), catalogue=cat)
    mine = ev("extraction", site="M2", country="FR", outputs=[out("lmo-1", "cam_lmo", 5.0)])
    with pytest.raises(InvalidInput) as refused:
        plain.record([mine])
    assert refused.value.field == "events[0].outputs[0].material"
    assert f"catalogue {CATALOGUE.label} ({CATALOGUE.digest})" in refused.value.message
    with pytest.raises(InvalidInput) as refused:
        node.record([ev("extraction", site="M2", outputs=[out("x", "unobtainium", 1.0)])])
    assert f"catalogue {cat.label} ({cat.digest})" in refused.value.message
    assert event_catalogue_digests(engine) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "cam_nca"}, "$.materials[0].code"),  # a shipped code is not redefined
        ({"code": "Bad Code"}, "$.materials[0].code"),
        ({"source": " "}, "$.materials[0].source"),
        ({"formula": {"Xx": 1}}, "$.materials[0]"),  # an atom the catalogue has no weight for
    ],
)
def test_a_bad_extension_is_refused_naming_the_member(change: dict[str, Any], field: str) -> None:
    doc = {**EXTENSION, "materials": [{**EXTENSION["materials"][0], **change}]}
    with pytest.raises(InvalidInput) as refused:
        extend_catalogue(CATALOGUE, doc)
    assert refused.value.field == field and "catalogue extension" in refused.value.message


def test_an_extension_without_materials_or_name_is_refused() -> None:
    for doc, field in (({**EXTENSION, "materials": []}, "$.materials"), ({**EXTENSION, "version": ""}, "$.version")):
        with pytest.raises(InvalidInput) as refused:
            extend_catalogue(CATALOGUE, doc)
        assert refused.value.field == field
