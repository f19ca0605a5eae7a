"""demo.wall_s: the whole demo (`batpass demo --no-serve`) from start to exit, the virtual
environment already set up (docs/benchmarks.md). Medians of --runs runs (default 3); the demo's own
output goes to standard error. ``params.cpu_s`` is the CPU time (user + system) of the demo and
every node it started, which a loaded machine does not inflate as it does the wall time;
``params.stop_s`` the wall time from the complete ``summary.json`` (written just before the demo
stops its nodes) to the demo's exit: stopping the nodes.

``--start fork,spawn`` interleaves runs of the demo with its nodes forked from the demo process
(the default) and spawned as ``batpass serve`` processes (``BATPASS_NODE_START=spawn``, the way
before forking), one figure line per way."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--start", default="fork", help="comma-separated: fork (default), spawn")
    args = ap.parse_args()
    starts = [s for s in args.start.split(",") if s]
    walls: dict[str, list[float]] = {s: [] for s in starts}
    cpus: dict[str, list[float]] = {s: [] for s in starts}
    started: dict[str, list[float]] = {s: [] for s in starts}
    stops: dict[str, list[float]] = {s: [] for s in starts}
    summaries: dict[str, dict[str, Any]] = {}
    for i in range(args.runs):
        for start in starts:
            wall, cpu, stop, summaries[start] = _run_once(start)
            stops[start].append(stop)
            walls[start].append(wall)
            cpus[start].append(cpu)
            started[start].append(float(summaries[start]["story"]["timings_s"]["start_nodes"]))
            print(f"run {i + 1} ({start}): {wall:.1f} s, {cpu:.1f} s CPU", file=sys.stderr)
    for start in starts:
        summary = summaries[start]  # the last run's: its batteries, nodes and steps
        batteries = summary.get("batteries", [])
        steps = summary.get("story", {}).get("timings_s", {})
        print(
            json.dumps(
                {
                    "figure": "demo.wall_s",
                    "value": round(statistics.median(walls[start]), 2),
                    "unit": "s",
                    "params": {
                        "batteries": len(batteries) if isinstance(batteries, list) else None,
                        "nodes": len(summary.get("nodes", [])),
                        "runs": args.runs,
                        "node_start": start,
                        "cpu_s": round(statistics.median(cpus[start]), 2),
                        "start_nodes_s": round(statistics.median(started[start]), 2),
                        "stop_s": round(statistics.median(stops[start]), 2),
                        "walls_s": [round(w, 1) for w in walls[start]],
                        "steps_s": steps,
                    },
                }
            )
        )


def _run_once(start: str) -> tuple[float, float, float, dict[str, Any]]:
    """One demo run: its wall time, its CPU time (the demo and the nodes it reaped), the time it
    took to stop its nodes (from the last write of ``summary.json`` to its exit) and summary."""
    with tempfile.TemporaryDirectory(prefix="batpass-bench-demo-") as tmp:
        out = Path(tmp) / "out"
        env = dict(os.environ, BATPASS_HOME=str(Path(tmp) / "home"), BATPASS_NODE_START=start)
        env.pop("BATPASS_DEMO_STEPS", None)
        t0 = time.perf_counter()
        c0 = _children_cpu()
        p = subprocess.run(
            [sys.executable, "-m", "batpass", "demo", "--no-serve", "--out", str(out)],
            env=env,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        wall = time.perf_counter() - t0
        exited = time.time()
        cpu = _children_cpu() - c0  # the demo has reaped its nodes: their CPU counts
        if p.returncode != 0:
            sys.exit(f"demo run ({start}) failed with exit code {p.returncode}")
        stop = exited - (out / "summary.json").stat().st_mtime
        summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
        return wall, cpu, stop, summary


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
