"""The canonical body of an event (the text stored and hashed into the chain) is byte-identical
to what batpass wrote before request decoding moved to msgspec: the vectors in
``vectors/ledger_canonical_vectors.json`` were recorded from main 31ac78b (``json`` and the
hand-written writer) and are never regenerated. They hold events of every kind, plus the
awkward cases: floats that ``repr`` writes with an exponent (1e+16, 1e-07, 2.5e-05, 1e-05),
integers where floats are meant, ``null`` optional members, a default battery category, a
timestamp with ``Z`` and fractions of a second, and strings with quotes, escapes, control and
non-ASCII characters (U+2028, an emoji)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from batpass.ledger._chain import GENESIS, event_hash
from batpass.ledger.model import canonical_json, event_body, event_to_json, parse_event

_DATA = json.loads((Path(__file__).parent / "vectors" / "ledger_canonical_vectors.json").read_text("utf-8"))
OWNER: str = _DATA["owner"]
VECTORS: list[dict[str, Any]] = _DATA["vectors"]


def test_the_vectors_cover_every_kind() -> None:
    from batpass.ledger import EventKind

    assert {v["raw"]["kind"] for v in VECTORS} == {k.value for k in EventKind}


@pytest.mark.parametrize("vector", VECTORS, ids=[v["raw"]["id"] for v in VECTORS])
def test_parsed_event_body_is_the_recorded_bytes(vector: dict[str, Any]) -> None:
    ev = parse_event(copy.deepcopy(vector["raw"]))
    body = event_body(ev)
    assert body == vector["body"]
    assert canonical_json(event_to_json(ev)) == vector["body"]
    assert hashlib.sha256(body.encode()).hexdigest() == vector["sha256"]


def test_the_hash_chain_over_the_vectors_is_the_recorded_one() -> None:
    prev = GENESIS
    for v in VECTORS:
        body = event_body(parse_event(copy.deepcopy(v["raw"])))
        prev = event_hash(OWNER, v["seq"], prev, body)
        assert prev == v["hash"], v["raw"]["id"]
