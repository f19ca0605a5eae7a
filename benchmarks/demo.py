"""demo.wall_s: the whole demo (`batpass demo --no-serve`) from start to exit, the virtual
environment already set up (docs/benchmarks.md). Medians of --runs runs (default 3); the demo's own
output goes to standard error. ``params.cpu_s`` is the CPU time (user + system) of the demo and
every node it started, which a loaded machine does not inflate as it does the wall time;
``params.stop_s`` the wall time from the complete ``summary.json`` (written just before the demo
stops its nodes) to the demo's exit: stopping the nodes.

``--start fork,spawn`` interleaves runs of the demo with its nodes forked from the demo process
(the default) and spawned as ``batpass serve`` processes (``BATPASS_NODE_START=spawn``, the way
before forking), one figure line per way.

``--per-process`` also reads, every 0.2 s from ``/proc``, the CPU time (user + system) of the demo
process and of each process it started (a node named by the home of its ``serve.log``), and
attributes what each used since the last reading to the step then running (``start``: until
``summary.json`` records ``start_nodes``; then the story's steps in order, each until
``summary.json`` records its time; ``stop``: after the last): ``params.cpu_by_step_s`` (step → process
→ seconds, the last run's; readings under 0.05 s left out) and ``params.cpu_by_process_s``. Linux only;
what a process used after the last reading before it exited is not counted (the stop)."""

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

from batpass.demo._run import STEPS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--start", default="fork", help="comma-separated: fork (default), spawn")
    ap.add_argument("--per-process", action="store_true", help="CPU per step and process from /proc")
    args = ap.parse_args()
    starts = [s for s in args.start.split(",") if s]
    walls: dict[str, list[float]] = {s: [] for s in starts}
    cpus: dict[str, list[float]] = {s: [] for s in starts}
    started: dict[str, list[float]] = {s: [] for s in starts}
    stops: dict[str, list[float]] = {s: [] for s in starts}
    summaries: dict[str, dict[str, Any]] = {}
    per_step: dict[str, dict[str, dict[str, float]]] = {}
    for i in range(args.runs):
        for start in starts:
            wall, cpu, stop, summaries[start], per_step[start] = _run_once(start, per_process=args.per_process)
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
                        **(_per_process(per_step[start]) if args.per_process else {}),
                    },
                }
            )
        )


def _run_once(
    start: str, *, per_process: bool = False
) -> tuple[float, float, float, dict[str, Any], dict[str, dict[str, float]]]:
    """One demo run: its wall time, its CPU time (the demo and the nodes it reaped), the time it
    took to stop its nodes (from the last write of ``summary.json`` to its exit), summary, and
    (``per_process``) the CPU of each process per step."""
    with tempfile.TemporaryDirectory(prefix="batpass-bench-demo-") as tmp:
        out = Path(tmp) / "out"
        env = dict(os.environ, BATPASS_HOME=str(Path(tmp) / "home"), BATPASS_NODE_START=start)
        env.pop("BATPASS_DEMO_STEPS", None)
        t0 = time.perf_counter()
        c0 = _children_cpu()
        proc = subprocess.Popen(
            [sys.executable, "-m", "batpass", "demo", "--no-serve", "--out", str(out)],
            env=env,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        by_step = _watch(proc, out / "summary.json") if per_process else {}
        proc.wait()
        wall = time.perf_counter() - t0
        exited = time.time()
        cpu = _children_cpu() - c0  # the demo has reaped its nodes: their CPU counts
        if proc.returncode != 0:
            sys.exit(f"demo run ({start}) failed with exit code {proc.returncode}")
        stop = exited - (out / "summary.json").stat().st_mtime
        summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
        return wall, cpu, stop, summary, by_step


def _watch(proc: subprocess.Popen[bytes], summary_path: Path) -> dict[str, dict[str, float]]:
    """Until ``proc`` exits: the CPU seconds of it and each of its descendants, per story step."""
    names: dict[int, str] = {}
    seen: dict[int, float] = {}
    by_step: dict[str, dict[str, float]] = {}
    step, done = "start", 0
    while proc.poll() is None:
        stats = {pid: st for pid in _pids() if (st := _stat(pid)) is not None}
        family = {proc.pid}
        grew = True
        while grew:  # the demo's children, theirs, ...
            grew = False
            for pid, (_cpu, ppid) in stats.items():
                if ppid in family and pid not in family:
                    family.add(pid)
                    grew = True
        for pid in family & stats.keys():
            if pid not in names or names[pid].startswith("pid "):  # a forked node opens its log first
                names[pid] = "demo" if pid == proc.pid else _process_name(pid)
            used = stats[pid][0] - seen.get(pid, 0.0)
            seen[pid] = stats[pid][0]
            into = by_step.setdefault(step, {})
            into[names[pid]] = into.get(names[pid], 0.0) + used
        try:
            timed = list(json.loads(summary_path.read_text()).get("story", {}).get("timings_s", {}))
        except (OSError, ValueError):  # not written yet, or being written
            timed = []
        if "start_nodes" in timed:  # then the story's steps, one after the other
            done = max(done, sum(1 for k in timed if k in STEPS))
            step = STEPS[done] if done < len(STEPS) else "stop"
        time.sleep(0.2)
    return by_step


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _stat(pid: int) -> tuple[float, int] | None:
    """(user + system CPU seconds, parent pid) of ``pid``, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[1])


def _process_name(pid: int) -> str:
    """A node's name (the home directory of the ``serve.log`` its standard error goes to)."""
    try:
        target = Path(os.readlink(f"/proc/{pid}/fd/2"))
    except OSError:
        return f"pid {pid}"
    return target.parent.name if target.name == "serve.log" else f"pid {pid}"


def _per_process(by_step: dict[str, dict[str, float]]) -> dict[str, Any]:
    totals: dict[str, float] = {}
    for used in by_step.values():
        for name, s in used.items():
            totals[name] = totals.get(name, 0.0) + s
    return {
        "cpu_by_step_s": {
            step: {n: round(s, 2) for n, s in sorted(used.items(), key=lambda p: -p[1]) if s >= 0.05}
            for step, used in by_step.items()
        },
        "cpu_by_process_s": {n: round(s, 2) for n, s in sorted(totals.items(), key=lambda p: -p[1])},
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
