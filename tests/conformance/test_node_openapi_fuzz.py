"""Schemathesis against every node kind's own OpenAPI document (``/openapi.json``), in-process,
with and without credentials (issue 17).

Node kinds are the profile sets a node can have: a Catena-X node, the Ouranos hub and a Catena-X
bridge. "With keys" sends the admin key (``X-Api-Key``) on every request, a PACT bearer token on
``/pact/3/`` (a client the admin API created) and, on the hub, an operator's ``apiKey`` and login
token on its published API; "without" sends no credentials at all. Either way the node holds a
little data first (a passport, a lot, a PACT footprint, a hub operator: :func:`_seed`), and half
the fuzzed cases name it in their path parameters. On the hub, the operations of the published
Ouranos document (split per path key as ``test_ouranos_published_openapi.py`` does, so
``dataTarget`` routes them) are sent too.

Nothing leaves the process: outbound HTTP is off, so every partner a case names (they are made
up) does not answer, and the node's 502 for that (``UpstreamUnavailable``) is the one 5xx allowed
(:func:`no_server_error`). No other answer may be a server error. On batpass's own API (everything outside the standard
protocols' prefixes in :data:`PROTOCOL_PREFIXES`: ``/v1``, ``/management``, ``/pact``, ``/health``,
…) the status code, the content type and the body must also be the ones the document gives
(``http/_openapi.py`` documents each API's error shape); on the standard protocols' prefixes the
document is ours, not the standard's, so only ``not_a_server_error`` applies there (their own
conformance tests check them against the published documents).

Each operation gets schemathesis's deterministic coverage-phase cases (boundaries, wrong types,
unexpected methods; at most ``BATPASS_FUZZ_COVERAGE``), then ``BATPASS_FUZZ_EXAMPLES`` hypothesis
cases (derandomized: a run is reproducible), within ``BATPASS_FUZZ_SECONDS`` of wall clock per
node kind and key state, shared out over the operations still to run. ``make test`` runs the short
default; ``make fuzz`` runs the same tests with a long budget. Every failure is collected (not only
the first), and the totals are printed (``pytest -s``) and appended to ``$BATPASS_FUZZ_REPORT``.

:data:`KNOWN` lists failures accepted for now, each with its reason (none today: an entry is a
debt to pay, not a place to hide a finding).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_ouranos_published_openapi import split_documents
from test_pact_v3_cases import DOCS as PACT_DOCS

from batpass.core.settings import Settings
from batpass.node import create_app, init_node
from batpass.ouranos._wire import published_document

#: hypothesis cases per operation (``make fuzz`` raises it)
EXAMPLES = int(os.environ.get("BATPASS_FUZZ_EXAMPLES", "4"))
#: at most this many of schemathesis's coverage-phase cases per operation (``make fuzz``: all)
COVERAGE = int(os.environ.get("BATPASS_FUZZ_COVERAGE", "6"))
#: wall-clock budget per node kind and key state, seconds (``make fuzz`` raises it)
SECONDS = float(os.environ.get("BATPASS_FUZZ_SECONDS", "20"))
#: where to write the totals as JSON (optional)
REPORT = os.environ.get("BATPASS_FUZZ_REPORT")

NODE_KINDS: dict[str, tuple[str, ...]] = {
    "catena-x": ("catena-x",),
    "ouranos": ("ouranos",),
    "bridge": ("catena-x", "bridge"),
}
#: standard protocols served under these prefixes (DSP, the data plane, the AAS registry, DCP,
#: the Ouranos data transaction API): the node's document is not their specification
PROTOCOL_PREFIXES = ("/api/", "/dcp/", "/auth/", "/.well-known/dspace-version")


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """``not_a_server_error`` but for 502, the node's answer (``UpstreamUnavailable``, the only
    error it answers 502 with) when a partner does not answer: every partner a case names is made
    up, and outbound calls are off (:func:`node`). Any other 5xx fails."""
    if response.status_code == 502:
        return None
    return not_a_server_error(ctx, response, case)


OWN_CHECKS = [no_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PROTOCOL_CHECKS = [no_server_error]

#: (method, path template, check) -> why it fails today: only failures in the route modules the
#: typed-request-model change rewrites (passport, ledger, trust, participants, compliance,
#: footprint, exchange), each removed once the route documents what it answers. (What else the
#: runs found was fixed outside those modules: the passport listing's offset, the connector's
#: dspEndpoint, EDC's 204s, the hub's operator DID documents.)
#: (method, path template, check) → why the failure is accepted for now
KNOWN: dict[tuple[str, str, str], str] = {}


@schemathesis.serializer("application/jsonl")
def _json_lines(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """``POST /v1/ledger/events`` also takes JSON Lines (one event per line)."""
    return json.dumps(value).encode() + b"\n"


_HUB_OPERATOR = {"openOperatorId": "1234567890123", "operatorName": "Fuzz Operator", "operatorAddress": "Tokyo"}
_HUB_ACCOUNT = {"operatorAccountId": "fuzz@example.com", "accountPassword": "Passw0rd!fuzz"}


@dataclass
class Totals:
    """What one run sent and found."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)  # failures per check
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (method, path, check) -> first case
    known: dict[tuple[str, str, str], str] = field(default_factory=dict)
    cut_short: list[str] = field(default_factory=list)  # operations the budget ended early
    seconds: Counter[str] = field(default_factory=Counter)  # per operation

    def record(self, method: str, path: str, check: str, detail: str) -> None:
        key = (method, path, check)
        bucket = self.known if key in KNOWN else self.failures
        bucket.setdefault(key, detail)
        self.checks[check] += 1


