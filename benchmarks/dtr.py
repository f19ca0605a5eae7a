"""dtr.lookup_p50_ms at 10^3 and 10^5 twins: POST /lookup/shellsByAssetLink for one partInstanceId
visible to the reading partner.

In-process (the ``TwinRegistry`` lookup use case on SQLite): the HTTPS harness ``batpass.node.harness``
is not there yet, so the figure excludes HTTP/TLS (about 0.84 ms p50 on these machines, BENCHMARKS.md).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from batpass.dataspace import MIGRATIONS_DIR, Reader, TwinRegistry
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade

READER = "BPNL000000000CNS"


def shell(i: int) -> dict[str, object]:
    ext = {
        "type": "ExternalReference",
        "keys": [{"type": "GlobalReference", "value": READER if i % 2 else "BPNL000000000OTH"}],
    }
    return {
        "id": f"urn:uuid:shell-{i}",
        "globalAssetId": f"urn:uuid:cx-{i}",
        "specificAssetIds": [
            {"name": "partInstanceId", "value": f"SN-{i:07d}", "externalSubjectId": ext},
            {"name": "manufacturerPartId", "value": f"MPN-{i % 50}"},
        ],
        "submodelDescriptors": [],
    }


def measure(twins: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-dtr-"))
    engine = make_engine(f"sqlite:///{folder / 'dtr.db'}")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    reg = TwinRegistry(engine, verifier=None)  # type: ignore[arg-type]
    print(f"registering {twins} twins", file=sys.stderr)
    for start in range(0, twins, 5000):
        reg.bulk_create([shell(i) for i in range(start, min(twins, start + 5000))])
    rnd = random.Random(7)
    who = Reader(bpnl=READER)
    samples = []
    for _ in range(300):
        i = rnd.randrange(twins // 2) * 2 + 1
        t0 = time.perf_counter()
        out = reg.lookup([{"name": "partInstanceId", "value": f"SN-{i:07d}"}], who, limit=None, cursor=None)
        samples.append((time.perf_counter() - t0) * 1000)
        assert out["result"] == [f"urn:uuid:shell-{i}"]
    engine.dispose()
    return statistics.median(samples[20:])


def main() -> None:
    for twins in (1_000, 100_000):
        value = measure(twins)
        print(
            json.dumps(
                {
                    "figure": "dtr.lookup_p50_ms",
                    "value": round(value, 3),
                    "unit": "ms",
                    "params": {
                        "twins": twins,
                        "store": "sqlite",
                        "transport": "in-process (service call; not over HTTPS yet)",
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
