"""A site's record: located by country, ISO 3166-2 region and coordinates (each refused by name
when missing or wrong), certifications that count only while valid, and the public summary that
names no operator, coordinates or evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sites_testkit import HAUT_LOMAMI, KOLWEZI, site

from batpass.core.errors import InvalidInput
from batpass.sites import Site


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    out = site(data)
    target = out
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_without(KOLWEZI, "country"), "country"),
        (site(KOLWEZI, country=""), "country"),
        (_without(KOLWEZI, "region"), "region"),
        (_without(KOLWEZI, "location"), "location.latitude"),
        (_without(KOLWEZI, "location", "longitude"), "location.longitude"),
        (site(KOLWEZI, location={"latitude": -91, "longitude": 25}), "location.latitude"),
        (site(KOLWEZI, location={"latitude": "south", "longitude": 25}), "location.latitude"),
        (site(KOLWEZI, country="XX"), "country"),
        (site(KOLWEZI, region="CD-XX"), "region"),
        (site(KOLWEZI, region="ZM-01"), "region"),  # a real subdivision of another country
        (site(KOLWEZI, siteType="quarry"), "siteType"),
        (site(KOLWEZI, minerals=[]), "minerals"),
        (site(KOLWEZI, siteId="overview"), "siteId"),
        (site(KOLWEZI, operator=" "), "operator"),
        (site(KOLWEZI, certifications=[{"scheme": "ISO 9001", "status": "certified"}]), "certifications[0].scheme"),
        (site(KOLWEZI, certifications=[{"scheme": "IRMA", "status": "great"}]), "certifications[0].status"),
        (
            site(KOLWEZI, certifications=[{"scheme": "IRMA", "status": "certified", "validUntil": "soon"}]),
            "certifications[0].validUntil",
        ),
        (site(KOLWEZI, dueDiligence=[{"kind": "audit", "reference": "r"}]), "dueDiligence[0].date"),
    ],
)
def test_bad_site_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Site.from_json(data)
    assert exc.value.field == field
    assert field.split("[")[0].split(".")[0] in str(exc.value)


def test_record_round_trips() -> None:
    s = Site.from_json(HAUT_LOMAMI)
    assert Site.from_json(s.to_json()) == s
    assert s.region == "CD-HL" and s.country == "CD" and s.minerals == ("cobalt",)


def test_certification_counts_while_valid_and_in_a_counting_status() -> None:
    s = Site.from_json(HAUT_LOMAMI)
    assert s.certified_on(dt.date(2029, 6, 30))
    assert not s.certified_on(dt.date(2029, 7, 1))  # expired the day after "valid until"
    suspended = site(HAUT_LOMAMI, certifications=[{"scheme": "Copper Mark", "status": "suspended"}])
    assert not Site.from_json(suspended).certified_on(dt.date(2026, 1, 1))
    rmap = site(HAUT_LOMAMI, certifications=[{"scheme": "RMI RMAP", "status": "conformant"}])
    assert Site.from_json(rmap).certified_on(dt.date(2040, 1, 1))  # no expiry published: counts


def test_public_summary_names_no_operator_coordinates_or_evidence() -> None:
    cert = {"scheme": "IRMA", "status": "certified", "level": "IRMA 75", "credential": "eyJhbGciOi.secret.sig"}
    s = Site.from_json(site(HAUT_LOMAMI, certifications=[cert]))
    public = s.public_json(today=dt.date(2026, 12, 6))
    text = str(public)
    assert "Katanga Cobalt SARL" not in text and "-8.74" not in text and "doc:ra-2026" not in text
    assert "secret" not in text and "partner.example" not in text
    assert public["region"] == "CD-HL" and public["certified"] is True
    assert public["certifications"] == [{"scheme": "IRMA", "status": "certified", "level": "IRMA 75"}]
