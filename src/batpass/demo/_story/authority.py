"""The demo's authority, ``eu-authority`` (docs/outflows.md, "Authorisations as credentials"):
part of the ``ledger`` step, before and after the scenario's events are recorded.

1. **Role.** ``eu-certifier`` (the Catena-X operator, the demo's role issuer) issues it an
   ``AccessRoleCredential`` with the role ``market_surveillance_authority``, which it keeps in its
   wallet: its console user opens the car maker's passports at the authorities tier with it.
2. **Authority.** The operator's Catena-X trust list names it for
   ``ExportAuthorisationCredential`` (the federation step signs the list): that entry is what
   makes it an authority to every node.
3. **Authorisation.** The recycler's node controls cobalt leaving the EU (``outflows.
   controlled_materials: ["Co"]``, configured by :func:`batpass.demo._run.configure_nodes`), so
   every shipment of its recovered cobalt sulphate to Japan needs an export authorisation under
   ``node.controlled-materials``. ``eu-authority`` issues one as a credential (``vc+jwt``, subject
   the recycler's DID: cobalt sulphate to the destinations the scenario's shipper declared, a cap
   a quarter above what it ships, the scenario's period) in place of the scenario's self-declared
   one, and the recycler keeps it (``POST /v1/ledger/authorisations/credentials``), verified. The
   same credential issued by ``eu-certifier`` — on the list, but not for export authorisations —
   is refused (400, rule ``ledger.authorisation.authority``).
4. **Report.** After recording: the credential covered every cobalt-sulphate shipment (its used
   mass, no alert names them); the black mass to Korea stays alerted and the car maker's waste
   export stays blocked, as before.

Writes ``story.authority`` (README, summary section). Without ``eu-authority`` or ``eu-recycler``
(the compose federation) it does nothing, and the scenario's authorisations stay self-declared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story
from batpass.scenario import Scenario

__all__ = ["AUTHORITY", "CONTROLLED", "MATERIAL", "authorise", "report"]

AUTHORITY = "eu-authority"
ROLE_ISSUER = "eu-certifier"
SHIPPER = "eu-recycler"
#: what the recycler's node controls, and the material whose exports the authority authorises
CONTROLLED = ["Co"]
MATERIAL = "cobalt_sulphate"
CTYPE = "ExportAuthorisationCredential"
AUTHORISATION_ID = "EU-AUTH-CO-2026-0001"
INSTRUMENT = (
    "export authorisation under the shipper node's controlled-materials policy (node.controlled-materials): "
    "cobalt compounds leaving the EU's customs territory"
)


def _active(story: Story) -> bool:
    return AUTHORITY in story.nodes and SHIPPER in story.nodes and ROLE_ISSUER in story.nodes


def _shipped(sc: Scenario, owner: str) -> tuple[int, float]:
    """How many shipments of :data:`MATERIAL` ``owner`` makes in the scenario, and their mass."""
    material = {o["lot"]: o["material"] for e in sc.events for o in e.get("outputs", [])}
    n, kg = 0, 0.0
    for e in sc.events:
        if e["kind"] != "shipment" or e["owner"] != owner:
            continue
        for i in e["inputs"]:
            if material.get(i["lot"]) == MATERIAL:
                n += 1
                kg += float(i["quantity"]["value"])
    return n, kg


def _role(story: Story) -> dict[str, Any]:
    """The market-surveillance role credential, issued by the operator and held by the authority."""
    subject = {
        "id": story.node(AUTHORITY).did,
        "role": "market_surveillance_authority",
        "organisation": "EU market surveillance authority (demo)",
        "jurisdiction": "EU",
    }
    body = {"type": "AccessRoleCredential", "subject": subject, "format": "vc+jwt"}
    issued = story.call("POST", ROLE_ISSUER, "/v1/credentials/issue", json=body, expect=(201,)).json()
    story.call("POST", AUTHORITY, "/v1/credentials/wallet", json={"credential": issued["credential"]}, expect=(201,))
    return {"id": issued["id"], "role": subject["role"], "issuer": story.node(ROLE_ISSUER).did}


def authorise(story: Story, sc: Scenario) -> set[str]:
    """Steps 1 and 3 (before recording): returns the ids of the scenario's self-declared
    authorisations the authority's credential replaces (not to be recorded)."""
    if not _active(story):
        return set()
    shipper = story.node(SHIPPER).did
    own = [a for a in sc.authorisations if a["holder"] == shipper and a["material"] == MATERIAL]
    n, kg = _shipped(sc, shipper)
    if not own or not n:
        raise InvariantViolation(f"the scenario's recycler ships no {MATERIAL}", rule="demo.authority")
    declared = own[0]
    role = _role(story)
    subject = {
        "id": shipper,
        "authorisationId": AUTHORISATION_ID,
        "materials": [MATERIAL],
        "destinations": sorted(declared["destinations"]),
        "capKg": math.ceil(kg * 1.25),
        "periodStart": declared["valid_from"],
        "periodEnd": declared["valid_to"],
        "instrument": INSTRUMENT,
    }
    body = {"type": CTYPE, "subject": subject, "format": "vc+jwt"}
    issued = story.call("POST", AUTHORITY, "/v1/credentials/issue", json=body, expect=(201,)).json()
    path = "/v1/ledger/authorisations/credentials"
    held = story.call("POST", SHIPPER, path, json={"credential": issued["credential"]}, expect=(201,)).json()
    story.artefact(None, "ledger/authority-authorisation.json", {"credential": issued, "held": held})
    # the same authorisation from the certifier — trusted, but not as an authority — authorises nothing
    forged = story.call("POST", ROLE_ISSUER, "/v1/credentials/issue", json=body, expect=(201,)).json()
    refused = story.call("POST", SHIPPER, path, json={"credential": forged["credential"]}, expect=(400,)).json()
    if not str(refused.get("rule", "")).startswith("ledger.authorisation.authority"):
        raise InvariantViolation(f"an untrusted authorisation was refused otherwise: {refused}", rule="demo.authority")
    story.shared["authority"] = {
        "role": role,
        "issued": [issued["id"]],
        "held": held,
        "shipments": n,
        "replaces": declared["id"],
        "refused": [
            {
                "issuer": story.node(ROLE_ISSUER).did,
                "status": 400,
                "rule": refused["rule"],
                "field": refused["field"],
            }
        ],
    }
    return {str(declared["id"])}


