"""Demo step ``passport``: the car maker builds the battery passports, gives one battery a second
life, recycles another, and publishes every passport's exports and QR codes.

The actor is ``eu-carmaker``, the economic operator of the scenario's batteries; everything goes
over HTTPS through its public API (``/v1/passports...``, admin key = acting as the node's DID):

1. **Build** (``POST /v1/passports``) the passport of every battery in
   ``story.shared["ledger.batteries"]`` from the model's static product data
   (``batpass/passport/_data/demo-ev-model.yaml``: the scenario's RA-EV-60 pack, GTIN
   04012345000016), item data the car maker knows from its own production records (date and
   place of assembly, from the scenario's assembly events; its BPNL as economic operator), the
   upstream summary (not sent: the node's ``LedgerSummarySource`` reads it from its own ledger,
   which the ``ledger`` step filled) and, when the ``footprint`` step ran, the pack footprint
   (``story.shared["footprint.pack"]``: total and Annex II stages, a stage not provided stays
   absent) with the certified cell footprint credential (``trust.cfp_credential``) backing it.
   The battery the ledger step traced also carries a Catena-X-certified PCF: the car maker shows
   ``eu-certifier`` its signed upstream summary, which now carries the declared pack footprint,
   and asks for a ``carbon-footprint`` claim (``POST /v1/credentials/certification-requests``,
   framework ``catena-x-pcf``); the Japanese side counts it through its recognition policy
   (``compliance`` step).
2. **Second life**: one battery in service gets dynamic data (state of health, cycles), then is
   repurposed (``POST /v1/passports/{id}/second-life``, status ``repurposed``): a new passport
   and a new battery identifier (serial ``<old>R``), linked to the old passport (``predecessors``
   / ``successors``), the responsibility with ``eu-recycler`` (``newOperator`` = its DID, its BPNL
   as economic operator).
   *Decision*: the new passport lives on ``eu-carmaker``'s node. The passport service models a new
   operator as the responsible DID recorded in the passport, not as a move between nodes (there
   is no node-to-node transfer API yet); the identifier stays on the car maker's resolver base
   (``eu-certifier``'s resolver role, which asks the car maker's node for it), and ``eu-recycler``
   keeps a signed copy of every version as backup, which the resolver serves when the car maker
   does not answer (docs/resolver.md).
   **Writes from another node**: ``eu-recycler``, now responsible for the new passport, records
   the repurposed battery's state of health in it on ``eu-carmaker``'s node over HTTPS with its
   own identity, not the car maker's admin key: it asks its own node for a DCP self-issued token
   whose audience is the car maker's DID (``POST /v1/auth/self-issued``, eu-recycler's admin
   key) and sends it as ``Authorization: Bearer`` to ``POST /v1/passports/{new}/dynamic``. The
   car maker's node verifies the token (signature by a key in eu-recycler's DID document) and the
   passport rules accept eu-recycler as the responsible operator (Art. 77(4), (7)); the version
   records eu-recycler's DID as its actor. A write to the old passport, still the car maker's and
   with no mandate for eu-recycler, is refused (403) and leaves it unchanged. A token for a write
   is single-use: each write asks for a fresh one.
3. **Recycling**: one battery the scenario sends to the recycler becomes ``waste`` (the car maker,
   as producer, takes the waste EV battery back, Art. 60, and is recorded as waste operator), then
   is recycled by ``eu-recycler`` (``POST /v1/passports/{id}/recycle``): the passport ends and is
   archived, and its identifier keeps resolving to an ``ended`` record — checked by an anonymous
   ``GET`` on the resolver URL with ``Accept: application/json``.
4. **Exports** of every passport (admin reads, the full view for entitled partners and
   authorities): Catena-X ``battery_pass`` 6.1.0, Battery Pass 1.2.0 modules, AAS V3.1 JSON, QR
   code SVG and PNG, the five of a passport in one request (``GET /v1/passports/{id}/exports``:
   each the body of its own route, byte for byte, audited as those are), written under
   ``passports/<serial>/`` (artefact kinds ``catenax_battery_pass``, ``batterypass``, ``aas``,
   ``qr_svg``, ``qr_png``).
5. **Backup**: ``eu-recycler`` (the car maker's backup node) holds a signed copy of the recycled
   passport's last version (``GET /v1/passports/backups/{id}`` on eu-recycler); the step checks
   the copy's digest against the car maker's own version and its Ed25519 signature against the
   key in the car maker's DID document.
6. **Public page**: an anonymous reader's page and JSON of one battery hold no value of a
   restricted-tier data point of the model.

Fills ``summary.batteries`` (README "What the demo shows": every battery, including the repurposed one's
new identifier) and hands ``passport.ids``, ``passport.repurposed`` and ``passport.recycled`` on
through ``story.shared``. Requests run on the story's keep-alive client, four at a time.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import yaml
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from rich.table import Table

from batpass.core.errors import InvariantViolation
from batpass.core.ids import BatteryId, Did
from batpass.demo._story._context import Story
from batpass.passport import FIELDS, Tier

__all__ = ["build_passports", "public_json", "run"]

NODE = "eu-carmaker"
BACKUP = "eu-recycler"
MODEL = Path(__file__).resolve().parents[2] / "passport" / "_data" / "demo-ev-model.yaml"
WORKERS = 4
#: exports written per battery: artefact kind -> (format in ``GET /v1/passports/{id}/exports``, file
#: name); each format is also its own route (``export/{catenax,batterypass,aas}``, ``qr.svg``, ``qr.png``)
EXPORTS: Mapping[str, tuple[str, str]] = {
    "catenax_battery_pass": ("catenax", "catenax_battery_pass.json"),
    "batterypass": ("batterypass", "batterypass.json"),
    "aas": ("aas", "aas.json"),
    "qr_svg": ("qr.svg", "qr.svg"),
    "qr_png": ("qr.png", "qr.png"),
}
#: dynamic data of the battery given a second life (Annex VII: state of health before repurposing)
SECOND_LIFE_DYNAMIC = {
    "state_of_health": {"value": 76.0, "unit": "%"},
    "state_of_charge": {"value": 42.0, "unit": "%"},
    "remaining_capacity": {"value": 128.4, "unit": "Ah"},
    "capacity_fade": {"value": 24.0, "unit": "%"},
    "energy_throughput": {"value": 71800.0, "unit": "kWh"},
    "capacity_throughput": {"value": 202000.0, "unit": "Ah"},
    "remaining_energy": {"value": 45.6, "unit": "kWh"},
    "remaining_power": {"value": 118000.0, "unit": "W"},
    "power_fade": {"value": 21.3, "unit": "%"},
    "remaining_round_trip_efficiency": {"value": 91.0, "unit": "%"},
    "round_trip_efficiency_fade": {"value": 4.5, "unit": "%"},
    "internal_resistance_current": {"value": 0.128, "unit": "Ohm"},
    "internal_resistance_increase": {"value": 34.7, "unit": "%"},
    "self_discharge_current": {"value": 2.4, "unit": "%/month"},
    "operating_environment": [{"from": "2027-03-01", "to": "2033-06-30", "hours_above_45C": 212}],
    "full_cycles": 1240,
    "negative_events": [{"date": "2026-09-14", "event": "cell module 3 replaced after a deep discharge"}],
}
#: what eu-recycler measures when it takes the repurposed battery over (Annex VII Part A)
REPURPOSED_DYNAMIC = {"state_of_health": {"value": 75.5, "unit": "%"}}
BACKUP_WAIT_S = 30.0

T = TypeVar("T")
R = TypeVar("R")


def build_passports(story: Story, batteries: Sequence[str]) -> dict[str, str]:
    """Step 1: build the passport of each battery on eu-carmaker; battery URI → passport id."""
    car = story.node(NODE)
    static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    made, _ = _assembly_records(story)
    footprint = story.shared.get("footprint.pack")
    credential = story.shared.get("trust.cfp_credential")
    traced = (story.story.get("trace") or {}).get("battery")
    certified_pcf = (
        _certified_pcf(story, traced) if footprint and isinstance(traced, str) and traced in batteries else None
    )

    def build(uri: str) -> tuple[str, str]:
        body: dict[str, Any] = {"static": static, "battery": uri, "item": _item(made.get(uri), car.node.config.bpnl)}
        if footprint:
            body["footprint"] = {
                "kg_co2e_per_kwh": footprint["kg_co2e_per_kwh"],
                "kg_co2e_per_battery": footprint["kg_co2e_per_pack"],
                "stages": footprint["stages"],
            }
            creds = [c for c in (credential, certified_pcf if uri == traced else None) if c]
            if creds:
                body["credentials"] = creds
        res = story.call("POST", NODE, "/v1/passports", json=body, expect=(201,)).json()
        return uri, str(res["passportId"])

    return dict(_parallel(build, batteries))


def run(story: Story) -> None:
    batteries: list[str] = list(story.shared["ledger.batteries"])
    car, rec = story.node(NODE), story.node(BACKUP)
    static = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    _, waste_ids = _assembly_records(story)
    t0 = time.perf_counter()
    ids = build_passports(story, batteries)
    t_build = time.perf_counter() - t0

    # second life: a battery still in service (not sent to the recycler by the scenario)
    in_service = [b for b in batteries if b not in waste_ids]
    old_uri = in_service[0]
    old_id = BatteryId.from_digital_link(old_uri)
    new_id = BatteryId(str(old_id.gtin), f"{old_id.serial}R")
    story.call("POST", NODE, f"/v1/passports/{ids[old_uri]}/dynamic", json={"values": SECOND_LIFE_DYNAMIC})
    # the car maker registers the operator it hands batteries to, so its pages name it
    story.call("PUT", NODE, "/v1/participants", json=_participant(rec.node.config))
    second = story.call(
        "POST",
        NODE,
        f"/v1/passports/{ids[old_uri]}/second-life",
        json={
            "status": "repurposed",
            "newBattery": new_id.path,
            "newOperator": rec.did,
            "newCategory": "stationary",
            "use": SECOND_LIFE_USE,
            "values": {"economic_operator_id": rec.node.config.bpnl, "model_name": SECOND_LIFE_MODEL},
        },
        expect=(201,),
    ).json()
    new_uri = str(second["batteryId"])
    ids[new_uri] = str(second["passportId"])
    linked = public_json(story, new_uri)
    if ids[old_uri] not in linked["data"].get("predecessors", []):
        raise InvariantViolation(
            f"predecessors: the new passport {ids[new_uri]} does not link {ids[old_uri]}", rule="Art. 77(6)(a)"
        )

    remote = _new_operator_writes(story, old_pid=ids[old_uri], new_pid=ids[new_uri])

    # recycling: a battery the scenario collected as waste for the recycler
    waste = [b for b in batteries if b in waste_ids and b != old_uri]
    recycled_uri = waste[0] if waste else batteries[-1]
    rid = ids[recycled_uri]
    story.call("POST", NODE, f"/v1/passports/{rid}/status", json={"status": "waste", "wasteOperator": car.did})
    story.call("POST", NODE, f"/v1/passports/{rid}/recycle", json={"recycler": rec.did, "recovered": RECOVERED})
    ended = public_json(story, recycled_uri)
    if ended["status"] != "ended":
        raise InvariantViolation(
            f"status: {recycled_uri} resolves to '{ended['status']}' after recycling, expected 'ended'",
            rule="passport.status.transitions (Art. 77(8)): the identifier keeps resolving",
        )
    t_life = time.perf_counter() - t0 - t_build

    # exports of every passport, each passport's five in one request (the bundle: each the body its
    # own route serves, from one checked read of the passport), four at a time, written in battery order
    def fetch(uri: str) -> tuple[str, dict[str, bytes]]:
        got = story.call("GET", NODE, f"/v1/passports/{ids[uri]}/exports").json()["exports"]
        return uri, {kind: _body(got[fmt]) for kind, (fmt, _name) in EXPORTS.items()}

    order = [*batteries, new_uri]
    for uri, files in _parallel(fetch, order):
        serial = BatteryId.from_digital_link(uri).serial
        for kind, (_suffix, name) in EXPORTS.items():
            story.artefact(kind, f"passports/{serial}/{name}", files[kind])
    t_export = time.perf_counter() - t0 - t_build - t_life

    backup = _check_backup(story, rid)
    leaks = _check_public_view(story, static, batteries[0])

    listed = _listed(story)
    story.summary["batteries"] = [
        {"id": uri, "passport_id": ids[uri], "passport_url": uri, "status": listed[ids[uri]]} for uri in order
    ]
    story.shared["passport.ids"] = dict(ids)
    story.shared["passport.repurposed"] = {"old": old_uri, "new": new_uri}
    story.shared["passport.recycled"] = recycled_uri
    story.shared["passport.remote_write"] = remote
    _show(
        story,
        old_uri=old_uri,
        new_uri=new_uri,
        recycled_uri=recycled_uri,
        backup=backup,
        remote=remote,
        leaks=leaks,
        times=(t_build, t_life, t_export),
        footprint=bool(story.shared.get("footprint.pack")),
    )


# --- inputs -----------------------------------------------------------------------------------

#: the repurposed pack's new life (Art. 3(1)(31)): a stationary store under a model of eu-recycler's
SECOND_LIFE_MODEL = "Kreislauf HomeStore 60 (from RA-EV-60)"
SECOND_LIFE_USE = "stationary energy storage for a home with rooftop solar"
#: what eu-recycler recovers from the recycled pack, kg (about 60 kWh of NMC811 cells)
RECOVERED = [
    {"material": "cobalt", "massKg": 4.2},
    {"material": "nickel", "massKg": 33.5},
    {"material": "lithium", "massKg": 5.1},
    {"material": "copper", "massKg": 24.0},
]


def _participant(cfg: Any) -> dict[str, Any]:
    """A node's participant record as ``PUT /v1/participants`` takes it."""
    body: dict[str, Any] = {"legalName": cfg.legal_name, "country": cfg.country, "did": cfg.did}
    if cfg.bpnl:
        body["bpnl"] = cfg.bpnl
    return body


