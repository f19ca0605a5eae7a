"""One definition per figure, stated where it appears (issue 18): on the demo, each figure is the
same, with the same basis, wherever it appears —

- the Art. 8 recycled content of the battery the compliance report judges: its passport JSON, its
  public passport page, every compliance JSON report, the ledger's API and ``summary.json`` (no
  0 % stands in for an unknown share);
- the carbon footprint per kWh of lifetime energy (Annex II), total and by stage: the passport
  JSON and page, every compliance JSON report (EU and JP), the PACT API's per-kWh extension and
  ``summary.json``;
- the mined origin by country (a share of each element's mass in the traced battery; recycled
  input apart): the passport JSON and page, ``summary.json``, the federated trace artefact, its
  signed summary and the ledger's summary API."""

from __future__ import annotations

import html
import json
import re
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from demo_runner import DemoRun

from batpass.footprint import PER_KWH_LIFETIME_ENERGY
from batpass.ledger._audit import summary_payload
from batpass.passport._static import ELEMENT_NAMES
from batpass.web._page_blocks import CO2E_PER_KWH, STAGE_NAMES, country_name, sig
from batpass.web._passport_page import origin_line, recycled_line, site_line

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


def _text(page: str) -> str:
    """A page's visible text, tags dropped and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _pact_footprints(client: httpx.Client, pact: dict[str, Any]) -> list[dict[str, Any]]:
    token = client.post(
        f"{pact['base_url']}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(pact["client_id"], pact["client_secret"]),
    ).json()["access_token"]
    r = client.get(f"{pact['base_url']}/3/footprints", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def test_carbon_footprint_is_one_figure_per_kwh_of_lifetime_energy_wherever_it_appears(
    demo_run: DemoRun, client: httpx.Client
) -> None:
    out, summary = demo_run.out, demo_run.summary
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    story = summary["story"]["footprint"]
    assert story["basis"] == PER_KWH_LIFETIME_ENERGY
    total, lifetime = story["kg_co2e_per_kwh"], story["lifetime_kwh"]
    stages = {s: v for s, v in story["stages"].items() if v is not None}
    eu = [json.loads((out / a["json"]).read_text()) for a in summary["artefacts"]["compliance"]]
    jp = [json.loads(p.read_text()) for p in sorted((out / "compliance" / "jp").glob("*/report.json"))]
    assert len(eu) == 3 and len(jp) == 3
    battery = eu[0]["subject"]
    entry = next(b for b in summary["batteries"] if b["id"] == battery)
    pid = entry["passport_id"].removeprefix("urn:uuid:")
    data = _get(client, f"{car['base_url']}/v1/passports/{pid}", node=car)["data"]
    gtin = battery.split("/01/", 1)[1].split("/", 1)[0]
    (pact,) = [d for d in _pact_footprints(client, car["pact"]) if d["productIds"] == [f"urn:gtin:{gtin}"]]
    (ext,) = [e["data"] for e in pact["extensions"] if "perKwhLifetimeEnergy" in e["data"]]

    # each place: (kg CO2e per kWh, per-stage figures, the basis it states)
    seen: dict[str, tuple[float, dict[str, float], str]] = {
        "passport JSON": (
            data["carbon_footprint"]["value"],
            dict(data["carbon_footprint_stages"]),
            # the data point's unit is the Annex II functional unit (docs/compliance.md)
            PER_KWH_LIFETIME_ENERGY if data["carbon_footprint"]["unit"] == "kgCO2e/kWh" else "?",
        ),
        "PACT API (perKwhLifetimeEnergy)": (
            float(ext["perKwhLifetimeEnergy"]["kgCo2ePerKwh"]),
            {s: float(v) / float(ext["perKwhLifetimeEnergy"]["lifetimeKwh"]) for s, v in ext["stages"].items() if v},
            PER_KWH_LIFETIME_ENERGY,
        ),
    }
    for market, reports in (("EU", eu), ("JP", jp)):
        for r in reports:
            fp = r["footprint"]
            got = {s: float(v) for s, v in fp["stages"].items() if v is not None}
            seen[f"compliance JSON {market} {r['at']}"] = (float(fp["kg_co2e_per_kwh"]), got, fp["basis"])
    assert float(ext["perKwhLifetimeEnergy"]["lifetimeKwh"]) == pytest.approx(lifetime)
    for place, (value, by_stage, basis) in seen.items():
        assert basis == PER_KWH_LIFETIME_ENERGY, place
        assert value == pytest.approx(total, rel=1e-12), (place, value, total)
        assert by_stage.keys() == stages.keys(), (place, by_stage)
        for s, v in stages.items():
            assert by_stage[s] == pytest.approx(v, rel=1e-9), (place, s)
    # the page states the figure with what it is per, at its 3 significant digits, and carries
    # each stage's exact value in its table (the chart's data)
    raw = html.unescape(_get(client, entry["passport_url"], accept="text/html"))
    page = _text(raw)
    assert f"Carbon footprint per kWh of lifetime energy {sig(total)} {CO2E_PER_KWH}" in page
    for s, v in stages.items():
        if v is None:
            assert re.search(rf'data-stage="{s}"[^>]*data-value=""', raw), s
            continue
        assert re.search(rf'data-stage="{s}"[^>]*data-value="{re.escape(repr(float(v)))}"', raw), (s, v)
        assert f"{STAGE_NAMES[s]}: {sig(v)} {CO2E_PER_KWH}" in raw, s


def test_mined_origin_by_country_is_one_figure_wherever_it_appears(demo_run: DemoRun, client: httpx.Client) -> None:
    out, summary = demo_run.out, demo_run.summary
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    trace = summary["story"]["trace"]
    battery = trace["battery"]
    assert trace["basis"] == "battery_mass_balance"
    entry = next(b for b in summary["batteries"] if b["id"] == battery)
    pid = entry["passport_id"].removeprefix("urn:uuid:")
    passport = _get(client, f"{car['base_url']}/v1/passports/{pid}", node=car)["data"]["material_origin"]
    federated = json.loads((out / "ledger" / "federated-trace.json").read_text())
    token = client.get(
        f"{car['base_url']}/v1/ledger/summaries/{quote(battery, safe='')}", headers={"X-Api-Key": car["admin_key"]}
    )
    assert token.status_code == 200, token.text
    signed = summary_payload(token.text.strip())["elements"]
    page = _text(_get(client, entry["passport_url"], accept="text/html"))
    assert "Mined origin of critical raw materials (share of each element's mass in this battery, by country)" in page

    for sym, mined in trace["shares_by_country"].items():
        name = ELEMENT_NAMES[sym]
        seen = {
            "ledger/federated-trace.json": federated["shares_by_country"][sym],
            "federated trace's signed summary": federated["summary"]["elements"][sym]["minedByCountry"],
            "GET /v1/ledger/summaries": signed[sym]["minedByCountry"],
            "passport JSON": passport.get(name, {}),
        }
        for place, got in seen.items():
            assert got.keys() == mined.keys(), (sym, place, got, mined)
            for country, share in mined.items():
                assert got[country] == pytest.approx(share, abs=1e-12), (sym, place, country)
        # a recycler is no origin: the recycled input is its own series, the three parts sum to 1
        recycled = federated["summary"]["elements"][sym]["recycledByCountry"]
        assert recycled == trace["recycled_by_country"][sym] == signed[sym]["recycledByCountry"]
        assert not (recycled.keys() & mined.keys()), sym
        parts = sum(mined.values()) + sum(recycled.values()) + trace["unknown_share"][sym]
        assert parts == pytest.approx(1.0), sym
        if mined:
            # the page names the countries and orders them by share, at 0.1 %
            assert origin_line(name, passport[name]) in page, (sym, origin_line(name, passport[name]))
            for country, share in mined.items():
                assert f"{country_name(country)} {100 * share:.1f} %" in page, (sym, country)


def test_site_shares_are_one_figure_wherever_they_appear(demo_run: DemoRun, client: httpx.Client) -> None:
    """Which share of each element's mined part comes from certified, flagged or unknown sites:
    ``summary.json``, the federated trace artefact's signed summary and the ledger's summary API
    say the same as the passport's due-diligence section (JSON and page), the flagged share is the
    high-risk share, and no site is named on the way."""
    out, summary = demo_run.out, demo_run.summary
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    trace = summary["story"]["trace"]
    federated_text = (out / "ledger" / "federated-trace.json").read_text()
    federated = json.loads(federated_text)["summary"]["elements"]
    token = client.get(
        f"{car['base_url']}/v1/ledger/summaries/{quote(trace['battery'], safe='')}",
        headers={"X-Api-Key": car["admin_key"]},
    )
    assert token.status_code == 200, token.text
    signed = summary_payload(token.text.strip())["elements"]
    entry = next(b for b in summary["batteries"] if b["id"] == trace["battery"])
    pid = entry["passport_id"].removeprefix("urn:uuid:")
    passport = _get(client, f"{car['base_url']}/v1/passports/{pid}", node=car)["data"]["mined_site_status"]
    page = _text(_get(client, entry["passport_url"], accept="text/html"))
    assert set(trace["sites"]) == set(trace["shares_by_country"])
    for sym, sites in trace["sites"].items():
        seen = {"federated trace": federated[sym]["sites"], "GET /v1/ledger/summaries": signed[sym]["sites"]}
        name = ELEMENT_NAMES[sym]
        if sites["certified"] is not None:  # the passport's due-diligence section, JSON and page
            seen["passport JSON"] = passport[name]
            assert site_line(name, passport[name]) in page, (sym, site_line(name, passport[name]))
        else:
            assert name not in passport, sym  # unknown is said by its absence, never a 0 %
        for place, got in seen.items():
            for k in ("certified", "flagged", "unknown"):
                assert got[k] == pytest.approx(sites[k], abs=1e-12), (sym, place, k)
        if trace["shares_by_country"][sym]:
            assert sites["flagged"] == pytest.approx(trace["high_risk_share"][sym], abs=1e-12), sym
            assert 0.0 <= sites["certified"] + sites["flagged"] + sites["unknown"] <= 1.0 + 1e-9, sym
    # the demo's certified mines and its flagged cobalt site reach the car maker as shares only
    assert trace["sites"]["Co"]["certified"] > 0 and 0 < trace["sites"]["Co"]["flagged"] < 1
    assert "MINE-CD-2" not in federated_text and "Kolwezi" not in federated_text