def report(story: Story, flows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Step 4: ``story.authority`` (empty without an authority)."""
    done = story.shared.get("authority")
    if not done:
        return {}
    held = done["held"]
    records = story.call("GET", SHIPPER, "/v1/ledger/authorisations").json()
    mine = next(r for r in records if r["id"] == held["id"])
    named = [f for f in flows if f["evidence"].get("material") == MATERIAL]
    if mine["kind"] != "credential" or mine["used_kg"] <= 0 or named:
        raise InvariantViolation(
            f"the authority's authorisation did not cover the {MATERIAL} shipments: {mine}, alerts {named}",
            rule="demo.authority",
        )
    return {
        "node": AUTHORITY,
        "did": story.node(AUTHORITY).did,
        "role": done["role"],
        "authorisations_issued": len(done["issued"]),
        "authorisations_verified": sum(1 for r in records if r["kind"] == "credential"),
        "authorisations_self_declared": sum(1 for r in records if r["self_declared"]),
        "authorisations_refused": done["refused"],
        "authorised": [
            {
                "id": mine["id"],
                "holder_node": SHIPPER,
                "credential_id": mine["credential_id"],
                "materials": mine["materials"],
                "destinations": mine["destinations"],
                "rule": "node.controlled-materials",
                "shipments": done["shipments"],
                "used_kg": round(mine["used_kg"], 3),
                "cap_kg": mine["cap_kg"],
                "replaces_self_declared": done["replaces"],
            }
        ],
    }