@dataclass
class Node:
    app: Any
    base_url: str
    key: str
    credentials: Callable[[str], dict[str, str]]
    ids: dict[str, list[str]]  # path parameter -> values that name something on the node


def _no_credentials(path: str) -> dict[str, str]:
    return {}


def _session(app: Any, base_url: str) -> asgi.ASGIClient:
    session = asgi.ASGIClient(app, base_url=base_url)
    session.__enter__()  # starts the app's lifespan once (schemathesis keeps it until shutdown_lifespans)
    return session


def _credentials(
    session: asgi.ASGIClient, profiles: tuple[str, ...], key: str, ids: dict[str, list[str]]
) -> Callable[[str], dict[str, str]]:
    """The credentials a legitimate caller of each API has, by path."""
    admin = {"X-Api-Key": key}
    pact: dict[str, str] = {}
    hub: dict[str, str] = {}
    if "catena-x" in profiles:
        r = session.post("/v1/footprints/pact/clients", json={"name": "fuzz"}, headers=admin)
        assert r.status_code == 201, r.text
        creds = r.json()
        r = session.post(
            "/pact/auth/token",
            data={"grant_type": "client_credentials", **{k: creds[k] for k in ("client_id", "client_secret")}},
        )
        assert r.status_code == 200, r.text
        pact = {"Authorization": f"Bearer {r.json()['access_token']}"}
    if "ouranos" in profiles:
        operator = ids["operator_id"][0]
        r = session.post("/v1/ouranos/admin/api-keys", json={"operatorId": operator}, headers=admin)
        assert r.status_code == 201, r.text
        api_key = r.json()["apiKey"]
        r = session.post("/auth/login", json=_HUB_ACCOUNT, headers={"apiKey": api_key})
        assert r.status_code == 201, r.text
        hub = {"apiKey": api_key, "Authorization": f"Bearer {r.json()['accessToken']}"}

    def by_path(path: str) -> dict[str, str]:
        if path.startswith("/pact/3/"):
            return {**admin, **pact}
        if path.startswith(("/api/v1/", "/auth/")):
            return {**admin, **hub}
        return admin

    return by_path


_BATTERY = ("04012345000009", "SN-0100")


