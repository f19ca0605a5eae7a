"""The scenario's mines in a running node's site register, over its HTTPS API: every mine
(``PUT /v1/sites``) and the synthetic CAHRA sample (``PUT /v1/sites/cahra``), which flags the
artisanal cobalt site; the node's ledger then reports that site's mined share as high-risk.
Shared by the demo's ``sites`` step, the integration tests and benchmarks."""

from __future__ import annotations

import json
from typing import Any

import httpx

from batpass.core.errors import UpstreamUnavailable
from batpass.demo.harness import RunningNode
from batpass.scenario import MINE_SITES
from batpass.sites import CAHRA_SAMPLE

__all__ = ["register_mine_sites"]


def _check(r: httpx.Response, what: str) -> Any:
    if r.status_code not in (200, 201):
        raise UpstreamUnavailable(f"{what}: HTTP {r.status_code} {r.text[:500]}", rule="site register setup")
    return r.json()


def register_mine_sites(client: httpx.Client, node: RunningNode) -> dict[str, Any]:
    """Register the mines at ``node``, load the synthetic CAHRA sample there; the register's
    overview (``story.sites``)."""
    for site in MINE_SITES:
        _check(client.put(node.base_url + "/v1/sites", json=site, headers=node.admin_headers()), site["siteId"])
    sample = json.loads(CAHRA_SAMPLE.read_text(encoding="utf-8"))
    _check(client.put(node.base_url + "/v1/sites/cahra", json=sample, headers=node.admin_headers()), "CAHRA sample")
    overview: dict[str, Any] = _check(client.get(node.base_url + "/v1/sites/overview"), "site overview")
    return overview
