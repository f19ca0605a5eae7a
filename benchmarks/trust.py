"""Trust benchmarks (docs/benchmarks.md): ``trust.verify_per_s``, ``trust.verify_ratio`` and
``trust.issue_per_s``.

verify: distinct credentials (no token is verified twice in a round, so no result can be
cached), each checked end to end by the Verifier — signature, JSON Schema (vc+jwt), trust list
lookup, status list (cached, as a verifier holds it within its max age), expiry; SD-JWT VC
presentations carry key binding (a second signature) and two of four claims disclosed.
issue: build + JSON Schema + JSON-LD term check + sign (vc+jwt), or build + disclosures + sign
(SD-JWT VC); no database. Medians of 5 rounds. Progress on stderr, JSON lines on stdout.
verify_ratio: vc+jwt verify/s ÷ raw Ed25519 verify/s — ``cryptography``'s
``Ed25519PublicKey.verify`` on the same signing inputs and signatures, timed in alternating blocks
of 100 with the verifier's (each round times both over all tokens), so a loaded machine slows both
alike; the ratio of the medians of 5 interleaved rounds. The raw rate is printed in the params of
every verify figure.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from batpass.trust import (
    DidResolver,
    NodeIdentity,
    StatusListCache,
    TrustedIssuer,
    TrustList,
    TrustRegistry,
    Verifier,
    build_credential,
    did_document,
    generate_keypair,
    issue_sd_jwt,
    issue_vc_jwt,
    load_trust_list,
    new_did_key_identity,
    present_sd_jwt,
    sign_trust_list,
)
from batpass.trust._status import MIN_BITS, status_entry, status_list_credential
from batpass.trust.model import vct_for

N = 2000
ROUNDS = 5
CHUNK = 100  # items per interleaved block (verify/raw) within a round
AUD = "did:web:oem.test%3A8443"


def emit(figure: str, value: float, unit: str, params: dict[str, object], digits: int = 1) -> None:
    print(json.dumps({"figure": figure, "value": round(value, digits), "unit": unit, "params": params}), flush=True)


def rate(items: list[str], fn: Callable[[str], object]) -> float:
    t = time.perf_counter()
    for it in items:
        fn(it)
    return len(items) / (time.perf_counter() - t)


def per_s(items: list[str], fn: Callable[[str], object]) -> float:
    return statistics.median(rate(items, fn) for _ in range(ROUNDS))


def interleaved(
    items: list[str], fn: Callable[[str], object], raw: list[tuple[bytes, bytes]], key: Ed25519PublicKey
) -> tuple[float, float]:
    """Medians over ``ROUNDS`` rounds of ``fn`` over ``items`` and of raw Ed25519 verification of
    ``raw`` (signature, signing input), interleaved: each round alternates blocks of ``CHUNK``
    items of one and of the other, so both meet the same load on a shared machine."""
    fns, raws = [], []
    perf = time.perf_counter
    for _ in range(ROUNDS):
        t_fn = t_raw = 0.0
        for start in range(0, len(items), CHUNK):
            t = perf()
            for it in items[start : start + CHUNK]:
                fn(it)
            t_fn += perf() - t
            t = perf()
            for sig, data in raw[start : start + CHUNK]:
                key.verify(sig, data)
            t_raw += perf() - t
        fns.append(len(items) / t_fn)
        raws.append(len(raw) / t_raw)
    return statistics.median(fns), statistics.median(raws)


def signed_parts(token: str) -> tuple[bytes, bytes]:
    """(signature, signing input) of a compact JWS (the issuer-signed part of an SD-JWT)."""
    head, payload, sig = token.split("~", 1)[0].split(".")
    return base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), f"{head}.{payload}".encode("ascii")


def main() -> None:
    now = dt.datetime.now(dt.UTC)
    issuer = NodeIdentity("did:web:cert.test%3A8443", [generate_keypair("Ed25519", "key-ed25519-1")])
    holder = new_did_key_identity()
    resolver = DidResolver()
    resolver.pin(did_document(issuer))
    url = "https://cert.test:8443/v1/credentials/status/0196"
    sl = status_list_credential(issuer, list_url=url, bits=bytes(MIN_BITS // 8))
    status = StatusListCache(resolver, local=lambda u: sl if u == url else None, max_age_s=3600)
    types = frozenset({"RecycledContentAttestationCredential"})
    tl = TrustList(
        "catena-x",
        issuer.did,
        now,
        None,
        (
            *(TrustedIssuer(f"did:web:other{i}.test", f"issuer {i}", types) for i in range(50)),
            TrustedIssuer(issuer.did, "certifier", types),
        ),
    )
    registry = TrustRegistry("catena-x")
    registry.add(load_trust_list(sign_trust_list(tl, issuer), resolver, operator=issuer.did))
    verifier = Verifier(resolver, registry, status)

    def subject(i: int) -> dict[str, object]:
        return {
            "id": holder.did,
            "product": f"urn:uuid:lot-{i}",
            "element": "Co",
            "recycledShare": 0.18,
            "preConsumerShare": 0.05,
            "postConsumerShare": 0.13,
            "threshold": 0.16,
            "meetsThreshold": True,
            "summaryDigest": f"sha-256:{i:064x}",
        }

    def vc(i: int) -> dict[str, object]:
        return build_credential(
            issuer=issuer.did,
            ctype="RecycledContentAttestationCredential",
            subject=subject(i),
            valid_from=now,
            valid_until=now + dt.timedelta(days=30),
            status=status_entry(url, i),
        )

    print("issuing vc+jwt …", file=sys.stderr)
    vcs = [vc(i) for i in range(N)]
    it = iter(range(10**9))
    issue_vc = per_s([""] * N, lambda _: issue_vc_jwt(issuer, vcs[next(it) % N]))
    emit("trust.issue_per_s", issue_vc, "credentials/s", {"format": "vc+jwt", "alg": "Ed25519", "store": "none"})
    jwk = holder.keys[0].public_jwk()

    def sd(i: int) -> str:
        claims = {k: v for k, v in subject(i).items() if k != "id"}
        return issue_sd_jwt(
            issuer,
            {"sub": holder.did, **claims},
            vct=vct_for("RecycledContentAttestationCredential"),
            disclosable=["recycledShare", "preConsumerShare", "postConsumerShare", "product"],
            holder_jwk=jwk,
            status=status_entry(url, i),
        )

    issue_sd = per_s([""] * N, lambda _: sd(next(it) % N))
    emit("trust.issue_per_s", issue_sd, "credentials/s", {"format": "sd-jwt", "alg": "Ed25519", "store": "none"})

    tokens = [issue_vc_jwt(issuer, v) for v in vcs]
    print("verifying vc+jwt …", file=sys.stderr)
    verifier.verify(tokens[0])  # status list fetched once, then cached
    raw_key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(issuer.keys[0].public_jwk()["x"] + "="))
    raw = [signed_parts(t) for t in tokens]
    vc_rate, raw_rate = interleaved(tokens, lambda t: verifier.verify(t), raw, raw_key)
    params: dict[str, object] = {
        "format": "vc+jwt",
        "alg": "Ed25519",
        "trust_list_issuers": len(tl.issuers),
        "status": "cached",
        "distinct_tokens": N,
        "raw_ed25519_per_s": round(raw_rate, 1),
    }
    emit("trust.verify_per_s", vc_rate, "credentials/s", params)
    emit(
        "trust.verify_ratio",
        vc_rate / raw_rate,
        "ratio",
        {**params, "verify_per_s": round(vc_rate, 1), "rounds": ROUNDS, "interleaved": True},
        digits=3,
    )

    print("verifying sd-jwt with key binding …", file=sys.stderr)
    pres = [
        present_sd_jwt(
            sd(i), disclose=["recycledShare", "product"], holder_key=holder.keys[0], audience=AUD, nonce=f"n{i}"
        )
        for i in range(N)
    ]
    sd_raw = [signed_parts(p) for p in pres]
    sd_rate, sd_raw_rate = interleaved(
        pres, lambda p: verifier.verify(p, audience=AUD, require_key_binding=True), sd_raw, raw_key
    )
    emit(
        "trust.verify_per_s",
        sd_rate,
        "credentials/s",
        {
            "format": "sd-jwt",
            "key_binding": True,
            "alg": "Ed25519",
            "trust_list_issuers": len(tl.issuers),
            "status": "cached",
            "distinct_tokens": N,
            "raw_ed25519_per_s": round(sd_raw_rate, 1),
        },
    )


if __name__ == "__main__":
    main()
