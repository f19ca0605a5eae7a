"""footprint.aggregate_ms: aggregate one product from 10,000 supplier inputs (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from decimal import Decimal as D

from batpass.footprint.model import (
    BomInput,
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    OwnEmissions,
    ProductFootprint,
    Quantity,
    Stage,
    StageSplit,
    SupplierRole,
    aggregate,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def header(i: int) -> FootprintHeader:
    return FootprintHeader(
        id=str(i),
        product_ids=(f"urn:x:{i}",),
        product_name=f"p{i}",
        company_name="c",
        company_ids=("urn:c",),
        reference_period_start=T0,
        reference_period_end=T0,
        created=T0,
    )


def main() -> None:
    n = 10_000
    roles = [SupplierRole.CATHODE, SupplierRole.ANODE, SupplierRole.CELL, SupplierRole.LOGISTICS]
    inputs = []
    for i in range(n):
        per = D(i % 97 + 1) / 10
        split = (
            StageSplit(per / 2, per / 2)
            if i % 4 == 2
            else StageSplit(unsplit=None, raw_material=per, main_production=D(0))
        )
        fp = ProductFootprint(
            header(i),
            DeclaredUnit.KILOGRAM,
            D(1),
            per,
            split,
            D(1),
            D("0.5"),
            DataQuality(D(2), D(2), D(3), DqrScale.ONE_TO_FIVE),
        )
        inputs.append(BomInput(fp, Quantity(D(i % 13 + 1), DeclaredUnit.KILOGRAM), roles[i % 4]))
    own = OwnEmissions({Stage.MAIN_PRODUCTION: D(1000)}, D(1), DataQuality(D(1), D(1), D(1), DqrScale.ONE_TO_FIVE))
    samples = []
    for _ in range(15):
        start = time.perf_counter()
        aggregate(inputs, own=own, output=Quantity(D(100), DeclaredUnit.PIECE), header=header(-1))
        samples.append((time.perf_counter() - start) * 1000)
        print(f"run {len(samples)}: {samples[-1]:.1f} ms", file=sys.stderr)
    print(
        json.dumps(
            {
                "figure": "footprint.aggregate_ms",
                "value": round(statistics.median(samples), 2),
                "unit": "ms",
                "params": {"inputs": n},
            }
        )
    )


if __name__ == "__main__":
    main()
