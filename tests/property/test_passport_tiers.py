"""Hypothesis over roles x fields: a field is visible iff its tier allows, in the JSON view, the
tiered page's source and the exports; each restricted read adds one audit-log entry.

Every data point carries a unique canary (a text, URL or record entry) so its absence can be
checked in the raw response bytes, not only in parsed keys.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "passport"))
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, OPERATOR, TOKENS, make_app, make_service

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.passport import FIELDS, MIGRATIONS_DIR, PassportRules, Tier, load_static_product_data, tiers_for_roles
from batpass.passport.model import Kind
from batpass.trust import NodeIdentity, generate_keypair

BAT = BatteryId("04012345000009", "PROP-1")
ROLE_TOKENS = {next(iter(v)): k for k, v in TOKENS.items() if v}


def _canary_values() -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(static overrides, dynamic values, key -> canary) for every canary-able data point."""
    static: dict[str, Any] = {}
    dynamic: dict[str, Any] = {}
    canary: dict[str, str] = {}
    for f in FIELDS:
        if f.derived or f.key in {
            "manufacturing_place",
            "manufacturing_date",
            "manufacturing_facility",
            "placed_on_market",
            "economic_operator_id",
            "intended_use",  # set only by repurposing (a second life), never in static data
        }:
            continue
        mark = f"CANARY{f.key.replace('_', '').upper()}"
        if f.kind is Kind.TEXT:
            value: Any = mark
        elif f.kind is Kind.URL:
            value = f"https://{mark.lower()}.example/doc"
            mark = mark.lower()
        elif f.kind is Kind.TEXTS:
            value = [mark]
        elif f.kind is Kind.RECORDS:
            value = [{"note": mark}]
        else:
            continue
        (dynamic if f.tier is Tier.DYNAMIC else static)[f.key] = value
        canary[f.key] = mark
    return static, dynamic, canary


@pytest.fixture
def app_client(make_store: Callable[[Sequence[Path]], Engine]) -> Any:
    import yaml

    identity = NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")])
    rules = PassportRules.from_ruleset(load_ruleset())
    svc = make_service(
        make_store([MIGRATIONS_DIR]), identity, rules, FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    )
    static_overrides, dynamic, canary = _canary_values()
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["values"].update(static_overrides)
    p = svc.build(load_static_product_data(raw), BAT, item=ITEM)
    svc.record_dynamic(p.passport_id, dynamic, actor=OPERATOR)
    with TestClient(make_app(svc), base_url="https://id.nordcell.example") as client:
        yield client, svc, p.passport_id, canary


ROLES = sorted(ROLE_TOKENS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(role=st.sampled_from([None, *ROLES]), html=st.booleans())
def test_field_visible_iff_tier_allows(app_client: Any, role: str | None, html: bool) -> None:
    client, svc, pid, canary = app_client
    roles = frozenset({role}) if role else frozenset()
    tiers = tiers_for_roles(roles)
    headers = {"Accept": "text/html" if html else "application/json"}
    if role:
        headers["Authorization"] = f"Bearer {ROLE_TOKENS[role]}"
    before = len(svc.audit_entries(pid))
    r = client.get(BAT.path, headers=headers)
    assert r.status_code == 200
    body = r.text
    for f in FIELDS:
        if f.key in canary:
            assert (canary[f.key] in body) == (f.tier in tiers), (f.key, f.tier, sorted(tiers))
    if not html:
        data = r.json()["data"]
        for f in FIELDS:
            if f.key in data:
                assert f.tier in tiers, f.key
        assert all(f.key in data for f in FIELDS if f.key in canary and f.tier in tiers)
    after = len(svc.audit_entries(pid))
    assert after - before == (1 if tiers - {Tier.PUBLIC} else 0)
    for fmt in ("aas", "catenax", "batterypass"):
        text = client.get(
            f"/v1/passports/{pid}/export/{fmt}", headers={k: v for k, v in headers.items() if k != "Accept"}
        ).text
        for f in FIELDS:
            if f.key in canary and f.tier not in tiers:
                assert canary[f.key] not in text, (fmt, f.key)


def test_admin_reads_everything_and_is_audited(app_client: Any) -> None:
    client, svc, pid, canary = app_client
    body = client.get(BAT.path, headers={"Accept": "application/json", "X-Api-Key": ADMIN_KEY}).text
    assert all(c in body for c in canary.values())
    assert svc.audit_entries(pid)[-1]["roles"] == ["operator"]