def _seed(session: asgi.ASGIClient, profiles: tuple[str, ...], key: str) -> dict[str, list[str]]:
    """A little data on the node (with its admin key, whatever the run then sends), so that cases
    can name things that exist: path parameters get these values in half the fuzzed cases."""
    admin = {"X-Api-Key": key}
    gtin, serial = _BATTERY
    static = yaml.safe_load(resources.files("batpass.passport").joinpath("_data/example-ev-model.yaml").read_text())
    r = session.post("/v1/passports", json={"static": static, "battery": f"/01/{gtin}/21/{serial}"}, headers=admin)
    assert r.status_code == 201, r.text
    did = session.get("/health").json()["did"]
    event = {
        "id": "fuzz-ev-1",
        "kind": "extraction",
        "owner": did,
        "at": "2026-01-01T00:00:00Z",
        "site": {"id": "M1", "country": "CL"},
        "outputs": [{"lot": "L1", "material": "lithium_brine_concentrate", "quantity": {"value": 1, "unit": "kg"}}],
    }
    assert session.post("/v1/ledger/events", json=[event], headers=admin).status_code == 200
    ids = {
        "passport_id": [r.json()["passportId"]],
        "gtin": [gtin],
        "serial": [serial],
        "version": ["1"],
        "fmt": ["catenax", "aas", "batterypass"],
        "ext": ["svg", "png"],
        "lot_id": ["L1"],
        "subject": ["L1", f"/01/{gtin}/21/{serial}"],
    }
    if "catena-x" in profiles:
        r = session.post("/management/v3/assets/request", json={}, headers=admin)
        ids["asset_id"] = [a["@id"] for a in r.json()]
        r = session.post("/v1/footprints/pact/footprints", json=PACT_DOCS[0], headers=admin)
        assert r.status_code == 201, r.text
        ids["footprint_id"] = [PACT_DOCS[0]["id"]]
    if "ouranos" in profiles:
        r = session.post("/v1/ouranos/admin/operators", json=_HUB_OPERATOR, headers=admin)
        assert r.status_code == 201, r.text
        operator = r.json()["operatorId"]
        r = session.post(f"/v1/ouranos/admin/operators/{operator}/accounts", json=_HUB_ACCOUNT, headers=admin)
        assert r.status_code == 201, r.text
        ids["operator_id"] = [operator]
    return ids


def _no_outbound(*args: Any, **kwargs: Any) -> Any:
    raise httpx.ConnectError("outbound calls are off in the fuzz")


@pytest.fixture
def node(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    kind, keyed = request.param
    # the partners the cases name are made up: nothing leaves the process (no DNS, no connects);
    # the node answers 502 (UpstreamUnavailable) as it does for any partner that does not answer
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", _no_outbound)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", _no_outbound)
    profiles = NODE_KINDS[kind]
    settings_ = Settings(home=tmp_path / "home")
    local, key = init_node("fuzz", profiles=list(profiles), settings=settings_, bpnl="BPNL00000003AYRE")
    local.close()
    app = create_app(settings_, node_name="fuzz")
    try:
        session = _session(app, local.base_url)
        deadline = time.monotonic() + 20
        while session.get("/ready").status_code != 200:  # the start-up self-audit has run
            assert time.monotonic() < deadline, session.get("/ready").text
            time.sleep(0.05)
        ids = _seed(session, profiles, key)
        credentials = _credentials(session, profiles, key, ids) if keyed else _no_credentials
        yield Node(app, local.base_url, key, credentials, ids)
    finally:
        asgi.shutdown_lifespans()


def _text(content: bytes) -> str:
    try:
        return _short(content[:400].decode("utf-8"))
    except UnicodeDecodeError:
        return f"<{len(content)} bytes>"


