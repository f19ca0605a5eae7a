"""An Item Relationship Service-like walker: it imports nothing from batpass and speaks HTTP only
(httpx), as Tractus-X IRS does.

Given a part's identifier it asks the operator's discovery finder for the BPN discovery and EDC
discovery services, the BPN discovery for the BPNLs holding a twin of the part, the EDC
discovery and the BPN-DID directory (BDRS) for each BPNL's connector and DID, and the DID
document for the DSP endpoint and participant id; then, through its own connector's EDC
management API (``/management/v3``: catalog → ``/edrs`` negotiation and transfer → the EDR's
data address), it reads the partner's digital twin registry (an asset of ``dct:type``
``DigitalTwinRegistry``, read through the data plane), finds the twin, and pulls each Industry
Core submodel the twin lists (``subprotocolBody`` ``id=<asset>;dspEndpoint=<DSP URL>``), validating
every aspect against its JSON schema. It follows SingleLevelBomAsBuilt children (one level down)
to the suppliers' twins — found by ``globalAssetId`` in the supplier's registry — as deep as the
releases, entitlements and offers allow, and records why each branch stopped.

Run: ``python walker.py CONFIG.json`` (prints the result as JSON). CONFIG keys: ``ca`` (PEM path),
``finder`` (discovery finder URL), ``bdrs`` (BPN directory URL), ``token`` (the bearer the
discovery services and the BDRS accept: the walker's member token), ``management`` (``url``,
``key``: the walker's connector), ``part`` (``{type, key}``: the identifier to start from),
``schemas`` (semantic id → JSON schema path), ``max_depth``.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import jsonschema

EDC = "https://w3id.org/edc/v0.0.1/ns/"
BOM = "io.catenax.single_level_bom_as_built"
PROTOCOL = "dataspace-protocol-http:2025-1"


class Walker:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.http = httpx.Client(verify=cfg["ca"], timeout=60)
        self.mgmt = cfg["management"]["url"].rstrip("/") + "/v3"
        self.key = {"X-Api-Key": cfg["management"]["key"]}
        self.bearer = {"Authorization": f"Bearer {cfg['token']}"}
        self.schemas = {k: json.loads(Path(v).read_text(encoding="utf-8")) for k, v in cfg["schemas"].items()}
        self.edrs: dict[tuple[str, str], dict[str, Any]] = {}
        self.catalogs: dict[str, list[dict[str, Any]]] = {}
        self.connectors: dict[str, tuple[str, str] | None] = {}
        self.calls: list[str] = []

    # -- discovery ------------------------------------------------------------------------------

    def _post(self, url: str, body: Any, headers: dict[str, str]) -> Any:
        self.calls.append(f"POST {url}")
        r = self.http.post(url, json=body, headers=headers)
        if r.is_error:  # the answer says why: keep it in the failure
            raise SystemExit(f"POST {url} -> {r.status_code}: {r.text[:2000]}")
        return r.json()

    def finder(self, kind: str) -> str:
        found = self._post(self.cfg["finder"] + "/search", {"types": [kind]}, self.bearer)["endpoints"]
        return str(found[0]["endpointAddress"])

    def bpns_for(self, kind: str, key: str) -> list[str]:
        body = {"searchFilter": [{"type": kind, "keys": [key]}]}
        return sorted({b["value"] for b in self._post(self.finder(kind) + "/search", body, self.bearer)["bpns"]})

    def did_of(self, bpn: str) -> str | None:
        self.calls.append(f"GET {self.cfg['bdrs']}?bpn={bpn}")
        r = self.http.get(self.cfg["bdrs"], params={"bpn": bpn}, headers=self.bearer)
        r.raise_for_status()
        raw = r.content
        doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        return doc.get(bpn)

    def connector(self, bpn: str) -> tuple[str, str] | None:
        """(DSP endpoint, participant id) of ``bpn``'s connector: EDC discovery for the endpoint,
        the BDRS for the DID, the DID document for the participant the endpoint speaks for
        (asked once per BPNL, as IRS caches its discovery answers)."""
        if bpn not in self.connectors:
            self.connectors[bpn] = self._connector(bpn)
        return self.connectors[bpn]

    def _connector(self, bpn: str) -> tuple[str, str] | None:
        found = self._post(self.finder("bpn"), [bpn], self.bearer)
        endpoints = found[0]["connectorEndpoint"] if found else []
        did = self.did_of(bpn)
        if not endpoints or did is None:
            return None
        # the EDC discovery answers the DSP base; the DID document's DataService entry (which names
        # the connector's version metadata) says whose connector it is when another party runs it
        doc = self.resolve(did)
        runs_it = [
            str(s["participantId"])
            for s in doc.get("service", [])
            if s.get("type") == "DataService" and isinstance(s.get("participantId"), str)
        ]
        return str(endpoints[0]), runs_it[0] if runs_it else did

    def resolve(self, did: str) -> dict[str, Any]:
        """did:web → ``https://host[:port]/path/did.json`` (``/.well-known/did.json`` without a path)."""
        parts = [unquote(p) for p in did.split(":")[2:]]
        path = "/".join(parts[1:]) or ".well-known"
        url = f"https://{parts[0]}/{path}/did.json"
        self.calls.append(f"GET {url}")
        r = self.http.get(url)
        r.raise_for_status()
        return dict(r.json())

    # -- the walker's connector (EDC management API) ----------------------------------------------

    def catalog(self, dsp: str, participant: str) -> list[dict[str, Any]]:
        if dsp not in self.catalogs:
            body = {
                "@context": {"@vocab": EDC},
                "@type": "CatalogRequest",
                "counterPartyAddress": dsp,
                "counterPartyId": participant,
                "protocol": PROTOCOL,
                "querySpec": {},
            }
            cat = self._post(self.mgmt + "/catalog/request", body, self.key)
            datasets = cat.get("dataset") or []
            self.catalogs[dsp] = datasets if isinstance(datasets, list) else [datasets]
        return self.catalogs[dsp]

    def edr(self, dsp: str, participant: str, dataset: dict[str, Any]) -> dict[str, Any]:
        """The data address for ``dataset`` at ``dsp``: negotiate and transfer once, then reuse."""
        key = (dsp, str(dataset["@id"]))
        if key not in self.edrs:
            offer = dataset["hasPolicy"][0]
            body = {
                "@context": ["https://w3id.org/catenax/2025/9/policy/odrl.jsonld", {"@vocab": EDC}],
                "@type": "ContractRequest",
                "counterPartyAddress": dsp,
                "counterPartyId": participant,
                "protocol": PROTOCOL,
                "policy": {
                    **{k: v for k, v in offer.items() if k not in ("@id", "@type")},
                    "@id": offer["@id"],
                    "@type": "Offer",
                    "assigner": {"@id": participant},
                    "target": {"@id": dataset["@id"]},
                },
                "callbackAddresses": [],
            }
            nid = self._post(self.mgmt + "/edrs", body, self.key)["@id"]
            query = {
                "filterExpression": [{"operandLeft": "contractNegotiationId", "operator": "=", "operandRight": nid}]
            }
            deadline = time.monotonic() + 60
            entries: list[dict[str, Any]] = []
            while not entries:
                entries = self._post(self.mgmt + "/edrs/request", query, self.key)
                if not entries:
                    state = self.http.get(f"{self.mgmt}/contractnegotiations/{nid}", headers=self.key).json()
                    if state.get("state") == "TERMINATED":
                        raise PermissionError(f"negotiation refused: {state.get('errorDetail')}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no EDR for {dataset['@id']} at {dsp}")
                    time.sleep(0.2)
            tid = entries[0]["transferProcessId"]
            self.edrs[key] = self.http.get(f"{self.mgmt}/edrs/{tid}/dataaddress", headers=self.key).json()
        return self.edrs[key]

    def data(self, address: dict[str, Any], url: str) -> httpx.Response:
        self.calls.append(f"GET {url}")
        return self.http.get(url, headers={"Authorization": address["authorization"]})

    # -- the walk ---------------------------------------------------------------------------------

    def registry(self, bpn: str) -> tuple[str, str, dict[str, Any]] | str:
        """(DSP endpoint, participant, registry data address) of ``bpn``, or why there is none."""
        conn = self.connector(bpn)
        if conn is None:
            return f"no connector of {bpn} in the discovery services"
        dsp, participant = conn
        for ds in self.catalog(dsp, participant):
            # dct:type, compacted or not, as an IRI string or {"@id": IRI}
            kinds = [v.get("@id") if isinstance(v, dict) else v for k, v in ds.items() if k.endswith("type")]
            if any(isinstance(k, str) and k.endswith("DigitalTwinRegistry") for k in kinds):
                return dsp, participant, self.edr(dsp, participant, ds)
        return f"the connector of {bpn} offers no digital twin registry to this walker"

    def twin(self, address: dict[str, Any], name: str, value: str) -> dict[str, Any] | None:
        link = base64.urlsafe_b64encode(json.dumps({"name": name, "value": value}).encode()).decode().rstrip("=")
        base = address["endpoint"].rstrip("/")
        found = self.data(address, f"{base}/lookup/shells?assetIds={quote(link)}").json().get("result") or []
        if not found:
            return None
        aas = base64.urlsafe_b64encode(found[0].encode()).decode().rstrip("=")
        return dict(self.data(address, f"{base}/shell-descriptors/{aas}").json())

    def aspects(self, twin: dict[str, Any], bpn: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Every submodel of the twin this walker knows the schema of: validated aspects by
        semantic id, and why the others could not be read."""
        got: dict[str, Any] = {}
        refused: dict[str, str] = {}
        for sm in twin.get("submodelDescriptors") or []:
            semantic = sm["semanticId"]["keys"][0]["value"]
            if semantic not in self.schemas:
                continue
            info = sm["endpoints"][0]["protocolInformation"]
            body = dict(p.split("=", 1) for p in info["subprotocolBody"].split(";"))
            conn = self.connector(bpn)
            participant = conn[1] if conn else ""
            dataset = next((d for d in self.catalog(body["dspEndpoint"], participant) if d["@id"] == body["id"]), None)
            if dataset is None:
                refused[semantic] = "not offered"
                continue
            try:
                address = self.edr(body["dspEndpoint"], participant, dataset)
            except PermissionError as exc:
                refused[semantic] = str(exc)
                continue
            r = self.data(address, info["href"])
            if r.status_code != 200:
                refused[semantic] = f"HTTP {r.status_code}"
                continue
            doc = r.json()
            jsonschema.validate(doc, self.schemas[semantic])
            got[semantic] = doc
        return got, refused

    def walk(self) -> dict[str, Any]:
        part = self.cfg["part"]
        bpns = self.bpns_for(part["type"], part["key"])
        levels: list[dict[str, Any]] = []
        stops: list[dict[str, str]] = []
        relationships: list[dict[str, Any]] = []
        frontier: list[tuple[str, str, str]] = [(bpn, part["type"], part["key"]) for bpn in bpns]
        validated = 0
        depth = 0
        for level in range(int(self.cfg.get("max_depth", 5)) + 1):
            nxt: list[tuple[str, str, str]] = []
            opened = []
            for bpn, name, value in frontier:
                reg = self.registry(bpn)
                if isinstance(reg, str):
                    stops.append({"level": str(level), "bpn": bpn, "part": value, "reason": reg})
                    continue
                _, _, address = reg
                twin = self.twin(address, name, value)
                if twin is None:
                    stops.append({"level": str(level), "bpn": bpn, "part": value, "reason": "no twin visible"})
                    continue
                got, refused = self.aspects(twin, bpn)
                validated += len(got)
                opened.append({"bpn": bpn, "globalAssetId": twin.get("globalAssetId"), "aspects": sorted(got)})
                bom = next((d for s, d in got.items() if BOM in s), None)
                if bom is None:
                    why = next((r for s, r in refused.items() if BOM in s), "no SingleLevelBomAsBuilt listed")
                    stops.append({"level": str(level), "bpn": bpn, "part": value, "reason": f"no BOM: {why}"})
                    continue
                for child in bom["childItems"]:
                    relationships.append({"level": level + 1, "parent": bom["globalAssetId"], **child})
                    nxt.append((child["businessPartner"], "globalAssetId", child["globalAssetId"]))
                    depth = max(depth, level + 1)
            levels.append({"level": level, "twins": opened})
            frontier = nxt
            if not frontier:
                break
        loaded = sorted(m for m in sys.modules if m == "batpass" or m.startswith("batpass."))
        return {
            "start": part,
            "bpns": bpns,
            "depth": depth,
            "levels": levels,
            "relationships": relationships,
            "stops": stops,
            "aspects_validated": validated,
            "batpass_modules_loaded": loaded,
        }


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(json.dumps(Walker(cfg).walk(), indent=1))


if __name__ == "__main__":
    main()
