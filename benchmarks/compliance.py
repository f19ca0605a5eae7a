"""compliance.evaluate_s: evaluate 10,000 batteries at one date (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from decimal import Decimal as D

from batpass.compliance import Battery, BatteryModel, Category, RecycledShare, default_rulesets, evaluate


def main() -> None:
    n = 10_000
    rulesets = default_rulesets()
    models = [
        BatteryModel(
            f"M{i}",
            [Category.EV, Category.LMT, Category.INDUSTRIAL][i % 3],
            D(60),
            cadmium_share=D("0.00001"),
            lead_share=D("0.00001"),
            recycled={"cobalt": RecycledShare(D("0.1"), D("0.1"), "segregated", "s", "p", "x")},
        )
        for i in range(30)
    ]
    batteries = [
        Battery(f"B{i}", models[i % 30], has_passport=True, has_qr_code=True, status_history=("original",))
        for i in range(n)
    ]
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        for b in batteries:
            evaluate(b, dt.date(2031, 8, 18), rulesets=rulesets)
        samples.append(time.perf_counter() - start)
        print(f"run {len(samples)}: {samples[-1]:.2f} s", file=sys.stderr)
    print(
        json.dumps(
            {
                "figure": "compliance.evaluate_s",
                "value": round(statistics.median(samples), 3),
                "unit": "s",
                "params": {"batteries": n, "at": "2031-08-18"},
            }
        )
    )


if __name__ == "__main__":
    main()
