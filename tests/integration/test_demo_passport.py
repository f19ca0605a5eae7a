"""The demo's passport step (from the session's full demo run), checked through
summary.json, the artefacts it lists, and the live nodes while the demo serves.

One demo run for the module: ``batpass demo --out DIR`` (serving) is started, the tests wait for
``complete: true``, read the artefacts and query the nodes over HTTPS, then the demo is stopped
with Ctrl-C (SIGINT). Every export of every demo battery is validated with the checks shared with
the unit tests (``tests/unit/passport/passport_validation.py``).
"""

from __future__ import annotations

import json
import ssl
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from demo_runner import DemoRun

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "passport"))
from passport_validation import aas_errors, batterypass_errors, catenax_errors

from batpass.core.ids import BatteryId
from batpass.demo._story.ledger import HOSTS
from batpass.passport import FIELDS, Tier
from batpass.scenario import generate

pytestmark = pytest.mark.integration

MODEL = Path(__file__).parents[2] / "src/batpass/passport/_data/demo-ev-model.yaml"
KINDS = ("catenax_battery_pass", "batterypass", "aas", "qr_svg", "qr_png")
STATUSES = {"original", "re-used", "repurposed", "remanufactured", "waste", "ended"}


class Demo:
    def __init__(self, out: Path, summary: dict[str, Any]) -> None:
        self.out = out
        self.summary = summary
        self.nodes = {n["name"]: n for n in summary["nodes"]}
        self.client = httpx.Client(verify=ssl.create_default_context(cafile=str(out / summary["ca_cert"])), timeout=30)

    def admin(self, name: str, path: str) -> httpx.Response:
        n = self.nodes[name]
        return self.client.get(n["base_url"] + path, headers={"X-Api-Key": n["admin_key"]})

    def by_status(self, status: str) -> list[dict[str, Any]]:
        return [b for b in self.summary["batteries"] if b["status"] == status]


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> Iterator[Demo]:
    """The session's full demo run (tests/integration/conftest.py)."""
    d = Demo(demo_run.out, demo_run.summary)
    yield d
    d.client.close()


def test_every_battery_listed(demo: Demo) -> None:
    # the same partitions as the demo's ledger step (one owner per node or hub operator): the
    # battery ids depend on how companies share owners, not on the DIDs themselves
    owners = {code: "did:web:" + host.replace("/", ".") + ".test" for code, host in HOSTS.items()}
    # the battery ids (and QR codes) are on the EU certifier's resolver role (docs/resolver.md)
    resolver = demo.nodes["eu-certifier"]["base_url"]
    scenario = generate(owners=owners, resolver=resolver).battery_ids
    batteries = demo.summary["batteries"]
    ids = [b["id"] for b in batteries]
    assert len(ids) == len(set(ids)) == len(scenario) + 1
    assert set(scenario) <= set(ids)
    for b in batteries:
        assert set(b) == {"id", "passport_id", "passport_url", "status"}
        assert b["passport_url"] == b["id"]
        assert b["id"].startswith(resolver + "/01/04012345000016/21/")
        assert b["passport_id"].startswith("urn:uuid:")
        assert b["status"] in STATUSES
    assert len(demo.by_status("repurposed")) == 1 and len(demo.by_status("ended")) == 1
    assert len({b["passport_id"] for b in batteries}) == len(batteries)
    assert demo.summary["story"]["timings_s"]["passport"] > 0


def _files(demo: Demo, kind: str) -> dict[str, Path]:
    """Artefact paths of a kind by battery serial (``passports/<serial>/...``)."""
    paths = demo.summary["artefacts"][kind]
    by_serial = {Path(p).parts[1]: demo.out / p for p in paths}
    assert len(by_serial) == len(paths) == len(demo.summary["batteries"]), kind
    return by_serial


def test_artefacts_for_every_battery(demo: Demo) -> None:
    serials = {str(BatteryId.from_digital_link(b["id"]).serial) for b in demo.summary["batteries"]}
    for kind in KINDS:
        files = _files(demo, kind)
        assert set(files) == serials, kind
        assert all(p.is_file() and p.stat().st_size > 0 for p in files.values()), kind


def test_catenax_exports_validate(demo: Demo) -> None:
    files = _files(demo, "catenax_battery_pass")
    for b in demo.summary["batteries"]:
        doc = json.loads(files[str(BatteryId.from_digital_link(b["id"]).serial)].read_text())
        assert catenax_errors(doc) == [], b["id"]
        assert "urn:uuid:" + doc["metadata"]["passportIdentifier"] == b["passport_id"]


