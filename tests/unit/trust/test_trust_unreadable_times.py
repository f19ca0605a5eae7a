"""A credential signed by a trusted issuer whose validity times cannot be read (``validUntil`` or
``validFrom`` not an RFC 3339 date-time, ``nbf``/``exp``/``iat`` not numbers) is refused by the
verifier as malformed, naming the member and the rule — never an uncaught ``ValueError`` (a 500
at every route that verifies credentials)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_trust_verify import vc_token
from trust_http import load_lists, make_app
from trust_world import World

from batpass.trust import CredentialRejected, TrustService
from batpass.trust._jose import sign_compact


def resigned(w: World, token: str, **changes: Any) -> str:
    """``token`` with its payload members changed (``None`` drops one), signed again by the issuer."""
    h, p, _s = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "==="))
    payload = json.loads(base64.urlsafe_b64decode(p + "==="))
    for k, v in changes.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    return sign_compact(header, json.dumps(payload).encode(), w.cx.active())


BAD_TIMES = [
    ("validUntil", {"validUntil": "not-a-date", "exp": None}),
    ("validUntil", {"validUntil": "2026-13-45T00:00:00Z", "exp": None}),
    ("validFrom", {"validFrom": "not-a-date", "nbf": None}),
    ("validFrom", {"validFrom": "2026-02-30T00:00:00Z", "nbf": None}),
    ("exp", {"exp": "tomorrow"}),
    ("nbf", {"nbf": [1]}),
    ("iat", {"iat": "now"}),
]


@pytest.mark.parametrize(("field", "changes"), BAD_TIMES)
def test_unreadable_validity_times_are_refused_naming_the_member(
    world: World, field: str, changes: dict[str, Any]
) -> None:
    token = resigned(world, vc_token(world), **changes)
    with pytest.raises(CredentialRejected) as e:
        world.verifier.verify(token)
    assert e.value.details.get("field") == field
    assert e.value.rule
    assert e.value.checks and not e.value.checks[-1].ok


@pytest.mark.parametrize(("field", "changes"), BAD_TIMES)
def test_unreadable_validity_times_over_http(
    service: TrustService, world: World, field: str, changes: dict[str, Any]
) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    token = resigned(world, vc_token(world), **changes)
    r = client.post("/v1/credentials/verify", json={"credential": token})
    # the verify route answers 200 with the verdict either way: refused, naming the member
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verified"] is False
    assert body["reason"] == "malformed"
    assert body["field"] == field
    assert body["rule"]
