"""Site records the register tests share (the scenario's two DR Congo cobalt mines)."""

from __future__ import annotations

import copy
import json
from typing import Any

from batpass.sites import CAHRA_SAMPLE

#: a cobalt mine in Lualaba (CD-LU), a region the synthetic sample flags
KOLWEZI: dict[str, Any] = {
    "siteId": "MINE-CD-2",
    "name": "Kolwezi artisanal mining zone",
    "operator": "Kolwezi Artisanal Cooperative",
    "siteType": "mine",
    "country": "CD",
    "region": "CD-LU",
    "location": {"latitude": -10.72, "longitude": 25.47},
    "minerals": ["cobalt", "copper"],
    "certifications": [],
    "dueDiligence": [],
}

#: a cobalt mine in Haut-Lomami (CD-HL), outside the sample's regions, certified
HAUT_LOMAMI: dict[str, Any] = {
    "siteId": "MINE-CD-1",
    "name": "Katanga Cobalt industrial mine",
    "operator": "Katanga Cobalt SARL",
    "siteType": "mine",
    "country": "CD",
    "region": "CD-HL",
    "location": {"latitude": -8.74, "longitude": 24.99},
    "minerals": ["cobalt"],
    "certifications": [
        {"scheme": "IRMA", "status": "certified", "level": "IRMA 75", "validUntil": "2029-06-30"},
    ],
    "dueDiligence": [
        {"kind": "risk assessment", "reference": "doc:ra-2026", "date": "2026-03-01"},
    ],
    "sharedWith": ["did:web:partner.example"],
}


def site(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def sample() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CAHRA_SAMPLE.read_text())
    return doc
