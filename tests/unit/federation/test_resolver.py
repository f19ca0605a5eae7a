"""The resolver role's choice: the operator's answer when it gives one in time (a 404 included),
else the backup node's signed copy, else a 503 with the reason.

The operator's and the backup node are real passport apps (their own stores and identities); the
network between them and the resolver is an httpx transport that can hold an answer back
(a stopped node), refuse the connection (a node that is down) or fail (a 500). The same failover
over real processes and HTTPS: tests/integration/test_resolver_failover.py."""

from __future__ import annotations

import datetime as dt
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.errors import ConfigurationError
from batpass.core.ids import BatteryId
from batpass.federation import DigitalLinkResolver, ResolverRoute, ResolverRoutes
from batpass.passport import MIGRATIONS_DIR, BatteryResolver, PassportRules, PassportService, _sql
from batpass.trust import NodeIdentity, generate_keypair
from batpass.web import PassportPages

sys.path.insert(0, str(Path(__file__).parents[1] / "passport"))
from passport_testkit import (
    ADMIN_KEY,
    EXAMPLE,
    ITEM,
    IdentityKeys,
    make_app,
    make_service,
    make_summary,
)

OPERATOR_URL = "https://operator.example:8443"
BACKUP_URL = "https://backup.example:8443"
RESOLVER_URL = "https://resolver.example"
BAT = BatteryId("04012345000009", "SN-0300")
OTHER = BatteryId("04012345000009", "SN-0301")  # no passport anywhere


@dataclass
class Network:
    """Routes the resolver's requests to the nodes' apps; ``mode[host]`` is how a node behaves:
    ``up``, ``slow`` (answers after 30 s: far past the 2 s deadline, so a failover that waited for it
    cannot pass for one that did not on a loaded machine), ``down`` (connection refused) or
    ``fail`` (500)."""

    apps: dict[str, Any]
    mode: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.host}:{request.url.port}"
        self.asked.append(host)
        mode = self.mode.get(host, "up")
        if mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "fail":
            return httpx.Response(500, json={"title": "Internal error"})
        if mode == "slow":
            await anyio.sleep(30.0)
        transport = httpx.ASGITransport(app=self.apps[host])
        return await transport.handle_async_request(request)


@pytest.fixture
def rules() -> PassportRules:
    return PassportRules.from_ruleset(load_ruleset())


@pytest.fixture
def world(
    make_store: Callable[[Sequence[Path]], Engine], rules: PassportRules
) -> Iterator[tuple[TestClient, Network, PassportService, uuid.UUID]]:
    clock = FixedClock(dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC))
    identity = NodeIdentity("did:web:nordcell.example", [generate_keypair("Ed25519", "key-ed25519-1")])
    operator = make_service(make_store([MIGRATIONS_DIR]), identity, rules, clock)
    backup_did = "did:web:backup.example%3A8443"
    backup = PassportService(
        make_store([MIGRATIONS_DIR]),
        NodeIdentity(backup_did, [generate_keypair("Ed25519", "key-ed25519-1")]),
        rules=rules,
        resolver_base=RESOLVER_URL,
        backup_url=BACKUP_URL,
        clock=clock,
        key_resolver=IdentityKeys(identity),
    )
    op_app = make_app(operator)
    with TestClient(op_app, base_url=OPERATOR_URL) as op:
        r = op.post(
            "/v1/passports",
            json={
                "static": yaml.safe_load(EXAMPLE.read_text()),
                "battery": BAT.path,
                "item": ITEM,
                "summary": make_summary(BAT),
            },
            headers={"X-Api-Key": ADMIN_KEY},
        )
        assert r.status_code == 201, r.text
    pid = uuid.UUID(r.json()["passportId"].removeprefix("urn:uuid:"))
    for v in operator.versions(pid):
        backup.accept_backup({"jws": v.jws})
    bk_app = make_app(backup)
    bk_app.state.ctx.name, bk_app.state.ctx.did = "Kreislauf Recycling GmbH", backup_did
    net = Network({"operator.example:8443": op_app, "backup.example:8443": bk_app})
    client = httpx.AsyncClient(transport=httpx.MockTransport(net.handle))
    routes = ResolverRoutes([ResolverRoute("0401234", OPERATOR_URL, BACKUP_URL)])
    resolver_store = make_store([MIGRATIONS_DIR])  # the resolver's own passports: none
    resolver_identity = NodeIdentity("did:web:resolver.example", [generate_keypair("Ed25519", "key-ed25519-1")])
    res_app = make_app(make_service(resolver_store, resolver_identity, rules, clock))
    res_app.state.ctx.services[BatteryResolver] = DigitalLinkResolver(routes, client, PassportPages())
    with TestClient(res_app, base_url=RESOLVER_URL) as c:
        yield c, net, backup, pid


JSON = {"Accept": "application/json"}


def test_operator_up_answers_and_the_backup_is_not_asked(world: Any) -> None:
    client, net, _, pid = world
    r = client.get(BAT.path, headers=JSON)
    assert r.status_code == 200 and r.json()["passportId"] == f"urn:uuid:{pid}"
    assert "servedFrom" not in r.json() and "batpass-served-from" not in r.headers
    assert net.asked == ["operator.example:8443"]
    assert "linkset" in r.headers["link"]  # the operator's headers reach the reader
    # and the reader learns which node served it: the one to present credentials to
    assert r.headers["content-location"] == OPERATOR_URL + BAT.path