def _certified_pcf(story: Story, battery: str) -> str | None:
    """The car maker's pack footprint certified by ``eu-certifier`` on the battery's signed
    upstream summary (claim ``carbon-footprint``, framework ``catena-x-pcf``; kept in the car
    maker's wallet too). ``None`` when the summary carries no footprint (the certifier refuses)."""
    summary = story.call("GET", NODE, "/v1/ledger/summaries/" + quote(battery, safe="")).text.strip()
    body = {
        "certifier": story.node("eu-certifier").did,
        "summary": summary,
        "claim": "carbon-footprint",
        "framework": "catena-x-pcf",
    }
    r = story.call("POST", NODE, "/v1/credentials/certification-requests", json=body, expect=(201, 400))
    if r.status_code != 201:
        return None
    story.shared["passport.certified_pcf"] = battery
    return str(r.json()["credential"])


def _assembly_records(story: Story) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Per battery URI, the car maker's own assembly event (date, site country), and the
    batteries the scenario collects as waste for the recycler."""
    sc = story.scenario
    if sc is None:
        return {}, set()
    by_lot: dict[str, str] = {}
    out: dict[str, dict[str, str]] = {}
    for e in sc.events:
        if e["kind"] == "assembly":
            for o in e.get("outputs", ()):
                if o.get("battery"):
                    by_lot[o["lot"]] = o["battery"]["id"]
                    out[o["battery"]["id"]] = {"at": e["at"], "country": e["site"]["country"]}
    waste = {
        by_lot[e["status"]["lot"]]
        for e in sc.events
        if e["kind"] == "status_change" and e["status"]["value"] == "waste" and e["status"]["lot"] in by_lot
    }
    return out, waste


def _item(made: Mapping[str, Any] | None, bpnl: str | None) -> dict[str, Any]:
    """Item-level data: where and when the pack was assembled; the economic operator's BPNL."""
    item: dict[str, Any] = {}
    if made is not None:
        item["manufacturing_date"] = str(made["at"])[:10]
        item["manufacturing_place"] = f"pack plant, {made['country']}"
    if bpnl:
        item["economic_operator_id"] = str(bpnl)
    return item


