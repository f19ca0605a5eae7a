"""Property tests of the importers: any schema-valid document imports or is refused naming the field.

Catena-X battery_pass 6.1.0 and Battery Pass CarbonFootprint 1.2.0 documents are generated from
their vendored schemas (``schema_strategy``); the Battery Pass modules without a bundled schema
are the published example payloads, mutated (a leaf replaced by any JSON value, or removed). The
only exceptions allowed out of an import are batpass's own, each naming a field. Examples are
capped so the suite stays fast.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from passport_validation import BATTERYPASS_PAYLOADS, SPECS, batterypass_payload
from schema_strategy import documents

from batpass.core.errors import BatpassError, InvalidInput
from batpass.core.ids import BatteryId
from batpass.passport import read_import

BAT = BatteryId("04012345000009", "PROP-1")
CX_SCHEMA = json.loads(
    (SPECS / "catenax/semantic-models/io.catenax.battery.battery_pass/6.1.0/gen/BatteryPass-schema.json").read_text(
        encoding="utf-8"
    )
)
CF_SCHEMA = json.loads(
    (SPECS / "batterypass/io.BatteryPass.CarbonFootprint/1.2.0/gen/CarbonFootprintForBatteries-schema.json")
    .read_bytes()
    .decode("utf-16")
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2),
    max_leaves=4,
)


def _imports_or_names_the_field(fmt: str, files: list[tuple[str, bytes]]) -> None:
    try:
        imported = read_import(fmt, files)
    except BatpassError as exc:
        field = getattr(exc, "field", None) or exc.details.get("field")
        assert field, f"refused without naming the field: {exc.message}"
        assert exc.rule, f"refused without naming the rule: {exc.message}"
        return
    assert imported.battery and imported.category


def _with_battery(doc: dict[str, Any], category: str) -> dict[str, Any]:
    """The generated document made to name a battery that takes a passport (half of the examples)."""
    doc = copy.deepcopy(doc)
    ident = doc["identification"]
    ident["category"] = category
    ident["identification"]["codes"] = [*ident["identification"]["codes"], {"key": "GTIN", "value": str(BAT.gtin)}]
    ident["identification"]["serial"] = [{"key": "partInstanceId", "value": str(BAT.serial)}]
    return doc


@SETTINGS
@given(doc=documents(CX_SCHEMA), category=st.sampled_from(["EV", "LMT", "industrial", None]))
def test_any_schema_valid_catenax_document_imports_or_is_refused(doc: Any, category: str | None) -> None:
    if category is not None:
        doc = _with_battery(doc, category)
    _imports_or_names_the_field("catenax", [("doc.json", json.dumps(doc).encode())])


@SETTINGS
@given(cf=documents(CF_SCHEMA))
def test_any_schema_valid_carbon_footprint_module_imports_or_is_refused(cf: Any) -> None:
    gpi = {"productIdentifier": BAT.path, "batteryCategory": "ev"}
    docs = {"GeneralProductInformation": gpi, "CarbonFootprint": cf}
    _imports_or_names_the_field("batterypass", [("modules.json", json.dumps(docs).encode())])


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list):
        return [p for n, v in enumerate(node) for p in _leaves(v, (*path, n))] or [path]
    return [path]


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    modules = draw(st.sets(st.sampled_from(sorted(BATTERYPASS_PAYLOADS)), min_size=1))
    docs = {m: copy.deepcopy(batterypass_payload(m)) for m in modules}
    docs.setdefault("GeneralProductInformation", copy.deepcopy(batterypass_payload("GeneralProductInformation")))
    if draw(st.booleans()):
        docs["GeneralProductInformation"]["productIdentifier"] = BAT.path
        docs["GeneralProductInformation"]["batteryCategory"] = draw(st.sampled_from(["ev", "lmt", "industrial"]))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        module = draw(st.sampled_from(sorted(docs)))
        path = draw(st.sampled_from(_leaves(docs[module])))
        if not path:
            continue
        parent: Any = docs[module]
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return docs


@SETTINGS
@given(docs=mutated_examples())
def test_mutated_published_examples_import_or_are_refused(docs: dict[str, Any]) -> None:
    files = [(f"{m}.json", json.dumps(d).encode()) for m, d in docs.items()]
    _imports_or_names_the_field("batterypass", files)


def test_the_generators_reach_both_outcomes() -> None:
    """The properties above would pass vacuously if every document were refused (or accepted):
    generated documents whose checked sections come from the official example import, and
    generated documents as they are are refused (their numbers and dates break the rules)."""
    example = json.loads(
        (SPECS / "catenax/semantic-models/io.catenax.battery.battery_pass/6.1.0/gen/BatteryPass.json").read_text(
            encoding="utf-8"
        )
    )
    example["materials"]["composition"] = []  # the example's sits in the housing (refused)
    checked = ("characteristics", "operation", "materials", "performance", "conformity", "safety")
    outcomes: dict[bool, set[str]] = {True: set(), False: set()}

    @settings(max_examples=30, deadline=None, database=None)
    @given(doc=documents(CX_SCHEMA), overlay=st.booleans())
    def probe(doc: Any, overlay: bool) -> None:
        if overlay:  # generated, except the sections whose values batpass checks by rule
            doc = {**doc, **{k: example[k] for k in checked}}
            doc["sustainability"] = {**doc["sustainability"], "documents": example["sustainability"]["documents"]}
        try:
            read_import("catenax", [("d.json", json.dumps(_with_battery(doc, "EV")).encode())])
            outcomes[overlay].add("imported")
        except InvalidInput:
            outcomes[overlay].add("refused")

    probe()
    assert "imported" in outcomes[True] and "refused" in outcomes[False]


@st.composite
def mutated_aas(draw: st.DrawFn) -> str:
    """batpass's own AAS export of the example passport (there is no published example of the
    submodel), with up to three leaves replaced by any JSON value or removed."""
    env = copy.deepcopy(_AAS_ENV)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_leaves(env)))
        parent: Any = env
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return json.dumps(env)


def _aas_env() -> Any:
    import datetime as dt
    import uuid

    from passport_testkit import BACKUP, EXAMPLE, ITEM, OPERATOR, RESOLVER

    from batpass.passport import Passport, Status, load_static_product_data, to_aas_json
    from batpass.passport.model import parse_values

    static = load_static_product_data(EXAMPLE)
    values = {**static.values, **parse_values(ITEM)}
    values.update(parse_values({"state_of_health": {"value": 90.0, "unit": "%"}}, allow_dynamic=True))
    values["dynamic_updated_at"] = dt.date(2027, 3, 2)
    p = Passport(
        passport_id=uuid.uuid4(),
        battery_id=BAT,
        resolver_base=RESOLVER,
        category=static.category,
        model_id=static.model_id,
        status=Status.ORIGINAL,
        operator=OPERATOR,
        backup_node=BACKUP,
        values=values,
    )
    return json.loads(to_aas_json(p))


_AAS_ENV = _aas_env()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_aas())
def test_mutated_aas_environments_import_or_are_refused(text: str) -> None:
    _imports_or_names_the_field("aas", [("env.json", text.encode())])
