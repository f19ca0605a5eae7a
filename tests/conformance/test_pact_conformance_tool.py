"""The official PACT conformance tool against a served batpass node, V3.0 and V2.3.

The tool is wbcsd/pact-conformance-service (MIT), vendored byte for byte in ``pact_conformance/``
at the commit its ``PROVENANCE.md`` names; its npm dependencies come from the npm registry at the
versions its ``package-lock.json`` pins (``npm ci`` into the gitignored ``node_modules``, once).

The tool runs as it does when hosted: its Express service (``src/server.ts``) with its own
database — here a database of its own on the local PostgreSQL, created by the tool's migrations —
starts a test run on ``POST /testruns``, which runs every case in order against the node's PACT
API and stores the results; the callback cases (TC13 a RequestFulfilledEvent, TC14.B a
RequestRejectedEvent) are completed when the node posts its answer to the tool's ``/3/events``
(``/2/events`` for V2.3). The node reaches the tool over HTTPS: the tool serves a certificate from
the test's federation CA (``pact_https.cjs``, preloaded, makes its unchanged ``app.listen`` serve
TLS), and the node authenticates at the tool's ``/auth/token`` with the credentials the tool
hands out (``test_client_id``), kept as a PACT peer. The tool's CLI (``run-tests-cli.ts``) runs
the same ``TestRunWorker`` without a database, so it can only mark TC13/TC14.B pending: the
service is the part of the tool that checks them.

Asserted: every case the tool marks mandatory for the version passes, TC13 and TC14.B included.
TC18/TC19 (OpenID Connect) are not mandatory; batpass has no OIDC discovery document, so the tool
falls back to ``<baseUrl>/auth/token`` there (reported, not asserted).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from batpass.core.settings import Settings
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.node.local import ca_folder, free_port
from batpass.store import make_engine
from batpass.trust import issue_node_certificate, load_ca

pytestmark = [pytest.mark.crossimpl, pytest.mark.integration, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
TOOL = HERE / "pact_conformance"
PG_URL = os.environ.get("BATPASS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: the callback credentials the tool's ``/auth/token`` accepts (``src/services/event-handler.ts``)
TOOL_CLIENT = ("test_client_id", "test_client_secret")

CELL: dict[str, Any] = {
    "id": "5d0c2f0e-4a5b-4f59-9e55-6f7f3c1b2a01",
    "specVersion": "3.0.0",
    "created": "2026-03-01T09:00:00Z",
    "status": "Active",
    "validityPeriodStart": "2026-01-01T00:00:00Z",
    "validityPeriodEnd": "2028-12-31T00:00:00Z",
    "companyName": "Zellwerk GmbH",
    "companyIds": ["urn:bpn:id:BPNL00000000PACT"],
    "productDescription": "NMC811 pouch cell, 60 Ah",
    "productIds": ["urn:gtin:4012345000017"],
    "productNameCompany": "ZW-P60",
    "productClassifications": ["urn:pact:productclassification:un-cpc:46410"],
    "comment": "Cradle-to-gate, cell factory in Saxony",
    "pcf": {
        "declaredUnitOfMeasurement": "piece",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "0.9",
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-12-31T00:00:00Z",
        "geographyCountry": "DE",
        "pcfExcludingBiogenicUptake": "48.6",
        "pcfIncludingBiogenicUptake": "48.6",
        "fossilGhgEmissions": "48.6",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0.5",
        "primaryDataShare": "62",
        "dqi": {"technologicalDQR": "2", "geographicalDQR": "1.5", "temporalDQR": "1"},
        "boundaryProcessesDescription": "Cradle-to-gate",
    },
}
CATHODE: dict[str, Any] = {
    **CELL,
    "id": "5d0c2f0e-4a5b-4f59-9e55-6f7f3c1b2a02",
    "productDescription": "NMC811 cathode active material",
    "productIds": ["urn:gtin:4012345000024"],
    "productNameCompany": "ZW-CAM811",
    "productClassifications": ["urn:pact:productclassification:un-cpc:34290"],
    "pcf": {
        **CELL["pcf"],
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1000",
        "productMassPerDeclaredUnit": "1000",
        "pcfExcludingBiogenicUptake": "21500",
        "pcfIncludingBiogenicUptake": "21500",
        "fossilGhgEmissions": "21500",
    },
}


@pytest.fixture(scope="module")
def tool_ready() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is required for the PACT conformance tool (it is on every machine here)")
    if not (TOOL / "node_modules" / "ts-node").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOL, check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """The tool's own database on the local PostgreSQL (dropped afterwards). A database, not a
    schema: the tool's migrator (kysely) looks for its tables in every schema it can see."""
    name = f"pact_tool_{secrets.token_hex(6)}"
    try:
        base = make_engine(PG_URL)
        engine = base.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any driver error means "not reachable"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true requires PostgreSQL for the PACT conformance tool: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}")
    try:
        yield PG_URL.replace("postgresql+psycopg://", "postgres://").rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        base.dispose()