# --- writes from another node ---------------------------------------------------------------


def _new_operator_writes(story: Story, *, old_pid: str, new_pid: str) -> dict[str, Any]:
    """eu-recycler, responsible for the new passport, writes its dynamic data on eu-carmaker's
    node with its own DCP self-issued token; its write to the old passport is refused. A token
    for a write is single-use, so each write carries a fresh one."""
    car, rec = story.node(NODE), story.node(BACKUP)

    def auth_once() -> dict[str, str]:
        issued = story.call("POST", BACKUP, "/v1/auth/self-issued", json={"audience": car.did}, expect=(201,)).json()
        return {"Authorization": f"Bearer {issued['token']}"}

    body = {"values": REPURPOSED_DYNAMIC}
    before = story.call("GET", NODE, f"/v1/passports/{old_pid}/history").json()["versions"]
    refused = story.call(
        "POST", NODE, f"/v1/passports/{old_pid}/dynamic", admin=False, headers=auth_once(), json=body, expect=(403,)
    ).json()
    if story.call("GET", NODE, f"/v1/passports/{old_pid}/history").json()["versions"] != before:
        raise InvariantViolation(
            f"version: a refused write by {rec.did} changed passport {old_pid}",
            rule="Art. 77(4): a refused write leaves the passport and its history unchanged",
        )
    done = story.call(
        "POST", NODE, f"/v1/passports/{new_pid}/dynamic", admin=False, headers=auth_once(), json=body, expect=(200,)
    ).json()
    last = story.call("GET", NODE, f"/v1/passports/{new_pid}/history").json()["versions"][-1]
    if (last["version"], last["actor"], last["change"]) != (done["version"], rec.did, "dynamic"):
        raise InvariantViolation(
            f"actor: version {last['version']} of {new_pid} records {last['actor']} ({last['change']}),"
            f" expected {rec.did} (dynamic)",
            rule="Art. 77(4): the verified caller is the actor",
        )
    return {
        "actor": rec.did,
        "passport_id": new_pid,
        "version": int(done["version"]),
        "values": REPURPOSED_DYNAMIC,
        "refused": {"passport_id": old_pid, "status": 403, "field": refused.get("field"), "rule": refused.get("rule")},
    }


