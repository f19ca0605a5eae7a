"""One definition per figure, stated where it appears (issue 18): on the demo, the Art. 8 recycled
content of the battery the compliance report judges is the same figure, with the same basis, on
its passport JSON, its public passport page, every compliance JSON report, the ledger's API and
``summary.json`` — and no 0 % stands in for an unknown share."""

from __future__ import annotations

import html
import json
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from demo_runner import DemoRun

from batpass.web._passport_page import recycled_line

pytestmark = pytest.mark.integration

ART8 = "art8_model_batch_plant"
METALS = {"Co": "cobalt", "Li": "lithium", "Ni": "nickel"}


@pytest.fixture(scope="module")
def client(demo_run: DemoRun) -> Iterator[httpx.Client]:
    ca = ssl.create_default_context(cafile=str(demo_run.out / demo_run.summary["ca_cert"]))
    with httpx.Client(verify=ca, timeout=30) as c:
        yield c


def _get(
    client: httpx.Client, url: str, *, node: dict[str, Any] | None = None, accept: str = "application/json"
) -> Any:
    headers = {"Accept": accept} | ({"X-Api-Key": node["admin_key"]} if node else {})
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return r.json() if accept == "application/json" else r.text


def test_recycled_content_is_one_figure_wherever_it_appears(demo_run: DemoRun, client: httpx.Client) -> None:
    out, summary = demo_run.out, demo_run.summary
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    reports = [json.loads((out / a["json"]).read_text()) for a in summary["artefacts"]["compliance"]]
    assert len(reports) == 3
    battery = reports[0]["subject"]
    assert all(r["subject"] == battery for r in reports)
    entry = next(b for b in summary["batteries"] if b["id"] == battery)

    # the places it appears
    groups = _get(client, f"{car['base_url']}/v1/ledger/recycled-content?battery={quote(battery, safe='')}", node=car)
    assert len(groups) == 1
    api = groups[0]
    pid = entry["passport_id"].removeprefix("urn:uuid:")
    passport = _get(client, f"{car['base_url']}/v1/passports/{pid}", node=car)["data"]["recycled_content"]
    page = html.unescape(_get(client, entry["passport_url"], accept="text/html"))
    story = summary["story"]["recycled_content"]
    assert story["basis"] == api["basis"] == ART8
    # summary.json's battery (the traced one) is of the same model and batch per plant: one figure
    assert (story["model"], story["batch"], story["plant"]) == (api["model"], api["batch"], api["plant"])

    for sym, metal in METALS.items():
        fig = api["elements"][sym]
        assert fig["basis"] == ART8, (sym, fig)
        pre, post, unknown = fig["pre_consumer"], fig["post_consumer"], fig["unknown_mass_share"]
        # unknown is null, never 0 %; once every summary arrived, recovered salts show
        assert (pre is None) is (post is None) is (unknown >= 1.0), (sym, fig)
        seen = {
            "passport JSON": passport[metal] | {"unknown": passport[metal]["unknown_mass_share"]},
            "summary.json": story["shares"][sym]
            | {"basis": story["basis"], "unknown": story["shares"][sym]["unknown_mass_share"]},
        }
        for r in reports:  # the report lists a metal only where its share is known
            c = r["recycled"].get(metal)
            if c is not None or pre is not None:
                assert c is not None, (sym, r["at"])
                seen[f"compliance JSON {r['at']}"] = {
                    "pre": float(c["pre_consumer"]),
                    "post": float(c["post_consumer"]),
                    "basis": c["basis"],
                    "unknown": unknown,
                }
        for place, got in seen.items():
            assert got["basis"] == ART8, (sym, place)
            assert got["unknown"] == pytest.approx(unknown, abs=1e-12), (sym, place, got)
            if pre is None:
                assert got["pre"] is None and got["post"] is None, (sym, place, got)
            else:
                assert got["pre"] == pytest.approx(pre, abs=1e-12), (sym, place, got)
                assert got["post"] == pytest.approx(post, abs=1e-12), (sym, place, got)
        # the page states the figure and its basis (at its 0.1 % precision), or that it is unknown
        assert recycled_line(metal, passport[metal]) in page, (sym, recycled_line(metal, passport[metal]))
        if pre is not None:
            assert f"{metal}: pre-consumer {100 * pre:.1f} %, post-consumer {100 * post:.1f} %" in page
        else:
            assert f"{metal}: unknown" in page
    assert "Art. 8 basis: per battery model and batch per manufacturing plant" in page