class Tool:
    """The conformance service, running on HTTPS with the federation CA's certificate."""

    def __init__(self, url: str, client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.client, self.process, self.log = url, client, process, log

    def run(self, version: str, *, base_url: str, client_id: str, client_secret: str) -> dict[str, Any]:
        """Start a test run (the service runs every case before it answers) and wait until the
        callback cases have left PENDING."""
        r = self.client.post(
            f"{self.url}/testruns/",
            json={
                "baseUrl": base_url,
                "clientId": client_id,
                "clientSecret": client_secret,
                "version": version,
                "organizationName": "batpass conformance suite",
                "adminEmail": "suite@batpass.invalid",
                "adminName": "batpass suite",
            },
            timeout=120.0,
        )
        assert r.status_code == 200, f"{r.status_code} {r.text[:2000]}\n{self.tail()}"
        run: dict[str, Any] = r.json()
        deadline = time.monotonic() + 30
        while any(res["status"] == "PENDING" for res in run["results"]) and time.monotonic() < deadline:
            time.sleep(0.5)
            run = self.client.get(f"{self.url}/testruns/{run['testRunId']}").json()
        return run

    def tail(self, n: int = 4000) -> str:
        return self.log.read_bytes()[-n:].decode(errors="replace")


@pytest.fixture(scope="module")
def served(
    tool_ready: None, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningNode, Tool, httpx.Client]]:
    home = tmp_path_factory.mktemp("pact-tool")
    spec = NodeSpec("pactnode", ("catena-x",), legal_name="Zellwerk GmbH", bpnl="BPNL00000000PACT")
    with federation(home, [spec]) as (node,):
        ca_file = federation_ca(home)
        cert, key = issue_node_certificate(
            load_ca(ca_folder(Settings(home=home))), home / "pact-tool-tls", hosts=["127.0.0.1"]
        )
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        env = {
            **os.environ,
            "NODE_ENV": "test",
            "PORT": str(port),
            "DB_CONNECTION_STRING": pg_database,
            "CONFORMANCE_API": url,  # the webhook the node answers on (the events' ``source``)
            "JWT_SECRET": secrets.token_urlsafe(32),
            "LOG_OUTPUT": "console",
            "TESTCASE_TIMEOUT": "20000",  # ms per case; a loaded 2-core machine is slow, the node is not wrong
            "TS_NODE_TRANSPILE_ONLY": "true",
            "NODE_EXTRA_CA_CERTS": str(ca_file),  # the tool trusts the federation CA, as any partner would
            "PACT_TLS_CERT": str(cert),
            "PACT_TLS_KEY": str(key),
        }
        ts_node = str(TOOL / "node_modules" / "ts-node" / "dist" / "bin.js")
        subprocess.run(
            ["node", ts_node, "src/data/migrate.ts", "latest"], cwd=TOOL, env=env, check=True, capture_output=True
        )
        log = home / "pact-tool.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["node", "-r", str(HERE / "pact_https.cjs"), ts_node, "src/server.ts"],
                cwd=TOOL,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        verify = ssl.create_default_context(cafile=str(ca_file))
        try:
            with httpx.Client(verify=verify, timeout=30.0) as client:
                tool = Tool(url, client, process, log)
                _wait_healthy(tool)
                _seed(node, client, tool_url=url)
                yield node, tool, client
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_healthy(tool: Tool) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if tool.process.poll() is not None:
            pytest.fail(f"the conformance service exited: {tool.tail()}")
        try:
            if tool.client.get(f"{tool.url}/health-check").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the conformance service did not start: {tool.tail()}")