# --- checks -----------------------------------------------------------------------------------


def public_json(story: Story, uri: str) -> dict[str, Any]:
    """An anonymous machine read of the resolver URL (``Accept: application/json``)."""
    resp = story.client.get(uri, headers={"Accept": "application/json"})
    if resp.status_code != 200:
        raise InvariantViolation(f"GET {uri} answered {resp.status_code}", rule="GS1 Digital Link resolver")
    doc: dict[str, Any] = resp.json()
    return doc


def _check_backup(story: Story, pid: str) -> dict[str, Any]:
    """The backup node holds a signed copy of the passport's last version: same digest as the
    operator's, signature verified with the key in the operator's DID document."""
    latest = story.call("GET", NODE, f"/v1/passports/{pid}/history").json()["versions"][-1]
    version = int(latest["version"])
    own = story.call("GET", NODE, f"/v1/passports/{pid}/versions/{version}").json()
    deadline = time.monotonic() + BACKUP_WAIT_S
    copy: dict[str, Any] | None = None
    while copy is None:
        resp = story.call("GET", BACKUP, f"/v1/passports/backups/{pid}", expect=(200, 404))
        if resp.status_code == 200:
            copy = next((c for c in resp.json()["copies"] if c["version"] == version), None)
        if copy is None:
            if time.monotonic() > deadline:
                raise InvariantViolation(
                    f"{BACKUP} holds no copy of {pid} version {version} after {BACKUP_WAIT_S:.0f} s",
                    rule="Art. 77(5): the backup node holds a signed copy of every version",
                )
            time.sleep(0.2)
    if copy["digest"] != own["digest"] or copy["jws"] != own["jws"]:
        raise InvariantViolation(
            f"digest: {BACKUP}'s copy of {pid} v{version} differs from {NODE}'s", rule="signed version chain"
        )
    car = story.node(NODE)
    did_doc = story.client.get(Did(car.did).web_document_url()).json()
    kid = str(jws.extract_compact(copy["jws"].encode()).protected.get("kid", ""))
    jwk = next(
        (vm["publicKeyJwk"] for vm in did_doc.get("verificationMethod", []) if vm.get("id") == kid),
        None,
    )
    if jwk is None or not kid.startswith(car.did + "#"):
        raise InvariantViolation(f"kid: {kid} is not a key of {car.did}", rule="DID Core verificationMethod")
    try:
        payload = json.loads(
            jws.deserialize_compact(copy["jws"], OKPKey.import_key(jwk), algorithms=["Ed25519"]).payload
        )
    except (JoseError, ValueError) as exc:
        raise InvariantViolation(f"jws: {BACKUP}'s copy does not verify ({exc})", rule="RFC 7515; RFC 8037") from exc
    return {"version": version, "digest": copy["digest"], "ended": bool(payload["passport"].get("ended"))}