def test_aas_exports_validate(demo: Demo) -> None:
    files = _files(demo, "aas")
    for b in demo.summary["batteries"]:
        path = files[str(BatteryId.from_digital_link(b["id"]).serial)]
        assert aas_errors(path) == [], b["id"]
        shells = json.loads(path.read_text())["assetAdministrationShells"]
        assert shells[0]["assetInformation"]["globalAssetId"] == b["id"]


def test_batterypass_exports_validate(demo: Demo) -> None:
    files = _files(demo, "batterypass")
    for b in demo.summary["batteries"]:
        docs = json.loads(files[str(BatteryId.from_digital_link(b["id"]).serial)].read_text())
        assert batterypass_errors(docs) == [], b["id"]
        assert {"GeneralProductInformation", "Performance", "Circularity"} <= set(docs)


def test_qr_codes_sane(demo: Demo) -> None:
    svgs, pngs = _files(demo, "qr_svg"), _files(demo, "qr_png")
    for b in demo.summary["batteries"]:
        serial = str(BatteryId.from_digital_link(b["id"]).serial)
        svg = svgs[serial].read_text()
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert f"<desc>{b['id']}</desc>" in svg and 1_000 < len(svg) < 50_000
        png = pngs[serial].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and 300 < len(png) < 50_000
        width, height = struct.unpack(">II", png[16:24])
        assert width == height and 200 <= width <= 2000


