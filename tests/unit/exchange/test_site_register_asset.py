"""The site register's connector source on SQLite and PostgreSQL: a consumer the site names (by
DID or BPNL) reads its full record, any other member its public summary; one site by ``?site=``,
an unknown site the same 404 as for any other, and no other query parameter."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.exchange import SiteRegisterSource
from batpass.sites import MIGRATIONS_DIR, Site, SiteService

PARTNER, PARTNER_BPNL = "did:web:partner.example", "BPNL00000000702C"


def _site(site_id: str, shared_with: list[str]) -> dict[str, Any]:
    return {
        "siteId": site_id,
        "name": "mine",
        "operator": "Mine Operator SARL",
        "siteType": "mine",
        "country": "CD",
        "region": "CD-HL",
        "location": {"latitude": -8.74, "longitude": 24.99},
        "minerals": ["cobalt"],
        "sharedWith": shared_with,
    }


@pytest.fixture
def source(make_store: Callable[[Sequence[Path]], Engine]) -> SiteRegisterSource:
    svc = SiteService(make_store([MIGRATIONS_DIR]), clock=FixedClock(dt.datetime(2026, 12, 6, tzinfo=dt.UTC)))
    svc.register(Site.from_json(_site("M-DID", [PARTNER])))
    svc.register(Site.from_json(_site("M-BPN", [PARTNER_BPNL])))
    svc.register(Site.from_json(_site("M-NONE", [])))
    return SiteRegisterSource(svc)


def _pull(source: SiteRegisterSource, query: dict[str, str], *, did: str = PARTNER, bpnl: str | None = None) -> Any:
    return asyncio.run(
        source.query_content("sites", consumer_did=did, consumer_bpnl=bpnl, agreement_id="ag-1", query=query)
    )


def test_full_records_only_for_the_partners_a_site_names(source: SiteRegisterSource) -> None:
    by_id = {s["siteId"]: s for s in _pull(source, {})["sites"]}
    assert by_id["M-DID"]["operator"] == "Mine Operator SARL"
    assert "operator" not in by_id["M-BPN"] and "operator" not in by_id["M-NONE"]
    by_bpnl = {s["siteId"]: s for s in _pull(source, {}, did="did:web:other.example", bpnl=PARTNER_BPNL)["sites"]}
    assert "location" in by_bpnl["M-BPN"] and "location" not in by_bpnl["M-DID"]


def test_one_site_by_query_and_nothing_else(source: SiteRegisterSource) -> None:
    assert _pull(source, {"site": "M-DID"})["location"] == {"latitude": -8.74, "longitude": 24.99}
    with pytest.raises(NotFound) as missing:
        _pull(source, {"site": "M-XX"})
    assert missing.value.details["field"] == "site"
    with pytest.raises(InvalidInput) as refused:
        _pull(source, {"battery": "x"})
    assert refused.value.field == "battery"