def _restricted_strings(static: Mapping[str, Any]) -> list[str]:
    """Text values of the model's restricted-tier data points that no public value contains."""
    tiers = {f.key: f.tier for f in FIELDS}
    values = static["values"]
    public = json.dumps({k: v for k, v in values.items() if tiers.get(k) is Tier.PUBLIC}, ensure_ascii=False)
    found: set[str] = set()
    for k, v in values.items():
        if tiers.get(k) is not Tier.PUBLIC:
            found.update(s for s in _strings(v) if len(s) > 3 and s not in public)
    return sorted(found)


def _strings(v: Any) -> Iterable[str]:
    if isinstance(v, str):
        yield v
    elif isinstance(v, Mapping):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def _check_public_view(story: Story, static: Mapping[str, Any], uri: str) -> int:
    """An anonymous reader's page and JSON carry no restricted-tier value; returns the number
    of restricted values looked for."""
    canaries = _restricted_strings(static)
    for accept in ("text/html", "application/json"):
        text = story.client.get(uri, headers={"Accept": accept}).text
        leaked = [c for c in canaries if c in text or json.dumps(c)[1:-1] in text]
        if leaked:
            raise InvariantViolation(
                f"{uri} ({accept}) shows restricted values to an anonymous reader: {leaked[:3]}",
                rule="Art. 77(2): a field outside the reader's tiers never appears",
            )
    return len(canaries)


