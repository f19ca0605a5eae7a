"""How much of each published model the demo's passport fills (issue 23, "Exports").

The demo's battery model (``demo-ev-model.yaml``), the item data its story writes and the dynamic
data of the battery it gives a second life are exported; the leaves carrying a value (not a
placeholder the model forces) are compared with the leaves the published example fills: the
official Catena-X ``BatteryPass.json`` and the Battery Pass example payloads (Performance 1.2.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from passport_testkit import make_summary
from passport_validation import BATTERYPASS_PAYLOADS, SPECS, batterypass_errors, batterypass_payload, catenax_errors

from batpass.core.ids import BatteryId
from batpass.demo._story.passport import SECOND_LIFE_DYNAMIC
from batpass.ledger import decode_summary
from batpass.passport import PassportService, load_static_product_data
from batpass.passport._export_batterypass import to_batterypass
from batpass.passport._export_catenax import NIL_UUID, to_catenax

DEMO_MODEL = Path(__file__).parents[3] / "src/batpass/passport/_data/demo-ev-model.yaml"
CX_EXAMPLE = SPECS / "catenax/semantic-models/io.catenax.battery.battery_pass/6.1.0/gen/BatteryPass.json"
#: values the exports write where batpass holds none (PLACEHOLDERS, MISSING_NUMBER_RULE)
PLACEHOLDER_VALUES = ("", None, -1, "BPNL000000000000", "BPNA000000000000", NIL_UUID)
#: the share of the example's leaves the demo's Catena-X export must fill
CATENAX_MIN = 0.80
BATTERYPASS_MIN = 0.65


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v, prefix + "[]")
    else:
        yield prefix, node


def _filled(doc: Any) -> set[str]:
    return {p for p, v in _leaves(doc) if v is not None and not (v in PLACEHOLDER_VALUES and not isinstance(v, bool))}


def fill_rate(export: Any, example: Any) -> tuple[float, set[str]]:
    """Share of the leaves ``example`` fills that ``export`` fills too, and those it does not."""
    wanted = _filled(example)
    missing = wanted - _filled(export)
    return 1 - len(missing) / len(wanted), missing


@pytest.fixture
def demo_passport(service: PassportService) -> Any:
    static = load_static_product_data(DEMO_MODEL)
    battery = BatteryId(static.gtin, "DEMO-FILL-1")
    item = {
        "manufacturing_date": "2027-02-20",
        "manufacturing_place": "pack plant, DE",
        "economic_operator_id": "BPNL00000003CAR1",
    }
    p = service.build(static, battery, item=item, summary=decode_summary(make_summary(battery)))
    return service.record_dynamic(p.passport_id, SECOND_LIFE_DYNAMIC, actor=service.operator)


def test_catenax_export_fills_most_of_what_the_official_example_fills(
    demo_passport: Any, service: PassportService
) -> None:
    versions = service.versions(demo_passport.passport_id)
    doc = to_catenax(demo_passport, issued=versions[0].created_at.date(), modified=versions[-1].created_at.date())
    assert catenax_errors(doc) == []
    rate, missing = fill_rate(doc, json.loads(CX_EXAMPLE.read_text(encoding="utf-8")))
    print(f"catena-x battery_pass 6.1.0: {rate:.1%} of the example's leaves; not filled: {sorted(missing)}")
    assert rate >= CATENAX_MIN, sorted(missing)


def test_batterypass_export_fill_rate(demo_passport: Any) -> None:
    docs = to_batterypass(demo_passport)
    assert batterypass_errors(docs) == []
    wanted = missing = 0
    for module in BATTERYPASS_PAYLOADS:
        rate, gaps = fill_rate(docs.get(module, {}), batterypass_payload(module))
        example = len(_filled(batterypass_payload(module)))
        wanted += example
        missing += len(gaps)
        print(f"battery pass {module}: {rate:.1%} ({sorted(gaps)})")
    total = 1 - missing / wanted
    print(f"battery pass (modules 1.2.0, Performance 1.2.1): {total:.1%} of the examples' leaves")
    assert total >= BATTERYPASS_MIN


def test_fill_rate_counts_placeholders_as_empty() -> None:
    example = {"a": 1, "b": {"c": "x"}, "d": [{"e": 2}]}
    assert fill_rate(example, example) == (1.0, set())
    rate, missing = fill_rate({"a": -1, "b": {"c": "x"}, "d": []}, example)
    assert rate == pytest.approx(1 / 3) and missing == {"a", "d[].e"}
