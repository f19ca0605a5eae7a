"""The CAHRA loader: the published JSON form (the synthetic sample is one), every other form
refused with the reason, and a screening that names the data set and flags listed regions (or a
whole listed country) only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sites_testkit import sample

from batpass.core.errors import InvalidInput
from batpass.sites import CAHRA_SAMPLE, ENHANCED_DUE_DILIGENCE, NOT_LISTED, load_cahra, parse_cahra


def test_synthetic_sample_is_labelled_and_lists_the_cobalt_belt() -> None:
    ds = load_cahra(CAHRA_SAMPLE)
    assert ds.synthetic and "synthetic" in ds.name
    assert ds.label == "batpass-synthetic-cahra-sample@2026-06-30"
    assert {"CD-HK", "CD-LU"} <= set(ds.regions) and ds.regions["CD-LU"].high_risk
    assert "SYNTHETIC" in json.loads(CAHRA_SAMPLE.read_text())["notice"]


def test_screening_flags_a_listed_region_only_and_names_the_data_set() -> None:
    ds = parse_cahra(sample())
    hit = ds.screen(country="CD", region="CD-LU")
    assert hit.outcome == ENHANCED_DUE_DILIGENCE and hit.flagged and hit.high_risk and not hit.conflict_affected
    assert hit.dataset == "batpass-synthetic-cahra-sample@2026-06-30"
    kivu = ds.screen(country="CD", region="CD-NK")
    assert kivu.flagged and kivu.conflict_affected
    miss = ds.screen(country="CD", region="CD-HL")
    assert miss.outcome == NOT_LISTED and not miss.flagged and miss.dataset == ds.label


def test_a_country_level_report_flags_every_region_of_the_country() -> None:
    doc = sample()
    doc["countries"].append(
        {
            "code": "MMR",
            "name": "Myanmar",
            "reports": [
                {"title": "whole country", "created": "2026-06-30", "is_country_level": True, "included_regions": []}
            ],
        }
    )
    ds = parse_cahra(doc)
    assert ds.screen(country="MM", region="MM-11").flagged
    assert not ds.screen(country="CD", region="CD-KN").flagged


def test_an_unnamed_data_set_takes_the_loaders_name() -> None:
    doc = sample()
    del doc["name"], doc["synthetic"]
    ds = parse_cahra(doc)
    assert ds.label == "eu-indicative-cahra-list@2026-06-30" and not ds.synthetic


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = sample()
    target: Any = doc
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
    for k in keys[:-1]:
        target = target[k]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "$"),
        ({"countries": []}, "$.version"),
        (_mutate("version/data_updated", KeyError), "$.version.data_updated"),
        (_mutate("version/data_updated", "last June"), "$.version.data_updated"),
        (_mutate("countries", {"COD": {}}), "$.countries"),
        (_mutate("countries/0/code", "ZZZ"), "$.countries[0].code"),
        (_mutate("countries/0/reports/0/is_country_level", "no"), "$.countries[0].reports[0].is_country_level"),
        (_mutate("countries/0/reports/0/included_regions", KeyError), "$.countries[0].reports[0].included_regions"),
        (
            _mutate("countries/0/reports/0/included_regions/0/code", "Haut-Katanga"),
            "$.countries[0].reports[0].included_regions[0].code",
        ),
        (
            _mutate("countries/0/reports/0/included_regions/0/code", "ZM-01"),
            "$.countries[0].reports[0].included_regions[0].code",
        ),
        (
            _mutate("countries/0/reports/0/included_regions/1/high_risk", 1),
            "$.countries[0].reports[0].included_regions[1].high_risk",
        ),
    ],
)
def test_a_data_set_of_an_unknown_form_is_refused_with_the_reason(doc: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_cahra(doc)
    assert exc.value.field == field
    assert str(exc.value).startswith("CAHRA data set of an unknown form: ")


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text("<html>rate limited</html>")
    with pytest.raises(InvalidInput, match="unknown form: not JSON"):
        load_cahra(f)


@pytest.mark.parametrize("name", ["", "x" * 129, "eu list; drop"])
def test_a_data_set_name_that_is_no_name_is_refused(name: str) -> None:
    doc = sample()
    del doc["name"]
    with pytest.raises(InvalidInput) as exc:
        parse_cahra(doc, name=name)
    assert exc.value.field == "name"