def _listed(story: Story) -> dict[str, str]:
    """Passport id -> status as the operator's node lists it (``ended`` once recycled)."""
    out: dict[str, str] = {}
    offset = 0
    while True:
        items = story.call("GET", NODE, "/v1/passports", params={"limit": 1000, "offset": offset}).json()["items"]
        out.update({str(i["passportId"]): str(i["status"]) for i in items})
        if len(items) < 1000:
            return out
        offset += len(items)


# --- plumbing and output ----------------------------------------------------------------------


def _body(export: Mapping[str, str]) -> bytes:
    """The bytes of one export of the bundle (text as UTF-8, a PNG as base64)."""
    if export["encoding"] == "base64":
        return base64.b64decode(export["body"], validate=True)
    return export["body"].encode("utf-8")


def _parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items`` on the story's keep-alive client, ``WORKERS`` requests at a time."""
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="passport") as pool:
        return list(pool.map(fn, items))


def _show(
    story: Story,
    *,
    old_uri: str,
    new_uri: str,
    recycled_uri: str,
    backup: Mapping[str, Any],
    remote: Mapping[str, Any],
    leaks: int,
    times: tuple[float, float, float],
    footprint: bool,
) -> None:
    c = story.console
    n = len(story.summary["batteries"])
    build_s, life_s, export_s = times
    c.print(
        f"[bold]passport[/] on {NODE}: {n} passports ({n - 1} built in {build_s:.1f} s"
        f"{', with the pack footprint' if footprint else ', no footprint yet'}), lifecycle {life_s:.1f} s,"
        f" {5 * n} exports and QR codes in {export_s:.1f} s"
    )
    t = Table(title="passport lifecycle")
    t.add_column("battery")
    t.add_column("status")
    t.add_column("note")
    by_id = {b["id"]: b for b in story.summary["batteries"]}
    t.add_row(_short(old_uri), by_id[old_uri]["status"], f"successor {_short(new_uri)}")
    t.add_row(_short(new_uri), by_id[new_uri]["status"], f"responsibility: {BACKUP}")
    t.add_row(_short(recycled_uri), by_id[recycled_uri]["status"], "recycled; still resolves")
    c.print(t)
    c.print(
        f"{BACKUP} wrote the state of health of {_short(new_uri)} on {NODE}'s node with its own self-issued"
        f" token (version {remote['version']}, actor {remote['actor']}); the same token on the old passport"
        f" was refused ({remote['refused']['status']}, {remote['refused']['rule']})"
    )
    c.print(
        f"backup: {BACKUP} holds a signed copy of version {backup['version']} (digest {backup['digest'][:12]}…, "
        f"signature verified against {NODE}'s DID document); anonymous page checked for {leaks} restricted values"
    )
    c.print(f"public passport page: [link={new_uri}]{new_uri}[/link]")


def _short(uri: str) -> str:
    return urlsplit(uri).path
