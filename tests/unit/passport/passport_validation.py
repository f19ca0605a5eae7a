"""Validation checks of the passport exports, shared by the unit tests and the demo test.

Each function returns the list of problems found (empty when the document is valid), so a test
asserts ``== []`` and sees every problem at once:

- :func:`catenax_errors`: Catena-X ``io.catenax.battery.battery_pass:6.1.0`` against the schema
  vendored in ``tests/specs/catenax`` (JSON Schema draft-04, the form the SAMM generator publishes);
- :func:`aas_errors`: an AAS V3.1 JSON environment with ``aas_core3_1.verification`` (no errors)
  and the BaSyx compliance tool's Python API (status SUCCESS; its CLI exit code is always 0);
- :func:`batterypass_errors`: the Battery Pass modules (1.2.0, Performance 1.2.1 or 1.2.0): CarbonFootprint
  against its schema, the other modules' attribute names against the published example payloads.

Imported as ``passport_validation`` (the folder is on ``sys.path`` for the tests beside it; other
test folders insert it, as ``tests/browser`` does for ``passport_testkit``).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import aas_core3_1.jsonization as aas_jsonization
import aas_core3_1.verification as aas_verification
import jsonschema
from aas_compliance_tool import compliance_check_json
from aas_compliance_tool.state_manager import ComplianceToolStateManager
from aas_compliance_tool.state_manager import Status as ToolStatus

__all__ = [
    "BATTERYPASS_PAYLOADS",
    "SPECS",
    "aas_errors",
    "attribute_paths",
    "batterypass_errors",
    "batterypass_payload",
    "catenax_errors",
]

#: the vendored specification files (``tests/specs/PROVENANCE.md``)
SPECS = Path(__file__).resolve().parents[2] / "specs"
CATENAX_SCHEMA = SPECS / "catenax/semantic-models/io.catenax.battery.battery_pass/6.1.0/gen/BatteryPass-schema.json"
CARBON_FOOTPRINT_SCHEMA = (
    SPECS / "batterypass/io.BatteryPass.CarbonFootprint/1.2.0/gen/CarbonFootprintForBatteries-schema.json"
)

#: module -> the published example payload (relative to specs/batterypass) whose attribute names we use
BATTERYPASS_PAYLOADS = {
    "GeneralProductInformation": (
        "io.BatteryPass.GeneralProductInformation/1.2.0/gen/GeneralProductInformation-payload.json"
    ),
    "MaterialComposition": "io.BatteryPass.MaterialComposition/1.2.0/gen/MaterialComposition-payload.json",
    "Circularity": "io.BatteryPass.Circularity/1.2.0/gen/Circularity.json",
    "SupplyChainDueDiligence": "io.BatteryPass.SupplyChainDueDiligence/1.2.0/gen/SupplyChainDueDiligence-payload.json",
    "Performance": "io.BatteryPass.Performance/1.2.1/gen/PerformanceAndDurability.json",
    "Labels": "io.BatteryPass.Labels/1.2.0/gen/Labeling-payload.json",
}


def _decode(raw: bytes) -> Any:
    enc = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    return json.loads(raw.decode(enc))


@cache
def _catenax_validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads(CATENAX_SCHEMA.read_text(encoding="utf-8")))


@cache
def _carbon_footprint_validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(_decode(CARBON_FOOTPRINT_SCHEMA.read_bytes()))


def catenax_errors(doc: Any) -> list[str]:
    """Schema errors of a battery_pass 6.1.0 document (path: message)."""
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in _catenax_validator().iter_errors(doc)
    ]


def aas_errors(path: Path) -> list[str]:
    """Problems of an AAS V3.1 JSON environment file: aas-core3.1 verification, then BaSyx."""
    try:
        env = aas_jsonization.environment_from_jsonable(json.loads(path.read_text(encoding="utf-8")))
    except (aas_jsonization.DeserializationException, json.JSONDecodeError) as exc:
        return [f"aas-core3.1 deserialization: {exc}"]
    problems = [f"aas-core3.1: {e}" for e in aas_verification.verify(env)]
    manager = ComplianceToolStateManager()
    try:
        compliance_check_json.check_deserialization(str(path), manager)
    finally:
        # the tool adds its state manager to module loggers on every call: take it off again
        for logger in logging.Logger.manager.loggerDict.values():
            if isinstance(logger, logging.Logger) and manager in logger.handlers:
                logger.removeHandler(manager)
    if manager.status != ToolStatus.SUCCESS:
        problems.append(f"basyx compliance tool: status {manager.status.name}: {manager.format_state_manager()}")
    return problems


#: the Performance module's payload of the older version an export may still be asked for
PERFORMANCE_1_2_0 = "io.BatteryPass.Performance/1.2.0/gen/PerformanceAndDurability-payload.json"


@cache
def batterypass_payload(module: str, version: str = "1.2.1") -> Any:
    """The published example payload of a Battery Pass module (Performance 1.2.1, or 1.2.0 when
    ``version`` says so; the other modules' newest version is 1.2.0)."""
    rel = PERFORMANCE_1_2_0 if module == "Performance" and version == "1.2.0" else BATTERYPASS_PAYLOADS[module]
    return _decode((SPECS / "batterypass" / rel).read_bytes())


def attribute_paths(x: Any, prefix: str = "") -> set[str]:
    """Every dotted attribute path of a JSON document (list items share their list's path)."""
    out: set[str] = set()
    if isinstance(x, dict):
        for k, v in x.items():
            out.add(prefix + k)
            out |= attribute_paths(v, prefix + k + ".")
    elif isinstance(x, list):
        for item in x:
            out |= attribute_paths(item, prefix)
    return out


def batterypass_errors(docs: Any, version: str = "1.2.1") -> list[str]:
    """Problems of the Battery Pass modules ``{module: document}`` an export gives (modules 1.2.0,
    Performance ``version``)."""
    if not isinstance(docs, dict) or not docs:
        return ["batterypass: expected an object of modules"]
    problems: list[str] = []
    for module, doc in docs.items():
        if module == "CarbonFootprint":
            problems += [
                f"CarbonFootprint.{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
                for e in _carbon_footprint_validator().iter_errors(doc)
            ]
        elif module in BATTERYPASS_PAYLOADS:
            extra = attribute_paths(doc) - attribute_paths(batterypass_payload(module, version))
            problems += [f"{module}.{p}: not an attribute of the published example payload" for p in sorted(extra)]
        else:
            problems.append(f"{module}: not a Battery Pass module")
    return problems
