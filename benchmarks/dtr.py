"""dtr.lookup_p50_ms at 10^3 and 10^5 twins, over HTTPS on loopback with keep-alive (docs/benchmarks.md).

A real provider node is started with the harness (``batpass serve`` in its own process, TLS from
the federation CA) after its twins were written straight into its store (``TwinRegistry.bulk_create``
on the node's own database, before it starts: loading 10^5 twins through the API would measure the
loading). One ``httpx.Client`` with one SSL context, reused (keep-alive), then asks
``GET /api/v3/lookup/shells?assetIds=<base64url {name: partInstanceId, value}>`` for random twins;
the p50 is over ``REQUESTS`` timed requests after a warm-up. Every answer is checked (the one
expected shell id). ``description_p50_ms`` in the params is the same node's trivial
``GET /api/v3/description``, timed alternately with the lookups: HTTPS and the framework at that
moment, so the registry's own share can be read off on a busy machine.

The reader is the node's owner (``X-Api-Key``): a partner's read is verified through DCP on every
request (its self-issued token, its DID, a presentation query to its credential service and the
membership's verification), a cost of the trust layer, not of the registry, that would hide the
lookup. ``lookup_as`` says so in the params. Each twin still carries the visibility rows of a
partner (``externalSubjectId``), so the index holds what a real registry holds.

Progress on stderr, figures on stdout.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from batpass.dataspace import TwinRegistry
from batpass.demo.harness import NodeSpec, federation, federation_ca, start_node, stop_node
from batpass.trust import client_ssl_context

PARTNERS = ("BPNL000000000CNS", "BPNL000000000OTH")
REQUESTS = 2000
WARMUP = 200
CHUNK = 5000


def shell(i: int) -> dict[str, Any]:
    """A battery twin: its serial visible to one of two partners, its part number public."""
    ext = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": PARTNERS[i % 2]}]}
    public = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "PUBLIC_READABLE"}]}
    return {
        "id": f"urn:uuid:shell-{i}",
        "idShort": f"battery_{i}",
        "globalAssetId": f"urn:uuid:cx-{i}",
        "assetKind": "Instance",
        "specificAssetIds": [
            {"name": "partInstanceId", "value": f"SN-{i:07d}", "externalSubjectId": ext},
            {"name": "manufacturerPartId", "value": f"MPN-{i % 50}", "externalSubjectId": public},
        ],
        "submodelDescriptors": [],
    }


def _asset_ids(i: int) -> str:
    link = json.dumps({"name": "partInstanceId", "value": f"SN-{i:07d}"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(link.encode()).decode().rstrip("=")


def measure(twins: int) -> tuple[float, float]:
    """(lookup p50, p50 of the same node's trivial ``GET /api/v3/description``) in ms: the two are
    timed alternately on the one connection, so the second shows what HTTPS and the framework
    cost at that moment (the machine is shared; the difference is the registry's own work)."""
    home = Path(tempfile.mkdtemp(prefix="bench-dtr-"))
    try:
        specs = [NodeSpec("dtr-bench", ("catena-x",), legal_name="registry bench", bpnl="BPNL000000000PRV")]
        with federation(home, specs, start=False) as (run,):
            reg = TwinRegistry(run.node.engine, verifier=None)  # type: ignore[arg-type]  # owner writes only
            t0 = time.perf_counter()
            for start in range(0, twins, CHUNK):
                reg.bulk_create([shell(i) for i in range(start, min(twins, start + CHUNK))])
            print(f"{twins} twins stored in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            run.node.close()
            start_node(run, timeout=60)
            lookup, floor = run.base_url + "/api/v3/lookup/shells", run.base_url + "/api/v3/description"
            rnd = random.Random(7)
            samples: list[float] = []
            floors: list[float] = []
            ctx = client_ssl_context(federation_ca(home))
            with httpx.Client(verify=ctx, headers=run.admin_headers(), timeout=10) as client:
                for n in range(WARMUP + REQUESTS):
                    i = rnd.randrange(twins)
                    t1 = time.perf_counter()
                    r = client.get(lookup, params={"assetIds": _asset_ids(i)})
                    t2 = time.perf_counter()
                    if r.status_code != 200 or r.json()["result"] != [f"urn:uuid:shell-{i}"]:
                        raise SystemExit(f"unexpected answer for twin {i}: {r.status_code} {r.text[:300]}")
                    t3 = time.perf_counter()
                    d = client.get(floor)
                    t4 = time.perf_counter()
                    if d.status_code != 200:
                        raise SystemExit(f"GET /api/v3/description: {d.status_code}")
                    if n >= WARMUP:
                        samples.append((t2 - t1) * 1000)
                        floors.append((t4 - t3) * 1000)
            stop_node(run)
        return statistics.median(samples), statistics.median(floors)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    for twins in (1_000, 100_000):
        value, floor = measure(twins)
        print(
            json.dumps(
                {
                    "figure": "dtr.lookup_p50_ms",
                    "value": round(value, 3),
                    "unit": "ms",
                    "params": {
                        "twins": twins,
                        "transport": "https",
                        "keep_alive": True,
                        "store": "sqlite",
                        "request": "GET /api/v3/lookup/shells?assetIds=partInstanceId",
                        "lookup_as": "owner (X-Api-Key); partner reads add a DCP verification",
                        "requests": REQUESTS,
                        "description_p50_ms": round(floor, 3),
                    },
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
