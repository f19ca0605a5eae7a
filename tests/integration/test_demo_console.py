"""The demo's console users (``summary.json`` ``nodes[].console``), of the session's full demo run:
one per node, its password working only there; the recycler's user sees the black-mass outflow
and the double claim the ledger step caught, the car maker's user its passports, the authority's
user the authorities' tier of the car maker's passports."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from demo_runner import DemoRun

pytestmark = pytest.mark.integration


@contextmanager
def _signed_in(demo_run: DemoRun, node: dict[str, Any]) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(demo_run.out / "ca.pem"))
    with httpx.Client(verify=ctx, timeout=30, base_url=node["base_url"]) as client:
        form = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        console = node["console"]
        data = {"name": console["user"], "password": console["password"], "csrf": token[1]}
        r = client.post("/console/login", data=data)
        assert r.status_code == 303, r.text
        yield client


def test_every_node_has_a_console_user_with_its_own_password(demo_run: DemoRun) -> None:
    nodes = demo_run.summary["nodes"]
    for n in nodes:
        assert set(n["console"]) == {"url", "user", "password"}
        assert n["console"]["url"] == n["base_url"] + "/console/" and len(n["console"]["password"]) >= 12
    assert len({n["console"]["password"] for n in nodes}) == len(nodes)


def test_the_recyclers_user_sees_its_outflow_and_double_claim(demo_run: DemoRun) -> None:
    recycler = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-recycler")
    with _signed_in(demo_run, recycler) as client:
        page = client.get("/console/alerts")
        assert page.status_code == 200
        assert "Outflow of a strategic material" in page.text and "black_mass" in page.text
        assert "Double claim of recycled content" in page.text
        dashboard = client.get("/console/")
        open_alerts = re.search(r'id="count-alerts">(\d+)<', dashboard.text)
        assert open_alerts is not None and int(open_alerts[1]) >= 2


def test_the_car_makers_user_lists_and_opens_its_passports(demo_run: DemoRun) -> None:
    car = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-carmaker")
    with _signed_in(demo_run, car) as client:
        listing = client.get("/console/passports")
        found = re.search(r"(\d+) passports found", listing.text)
        assert found is not None and int(found[1]) >= 1
        first = re.search(r'href="(/console/passports/[0-9a-f-]{36})"', listing.text)
        assert first is not None
        detail = client.get(first[1])
        assert detail.status_code == 200 and 'data-field="rated_capacity"' in detail.text


def _open(client: httpx.Client, url: str) -> httpx.Response:
    form = client.get("/console/open")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    return client.post("/console/open", data={"url": url, "csrf": token[1]})


def test_the_recyclers_user_opens_the_car_makers_passport_at_the_legitimate_interest_tier(demo_run: DemoRun) -> None:
    """No token typed anywhere: the recycler's node presents its own legitimate-interest
    credential to the car maker's node, and the page names the credential per tier."""
    recycler = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-recycler")
    car = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-carmaker")
    url = str(demo_run.summary["batteries"][0]["passport_url"])
    with _signed_in(demo_run, recycler) as client:
        page = _open(client, url)
        assert page.status_code == 200, page.text
        text = page.text
        tiers = dict(re.findall(r'<li data-tier="([a-z_]+)"><strong>[^<]*</strong>:\s*(.*?)</li>', text, re.S))
        assert set(tiers) == {"public", "legitimate_interest", "dynamic"}  # not the authorities' tier
        assert "AccessRoleCredential (legitimate interest)" in tiers["legitimate_interest"]
        assert "did:web:" in tiers["legitimate_interest"]  # the issuer, named
        assert 'id="restricted"' in text and 'id="authorities"' not in text  # the tier's fields, labelled
        assert 'data-field="' in text.split('id="restricted"', 1)[1]
        at = text.find("eyJ")
        assert at == -1, text[max(0, at - 600) : at + 80]  # fields, never token text
        assert car["did"] in text  # presented to the serving node's DID
        # the read is in the console's audit log with the user
        activity = client.get("/console/").text
        assert "passport.open-remote" in activity
        # a passport the node cannot fetch: the reason, never a stack trace
        missing = _open(client, url.rsplit("/21/", 1)[0] + "/21/NO-SUCH-SERIAL")
        assert "Not found:" in missing.text and "Traceback" not in missing.text
        down = _open(client, "https://127.0.0.1:1/01/04012345000009/21/X")
        assert "Node unreachable:" in down.text and "Traceback" not in down.text


def test_the_authoritys_user_opens_the_car_makers_passport_at_the_authorities_tier(demo_run: DemoRun) -> None:
    """The eu-authority node holds a market-surveillance role credential from the EU certifier;
    its user opens the car maker's passport with no token typed and sees the authorities' tier
    (Annex XIII (3), the test reports) as fields, the page naming the credential that opened it."""
    authority = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-authority")
    certifier = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-certifier")
    url = str(demo_run.summary["batteries"][0]["passport_url"])
    with _signed_in(demo_run, authority) as client:
        page = _open(client, url)
        assert page.status_code == 200, page.text
        text = page.text
        tiers = dict(re.findall(r'<li data-tier="([a-z_]+)"><strong>[^<]*</strong>:\s*(.*?)</li>', text, re.S))
        assert set(tiers) == {"public", "legitimate_interest", "authorities"}  # Annex XIII (1)-(3)
        for tier in ("legitimate_interest", "authorities"):
            assert "AccessRoleCredential (market surveillance authority)" in tiers[tier]
            assert certifier["did"] in tiers[tier]  # issued by the EU certifier, named
        section = text.split('id="authorities"', 1)[1]
        assert 'data-field="test_reports"' in section  # the tier's fields, labelled
        at = text.find("eyJ")
        assert at == -1, text[max(0, at - 600) : at + 80]  # fields, never token text
        assert "passport.open-remote" in client.get("/console/").text


def test_the_car_makers_user_meets_a_lifecycle_rule_on_the_real_node(demo_run: DemoRun) -> None:
    """The dynamic-data form on a demo node: a state of health the rules refuse comes back on the
    form naming the field and the rule, and no version is added (a refusal, so the run's other
    tests see the passports as the demo left them)."""
    car = next(n for n in demo_run.summary["nodes"] if n["name"] == "eu-carmaker")
    with _signed_in(demo_run, car) as client:
        listing = client.get("/console/passports?status=original")
        first = re.search(r'href="(/console/passports/[0-9a-f-]{36})"', listing.text)
        assert first is not None
        detail = client.get(first[1])
        versions = detail.text.count("<tr><td>")
        assert 'id="act-dynamic"' in detail.text  # the demo's users are admins: they may act
        token = re.search(r'name="csrf" value="([^"]+)"', detail.text)
        assert token is not None
        r = client.post(f"{first[1]}/dynamic", data={"csrf": token[1], "state_of_health": "140"})
        assert r.status_code == 400 and 'id="dynamic-error"' in r.text
        assert "<code>state_of_health</code>" in r.text and "Annex VII" in r.text
        assert client.get(first[1]).text.count("<tr><td>") == versions
