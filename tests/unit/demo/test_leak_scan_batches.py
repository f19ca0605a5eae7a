"""The leak scan counts each signed message of a batch (docs/outflows.md "Several messages in one
request") as the payload it was when it came alone, so ``story.leak_scan.payloads_scanned`` does
not depend on how the reconciliation messages were batched; every message is still scanned."""

from __future__ import annotations

import json
from typing import Any

from batpass.demo._leak_scan import Canaries, payloads_in, scan_records
from batpass.scenario import COMPANIES, generate


def _rec(body: Any, direction: str = "in-request") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return {
        "direction": direction,
        "method": "POST",
        "url": "https://n/api/public/messages",
        "headers": {},
        "body": text,
    }


def test_a_batch_counts_each_message_and_its_answers_each_answer() -> None:
    batch = [{"jws": "a.b.c"}, {"jws": "d.e.f"}, {"jws": "g.h.i"}]
    answers = [{"status": 200, "body": {"outcome": "ok"}}, {"status": 403, "body": {"status": 403}}]
    assert payloads_in(_rec(batch)) == 3
    assert payloads_in(_rec(answers, "out-response")) == 2
    assert payloads_in(_rec({"jws": "a.b.c"})) == 1  # a message alone
    # any other array, or a batch-looking body that is not one, is one payload
    assert payloads_in(_rec([{"jws": "a.b.c", "more": 1}])) == 1
    assert payloads_in(_rec([{"jws": "a.b.c"}, 7])) == 1
    assert payloads_in(_rec('[{"jws": cut')) == 1
    assert payloads_in(_rec([1, 2, 3])) == 1


def test_a_canary_inside_one_message_of_a_batch_is_found() -> None:
    sc = generate(lots=10, seed=7)
    c = Canaries.from_scenario(sc, ["tokai-cathode"])
    name = COMPANIES["tokai-cathode"].name
    report = scan_records([_rec([{"jws": "a.b.c"}, {"jws": name}]), _rec({"x": 1})], c)
    assert report["payloads_scanned"] == 3 and report["leaks_found"] == 1
