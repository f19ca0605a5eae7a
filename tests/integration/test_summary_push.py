"""Partners by identity (issue 18), between two real nodes over HTTPS with the federation CA and
no ``federation_hosts`` in their configurations: the refiner pushes its signed upstream summary
to the cell maker with its own DCP self-issued token (membership verified by the cell maker, the
signer's key resolved through the refiner's did:web document), and the cell maker's trace folds
it in. A replayed token, and a summary signed by another DID than the token's, are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation
from batpass.trust import client_ssl_context

pytestmark = pytest.mark.integration


def _event(n: int, kind: str, owner: str, country: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"push-{n:03d}",
        "kind": kind,
        "owner": owner,
        "at": f"2026-01-01T00:00:{n:02d}Z",
        "site": {"id": f"SITE-{country}", "country": country},
        **extra,
    }


def _lot(lot: str, kg: float) -> dict[str, Any]:
    return {"lot": lot, "material": "lithium_brine_concentrate", "quantity": {"value": kg, "unit": "kg"}}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningNode, RunningNode]]:
    home = tmp_path_factory.mktemp("push")
    specs = [
        NodeSpec("refiner", ("catena-x",), legal_name="Refiner SA", country="CL", bpnl="BPNL00000000R01F"),
        NodeSpec("cells", ("catena-x",), legal_name="Cells KK", country="JP", bpnl="BPNL00000000C02F"),
    ]
    trust_lists = operator_config(1)

    def configure(runs: list[RunningNode]) -> None:
        trust_lists(runs)
        for r in runs:  # partners are found by their DIDs, not by a list of hosts
            r.node.config.extra.pop("federation_hosts", None)

    with federation(home, specs, configure=configure) as (refiner, cells):
        catenax_memberships(home, cells, [refiner, cells])
        yield home, refiner, cells


def test_a_supplier_pushes_its_summary_with_its_own_token(pair: tuple[Path, RunningNode, RunningNode]) -> None:
    _, refiner, cells = pair
    with httpx.Client(verify=client_ssl_context(refiner.node.paths.ca_cert), timeout=60) as c:
        shipped = {
            "to_site": {"id": "SITE-JP", "country": "JP"},
            "destination_country": "JP",
            "document": "BL-77",
            "to_owner": cells.did,
        }
        events = [
            _event(1, "extraction", refiner.did, "CL", outputs=[_lot("brine", 50.0)]),
            _event(
                2,
                "shipment",
                refiner.did,
                "CL",
                inputs=[{"lot": "brine", "quantity": {"value": 50.0, "unit": "kg"}}],
                outputs=[_lot("brine-shipped", 50.0)],
                shipment=shipped,
            ),
        ]
        r = c.post(refiner.base_url + "/v1/ledger/events", json=events, headers=refiner.admin_headers())
        assert r.status_code == 200, r.text
        receipt = _event(
            3,
            "receipt",
            cells.did,
            "JP",
            outputs=[_lot("brine-in", 50.0)],
            receipt={"from_owner": refiner.did, "from_lot": "brine-shipped", "document": "BL-77"},
        )
        r = c.post(cells.base_url + "/v1/ledger/events", json=[receipt], headers=cells.admin_headers())
        assert r.status_code == 200, r.text
        before = c.get(cells.base_url + "/v1/ledger/trace/brine-in", headers=cells.admin_headers()).json()
        assert before["boundaries"] == [{"lot": "brine-in", "summary": False}]

        jws = c.get(refiner.base_url + "/v1/ledger/summaries/brine-shipped", headers=refiner.admin_headers()).text

        def token() -> str:
            r = c.post(
                refiner.base_url + "/v1/auth/self-issued", json={"audience": cells.did}, headers=refiner.admin_headers()
            )
            assert r.status_code == 201, r.text
            return str(r.json()["token"])

        si = token()
        r = c.post(
            cells.base_url + "/v1/ledger/summaries",
            content=jws,
            headers={"Authorization": f"Bearer {si}", "Content-Type": "application/jose"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["issuer"] == refiner.did

        after = c.get(cells.base_url + "/v1/ledger/trace/brine-in", headers=cells.admin_headers()).json()
        assert after["boundaries"] == [{"lot": "brine-in", "summary": True}]
        assert after["elements"]["Li"]["minedByCountry"] == {"CL": pytest.approx(1.0)}, after["elements"]

        # the same token again is a replay
        r = c.post(cells.base_url + "/v1/ledger/summaries", content=jws, headers={"Authorization": f"Bearer {si}"})
        assert r.status_code == 401, r.text

        # the cell maker's own summary pushed with the refiner's token: the signer is not the pusher
        own = c.get(cells.base_url + "/v1/ledger/summaries/brine-in", headers=cells.admin_headers()).text
        r = c.post(cells.base_url + "/v1/ledger/summaries", content=own, headers={"Authorization": f"Bearer {token()}"})
        assert r.status_code == 403, r.text
        assert r.json()["rule"].startswith("ledger.summary.pusher")
