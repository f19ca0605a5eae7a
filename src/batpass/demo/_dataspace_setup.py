"""Catena-X membership on running nodes, over their HTTPS APIs: the operator signs a trust list
naming itself as issuer of ``MembershipCredential`` and ``DataExchangeGovernanceCredential``;
every node stores it and receives a membership credential naming its BPNL
(``holderIdentifier``), so DCP verification passes between them (as the demo's trust step does),
and — unless left out — the framework-agreement credential (Data Exchange Governance 1.0) that
CX-0152 ``FrameworkAgreement`` constraints ask for. Shared by integration tests and benchmarks.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from batpass.core.clock import utc_now
from batpass.core.errors import UpstreamUnavailable
from batpass.demo._sites import register_mine_sites
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.scenario import Scenario, generate

__all__ = [
    "DATA_EXCHANGE_GOVERNANCE",
    "SUPPLY_CHAIN_NODES",
    "SupplyChain",
    "catenax_memberships",
    "framework_subject",
    "operator_config",
    "supply_chain_federation",
]

#: the Catena-X framework-agreement credential type (CX-0050) and the agreement it attests
DATA_EXCHANGE_GOVERNANCE = "DataExchangeGovernanceCredential"
_GOVERNANCE_URL = "https://catenax-ev.github.io/docs/regulatory-framework/20000ft/data-exchange-governance"

#: the six nodes of the federated supply chain, downstream last, with the companies each records
SUPPLY_CHAIN_NODES: dict[str, tuple[str, ...]] = {
    "mining": (
        "atacama-lithium",
        "pilbara-spodumene",
        "katanga-cobalt",
        "kolwezi-artisanal",
        "sulawesi-nickel",
        "cabo-graphite",
        "kalahari-manganese",
    ),
    "refining": ("jiangxi-refining", "zhejiang-cobalt", "niihama-refining"),
    "precursor": ("kansai-precursor",),
    "cathode": ("tokai-cathode",),
    "cells": ("osaka-cells",),
    "pack": ("rhein-auto",),
}


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def operator_config(operator_index: int = 0) -> Callable[[list[RunningNode]], None]:
    """A ``configure`` hook for ``federation``: every node trusts the Catena-X trust lists signed
    by the node at ``operator_index``."""

    def configure(runs: list[RunningNode]) -> None:
        for r in runs:
            r.node.config.extra["trust_operators"] = {"catena-x": runs[operator_index].did}

    return configure


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code != 201:
        raise UpstreamUnavailable(f"{what}: HTTP {r.status_code} {r.text[:500]}", rule="catena-x membership setup")


def framework_subject(did: str, bpnl: str | None, *, version: str = "1.0") -> dict[str, Any]:
    """The subject of a DataExchangeGovernanceCredential (CX-0050 shape): its holder signed the
    Catena-X Data Exchange Governance ``version`` (``FrameworkAgreement eq
    DataExchangeGovernance:<version>``)."""
    return {
        "id": did,
        "holderIdentifier": bpnl,
        "group": "UseCaseFramework",
        "useCase": "DataExchangeGovernance",
        "contractTemplate": _GOVERNANCE_URL,
        "contractVersion": version,
    }


def catenax_memberships(
    home: Path,
    operator: RunningNode,
    members: Sequence[RunningNode],
    *,
    framework_holders: Sequence[RunningNode] | None = None,
) -> None:
    """Sign the trust list at ``operator`` and give every member (the operator too, if listed) the
    trust list and a MembershipCredential for its BPNL; the ``framework_holders`` (default: every
    member) also get a DataExchangeGovernanceCredential, so they can agree to offers whose usage
    policy requires ``FrameworkAgreement eq DataExchangeGovernance:1.0``. An operator with the
    ``discovery`` profile also writes each member's BPNL → DID in its BPN-DID directory."""
    holders = {n.did for n in (members if framework_holders is None else framework_holders)}
    now = utc_now()
    trust_list = {
        "trustListVersion": "1.0",
        "ecosystem": "catena-x",
        "operator": operator.did,
        "sequence": 1,
        "issuedAt": _iso(now),
        "nextUpdate": _iso(now + dt.timedelta(days=30)),
        "issuers": [
            {
                "did": operator.did,
                "name": "Catena-X operator",
                "credentialTypes": [DATA_EXCHANGE_GOVERNANCE, "MembershipCredential"],
                "validFrom": _iso(now - dt.timedelta(days=1)),
                "validUntil": _iso(now + dt.timedelta(days=30)),
            }
        ],
    }
    ctx = ssl.create_default_context(cafile=str(federation_ca(home)))
    with httpx.Client(verify=ctx, timeout=30) as c:
        r = c.post(operator.base_url + "/v1/trust/lists/sign", json=trust_list, headers=operator.admin_headers())
        _check(r, "sign trust list")
        jws = r.json()["jws"]
        for node in members:
            r = c.post(
                node.base_url + "/v1/trust/lists",
                json={"ecosystem": "catena-x", "jws": jws},
                headers=node.admin_headers(),
            )
            _check(r, f"trust list at {node.name}")
            subject = {
                "id": node.did,
                "memberOf": "catena-x",
                "holderIdentifier": node.node.config.bpnl,
                "since": _iso(now),
            }
            body = {"type": "MembershipCredential", "subject": subject, "format": "vc+jwt"}
            r = c.post(operator.base_url + "/v1/credentials/issue", json=body, headers=operator.admin_headers())
            _check(r, f"membership of {node.name}")
            r = c.post(
                node.base_url + "/v1/credentials/wallet",
                json={"credential": r.json()["credential"]},
                headers=node.admin_headers(),
            )
            _check(r, f"wallet of {node.name}")
            if "discovery" in operator.node.config.profiles and node.node.config.bpnl:
                # the operator's BPN-DID directory names every member it onboards
                mapping = {"bpn": node.node.config.bpnl, "did": node.did}
                r = c.post(
                    operator.base_url + "/api/management/bpn-directory", json=mapping, headers=operator.admin_headers()
                )
                if r.status_code not in (204, 409):
                    raise UpstreamUnavailable(
                        f"directory entry of {node.name}: HTTP {r.status_code} {r.text[:300]}",
                        rule="catena-x onboarding",
                    )
            if node.did not in holders:
                continue
            subject = framework_subject(node.did, node.node.config.bpnl)
            body = {"type": DATA_EXCHANGE_GOVERNANCE, "subject": subject, "format": "vc+jwt"}
            r = c.post(operator.base_url + "/v1/credentials/issue", json=body, headers=operator.admin_headers())
            _check(r, f"framework agreement of {node.name}")
            r = c.post(
                node.base_url + "/v1/credentials/wallet",
                json={"credential": r.json()["credential"]},
                headers=node.admin_headers(),
            )
            _check(r, f"framework agreement in the wallet of {node.name}")


