"""Web figures (docs/benchmarks.md):

- ``web.console_dashboard_p50_ms``: GET of the console's dashboard (``/console/``) by a signed-in
  user, over HTTPS on loopback with keep-alive: the session looked up, the passports counted by
  status, the lots counted, the ledger's outflow and double-claim alerts gathered with where each
  stands, the last ten audit entries, the page rendered in Japanese. The data is the demo's
  scale: the scenario's ledger (its shipments recorded without their authorisations, so each is
  an outflow alert), a few passports, one acknowledged alert and the sign-in's audit entries.
- Printed next to it, measured in the same run on the same server and connection, interleaved
  request by request: ``floor_static_ms``, the p50 of a small static asset of the same app (TLS,
  HTTP and the middleware with no page work) — the part of the figure no console code can remove.

The app is the console of the web tests (``tests/unit/web/console_testkit.py``), served by uvicorn
in a thread of this process (TLS with a federation CA from ``batpass.trust``). Progress on stderr,
figures on stdout.
"""

from __future__ import annotations

import json
import re
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
sys.path.insert(0, str(ROOT / "tests" / "unit" / "web"))

#: a Japanese reader's browser
BROWSER = {"Accept": "text/html", "Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}
LOTS = 60  # the scenario at the demo's scale


def _serve(folder: Path, app: Any) -> tuple[Any, threading.Thread, str, Path]:
    import uvicorn

    from batpass.trust import init_ca, issue_node_certificate

    ca = init_ca(folder / "ca")
    cert, key = issue_node_certificate(ca, folder / "tls", hosts=["127.0.0.1", "localhost"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"https://127.0.0.1:{port}", ca.cert_path


def main(n: int = 500) -> None:
    from console_testkit import MIGRATIONS, PASSWORD, make_console

    from batpass.accounts import AlertState
    from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
    from batpass.store import make_engine, upgrade
    from batpass.trust import client_ssl_context

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'node.db'}")
        upgrade(engine, [STORE_MIGRATIONS, *MIGRATIONS])
        node = make_console(engine, lots=LOTS)
        alerts = node.ledger.outflows()
        node.accounts.set_alert_state(
            "otto", f"outflow:{alerts[0]['owner']}:{alerts[0]['id']}", AlertState.ACKNOWLEDGED, "on it"
        )
        server, thread, base, ca = _serve(folder, node.app)
        samples: list[float] = []
        floors: list[float] = []
        try:
            with httpx.Client(base_url=base, verify=client_ssl_context(ca), headers=BROWSER) as client:
                form = client.get("/console/login")
                token = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert token is not None
                r = client.post("/console/login", data={"name": "otto", "password": PASSWORD, "csrf": token[1]})
                assert r.status_code == 303, r.text
                page = client.get("/console/")
                assert page.status_code == 200 and "ダッシュボード" in page.text, page.text[:300]
                for _ in range(50):
                    client.get("/console/").raise_for_status()
                    client.get("/static/pages/landing.js").raise_for_status()
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = client.get("/console/")
                    t1 = time.perf_counter()
                    r.raise_for_status()
                    f = client.get("/static/pages/landing.js")
                    t2 = time.perf_counter()
                    f.raise_for_status()
                    samples.append((t1 - t0) * 1000)
                    floors.append((t2 - t1) * 1000)
        finally:
            server.should_exit = True
            thread.join(timeout=5)
            engine.dispose()
        p50, floor = statistics.median(samples), statistics.median(floors)
        print(f"console dashboard p50 {p50:.2f} ms, floor {floor:.2f} ms", file=sys.stderr)
        print(
            json.dumps(
                {
                    "figure": "web.console_dashboard_p50_ms",
                    "value": round(p50, 3),
                    "unit": "ms",
                    "params": {
                        "transport": "https loopback keep-alive",
                        "server": "uvicorn in-process thread",
                        "requests": n,
                        "store": "sqlite",
                        "language": "ja",
                        "lots": node.ledger.count_lots(),
                        "alerts": len(alerts),
                        "passports": 3,
                        "floor_static_ms": round(floor, 3),
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
