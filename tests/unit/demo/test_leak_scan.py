"""The leak scan's canaries and matching, and the payload recorder that feeds it (issue 9 item 5)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from fastapi.testclient import TestClient

from batpass.core.errors import ConfigurationError, InvalidInput, NotFound
from batpass.core.settings import Settings
from batpass.demo._leak_scan import KG_PER_UNIT, Canaries, scan, scan_records, significant_digits, upstream_of
from batpass.http import PayloadLog, PayloadLogMiddleware
from batpass.node import create_app, init_node
from batpass.node._config import NodeConfig
from batpass.scenario import COMPANIES, Scenario, generate
from batpass.trust import issue_sd_jwt, issue_vc_jwt, new_did_key_identity

KNOWN = {"rhein-auto", "rotterdam-recycling"}
BOUNDARY = "osaka-cells"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(lots=10, seed=7)


@pytest.fixture(scope="module")
def canaries(scenario: Scenario) -> Canaries:
    above = upstream_of(scenario, BOUNDARY, stop_at=KNOWN)
    return Canaries.from_scenario(scenario, above, boundary=BOUNDARY, known=KNOWN)


def _event(code: str, kind: str, outputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    c = COMPANIES[code]
    return {"kind": kind, "owner": c.did, "site": {"id": c.site, "country": c.country}, "outputs": outputs, **extra}


def _lot(value: float, unit: str = "kg", **extra: Any) -> dict[str, Any]:
    return {"lot": "x", "material": "m", "quantity": {"value": value, "unit": unit}, **extra}


def _one(*records: dict[str, Any], canaries: Canaries) -> dict[str, Any]:
    return scan_records(list(records), canaries)


def _req(body: str = "", url: str = "https://localhost:8443/v1/x", **headers: str) -> dict[str, Any]:
    return {"direction": "in-request", "method": "POST", "url": url, "headers": headers, "body": body}


# --- building canaries


def test_upstream_stops_at_the_partners_the_recipient_knows(scenario: Scenario) -> None:
    above = upstream_of(scenario, BOUNDARY, stop_at=KNOWN)
    assert "tokai-cathode" in above and "katanga-cobalt" in above and "jiangxi-refining" in above
    assert not above & {BOUNDARY, *KNOWN}
    # without stops the recycling loop makes the car maker a supplier of its own supplier
    assert "rhein-auto" in upstream_of(generate(lots=200, seed=7), BOUNDARY)


def test_canaries_name_every_company_above_and_nobody_the_recipient_knows(
    scenario: Scenario, canaries: Canaries
) -> None:
    values = {t.value for t in canaries.texts}
    for code in upstream_of(scenario, BOUNDARY, stop_at=KNOWN):
        c = COMPANIES[code]
        assert {c.name, c.code, c.did, c.site} <= values
    for code in (BOUNDARY, *KNOWN):
        c = COMPANIES[code]
        assert not {c.name, c.code, c.did, c.site} & values
    assert "did:web:foils.batpass.example" in values  # the cell maker's supplier outside the network
    assert len(canaries) == len(canaries.texts) + len(canaries.quantities) + len(canaries.lots) > 50


def test_extra_identifiers_are_canaries_unless_shared_with_a_known_company(scenario: Scenario) -> None:
    c = Canaries.from_scenario(
        scenario,
        ["tokai-cathode"],
        identifiers={
            "tokai-cathode": ["5010401099996", "BPNL00000007TOKA", "did:web:hub.example:operator:1"],
            BOUNDARY: ["did:web:hub.example:operator:1"],  # the same hub operator hosts both: not a canary
        },
    )
    values = {t.value for t in c.texts}
    assert {"5010401099996", "BPNL00000007TOKA"} <= values
    assert "did:web:hub.example:operator:1" not in values
    alone = Canaries.from_scenario(scenario, ["tokai-cathode"])
    assert c.excluded["text_shared"] == alone.excluded["text_shared"] + 1


def test_bad_company_sets_are_refused(scenario: Scenario) -> None:
    with pytest.raises(InvalidInput) as e:
        Canaries.from_scenario(scenario, ["nowhere-mining"])
    assert e.value.field == "above"
    with pytest.raises(InvalidInput):
        Canaries.from_scenario(scenario, [BOUNDARY])
    with pytest.raises(InvalidInput):
        Canaries.from_scenario(scenario, ["tokai-cathode"], known=["tokai-cathode"])


def test_quantities_are_converted_to_every_mass_unit() -> None:
    sc = Scenario(seed=0, events=[_event("tokai-cathode", "transformation", [_lot(1234.567891)])])
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    got = {q.unit: q.value for q in c.quantities}
    assert got == pytest.approx({"kg": 1234.567891, "g": 1234567.891, "t": 1.234567891, "lb": 2721.756301}, rel=1e-9)
    assert KG_PER_UNIT["lb"] == 0.45359237
    assert {q.kind for q in c.quantities} == {"quantity"}


def test_pieces_are_canaries_as_their_mass_too() -> None:
    lot = _lot(123457, "piece", mass_per_piece_kg=0.25)
    sc = Scenario(seed=0, events=[_event("kansai-precursor", "transformation", [lot])])
    c = Canaries.from_scenario(sc, ["kansai-precursor"])
    got = {(q.unit, round(q.value, 6)) for q in c.quantities}
    assert ("piece", 123457.0) in got
    assert ("kg", 30864.25) in got and ("g", 30864250.0) in got


def test_the_boundary_companys_purchases_are_canaries_its_own_lots_are_not() -> None:
    sc = Scenario(
        seed=0,
        events=[
            _event(BOUNDARY, "receipt", [_lot(700.190095)], receipt={"from_owner": "did:web:x.example"}),
            _event(BOUNDARY, "assembly", [_lot(8123.45678)]),
        ],
    )
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    assert {(q.kind, q.unit) for q in c.quantities if q.value == pytest.approx(700.190095)} == {("purchase", "kg")}
    assert not [q for q in c.quantities if q.value == pytest.approx(8123.45678)]


def test_short_numbers_are_not_canaries_and_are_counted() -> None:
    sc = Scenario(seed=0, events=[_event("tokai-cathode", "transformation", [_lot(1), _lot(2.5), _lot(822.0)])])
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    assert c.quantities == ()
    assert c.excluded["quantity_below_min_digits"] == 3 * len(KG_PER_UNIT)
    report = _one(_req(json.dumps({"a": 1, "b": 2.5, "c": 822, "d": 822.0, "e": 2500})), canaries=c)
    assert report["leaks_found"] == 0
    assert significant_digits(822.0) == 3 and significant_digits(1200.0) == 2 and significant_digits(0.012345) == 5


def test_a_quantity_the_recipient_knows_is_not_a_canary() -> None:
    sc = Scenario(
        seed=0,
        events=[
            _event("rotterdam-recycling", "shipment", [_lot(456.789012)]),
            _event("tokai-cathode", "receipt", [_lot(456.789012)]),
        ],
    )
    c = Canaries.from_scenario(sc, ["tokai-cathode"], known=["rotterdam-recycling"])
    assert c.quantities == () and c.excluded["quantity_known"] == len(KG_PER_UNIT)


# --- matching


def test_names_are_found_case_insensitively_url_encoded_and_json_escaped(canaries: Canaries) -> None:
    name = COMPANIES["katanga-cobalt"].name
    payloads = [
        _req(json.dumps({"supplier": name.upper()})),
        _req(url="https://localhost:8443/v1/x?supplier=" + quote(name)),
        _req("supplier=" + quote_plus(name), **{"content-type": "application/x-www-form-urlencoded"}),
        _req(json.dumps({"q": quote(name, safe="")})),
    ]
    report = scan_records(payloads, canaries)
    assert sorted({leak["payload_index"] for leak in report["leaks"]}) == [0, 1, 2, 3]
    assert {leak["canary_kind"] for leak in report["leaks"]} == {"name"}
    assert all(name not in json.dumps(leak) for leak in report["leaks"])  # the report redacts


def test_a_json_escaped_non_ascii_identifier_is_found(scenario: Scenario) -> None:
    c = Canaries.from_scenario(scenario, ["tokai-cathode"], identifiers={"tokai-cathode": ["東海カソード株式会社"]})
    body = json.dumps({"operator": "東海カソード株式会社"}, ensure_ascii=True)
    assert "\\u" in body
    report = _one(_req(body), canaries=c)
    assert [leak["canary_kind"] for leak in report["leaks"]] == ["identifier"]


def test_a_name_inside_a_jwt_and_an_sd_jwt_disclosure_is_found(canaries: Canaries) -> None:
    issuer = new_did_key_identity()
    name = COMPANIES["niihama-refining"].name
    vc = {
        "issuer": issuer.did,
        "type": ["VerifiableCredential"],
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"supplier": name},
    }
    jwt = issue_vc_jwt(issuer, vc, validate=False)
    assert name.lower() not in jwt.lower()
    sd = issue_sd_jwt(issuer, {"supplier": name}, vct="urn:x", disclosable=["supplier"], holder_jwk=None)
    report = scan_records(
        [_req(Authorization=f"Bearer {jwt}"), _req(json.dumps({"presentation": sd}))],
        canaries,
    )
    where = {(leak["payload_index"], leak["canary_kind"]): leak["where"] for leak in report["leaks"]}
    assert where[(0, "name")] == "header:authorization/base64"
    assert where[(1, "name")] == "body/base64"


def test_a_quantity_in_grams_is_found_however_it_is_written(canaries: Canaries) -> None:
    q = next(q for q in canaries.quantities if q.unit == "kg" and significant_digits(q.value) >= 7)
    grams = q.value * 1000
    forms = [
        json.dumps({"mass_g": grams}),  # a JSON number in full
        json.dumps({"mass": f"{grams:.1f}", "unit": "g"}),  # a numeric string, rounded
        f"mass={grams:.0f}g",  # rounded to whole grams with a unit suffix
        json.dumps({"m": f"{grams:.6e}"}),  # exponent notation
        json.dumps({"kg": -q.value}),  # a debit: the sign does not hide it
    ]
    report = scan_records([_req(f) for f in forms], canaries)
    assert sorted({leak["payload_index"] for leak in report["leaks"]}) == list(range(len(forms)))
    assert {leak["canary_kind"] for leak in report["leaks"]} == {"quantity"}


def test_numbers_in_hosts_ports_ids_and_dates_are_not_read() -> None:
    sc = Scenario(seed=0, events=[_event("tokai-cathode", "transformation", [_lot(54.321)])])
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    assert {q.unit for q in c.quantities} == {"kg", "g", "t", "lb"}  # 54321 g is a canary
    noise = _req(
        json.dumps(
            {
                "callback": "https://localhost:54321/api/dsp",
                "lot": "0195f3a2-54321-7abc-8def-123456789012",
                "at": "2026-01-05T12:54:32.100Z",
                "version": "54.321.0",
                "hex": "ab54321",
            }
        ),
        url="https://localhost:54321/v1/x",
        host="localhost:54321",
    )
    assert scan_records([noise], c)["leaks_found"] == 0
    assert scan_records([_req(json.dumps({"mass_g": 54321}))], c)["leaks_found"] == 1


def test_a_number_off_by_more_than_its_last_digit_is_not_a_match() -> None:
    sc = Scenario(seed=0, events=[_event("tokai-cathode", "transformation", [_lot(1234.567891)])])
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    assert scan_records([_req('{"kg": 1234.57}')], c)["leaks_found"] == 1  # rounded: one unit in 0.01
    assert scan_records([_req('{"kg": 1234.56}')], c)["leaks_found"] == 1  # truncated
    assert scan_records([_req('{"kg": 1234.58}')], c)["leaks_found"] == 0  # off by 0.012 > 0.01
    assert scan_records([_req('{"kg": 1235}')], c)["leaks_found"] == 0  # four digits: chance rule
    assert scan_records([_req('{"kg": 1234.567892}')], c)["leaks_found"] == 1  # one unit in its last digit
    assert scan_records([_req('{"kg": 1234.567893}')], c)["leaks_found"] == 0  # two units: not a rounding


def test_one_leak_per_payload_and_canary_and_the_report_keys(canaries: Canaries) -> None:
    name = COMPANIES["tokai-cathode"].name
    report = scan_records([_req(json.dumps([name, name, name]), Authorization=name)], canaries)
    assert report["leaks_found"] == 1 == len(report["leaks"])
    assert report["payloads_scanned"] == 1 and report["canaries"] == len(canaries)
    assert set(report) >= {"payloads_scanned", "canaries", "leaks_found", "leaks", "excluded", "rule"}
    assert report["rule"]["min_significant_digits"] == 5
    assert set(report["leaks"][0]) == {
        "canary_kind",
        "canary",
        "canary_id",
        "payload_index",
        "direction",
        "url",
        "where",
    }


# --- the recorder and the scan of its file


def test_the_recorder_writes_one_json_line_per_payload_and_scan_reads_it(tmp_path: Path, canaries: Canaries) -> None:
    log = PayloadLog(tmp_path / "logs" / "payloads.jsonl")
    name = COMPANIES["cabo-graphite"].name
    log.record("in-request", method="GET", url="https://n/x", headers=[("Host", "n"), ("X-Api-Key", "s3")], body=b"")
    log.record(
        "out-response", method="GET", url="https://p/y", headers=[], body=b"\xff\xfe" + name.encode(), status=200
    )
    log.record("in-request", method="POST", url="https://n/z", headers=[], body=name.encode())
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "logs" / "payloads.jsonl").read_text().splitlines()]
    assert [x["direction"] for x in lines] == ["in-request", "out-response", "in-request"]
    assert "host" not in lines[0]["headers"] and lines[0]["headers"]["x-api-key"].startswith("sha256:")
    assert lines[1]["body_encoding"] == "base64" and lines[1]["status"] == 200
    assert (tmp_path / "logs" / "payloads.jsonl").stat().st_mode & 0o777 == 0o600
    report = scan(tmp_path / "logs" / "payloads.jsonl", canaries)
    assert report["payloads_scanned"] == 3
    assert [leak["payload_index"] for leak in report["leaks"]] == [1, 2]


def test_scan_counts_a_cut_line_and_needs_the_file(tmp_path: Path, canaries: Canaries) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(_req("{}")) + "\n" + '{"direction": "in-req')
    report = scan(path, canaries)
    assert report["payloads_scanned"] == 1 and report["unreadable_lines"] == 1
    with pytest.raises(NotFound):
        scan(tmp_path / "none.jsonl", canaries)


def test_appends_from_many_threads_never_interleave(tmp_path: Path) -> None:
    log = PayloadLog(tmp_path / "p.jsonl")
    body = b"x" * 70_000  # longer than a pipe buffer: one write per line still

    def work(n: int) -> None:
        for i in range(50):
            log.record("in-request", method="POST", url=f"https://n/{n}/{i}", headers=[], body=body)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == 400
    assert {json.loads(x)["url"] for x in lines} == {f"https://n/{n}/{i}" for n in range(8) for i in range(50)}


def test_long_bodies_are_cut_and_marked(tmp_path: Path) -> None:
    log = PayloadLog(tmp_path / "p.jsonl", max_body=10)
    log.record("in-request", method="POST", url="https://n/", headers=[], body=b"0123456789abcdef")
    log.close()
    line = json.loads((tmp_path / "p.jsonl").read_text())
    assert line["body"] == "0123456789" and line["truncated"] == 16


def test_config_switches_recording_on_and_checks_its_values(tmp_path: Path) -> None:
    assert PayloadLog.from_config({}) is None and PayloadLog.from_config({"payload_log": ""}) is None
    log = PayloadLog.from_config({"payload_log": str(tmp_path / "p.jsonl"), "payload_log_max_body": 5})
    assert log is not None and log.max_body == 5
    log.close()
    with pytest.raises(ConfigurationError):
        PayloadLog.from_config({"payload_log": 3})
    with pytest.raises(ConfigurationError):
        PayloadLog.from_config({"payload_log": str(tmp_path / "p.jsonl"), "payload_log_max_body": "big"})
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(ConfigurationError):
        PayloadLog.from_config({"payload_log": str(tmp_path / "dir.jsonl")})


def test_outbound_responses_are_recorded_by_the_client_hooks(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/bin":
            return httpx.Response(200, content=b"\x00\xffPNG")
        return httpx.Response(201, json={"supplier": "Tokai Cathode KK"}, headers={"Location": "/r/1"})

    log = PayloadLog(tmp_path / "p.jsonl")
    transport = httpx.MockTransport(answer)
    sync_client = httpx.Client(transport=transport)
    client = httpx.AsyncClient(transport=transport)
    log.attach(client, sync_client)
    assert sync_client.post("https://peer.example/a", json={"x": 1}).json() == {"supplier": "Tokai Cathode KK"}
    assert sync_client.get("https://peer.example/bin").content == b"\x00\xffPNG"

    import asyncio

    async def call() -> Any:
        try:
            return (await client.get("https://peer.example/b?x=1")).json()
        finally:
            await client.aclose()

    assert asyncio.run(call()) == {"supplier": "Tokai Cathode KK"}
    sync_client.close()
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [(x["direction"], x["method"], x["url"], x["status"]) for x in lines] == [
        ("out-response", "POST", "https://peer.example/a", 201),
        ("out-response", "GET", "https://peer.example/bin", 200),
        ("out-response", "GET", "https://peer.example/b?x=1", 201),
    ]
    assert lines[0]["headers"]["location"] == "/r/1" and "Tokai Cathode KK" in lines[0]["body"]
    assert lines[1]["body_encoding"] == "base64"


@pytest.fixture
def logged_node(tmp_path: Path) -> Iterator[tuple[TestClient, str, Path]]:
    settings = Settings(home=tmp_path / "home")
    node, key = init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One")
    node.close()
    path = tmp_path / "payloads.jsonl"
    cfg = NodeConfig.load(node.paths.config)
    cfg.extra["payload_log"] = str(path)
    cfg.save(node.paths.config)
    with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as client:
        yield client, key, path


def test_the_node_records_every_inbound_request_even_refused_ones(logged_node: tuple[TestClient, str, Path]) -> None:
    client, _, path = logged_node
    assert client.get("/health").status_code == 200
    assert client.put("/v1/participants", json={"legalName": "Katanga Cobalt SARL"}).status_code == 401
    assert client.post("/v1/nothing?q=1", content=b"\x89PNG").status_code in (404, 405)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["method"], x["url"].split("://", 1)[1].split("/", 1)[1]) for x in lines] == [
        ("GET", "health"),
        ("PUT", "v1/participants"),
        ("POST", "v1/nothing?q=1"),
    ]
    assert json.loads(lines[1]["body"]) == {"legalName": "Katanga Cobalt SARL"}
    assert lines[2]["body_encoding"] == "base64"
    assert all(x["direction"] == "in-request" for x in lines)


def test_recording_is_off_by_default(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    init_node("n1", profiles=["catena-x"], settings=settings, legal_name="Node One")[0].close()
    app = create_app(settings, node_name="n1")
    assert not [m for m in app.user_middleware if getattr(m, "cls", None) is PayloadLogMiddleware]
    assert not list(tmp_path.rglob("*.jsonl"))


def test_lot_ids_of_the_companies_above_are_canaries_the_recipients_own_are_not(
    scenario: Scenario, canaries: Canaries
) -> None:
    """A bill of materials leaking shows as lot ids: every lot a company above holds, gave or
    received is a canary, unless a company the recipient knows names it too."""
    by_code = {c.did: code for code, c in COMPANIES.items()}
    above = upstream_of(scenario, BOUNDARY, stop_at=KNOWN)
    mine = next(
        str(e["outputs"][0]["lot"])
        for e in scenario.events
        if e["kind"] == "extraction" and by_code.get(str(e["owner"])) in above
    )
    own = next(str(e["outputs"][0]["lot"]) for e in scenario.events if by_code.get(str(e["owner"])) == "rhein-auto")
    assert mine in canaries.lots and own not in canaries.lots
    assert canaries.by_kind()["lot"] == len(canaries.lots)
    report = _one(_req(json.dumps({"lot": mine.upper()})), _req(json.dumps({"lot": own})), canaries=canaries)
    assert report["leaks_found"] == 1
    (leak,) = report["leaks"]
    assert leak["canary_kind"] == "lot" and leak["payload_index"] == 0 and mine not in leak["canary"]
