"""A node's material catalogue comes from its config (docs/ledger-events.md "Materials"): the file
``materials`` names, relative to the node's home, extends the shipped catalogue for the ledger it
runs; a bad file stops it with a configuration error naming the key."""

from __future__ import annotations

import json

import pytest

from batpass.core.errors import ConfigurationError
from batpass.core.settings import Settings
from batpass.ledger import CATALOGUE
from batpass.node import init_node

LMO = {
    "catalogue": "rec-own",
    "version": "2026.1",
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


def test_the_configured_extension_reaches_the_ledger_and_a_bad_one_is_refused(settings: Settings) -> None:
    node, _ = init_node("rec", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
    try:
        assert node.ledger_service().catalogue is CATALOGUE
        (node.home / "materials.json").write_text(json.dumps(LMO), encoding="utf-8")
        node.config.extra["materials"] = "materials.json"
        cat = node.ledger_service().catalogue
        assert cat.label == "batpass-materials+rec-own@2026.12+2026.1" and "cam_lmo" in cat.materials
        (node.home / "materials.json").write_text(json.dumps({**LMO, "materials": [{"code": "cam_nca"}]}))
        with pytest.raises(ConfigurationError) as exc:
            node.ledger_service()
        assert "config.json materials" in exc.value.message and "cam_nca" in exc.value.message
        node.config.extra["materials"] = "missing.json"
        with pytest.raises(ConfigurationError):
            node.ledger_service()
    finally:
        node.close()