#: a footprint given as PACT v2: served as given by the v2.3 API and converted (stated) by the v3 one
NICKEL_V2: dict[str, Any] = {
    "id": "5d0c2f0e-4a5b-4f59-9e55-6f7f3c1b2a03",
    "specVersion": "2.3.0",
    "version": 1,
    "created": "2026-01-15T10:15:30Z",
    "status": "Active",
    "companyName": "Zellwerk GmbH",
    "companyIds": ["urn:bpn:id:BPNL00000000PACT"],
    "productDescription": "Nickel sulphate hexahydrate, bought in and resold",
    "productIds": ["urn:gtin:4012345000031"],
    "productCategoryCpc": "34210",
    "productNameCompany": "NiSO4-6H2O",
    "comment": "Supplier PCF, PACT v2",
    "pcf": {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": "1000",
        "pCfExcludingBiogenic": "4.2",
        "fossilGhgEmissions": "4.1",
        "fossilCarbonContent": "0",
        "biogenicCarbonContent": "0",
        "characterizationFactors": "AR6",
        "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": ["ISO Standard 14067"],
        "boundaryProcessesDescription": "Cradle-to-gate",
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-12-31T00:00:00Z",
        "geographyCountry": "FI",
        "exemptedEmissionsPercent": 1.0,
        "exemptedEmissionsDescription": "",
        "packagingEmissionsIncluded": False,
        "primaryDataShare": 55.0,
        "dqi": {
            "coveragePercent": 90,
            "technologicalDQR": 3,
            "temporalDQR": 2,
            "geographicalDQR": 1,
            "completenessDQR": 2,
            "reliabilityDQR": 2,
        },
    },
}


def _seed(node: RunningNode, client: httpx.Client, *, tool_url: str) -> None:
    for doc in (CELL, CATHODE, NICKEL_V2):
        r = client.post(f"{node.base_url}/v1/footprints/pact/footprints", json=doc, headers=node.admin_headers())
        assert r.status_code == 201, r.text
    # the tool as a PACT partner: the node fetches a token at its /auth/token before it answers
    r = client.post(
        f"{node.base_url}/v1/footprints/pact/peers",
        json={"base_url": tool_url, "client_id": TOOL_CLIENT[0], "client_secret": TOOL_CLIENT[1], "name": "PACT tool"},
        headers=node.admin_headers(),
    )
    assert r.status_code == 201, r.text


def _credentials(node: RunningNode, client: httpx.Client) -> tuple[str, str]:
    r = client.post(
        f"{node.base_url}/v1/footprints/pact/clients",
        json={"name": "PACT conformance tool"},
        headers=node.admin_headers(),
    )
    assert r.status_code == 201, r.text
    return r.json()["client_id"], r.json()["client_secret"]


def _report(version: str, run: dict[str, Any]) -> str:
    lines = [f"{version}: {run['status']} ({run.get('passingPercentage')} % of mandatory)"]
    for res in run["results"]:
        mark = "M" if res["mandatory"] else " "
        lines.append(f"  {mark} {res['status']:<8} {res['name']}  {res.get('errorMessage') or ''}"[:300])
    return "\n".join(lines)


@pytest.mark.parametrize("version", ["V3.0", "V2.3"])
def test_every_mandatory_case_and_the_callbacks_pass(
    served: tuple[RunningNode, Tool, httpx.Client], version: str
) -> None:
    node, tool, client = served
    client_id, secret = _credentials(node, client)
    run = tool.run(version, base_url=f"{node.base_url}/pact", client_id=client_id, client_secret=secret)
    report = _report(version, run)
    print(report)  # the cases run and passed, for docs/footprint.md
    results = {res["testKey"]: res for res in run["results"]}
    failed = [r["name"] for r in run["results"] if r["mandatory"] and r["status"] != "SUCCESS"]
    assert failed == [], report
    assert results["TESTCASE#13"]["status"] == "SUCCESS", report
    assert results["TESTCASE#14.B"]["status"] == "SUCCESS", report
    assert run["status"] == "PASS", report
    # the answers went out as this node's events, and the tool's receiver accepted them
    sent = json.dumps(run["results"])
    assert "Product IDs do not match" not in sent
