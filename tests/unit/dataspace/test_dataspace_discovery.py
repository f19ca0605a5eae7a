"""The operator's BPN-DID directory and discovery services (both stores): the directory is
written by the operator and read whole or for the partners asked; the discovery finder names the
operator's own BPN and EDC discovery and whatever it added; a member registers identifiers under
the BPNL of its verified membership only and removes only its own; the EDC discovery answers a
BPNL's DSP endpoints through the directory; a caller without a membership naming a BPNL is refused.
Bodies are checked against the vendored Tractus-X OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from sqlalchemy import Engine

from batpass.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from batpass.dataspace import MIGRATIONS_DIR, DiscoveryService, Participant

pytestmark = pytest.mark.anyio

SPECS = Path(__file__).resolve().parents[2] / "specs/tractusx"  # vendored (tests/specs/PROVENANCE.md)
OPERATOR = "https://operator.example:8443"
CAR = ("BPNL00000003CAR1", "did:web:car.example")
REC = ("BPNL00000003REC1", "did:web:recycler.example")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Tokens:
    """Verified participants by bearer token (what DCP verification gives the services)."""

    async def verify(self, authorization: str | None) -> Participant:
        who = {
            "Bearer car": Participant(did=CAR[1], bpnl=CAR[0], memberships=frozenset({"MembershipCredential"})),
            "Bearer rec": Participant(did=REC[1], bpnl=REC[0], memberships=frozenset({"MembershipCredential"})),
            "Bearer outsider": Participant(did="did:web:x.example", bpnl=None),
        }
        return who[authorization or ""]


async def _endpoints(did: str) -> list[str]:
    return {CAR[1]: ["https://car.example:8443/api/dsp/2025-1"]}.get(did, [])


@pytest.fixture
def svc(make_store: Callable[[Sequence[Path]], Engine]) -> DiscoveryService:
    return DiscoveryService(
        make_store([MIGRATIONS_DIR]), base_url=OPERATOR, verifier=Tokens(), dsp_endpoints=_endpoints
    )


def _schema(name: str, component: str) -> dict[str, Any]:
    doc = yaml.safe_load((SPECS / name).read_text(encoding="utf-8"))
    return {**doc["components"]["schemas"][component], "components": doc["components"]}


def _check(name: str, component: str, body: Any) -> None:
    jsonschema.validate(body, _schema(name, component))  # "#/components/..." refs resolve in the copy


async def test_the_directory_is_written_by_the_operator_and_read_per_partner(svc: DiscoveryService) -> None:
    svc.put_mapping({"bpn": CAR[0], "did": CAR[1]}, create=True)
    svc.register(*REC)
    svc.register(REC[0], REC[1])  # idempotent
    with pytest.raises(Conflict):
        svc.put_mapping({"bpn": CAR[0], "did": CAR[1]}, create=True)
    with pytest.raises(NotFound):
        svc.put_mapping({"bpn": "BPNL00000003NONE", "did": "did:web:n.example"}, create=False)
    with pytest.raises(InvalidInput) as bad:
        svc.put_mapping({"bpn": "car", "did": CAR[1]}, create=True)
    assert bad.value.field == "bpn"
    assert svc.directory() == {CAR[0]: CAR[1], REC[0]: REC[1]}
    assert svc.directory(bpns=[CAR[0]]) == {CAR[0]: CAR[1]}  # only the partner asked about
    assert svc.directory(dids=[REC[1]]) == {REC[0]: REC[1]}
    svc.delete_mapping(CAR[0])
    assert svc.directory() == {REC[0]: REC[1]}


async def test_members_only_and_bpnl_from_the_membership(svc: DiscoveryService) -> None:
    assert (await svc.member("Bearer car")).bpnl == CAR[0]
    with pytest.raises(Forbidden, match="no membership"):
        await svc.member("Bearer outsider")


async def test_finder_bpn_discovery_and_edc_discovery(svc: DiscoveryService) -> None:
    found = svc.search_endpoints({"types": ["manufacturerPartId", "bpn"]})
    _check("sldt-discovery-finder/discovery-finder-openapi.yaml", "DiscoveryEndpointCollection", found)
    by_type = {e["type"]: e["endpointAddress"] for e in found["endpoints"]}
    assert by_type == {
        "manufacturerPartId": OPERATOR + "/api/v1.0/administration/connectors/bpnDiscovery",
        "bpn": OPERATOR + "/api/administration/connectors/discovery",
    }
    added = svc.add_endpoint(
        {"type": "oen", "description": "OEN", "endpointAddress": "https://oen.example", "timeToLive": 60}
    )
    assert [e["resourceId"] for e in svc.search_endpoints({"types": ["oen"]})["endpoints"]] == [added["resourceId"]]
    svc.delete_endpoint(added["resourceId"])
    assert svc.search_endpoints({"types": ["oen"]})["endpoints"] == []

    car, rec = await svc.member("Bearer car"), await svc.member("Bearer rec")
    [entry] = svc.add_identifiers(car, [{"type": "manufacturerPartId", "key": "RA-EV-60"}])
    _check("sldt-bpn-discovery/bpn-discovery-service-openapi.yaml", "Bpn", entry)
    assert entry["value"] == CAR[0]  # the membership's BPNL, whatever the body says
    result = svc.search_identifiers({"searchFilter": [{"type": "manufacturerPartId", "keys": ["RA-EV-60", "x"]}]})
    _check("sldt-bpn-discovery/bpn-discovery-service-openapi.yaml", "BpnCollection", result)
    assert [b["value"] for b in result["bpns"]] == [CAR[0]]
    with pytest.raises(Forbidden):  # another member's entry
        svc.delete_identifier(rec, entry["resourceId"])
    svc.register(*CAR)
    assert await svc.connectors([CAR[0], REC[0]]) == [
        {"bpn": CAR[0], "connectorEndpoint": ["https://car.example:8443/api/dsp/2025-1"]},
        {"bpn": REC[0], "connectorEndpoint": []},
    ]
    with pytest.raises(InvalidInput):
        await svc.connectors(["nope"])
    svc.delete_identifier(car, entry["resourceId"])
    assert svc.search_identifiers({"searchFilter": [{"type": "manufacturerPartId", "keys": ["RA-EV-60"]}]}) == {
        "bpns": []
    }
