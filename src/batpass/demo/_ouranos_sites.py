"""Hub operators' site registers in the running demo (docs/ouranos-hub.md "Site registers"),
over HTTPS only: Japanese processing sites registered by their operators on ``jp-hub``, read
under the operators' releases — on the hub and, through the bridge, on Catena-X — and refused
without one.

- ``jp-refiner`` registers its nickel refinery and releases its register to ``jp-cathode`` (its
  buyer on the hub), which reads it; ``jp-cellmaker`` (no release) is refused; once the refiner
  withdraws the release, ``jp-cathode`` is refused again.
- ``jp-cellmaker`` registers its cell plant and releases the bridge scope ``sites`` to the car
  maker, which pulls the register through its connector from the bridge (the cell maker is its
  direct supplier: nothing above it reaches the car maker, the leak scan's boundary); the
  recycler, to which nothing was released, is refused.

The sites are fictitious demo data. Returns ``story.sites.ouranos``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx

from batpass.core.errors import Forbidden, InvariantViolation
from batpass.demo.harness import RunningNode
from batpass.ouranos import OuranosClient

__all__ = ["CELL_PLANT", "REFINERY", "share_operator_sites"]

#: the refiner's nickel refinery (Ehime, JP-38), RMAP-conformant — fictitious demo data
REFINERY: dict[str, Any] = {
    "siteId": "REF-JP-1",
    "name": "Niihama nickel refinery",
    "operator": "Niihama Battery Materials Refining KK",
    "siteType": "refinery",
    "country": "JP",
    "region": "JP-38",
    "location": {"latitude": 33.96, "longitude": 133.27},
    "minerals": ["nickel", "manganese"],
    "certifications": [{"scheme": "RMI RMAP", "status": "conformant", "validUntil": "2028-03-31"}],
    "dueDiligence": [{"kind": "risk assessment", "reference": "doc:jp-ref-ra-2026", "date": "2026-04-01"}],
}
#: the cell maker's cell plant (Osaka, JP-27) — fictitious demo data
CELL_PLANT: dict[str, Any] = {
    "siteId": "CELL-JP-1",
    "name": "Osaka cell plant",
    "operator": "Osaka Cells KK",
    "siteType": "processing",
    "country": "JP",
    "region": "JP-27",
    "location": {"latitude": 34.57, "longitude": 135.46},
    "minerals": ["lithium", "nickel", "cobalt", "manganese", "graphite"],
}

Login = Callable[[str], AbstractContextManager[OuranosClient]]


def _refused(read: Callable[[], Any]) -> bool:
    try:
        read()
    except Forbidden:
        return True
    return False


def share_operator_sites(
    login: Login,
    operators: dict[str, dict[str, Any]],
    client: httpx.Client,
    car: RunningNode,
    recycler: RunningNode | None,
) -> dict[str, Any]:
    """Register, release, read and refuse as the module says; ``story.sites.ouranos``:
    ``registered`` (sites in the operators' registers), ``read_under_release`` (site records the
    released readers got) and ``refused`` (readers refused without a release, withdrawal included)."""
    refiner_id = str(operators["jp-refiner"]["operatorId"])
    cathode_id = str(operators["jp-cathode"]["operatorId"])
    cell = operators["jp-cellmaker"]
    registered = read = refused = 0
    with login("jp-refiner") as refiner:
        registered += refiner.put_site(REFINERY)["siteId"] == REFINERY["siteId"]
        refiner.release_sites(cathode_id)
    with login("jp-cathode") as cathode:
        read += len(cathode.sites_of(refiner_id)["sites"])
    with login("jp-cellmaker") as cellmaker:
        refused += _refused(lambda: cellmaker.sites_of(refiner_id))
        registered += cellmaker.put_site(CELL_PLANT)["siteId"] == CELL_PLANT["siteId"]
        cellmaker.release_to_catenax(str(car.node.config.bpnl), ["sites"])
    with login("jp-refiner") as refiner:
        refiner.release_sites(cathode_id, released=False)
    with login("jp-cathode") as cathode:
        refused += _refused(lambda: cathode.sites_of(refiner_id))
    body = {"provider": cell["did"], "operator": cell["did"]}
    r = client.post(car.base_url + "/v1/connector/sites/requests", json=body, headers=car.admin_headers())
    if r.status_code != 200:
        raise InvariantViolation(
            f"the car maker could not read the cell maker's released sites: {r.status_code} {r.text[:500]}",
            rule="demo.sites.ouranos-bridge",
        )
    pulled = r.json()["sites"]["sites"]
    if [s["siteId"] for s in pulled] != [CELL_PLANT["siteId"]]:
        raise InvariantViolation("the bridge carried other sites than the released one", rule="demo.sites")
    read += len(pulled)
    if recycler is not None:
        r = client.post(recycler.base_url + "/v1/connector/sites/requests", json=body, headers=recycler.admin_headers())
        refused += r.status_code != 200 and CELL_PLANT["name"] not in r.text
    return {"registered": registered, "read_under_release": read, "refused": refused}