@dataclass
class SupplyChain:
    """Running supply-chain nodes by role and the scenario recorded on them."""

    home: Path
    nodes: dict[str, RunningNode]
    scenario: Scenario

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(self.home))), timeout=60)


@contextmanager
def supply_chain_federation(
    home: Path, *, lots: int = 10, seed: int = 7, prefix: str = "fed", prenegotiate: bool = True
) -> Iterator[SupplyChain]:
    """Start the six supply-chain nodes over HTTPS (mines → refining → precursor → cathode →
    cells → pack), make them Catena-X members (the cell node operates the trust list, so the
    pack node holds nothing naming a node above it), register the mines in the mining node's site
    register with the synthetic CAHRA sample, and record the scenario's events on the node
    owning each company. Stops them on exit. ``prenegotiate=False`` starts them without the
    background job that opens their channels ahead of the first question (config extra
    ``federation_prenegotiate``)."""
    specs = [
        NodeSpec(f"{prefix}-{role}", ("catena-x",), legal_name=f"{role} node", bpnl=f"BPNL00000000{i:03d}F")
        for i, role in enumerate(SUPPLY_CHAIN_NODES)
    ]
    roles = list(SUPPLY_CHAIN_NODES)
    trust_operator = operator_config(roles.index("cells"))

    def configure(runs: list[RunningNode]) -> None:
        trust_operator(runs)
        for r in runs:
            r.node.config.extra["federation_prenegotiate"] = prenegotiate

    with federation(home, specs, configure=configure) as runs:
        by_role = dict(zip(roles, runs, strict=True))
        catenax_memberships(home, by_role["cells"], runs)
        owners = {code: by_role[role].did for role, codes in SUPPLY_CHAIN_NODES.items() for code in codes}
        pack = by_role["pack"]
        sc = generate(lots=lots, seed=seed, owners=owners, resolver=pack.base_url)
        chain = SupplyChain(home, by_role, sc)
        with chain.client() as c:
            register_mine_sites(c, by_role["mining"])  # flags the artisanal cobalt site (CAHRA sample)
            for run in runs:
                events: list[dict[str, Any]] = [e for e in sc.events if e["owner"] == run.did]
                r = c.post(run.base_url + "/v1/ledger/events", json=events, headers=run.admin_headers())
                if r.status_code not in (200, 201):
                    raise UpstreamUnavailable(
                        f"recording at {run.name}: HTTP {r.status_code} {r.text[:500]}", rule="scenario recording"
                    )
        yield chain
