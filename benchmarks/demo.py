"""demo.wall_s: the whole demo (`batpass demo --no-serve`) from start to exit, the virtual
environment already set up (docs/benchmarks.md). Medians of --runs runs (default 3); the demo's own
output goes to standard error."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    walls: list[float] = []
    summary: dict[str, object] = {}
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="batpass-bench-demo-") as tmp:
            out = Path(tmp) / "out"
            env = dict(os.environ, BATPASS_HOME=str(Path(tmp) / "home"))
            env.pop("BATPASS_DEMO_STEPS", None)
            t0 = time.perf_counter()
            p = subprocess.run(
                [sys.executable, "-m", "batpass", "demo", "--no-serve", "--out", str(out)],
                env=env,
                stdout=sys.stderr,
                stderr=sys.stderr,
            )
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"demo run {i + 1} failed with exit code {p.returncode}")
            summary = json.loads((out / "summary.json").read_text())
            walls.append(wall)
            print(f"run {i + 1}: {wall:.1f} s", file=sys.stderr)
    batteries = summary.get("batteries", [])
    steps = summary.get("story", {}).get("timings_s", {})  # type: ignore[union-attr]
    print(
        json.dumps(
            {
                "figure": "demo.wall_s",
                "value": round(statistics.median(walls), 2),
                "unit": "s",
                "params": {
                    "batteries": len(batteries) if isinstance(batteries, list) else None,
                    "nodes": len(summary.get("nodes", [])),  # type: ignore[arg-type]
                    "runs": args.runs,
                    "steps_s": steps,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