def test_an_operator_404_is_a_404_not_a_failover(world: Any) -> None:
    client, net, _, _ = world
    r = client.get(OTHER.path, headers=JSON)
    assert r.status_code == 404 and net.asked == ["operator.example:8443"]


def test_a_slow_operator_fails_over_after_two_seconds(world: Any) -> None:
    client, net, _, pid = world
    net.mode["operator.example:8443"] = "slow"
    t0 = time.monotonic()
    r = client.get(BAT.path, headers=JSON)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert r.json()["servedFrom"]["holderName"] == "Kreislauf Recycling GmbH"
    assert r.json()["passportId"] == f"urn:uuid:{pid}"
    assert r.headers["batpass-served-from"].startswith("backup-copy")
    assert r.headers["content-location"] == BACKUP_URL + BAT.path
    # waited the deadline, not the operator's answer (30 s); not a timing figure
    assert 2.0 <= elapsed < 20.0, elapsed


@pytest.mark.parametrize("mode", ["down", "fail"])
def test_an_unreachable_or_failing_operator_fails_over_to_the_backup_copy(world: Any, mode: str) -> None:
    client, net, _, _ = world
    net.mode["operator.example:8443"] = mode
    page = client.get(BAT.path, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Served from the backup copy held by Kreislauf Recycling GmbH." in page.text
    assert net.asked == ["operator.example:8443", "backup.example:8443"]
    links = client.get(BAT.path, params={"linkType": "all"})
    assert links.headers["content-type"].startswith("application/linkset+json")
    assert links.headers["batpass-served-from"].startswith("backup-copy")


def test_a_backup_copy_with_a_bad_signature_is_refused(world: Any) -> None:
    client, net, backup, pid = world
    net.mode["operator.example:8443"] = "down"
    with backup.engine.begin() as conn:
        conn.execute(
            update(_sql.backups)
            .where(_sql.backups.c.passport_id == str(pid))
            .values(signer_jwk=dict(generate_keypair("Ed25519", "k").public_jwk()))
        )
    r = client.get(BAT.path, headers=JSON)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert "refused to serve its copy (503" in r.json()["detail"] and "signature" in r.json()["detail"]
    assert "servedFrom" not in r.text


def test_operator_down_and_no_copy_held_is_a_clear_503(world: Any) -> None:
    client, net, _, _ = world
    net.mode["operator.example:8443"] = "down"
    r = client.get(OTHER.path, headers=JSON)
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "cannot be reached" in detail and "holds no copy of this passport" in detail
    page = client.get(OTHER.path, headers={"Accept": "text/html"})
    assert page.status_code == 503 and "Passport not available right now" in page.text


def test_both_down_is_a_503_naming_both(world: Any) -> None:
    client, net, _, _ = world
    net.mode.update({"operator.example:8443": "down", "backup.example:8443": "down"})
    r = client.get(BAT.path, headers=JSON)
    assert r.status_code == 503 and "did not answer either" in r.json()["detail"]


def test_a_gtin_without_a_route_is_answered_from_the_resolvers_own_store(world: Any) -> None:
    client, net, _, _ = world
    r = client.get(BatteryId("09506000134352", "X1").path, headers=JSON)
    assert r.status_code == 404 and net.asked == []


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"resolver": {"routes": [{"gtinPrefix": "04x", "operator": OPERATOR_URL}]}}, "gtinPrefix"),
        ({"resolver": {"routes": [{"gtinPrefix": "0401", "operator": "http://plain:80"}]}}, "operator"),
        ({"resolver": {"routes": [{"gtinPrefix": "0401", "operator": OPERATOR_URL, "backup": 3}]}}, "backup"),
        ({"resolver": {"routes": {}}}, "routes"),
        ({"resolver": {"deadlineSeconds": 0}}, "deadlineSeconds"),
    ],
)
def test_a_malformed_route_is_refused_naming_the_field(extra: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigurationError) as ei:
        ResolverRoutes.from_config(extra)
    assert names in str(ei.value)


def test_the_longest_prefix_wins() -> None:
    routes = ResolverRoutes.from_config(
        {
            "resolver": {
                "routes": [
                    {"gtinPrefix": "0401", "operator": "https://a.example"},
                    {"gtinPrefix": "0401234", "operator": "https://b.example/", "backup": "https://c.example"},
                ]
            }
        }
    )
    route = routes.route_for("04012345000009")
    assert route == ResolverRoute("0401234", "https://b.example", "https://c.example")
    assert routes.route_for("04019999999999") == ResolverRoute("0401", "https://a.example", None)
    assert routes.route_for("09506000134352") is None


def test_the_history_page_of_a_routed_battery_comes_from_the_operator(world: Any) -> None:
    client, net, _, _ = world
    r = client.get(BAT.path + "/history", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert net.asked == ["operator.example:8443"]
    net.mode["operator.example:8443"] = "down"  # the backup node keeps no history page: a 503 saying why
    assert client.get(BAT.path + "/history", headers={"Accept": "application/json"}).status_code == 503