def _public(demo: Demo, uri: str, accept: str = "application/json") -> httpx.Response:
    r = demo.client.get(uri, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    return r


def test_repurposed_battery_links_the_old(demo: Demo) -> None:
    new = demo.by_status("repurposed")[0]
    doc = _public(demo, new["id"]).json()
    assert doc["status"] == "repurposed" and doc["passportId"] == new["passport_id"]
    (old_pid,) = doc["data"]["predecessors"]
    old = next(b for b in demo.summary["batteries"] if b["passport_id"] == old_pid)
    assert old["id"] != new["id"] and old["status"] == "original"
    assert _public(demo, old["id"]).json()["data"]["successors"] == [new["passport_id"]]
    # responsibility moved to eu-recycler: the full record names it as the operator
    full = demo.admin("eu-carmaker", f"/v1/passports/{new['passport_id']}").json()
    assert full["data"]["economic_operator"] == demo.nodes["eu-recycler"]["did"]
    cx = json.loads(
        _files(demo, "catenax_battery_pass")[str(BatteryId.from_digital_link(new["id"]).serial)].read_text()
    )
    assert "urn:uuid:" + cx["metadata"]["predecessor"] == old_pid


def test_new_operator_writes_dynamic_data_with_its_own_token(demo: Demo) -> None:
    """eu-recycler, responsible for the repurposed battery, wrote its state of health on
    eu-carmaker's node with its own self-issued token: the version names eu-recycler's DID."""
    car, rec = demo.nodes["eu-carmaker"], demo.nodes["eu-recycler"]
    new = demo.by_status("repurposed")[0]
    versions = demo.admin("eu-carmaker", f"/v1/passports/{new['passport_id']}/history").json()["versions"]
    by_rec = [v for v in versions if v["actor"] == rec["did"]]
    assert [v["change"] for v in by_rec] == ["dynamic"]
    assert by_rec[0]["diff"]["state_of_health"]
    assert all(v["actor"] == car["did"] for v in versions if v["actor"] != rec["did"])
    full = demo.admin("eu-carmaker", f"/v1/passports/{new['passport_id']}").json()["data"]
    assert full["state_of_health"] == {"value": 75.5, "unit": "%"}
    # the old passport is still the car maker's: no version by eu-recycler
    (old_pid,) = full["predecessors"]
    old = demo.admin("eu-carmaker", f"/v1/passports/{old_pid}/history").json()["versions"]
    assert rec["did"] not in {v["actor"] for v in old}


def test_self_issued_token_is_checked_live(demo: Demo) -> None:
    """Live, over HTTPS: eu-recycler's token for eu-carmaker is refused on the passport it is not
    responsible for (403, field and rule; nothing stored), a token for another audience and no
    credential at all are 401."""
    car, rec = demo.nodes["eu-carmaker"], demo.nodes["eu-recycler"]
    new = demo.by_status("repurposed")[0]
    full = demo.admin("eu-carmaker", f"/v1/passports/{new['passport_id']}").json()["data"]
    (old_pid,) = full["predecessors"]

    def token(audience: str) -> str:
        r = demo.client.post(
            rec["base_url"] + "/v1/auth/self-issued",
            json={"audience": audience},
            headers={"X-Api-Key": rec["admin_key"]},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    url = f"{car['base_url']}/v1/passports/{old_pid}/dynamic"
    body = {"values": {"state_of_health": {"value": 10.0, "unit": "%"}}}
    before = demo.admin("eu-carmaker", f"/v1/passports/{old_pid}/history").json()["versions"]
    r = demo.client.post(url, json=body, headers={"Authorization": f"Bearer {token(car['did'])}"})
    assert r.status_code == 403, r.text
    assert r.json()["field"] == "dynamic" and "Art. 77(4)" in r.json()["rule"] and rec["did"] in r.json()["detail"]
    r = demo.client.post(url, json=body, headers={"Authorization": f"Bearer {token(rec['did'])}"})
    assert r.status_code == 401, r.text
    assert demo.client.post(url, json=body).status_code == 401
    assert demo.admin("eu-carmaker", f"/v1/passports/{old_pid}/history").json()["versions"] == before


def test_recycled_battery_resolves_to_ended(demo: Demo) -> None:
    ended = demo.by_status("ended")[0]
    doc = _public(demo, ended["id"]).json()
    assert doc["status"] == "ended" and doc["passportId"] == ended["passport_id"]
    page = _public(demo, ended["id"], "text/html").text
    assert "Ended" in page or "ended" in page


def test_backup_node_holds_signed_copies(demo: Demo) -> None:
    ended = demo.by_status("ended")[0]
    history = demo.admin("eu-carmaker", f"/v1/passports/{ended['passport_id']}/history").json()["versions"]
    copies = demo.admin("eu-recycler", f"/v1/passports/backups/{ended['passport_id']}").json()["copies"]
    assert [c["version"] for c in copies] == [v["version"] for v in history]
    assert [c["digest"] for c in copies] == [v["digest"] for v in history]
    assert {c["issuer"] for c in copies} == {demo.nodes["eu-carmaker"]["did"]}


def _restricted_values() -> list[str]:
    values = yaml.safe_load(MODEL.read_text())["values"]
    tiers = {f.key: f.tier for f in FIELDS}
    public = json.dumps({k: v for k, v in values.items() if tiers[k] is Tier.PUBLIC})
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if v not in public:
                out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for k, v in values.items():
        if tiers[k] is not Tier.PUBLIC:
            walk(v)
    return out


def test_anonymous_public_page_shows_no_restricted_field(demo: Demo) -> None:
    canaries = _restricted_values()
    assert len(canaries) >= 8  # composition, part numbers, spare-part sources, test reports, ...
    restricted_keys = {f.key for f in FIELDS if f.tier is not Tier.PUBLIC}
    for b in (demo.summary["batteries"][0], demo.by_status("repurposed")[0], demo.by_status("ended")[0]):
        page = _public(demo, b["id"], "text/html").text
        assert page.lstrip().lower().startswith("<!doctype html")
        assert [c for c in canaries if c in page] == []
        doc = _public(demo, b["id"]).json()
        assert doc["tiers"] == ["public"]
        assert set(doc["data"]) & restricted_keys == set()
        assert [c for c in canaries if c in json.dumps(doc)] == []
    # the operator's own read of the same battery does carry them (the canaries are real)
    full = demo.admin("eu-carmaker", f"/v1/passports/{demo.summary['batteries'][0]['passport_id']}").text
    assert all(c in full or json.dumps(c)[1:-1] in full for c in canaries)


def test_each_life_is_told_on_the_page(demo: Demo) -> None:
    """Issue 20: the repurposed pack reads as eu-recycler's stationary store with its use (not the EV
    model and its footprint), the recycled one says who recycled it and what was recovered, and
    the pages name operators by legal name; the footprint is given per kWh of both bases."""
    new = demo.by_status("repurposed")[0]
    data = _public(demo, new["id"]).json()["data"]
    assert data["category"] == "stationary" and data["intended_use"] and "carbon_footprint" not in data
    page = _public(demo, new["id"], "text/html").text
    assert "Stationary energy storage (industrial) battery" in page and "Kreislauf Recycling GmbH" in page
    ended = demo.by_status("ended")[0]
    data = _public(demo, ended["id"]).json()["data"]
    assert data["recycler"] == demo.nodes["eu-recycler"]["did"] and data["recycled_on"]
    assert {r["material"] for r in data["recovered_materials"]} >= {"cobalt", "lithium", "nickel"}
    page = _public(demo, ended["id"], "text/html").text
    assert "Recycled by" in page and "Kreislauf Recycling GmbH" in page and "Europa Automobil AG" in page
    original = demo.summary["batteries"][0]
    page = _public(demo, original["id"], "text/html").text
    assert "Carbon footprint per kWh of lifetime energy" in page and "Carbon footprint per kWh of capacity" in page
    history = demo.client.get(original["id"] + "/history", headers={"Accept": "text/html"})
    assert history.status_code == 200 and "Passport built" in history.text
