"""Passport figures (docs/benchmarks.md):

- ``passport.build_sign_store_per_s``: build + sign (Ed25519 JWS, chained) + store + enqueue the
  backup copy, per battery, upstream summaries precomputed, on a fresh SQLite store;
- ``passport.public_page_p50_ms``: GET of the resolver URL as a browser (HTML, public tier) over
  HTTPS on loopback with keep-alive. The node app does not mount the passport router yet, so the
  passport router runs in its own uvicorn server (TLS with a federation CA from
  ``batpass.trust``), in this process's thread; the client is httpx over a real socket. As on a
  node, the pages' language middleware (``batpass.web.PageLocale``) runs on every request, and the
  client asks for Japanese (``Accept-Language``), so the translated page is what is timed.

Progress on stderr, figures on stdout.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "passport"))


def _service(folder: Path) -> Any:
    from passport_testkit import OPERATOR, make_service

    from batpass.compliance import load_ruleset
    from batpass.core.clock import FixedClock
    from batpass.passport import MIGRATIONS_DIR, PassportRules
    from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
    from batpass.store import make_engine, upgrade
    from batpass.trust import NodeIdentity, generate_keypair

    engine = make_engine(f"sqlite:///{folder / 'passport.db'}")
    upgrade(engine, [STORE_MIGRATIONS, MIGRATIONS_DIR])
    identity = NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")])
    return make_service(
        engine, identity, PassportRules.from_ruleset(load_ruleset()), FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    )


def bench_build(folder: Path, n: int = 2000) -> tuple[float, Any, Any]:
    from passport_testkit import EXAMPLE, ITEM, make_summary

    from batpass.core.ids import BatteryId
    from batpass.ledger import decode_summary
    from batpass.passport import load_static_product_data

    svc = _service(folder)
    static = load_static_product_data(EXAMPLE)
    batteries = [BatteryId("04012345000009", f"B{i:06d}") for i in range(n)]
    # precomputed, through the ledger's summary codec (the trace is measured elsewhere)
    summaries = [decode_summary(make_summary(b)) for b in batteries]
    rates = []
    chunk = n // 4
    for r in range(4):
        start = time.perf_counter()
        for b, s in zip(batteries[r * chunk : (r + 1) * chunk], summaries[r * chunk : (r + 1) * chunk], strict=True):
            svc.build(static, b, item=ITEM, summary=s)
        rates.append(chunk / (time.perf_counter() - start))
        print(f"build run {r + 1}: {rates[-1]:.0f} passports/s", file=sys.stderr)
    return statistics.median(rates), svc, batteries[0]


#: a Japanese reader's browser: the page is served translated
BROWSER = {"Accept": "text/html", "Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}


def bench_page(folder: Path, svc: Any, battery: Any, n: int = 1000) -> float:
    import uvicorn
    from passport_testkit import make_app

    from batpass.trust import client_ssl_context, init_ca, issue_node_certificate
    from batpass.web import PageLocale

    ca = init_ca(folder / "ca")
    cert, key = issue_node_certificate(ca, folder / "tls", hosts=["127.0.0.1", "localhost"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(svc)
    app.add_middleware(PageLocale)  # as the node adds it (batpass.web.mount_public_pages)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"https://127.0.0.1:{port}{battery.path}"
    samples: list[float] = []
    with httpx.Client(verify=client_ssl_context(ca.cert_path), headers=BROWSER) as client:
        for _ in range(50):
            client.get(url).raise_for_status()
        for _ in range(n):
            start = time.perf_counter()
            r = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
    server.should_exit = True
    thread.join(timeout=5)
    p50 = statistics.median(samples)
    print(f"public page p50 {p50:.2f} ms (p90 {statistics.quantiles(samples, n=10)[-1]:.2f} ms)", file=sys.stderr)
    return p50


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rate, svc, battery = bench_build(folder)
        print(
            json.dumps(
                {
                    "figure": "passport.build_sign_store_per_s",
                    "value": round(rate, 1),
                    "unit": "passports/s",
                    "params": {"store": "sqlite", "passports": 2000, "summaries": "precomputed"},
                }
            )
        )
        p50 = bench_page(folder, svc, battery)
        print(
            json.dumps(
                {
                    "figure": "passport.public_page_p50_ms",
                    "value": round(p50, 3),
                    "unit": "ms",
                    "params": {
                        "transport": "https loopback keep-alive",
                        "server": "uvicorn in-process thread",
                        "requests": 1000,
                        "store": "sqlite",
                        "language": "ja",
                    },
                }
            )
        )
        svc.engine.dispose()


if __name__ == "__main__":
    main()
