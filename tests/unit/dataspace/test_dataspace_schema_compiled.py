"""The compiled check of DSP messages (references inlined, ``jsonschema_rs`` where its answer is the
reference's) judges exactly as ``jsonschema`` on every DSP 2025-1 schema: on the spec's examples,
on the messages this node builds, and on random mutations of them; and a message it refuses still
gets jsonschema's errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batpass.core.schema_compile import NotCompilable, inline_refs
from batpass.dataspace import _dsp_messages as m
from json_mutation_testkit import mutated

SPECS = Path(__file__).resolve().parents[2] / "specs" / "dsp"  # vendored (tests/specs/PROVENANCE.md)


def _samples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(SPECS.glob("*/example/*.json")):
        doc = json.loads(path.read_text())
        kind = doc.get("@type") or ("protocol-version" if "protocolVersions" in doc else None)
        if kind in m.SCHEMA_FOR_TYPE:
            out.append((kind, doc))
    built = [
        m.negotiation_ack("p1", "c1", "REQUESTED"),
        m.transfer_ack("p1", "c1", "STARTED"),
        m.error_message("CatalogError", code="403", reason="no"),
        m.error_message("TransferError", code="400", reason="no", provider_pid="p", consumer_pid="c"),
        {"@context": m.context(), "@type": "CatalogRequestMessage", "filter": []},
        {
            "@context": m.context(),
            "@type": "ContractNegotiationEventMessage",
            "providerPid": "p",
            "consumerPid": "c",
            "eventType": "FINALIZED",
        },
    ]
    return out + [(str(doc["@type"]), doc) for doc in built]


SAMPLES = _samples()


def _reference(kind: str) -> Any:
    return m._validator(m.SCHEMA_FOR_TYPE[kind]).is_valid


def test_every_schema_is_compiled() -> None:
    """The fast path is taken for every message type (none silently left to the reference); the
    Catena-X policy schema (no message) keeps the reference: its ``\\d`` patterns are not
    known to mean the same in both regex engines."""
    for kind, schema_id in m.SCHEMA_FOR_TYPE.items():
        compiled = m._is_valid(schema_id) != m._validator(schema_id).is_valid
        assert compiled is (kind != "cx-policy"), kind


@pytest.mark.parametrize(("kind", "doc"), SAMPLES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SAMPLES)])
def test_samples_are_judged_alike(kind: str, doc: dict[str, Any]) -> None:
    assert m._is_valid(m.SCHEMA_FOR_TYPE[kind])(doc) == _reference(kind)(doc)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(
        [
            1.0,
            "",
            "x",
            "REQUESTED",
            "FINALIZED",
            "dspace:STARTED",
            "https://w3id.org/dspace/2025/1/context.jsonld",
            "HttpData-PULL",
            "odrl:use",
            "use",
            "2026-11-25T00:00:00Z",
            "https://a.test/catalog",
            "BPNL000000000001",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["@id", "@type", "action", "target", "a"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.integers(0, len(SAMPLES) - 1),
    pick=st.integers(0, 10_000),
    action=st.sampled_from(["set", "delete", "add", "duplicate"]),
    value=json_values,
    name=st.sampled_from(["extra", "@id", "@type", "state", "permission", "constraint", "offer", "format"]),
)
def test_mutations_are_judged_alike(sample: int, pick: int, action: str, value: Any, name: str) -> None:
    kind, original = SAMPLES[sample]
    doc = mutated(original, pick, action, value, name)  # duplicate: uniqueItems, maxItems, maxContains
    fast = m._is_valid(m.SCHEMA_FOR_TYPE[kind])(doc)
    assert fast == _reference(kind)(doc)
    # the errors are the reference's: none exactly when the fast path says valid
    assert (m.schema_errors(doc, kind) == []) == fast


def test_a_refused_message_keeps_the_reference_errors() -> None:
    doc = m.negotiation_ack("p1", "c1", "REQUESTED")
    doc["state"] = "SLEEPING"
    expected = [f"state: {e.message}" for e in m._validator(m.SCHEMA_FOR_TYPE["ContractNegotiation"]).iter_errors(doc)]
    assert m.schema_errors(doc) == expected != []


def test_inlined_references_are_local_and_finite() -> None:
    docs = {
        "https://x.test/a": {"$id": "https://x.test/a", "properties": {"next": {"$ref": "#"}}},
        "https://x.test/c": {"definitions": {"s": {"type": "object", "$id": "https://x.test/c"}}},
    }
    # recursive: the schema refers to itself through one $defs entry
    assert inline_refs(docs["https://x.test/a"], "https://x.test/a", docs.__getitem__) == {
        "$id": "https://x.test/a",
        "properties": {"next": {"$ref": "#/$defs/s0"}},
        "$defs": {"s0": {"properties": {"next": {"$ref": "#/$defs/s0"}}}},
    }
    # a reference beside other keywords keeps them; a nested $id is dropped
    assert inline_refs(
        {"$ref": "https://x.test/c#/definitions/s", "required": ["a"]}, "https://x.test/b", docs.__getitem__
    ) == {"$ref": "#/$defs/s0", "required": ["a"], "$defs": {"s0": {"type": "object"}}}
    with pytest.raises(NotCompilable):  # an anchor, not a pointer
        inline_refs({"$ref": "https://x.test/a#node"}, "https://x.test/b", docs.__getitem__)


def test_start_up_prepares_every_message_check() -> None:
    """A node's start-up compiles each DSP message type's check (what the first message of that
    type would otherwise compile on a channel's critical path), once and cached."""
    m._is_valid.cache_clear()
    assert m.prepare_message_checks() == len(m.SCHEMA_FOR_TYPE)
    assert m._is_valid.cache_info().currsize == len(set(m.SCHEMA_FOR_TYPE.values()))
    before = m._is_valid.cache_info()
    for kind, doc in SAMPLES:  # the messages then find their check ready
        m.schema_errors(doc, kind)
    after = m._is_valid.cache_info()
    assert after.misses == before.misses and after.currsize == before.currsize
