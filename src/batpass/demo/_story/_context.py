"""What every demo step receives: the running nodes, one HTTPS client trusting the federation
CA, the summary being built, the seeded scenario, and hand-offs between steps.

Hand-off keys in ``Story.shared`` (a step documents what it puts there; later steps rely on it):

- ``ledger.owner`` (str): the DID whose ledger partition holds the batteries (eu-carmaker).
- ``ledger.batteries`` (list[str]): GS1 Digital Link URIs of the scenario's batteries.
- ``ouranos.operators`` (dict[name, dict]): hub operators (operatorId, openOperatorId,
  operatorAccountId, accountPassword, did) by short name (``jp-refiner``, ``jp-cathode``,
  ``jp-cellmaker``).
- ``ouranos.cell`` (dict): the cell maker's cell part on the hub: ``traceId``, the four CFP
  values (``preProduction``, ``mainProduction``, ``preComponent``, ``mainComponent``; decimal
  strings, per cell: the cell's totals as ``GET cfp`` answers them in ``*Total``, i.e. own values
  and every part including the cathode maker's released CAM × amount), ``ghgDeclaredUnit``
  (``kgCO2e/unit``), ``dqr`` (``{"preProcessing"|"mainProcessing": {"TeR", "GeR", "TiR"}}``,
  decimal strings, emission-weighted, the hub's ``*Total`` ratings) and ``kwh_per_unit`` (float).
- ``trust.cfp_credential`` (str): the JP certifier's certified-CFP credential of that cell.
- ``footprint.pack`` (dict): the pack footprint: ``battery``, ``kg_co2e_per_kwh``, ``stages``
  (Annex II stage → kg CO2e/kWh or None), ``not_provided`` (list), and ``model``,
  ``kg_co2e_per_pack``, ``lifetime_kwh``, ``formula``, ``primary_data_share``,
  ``reference_period_end``, ``source_format``, ``document`` (the PACT v3 document served on
  eu-carmaker's PACT API, ``id`` included), ``normalised`` (the normalised footprint as JSON) and
  ``cell_document`` (the cell's PACT v3 document the hub exported).
- ``passport.ids`` (dict[str battery URI, str passport id ``urn:uuid:…``]): every battery's
  passport on eu-carmaker, the repurposed battery's new identifier included.
- ``passport.repurposed`` (dict): ``old`` and ``new`` battery URIs of the second-life battery
  (new passport linked to the old, responsibility with eu-recycler).
- ``passport.recycled`` (str): the URI of the recycled battery (its passport ended).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from batpass.core.errors import UpstreamUnavailable
from batpass.demo.harness import RunningNode
from batpass.ouranos import OuranosClient
from batpass.scenario import Scenario
from batpass.trust import client_ssl_context

__all__ = ["Story", "account_password"]

HUB = "jp-hub"


def account_password() -> str:
    """A per-run hub account password within ``LoginInputModel.accountPassword`` (8-20 of
    a-zA-Z0-9!@#$%^&*(): a letter prefix, 14 random letters and digits, a symbol and a digit)."""
    alphabet = string.ascii_letters + string.digits
    return "Db" + "".join(secrets.choice(alphabet) for _ in range(14)) + "!7"


@dataclass
class Story:
    out: Path
    nodes: dict[str, RunningNode]
    client: httpx.Client
    summary: dict[str, Any]
    console: Console
    scenario: Scenario | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    # -- addressing --------------------------------------------------------------------------
    def node(self, name: str) -> RunningNode:
        return self.nodes[name]

    def url(self, name: str, path: str) -> str:
        return self.nodes[name].base_url + path

    def admin(self, name: str) -> dict[str, str]:
        return {"X-Api-Key": self.nodes[name].admin_key}

    # -- calls -------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        name: str,
        path: str,
        *,
        admin: bool = True,
        expect: tuple[int, ...] = (200, 201, 204),
        **kw: Any,
    ) -> httpx.Response:
        """One HTTPS request to a node; an unexpected status stops the story with the answer."""
        headers = dict(kw.pop("headers", {}) or {})
        if admin:
            headers.update(self.admin(name))
        resp = self.client.request(method, self.url(name, path), headers=headers, **kw)
        if resp.status_code not in expect:
            raise UpstreamUnavailable(
                f"{method} {name}{path} answered {resp.status_code}: {resp.text[:1500]}",
                rule="the demo story expects this call to succeed",
            )
        return resp

    # -- the Ouranos hub's published API -------------------------------------------------------
    def hub_api_key(self) -> str:
        """The hub's application API key (the ouranos step puts it in ``summary.json``)."""
        entry = next(n for n in self.summary["nodes"] if n["name"] == HUB)
        return str(entry["ouranos"]["api_key"])

    @contextlib.contextmanager
    def ouranos(self, short: str) -> Iterator[OuranosClient]:
        """Hub operator ``short`` (``ouranos.operators``) logged in on the hub's published API."""
        op = self.shared["ouranos.operators"][short]
        ssl_ctx = client_ssl_context(self.out / "ca.pem")
        with httpx.Client(base_url=self.nodes[HUB].base_url, verify=ssl_ctx, timeout=httpx.Timeout(30.0)) as http:
            client = OuranosClient(http, api_key=self.hub_api_key())
            client.login(op["operatorAccountId"], op["accountPassword"])
            yield client

    # -- output ------------------------------------------------------------------------------
    def artefact(self, kind: str | None, rel_path: str, data: bytes | str | Any) -> Path:
        """Write ``DIR/rel_path`` and, with a ``kind``, list it under ``artefacts[kind]``."""
        path = self.out / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, str):
            path.write_text(data)
        else:
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        if kind is not None:
            self.summary["artefacts"].setdefault(kind, []).append(rel_path)
        return path

    @property
    def story(self) -> dict[str, Any]:
        s: dict[str, Any] = self.summary["story"]
        return s

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.story["timings_s"][step] = round(time.perf_counter() - t0, 3)
