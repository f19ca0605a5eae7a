"""Revocation any SD-JWT VC verifier sees (issue 23): a served batpass node issues an SD-JWT VC
carrying ``status.status_list {idx, uri}``; the independent verifier ``@sd-jwt/sd-jwt-vc@0.19.0``
with ``@sd-jwt/jwt-status-list@0.19.0`` (Apache-2.0, pinned in ``package-lock.json`` here, installed
by ``npm ci`` like the rest of this folder) fetches the Token Status List from the node over HTTPS
with its own fetcher (``Accept``/``Content-Type`` ``application/statuslist+jwt``), verifies the
list's signature with the issuer's key, and reads the entry: VALID before, INVALID — refused —
after the node revokes the credential. And the other way: a Status List Token that
``@sd-jwt/jwt-status-list`` builds, read by batpass. Draft: draft-ietf-oauth-status-list-20."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.trust import CredentialRejected, DidResolver, StatusListCache, new_did_key_identity, verify_sd_jwt
from batpass.trust._jose import peek
from batpass.trust.model import vct_for

pytestmark = [pytest.mark.crossimpl, pytest.mark.integration]

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def npm_ready() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is required for the cross-implementation tests (it is on every machine here)")
    if not (HERE / "node_modules" / "@sd-jwt" / "jwt-status-list").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, RunningNode, Path]]:
    home = tmp_path_factory.mktemp("tsl")
    spec = NodeSpec("tslcert", ("catena-x",), legal_name="TSL Certifier GmbH", bpnl="BPNL00000000TSLC")
    with federation(home, [spec]) as (node,):
        ca_file = federation_ca(home)
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)), timeout=10.0) as client:
            yield client, node, ca_file


def sd_jwt_vc_verifier(token: str, issuer_jwk: dict[str, Any], ca_file: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(HERE / "sdjwt.mjs")],
        input=json.dumps({"mode": "verify-vc", "token": token, "issuerJwk": issuer_jwk}),
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)},  # the federation CA, as any partner adds it
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_an_independent_sd_jwt_vc_verifier_sees_the_revocation(
    npm_ready: None, issuer: tuple[httpx.Client, RunningNode, Path]
) -> None:
    client, node, ca_file = issuer
    holder = new_did_key_identity("Ed25519")
    r = client.post(
        node.base_url + "/v1/credentials/issue",
        headers=node.admin_headers(),
        json={
            "type": "AccessRoleCredential",
            "subject": {"id": holder.did, "role": "notified_body", "organisation": "NB 0123"},
            "format": "dc+sd-jwt",
        },
    )
    assert r.status_code == 201, r.text
    cid, token = r.json()["id"], r.json()["credential"]
    header, payload = peek(token.split("~", 1)[0])
    assert payload["status"]["status_list"]["uri"].startswith(node.base_url + "/v1/credentials/token-status/")
    did_doc = client.get(node.base_url + "/.well-known/did.json").json()
    jwk = next(vm["publicKeyJwk"] for vm in did_doc["verificationMethod"] if vm["id"] == header["kid"])

    before = sd_jwt_vc_verifier(token, jwk, ca_file)
    assert before == {"ok": True, "payload": before["payload"], "status": 0}, before
    assert before["payload"]["role"] == "notified_body"

    assert client.post(f"{node.base_url}/v1/credentials/{cid}/revoke", headers=node.admin_headers()).status_code == 204

    after = sd_jwt_vc_verifier(token, jwk, ca_file)
    assert after == {"ok": False, "error": "Status is not valid", "status": 1}, after


def test_batpass_reads_the_status_list_jwt_status_list_builds(npm_ready: None) -> None:
    """The other direction: ``@sd-jwt/jwt-status-list`` builds and signs a 2-bit Status List
    Token, ``@sd-jwt/sd-jwt-vc`` issues SD-JWT VCs pointing into it; batpass verifies each VC and
    reads its entry: VALID (0), INVALID (1) refused as revoked, SUSPENDED (2) as suspended."""
    uri = "https://npm-issuer.test/statuslists/1"
    out = subprocess.run(
        ["node", str(HERE / "sdjwt.mjs")],
        input=json.dumps(
            {
                "mode": "issue-with-status",
                "issuerDid": "did:web:npm-issuer.test",
                "vct": vct_for("AccessRoleCredential"),
                "uri": uri,
                "bits": 2,
                "size": 4096,
                "statuses": {"1993": 1, "3001": 2},
            }
        ),
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    made: dict[str, Any] = json.loads(out.stdout)
    resolver = DidResolver()
    jwk = {k: made["issuerJwk"][k] for k in ("kty", "crv", "x", "y")}
    resolver.pin(
        {
            "id": "did:web:npm-issuer.test",
            "verificationMethod": [
                {"id": made["kid"], "type": "JsonWebKey", "controller": "did:web:npm-issuer.test", "publicKeyJwk": jwk}
            ],
        }
    )
    cache = StatusListCache(resolver, local=lambda u: made["statusListJwt"] if u == uri else None)
    outcomes = {}
    for idx, token in made["tokens"].items():
        vc = verify_sd_jwt(token, lambda kid, iss: resolver.method(kid, controller=iss), require_key_binding=False)
        try:
            outcomes[idx] = cache.check(vc.claims["status"], issuer=vc.issuer)
        except CredentialRejected as exc:
            outcomes[idx] = f"{exc.reason}: {exc.message}"
    assert outcomes["0"] == f"status VALID at index 0 of Token Status List {uri}"
    assert outcomes["1993"].startswith("revoked: credential is revoked (status INVALID at index 1993")
    assert outcomes["3001"].startswith("revoked: credential is suspended (status SUSPENDED at index 3001")
