"""The passport's due-diligence section says which share of each element's mined part comes from
certified, flagged or unknown sites, from the battery's upstream summary, naming no site; a
summary whose register said nothing gives no such data point (never a 0 %)."""

from __future__ import annotations

from typing import Any

from batpass.core.summary import SUMMARY_BASIS, decode_summary
from batpass.passport import FIELDS_BY_KEY, Tier
from batpass.passport.service import summary_values
from batpass.web._i18n import translations
from batpass.web._passport_page import format_value, site_line


def _summary(sites: dict[str, Any]) -> dict[str, Any]:
    return {
        "summaryVersion": "2.0",
        "basis": dict(SUMMARY_BASIS),
        "subject": {"kind": "battery", "id": "https://id.example/01/04012345000009/21/SN-1", "material": "battery"},
        "issuer": "did:web:carmaker.example",
        "computedAt": "2027-03-01T10:00:00Z",
        "elements": {
            "Co": {
                "minedByCountry": {"CD": 0.8},
                "recycledByCountry": {"FI": 0.2},
                "unknownShare": 0.0,
                "highRiskShare": sites["flagged"],
                "recycled": {"preConsumer": 0.0, "postConsumer": 0.2},
                "custodyModels": {"mass_balance": 1.0},
                "sites": sites,
            }
        },
        "minesReached": 2,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 1,
    }


def test_the_site_shares_reach_the_passport_and_its_page() -> None:
    values = summary_values(decode_summary(_summary({"certified": 0.6, "flagged": 0.25, "unknown": 0.15})), None)
    assert values["mined_site_status"] == {"cobalt": {"certified": 0.6, "flagged": 0.25, "unknown": 0.15}}
    assert FIELDS_BY_KEY["mined_site_status"].tier is Tier.PUBLIC  # shares only: no supplier named
    row = format_value("mined_site_status", values["mined_site_status"])
    assert row.items == (
        "cobalt: certified sites 60.0 %, flagged for enhanced due diligence 25.0 %, unknown sites 15.0 %",
    )
    english = (
        "%(metal)s: certified sites %(certified)s, flagged for enhanced due diligence %(flagged)s,"
        " unknown sites %(unknown)s"
    )
    ja = translations("ja").gettext(english)
    assert ja != english and all(f"%({k})s" in ja for k in ("metal", "certified", "flagged", "unknown"))
    assert site_line("cobalt", {"certified": 1.0, "flagged": 0.0, "unknown": 0.0}).endswith("unknown sites 0.0 %")


def test_no_register_no_site_shares() -> None:
    values = summary_values(decode_summary(_summary({"certified": None, "flagged": None, "unknown": None})), None)
    assert "mined_site_status" not in values and "material_origin" in values