def _short(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _operations(document: dict[str, Any], app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(node: Node, label: str, profiles: tuple[str, ...]) -> Totals:
    with asgi.get_client(node.app) as client:
        document = client.get("/openapi.json").json()
    session = asgi.ASGIClient(node.app, base_url=node.base_url)
    operations = _operations(document, node.app)
    if "ouranos" in profiles:
        # the hub's published API by its own (published) document: the node's document has the
        # paths but not the query parameters (``dataTarget``) that route them
        operations += [op for _, doc in split_documents(published_document()) for op in _operations(doc, node.app)]
    totals = Totals()
    start = time.monotonic()
    end = start + SECONDS
    for i, operation in enumerate(operations):
        # the budget still left, shared over the operations still to run: a slow one may take
        # several shares (at least 2 s, so that on a loaded machine the same cases are still
        # sent), and the run never passes the end
        now = time.monotonic()
        share = (end - now) / (len(operations) - i)
        _fuzz_operation(operation, node, session, totals, min(end, now + max(4 * share, 2.0)))
        totals.seconds[f"{operation.method.upper()} {operation.path}"] = time.monotonic() - now
    elapsed = time.monotonic() - start
    _report(label, totals, elapsed, len(operations))
    return totals


def _fuzz_operation(operation: Any, node: Node, session: Any, totals: Totals, until: float) -> None:
    method, path = operation.method.upper(), operation.path
    own = not path.startswith(PROTOCOL_PREFIXES)
    checks = OWN_CHECKS if own else PROTOCOL_CHECKS
    headers = node.credentials(path)

    def out_of_time() -> bool:
        if time.monotonic() <= until:
            return False
        if f"{method} {path}" not in totals.cut_short:
            totals.cut_short.append(f"{method} {path}")
        return True

    def send(case: Any) -> None:
        try:
            response = case.call(base_url=node.base_url, session=session, headers=headers)
        except Exception as exc:  # the app raised through the transport: a server error
            totals.record(method, path, "exception", f"{type(exc).__name__}: {_short(str(exc))}")
            return
        totals.requests += 1
        totals.statuses[f"{response.status_code // 100}xx"] += 1
        totals.statuses["502 (partner unreachable)"] += response.status_code == 502
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                totals.record(
                    method,
                    path,
                    _check_name(failure),
                    f"{case.as_curl_command(headers=headers)} -> {response.status_code} "
                    f"{response.headers.get('content-type', [''])[0]}: {_text(response.content)} [{failure.title}]",
                )
        except Exception as exc:  # a check that could not run on this answer
            totals.record(method, path, "check-error", f"{case.as_curl_command(headers=headers)}: {exc!r}")

    # the coverage phase: schemathesis's deterministic boundary and wrong-type cases, in its order
    schema = operation.schema
    config = schema.config.generation_for(operation=operation, phase="coverage")
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    try:
        for n, case in enumerate(
            schema.iter_coverage_cases(operation, generation_modes=modes, generation_config=config)
        ):
            if n >= COVERAGE or out_of_time():
                break
            send(case)
    except Exception as exc:  # schemathesis could not derive cases from the document
        totals.record(method, path, "generation", f"coverage: {type(exc).__name__}: {_short(str(exc))}")

    # the fuzzing phase: hypothesis draws positive and negative cases
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(strategy)  # drawn even when out of time: hypothesis replays draws consistently
        known = [name for name in (case.path_parameters or {}) if name in node.ids]
        if known and data.draw(st.booleans()):  # half the cases name things that exist
            for name in known:
                case.path_parameters[name] = data.draw(st.sampled_from(node.ids[name]))
        if not out_of_time():
            send(case)

    try:
        run()
    except Exception as exc:  # schemathesis could not generate a case from the document
        inner = "; ".join(f"{type(e).__name__}: {e}" for e in getattr(exc, "exceptions", ()))
        totals.record(method, path, "generation", f"{type(exc).__name__}: {_short(str(exc))} {_short(inner, 1500)}")


def _check_name(failure: Exception) -> str:
    if isinstance(failure, Failure):
        return {
            "ServerError": "not_a_server_error",
            "UndefinedStatusCode": "status_code_conformance",
            "UndefinedContentType": "content_type_conformance",
            "MissingContentType": "content_type_conformance",
            "JsonSchemaError": "response_schema_conformance",
            "MalformedJson": "response_schema_conformance",
        }.get(type(failure).__name__, type(failure).__name__)
    return type(failure).__name__


def _report(label: str, totals: Totals, elapsed: float, operations: int) -> None:
    summary = {
        "node": label,
        "operations": operations,
        "requests": totals.requests,
        "seconds": round(elapsed, 1),
        "statuses": dict(sorted(totals.statuses.items())),
        "failures_per_check": dict(totals.checks),
        "failures": len(totals.failures),
        "known": sorted(f"{m} {p} [{c}]" for m, p, c in totals.known),
        "cut_short": totals.cut_short,
        "slowest": [f"{op} {t:.2f}s" for op, t in totals.seconds.most_common(3)],
    }
    print(json.dumps(summary))
    if REPORT:
        with Path(REPORT).open("a", encoding="utf-8") as out:
            out.write(json.dumps({**summary, "details": {" ".join(k): v for k, v in totals.failures.items()}}) + "\n")


CASES = [(kind, keyed) for kind in NODE_KINDS for keyed in (True, False)]


@pytest.mark.slow
# schemathesis 4.32.5 draws from the global ``random`` inside its strategies (generation/dictionaries.py,
# specs/openapi/negative/mutations.py); hypothesis seeds it per example, so runs stay reproducible
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize(
    "node", CASES, ids=[f"{kind}-{'keys' if keyed else 'no-keys'}" for kind, keyed in CASES], indirect=True
)
def test_node_openapi_fuzz(node: Node, request: pytest.FixtureRequest) -> None:
    totals = _fuzz(node, request.node.callspec.id, NODE_KINDS[request.node.callspec.params["node"][0]])
    details = "\n".join(f"{m} {p} [{c}]: {d}" for (m, p, c), d in sorted(totals.failures.items()))
    assert not totals.failures, f"{len(totals.failures)} operation/check failures:\n{details}"
    assert totals.requests >= 1
