"""The wire of the federated trace: the two assets a node offers (``upstream-summary`` and
``downstream-recall``, each pulled with ``?lot=ID``) and the signed recall answer (a compact JWS,
typ ``batpass-recall+jws``) a customer returns for a downstream question. The upstream summary's
format is the ledger's (``batpass.ledger.encode_summary``, ``sign_summary``, ``verify_summary``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from batpass.core.errors import InvalidInput, Unauthorized
from batpass.trust import CredentialRejected, NodeIdentity, peek, sign_compact, verify_compact

__all__ = [
    "DOWN_KEY",
    "RECALL_ASSET",
    "RECALL_TYP",
    "UPSTREAM_ASSET",
    "UPSTREAM_SOURCE",
    "UP_KEY",
    "sign_recall",
    "verify_recall",
]

UPSTREAM_ASSET = "upstream-summary"
RECALL_ASSET = "downstream-recall"
UPSTREAM_SOURCE = "upstream-summary"
RECALL_TYP = "batpass-recall+jws"
#: the source keys of the two assets (the provider passes them to the source)
UP_KEY = "lot"
DOWN_KEY = "recall"


def sign_recall(answer: dict[str, Any], identity: NodeIdentity) -> str:
    """Sign a downstream recall answer as a compact JWS (Ed25519, typ ``batpass-recall+jws``)."""
    kp = identity.active("Ed25519")
    payload = json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_compact({"kid": identity.key_id(kp), "typ": RECALL_TYP}, payload, kp)


def verify_recall(token: str, resolve_key: Callable[[str], Mapping[str, Any] | None]) -> dict[str, Any]:
    """Verify a recall answer: the key ``kid`` names, the issuer is that key's DID, the shape holds."""
    try:
        parsed = peek(token)
    except CredentialRejected as exc:
        raise InvalidInput("recall answer is not a compact JWS", field="answer", rule="RFC 7515 §7.1") from exc
    headers = parsed[0]
    kid = headers.get("kid")
    if headers.get("typ") != RECALL_TYP or headers.get("alg") != "Ed25519" or not isinstance(kid, str):
        raise InvalidInput(
            f"recall answer needs typ {RECALL_TYP}, alg Ed25519 and a kid", field="answer", rule="recall"
        )
    jwk = resolve_key(kid)
    if jwk is None:
        raise Unauthorized(f"no public key known for {kid}", rule="recall: kid is the issuer's DID URL")
    try:
        _, answer = verify_compact(token, jwk, typ=RECALL_TYP, parsed=parsed, algs=("Ed25519",))
    except CredentialRejected as exc:
        raise Unauthorized("recall answer signature does not verify", rule="RFC 7515") from exc
    if answer.get("issuer") != kid.split("#", 1)[0]:
        raise Unauthorized("recall answer issuer differs from the signing key's DID", rule="recall")
    ok = (
        isinstance(answer.get("subject"), dict)
        and isinstance(answer.get("batteries"), list)
        and all(isinstance(b, str) for b in answer["batteries"])
        and isinstance(answer.get("lots"), int)
        and isinstance(answer.get("batteriesBelow"), int)
        and isinstance(answer.get("tombstones"), list)
        and all(isinstance(m, str) for m in answer.get("marks", []))
    )
    if not ok:
        raise InvalidInput("recall answer lacks subject, batteries, lots, batteriesBelow or tombstones", field="answer")
    return answer
