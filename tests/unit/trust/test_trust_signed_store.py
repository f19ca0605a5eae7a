"""What the trust service relies on is read from its signed form (issue 16, item 3): trust lists,
recognition policy, pinned operator keys and held credentials are verified whenever they are
loaded from the database, on SQLite and PostgreSQL; tampering is a finding, never trust."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from trust_http import ROLE_TYPES, load_lists
from trust_world import CX_BASE, POLICY, World

from batpass.core.errors import InvalidInput
from batpass.core.findings import Finding
from batpass.trust import (
    CredentialRejected,
    NodeIdentity,
    RecognitionPolicy,
    TrustedIssuer,
    TrustList,
    TrustService,
    _sql,
    build_credential,
    did_document,
    issue_vc_jwt,
    issue_vp_jwt,
    new_did_key_identity,
    rotate_key,
    sign_trust_list,
)
from batpass.trust._records import sign_record

DAY = dt.timedelta(days=1)


def restart(service: TrustService) -> TrustService:
    """A fresh service on the same database, as a node restarted after the change."""
    return TrustService(
        service.engine, service.identity, base_url=CX_BASE, ecosystem="catena-x", operators=service.operators
    )


def commission_credential(issuer: NodeIdentity, holder: str, now: dt.datetime) -> str:
    vc = build_credential(
        issuer=issuer.did,
        ctype="AccessRoleCredential",
        subject={"id": holder, "role": "commission", "organisation": "European Commission"},
        valid_from=now - DAY,
        valid_until=now + DAY,
    )
    return issue_vc_jwt(issuer, vc)


def test_issuer_swapped_in_the_stored_list_body_is_not_trusted(service: TrustService, world: World) -> None:
    """The defect: swapping an issuer DID in the stored JSON of a trust list let that issuer's
    AccessRoleCredential (role ``commission``) open the authorities tier after a restart."""
    load_lists(service, world)
    intruder = new_did_key_identity()
    t = _sql.trust_lists
    with service.engine.begin() as conn:
        body = conn.execute(sa.select(t.c.body).where(t.c.ecosystem == "catena-x")).scalar_one()
        body = {**body, "issuers": [{**e, "did": intruder.did} for e in body["issuers"]]}
        conn.execute(t.update().where(t.c.ecosystem == "catena-x").values(body=body))
    node = restart(service)
    reader = world.holder
    cred = commission_credential(intruder, reader.did, world.now)
    vp = issue_vp_jwt(reader, [cred], audience=node.identity.did, nonce=node.issue_nonce())
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(node.roles_for(vp))
    assert e.value.reason == "unknown-issuer"
    # the operator's list still counts: its signed form names the real certifier
    assert [i.did for i in node.registry.lists["catena-x"].issuers] == [world.cx.did]
    # the tampered cache is reported, naming table, key and rule
    assert rules(node.findings) == {("trust_lists", "catena-x", "cache-matches-signed")} and not node.healthy
    assert [(f.table, f.key, f.rule) for f in node.self_audit()] == [
        ("trust_lists", "catena-x", "cache-matches-signed")
    ]


# --- helpers ------------------------------------------------------------------------------------


def rules(findings: Sequence[Finding]) -> set[tuple[str, str, str]]:
    return {(f.table, f.key, f.rule) for f in findings}


def tamper(service: TrustService, table: sa.Table, where: Any, **values: Any) -> None:
    with service.engine.begin() as conn:
        conn.execute(table.update().where(where).values(**values))


def stored(service: TrustService, column: sa.Column[Any], where: Any) -> Any:
    with service.engine.connect() as conn:
        return conn.execute(sa.select(column).where(where)).scalar_one()


def flip(token: str, segment: int) -> str:
    """One character changed in the middle of a compact JWS segment (still base64url)."""
    parts = token.split(".")
    s = parts[segment]
    i = len(s) // 2
    parts[segment] = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1 :]
    return ".".join(parts)


def jp_list(w: World, sequence: int, issued_at: dt.datetime) -> TrustList:
    return TrustList(
        "ouranos",
        w.jp.did,
        issued_at,
        None,
        (TrustedIssuer(w.jp.did, "JP certifier", frozenset({"CertifiedCarbonFootprintCredential"})),),
        sequence=sequence,
    )


def pins_of(service: TrustService, operator: str) -> dict[str, dt.datetime | None]:
    t = _sql.pinned_keys
    with service.engine.connect() as conn:
        return {r.kid: r.retired_at for r in conn.execute(sa.select(t).where(t.c.operator == operator))}


# --- trust lists ----------------------------------------------------------------------------------


def test_lists_load_from_pinned_keys_without_network(service: TrustService, world: World) -> None:
    load_lists(service, world)
    assert set(pins_of(service, world.jp.did)) == {world.jp.key_id(world.jp.active())}
    node = restart(service)  # no HTTP client, and the JP operator's DID document is not at hand
    assert node.resolver.cached(world.jp.did) is None
    assert set(node.registry.lists) == {"catena-x", "ouranos"} and node.healthy and node.self_audit() == []
    assert node.registry.policy.rules[0].id == "ouranos-cfp-as-cx-pcf"


def test_flipped_byte_in_the_stored_jws_leaves_the_list_out(service: TrustService, world: World) -> None:
    load_lists(service, world)
    t = _sql.trust_lists
    jws = stored(service, t.c.jws, t.c.ecosystem == "catena-x")
    tamper(service, t, t.c.ecosystem == "catena-x", jws=flip(jws, 2))
    node = restart(service)
    assert set(node.registry.lists) == {"ouranos"} and not node.healthy
    assert rules(node.findings) == {("trust_lists", "catena-x", "trust-list-signed")}
    cred = commission_credential(world.cx, world.holder.did, world.now)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(node.verify(cred))
    assert e.value.reason == "unknown-issuer"
    # the running service keeps what it verified at start, and its audit sees the change
    assert "catena-x" in service.registry.lists and service.healthy
    assert rules(service.self_audit()) == {("trust_lists", "catena-x", "trust-list-signed")} and not service.healthy
    # adding the list again repairs it
    tl = TrustList("catena-x", world.cx.did, world.now, None, (TrustedIssuer(world.cx.did, "CX", ROLE_TYPES),))
    asyncio.run(service.add_trust_list(sign_trust_list(tl, world.cx), ecosystem="catena-x"))
    assert service.healthy and restart(service).healthy


def test_older_list_of_the_same_operator_cannot_be_put_back(service: TrustService, world: World) -> None:
    """Each list verifies against the pinned key, but only the one this node accepted counts."""
    old = sign_trust_list(jp_list(world, 1, world.now), world.jp)
    asyncio.run(service.add_trust_list(old, ecosystem="ouranos"))
    asyncio.run(service.add_trust_list(sign_trust_list(jp_list(world, 2, world.now), world.jp), ecosystem="ouranos"))
    t = _sql.trust_lists
    tamper(service, t, t.c.ecosystem == "ouranos", jws=old, sequence=1)
    node = restart(service)
    assert "ouranos" not in node.registry.lists
    assert rules(node.findings) == {("trust_lists", "ouranos", "trust-list-accepted")}


def test_list_of_an_operator_no_longer_configured_is_left_out(service: TrustService, world: World) -> None:
    load_lists(service, world)
    node = TrustService(service.engine, world.cx, base_url=CX_BASE, operators={"catena-x": world.cx.did})
    assert set(node.registry.lists) == {"catena-x"}
    assert rules(node.findings) == {("trust_lists", "ouranos", "trust-list-operator-configured")}


def test_rows_without_the_nodes_attestation_are_findings(service: TrustService, world: World) -> None:
    """Rows written before migration trust_0002 carry no attestation: reported, not trusted."""
    load_lists(service, world)
    wid = service.hold(service.issue("MembershipCredential", membership(service.identity.did)).token)
    for table in (_sql.trust_lists, _sql.policies, _sql.wallet):
        tamper(service, table, sa.true(), attestation=None)
    node = restart(service)
    assert node.registry.lists == {} and node.registry.policy.rules == () and node.held() == []
    assert rules(node.findings) == {
        ("trust_lists", "catena-x", "trust-list-accepted"),
        ("trust_lists", "ouranos", "trust-list-accepted"),
        ("trust_policies", "catena-x", "policy-attested"),
        ("trust_wallet", wid, "held-credential-attested"),
    }


# --- pinned keys ----------------------------------------------------------------------------------


def test_changed_pinned_key_is_a_finding(service: TrustService, world: World) -> None:
    load_lists(service, world)
    t = _sql.pinned_keys
    kid = world.jp.key_id(world.jp.active())
    intruder = new_did_key_identity()
    # the plain column: a finding, and the node's signed record is used
    tamper(service, t, t.c.kid == kid, jwk=intruder.keys[0].public_jwk())
    node = restart(service)
    assert "ouranos" in node.registry.lists
    assert rules(node.findings) == {("trust_pinned_keys", kid, "cache-matches-signed")}
    # the record itself, re-signed by someone else: the pin and the list it anchors are left out
    forged = sign_record(
        intruder,
        "pinned-key",
        {
            "operator": world.jp.did,
            "kid": kid,
            "jwk": intruder.keys[0].public_jwk(),
            "pinnedAt": "2026-01-01T00:00:00Z",
        },
    )
    tamper(service, t, t.c.kid == kid, attestation=forged)
    node = restart(service)
    assert set(node.registry.lists) == {"catena-x"}
    assert rules(node.findings) == {
        ("trust_pinned_keys", kid, "pinned-key-attested"),
        ("trust_lists", "ouranos", "trust-list-signed"),
    }
    # and no new list of that operator is accepted until the pin is repaired
    node.resolver.pin(did_document(world.jp))
    newer = sign_trust_list(jp_list(world, 2, world.now), world.jp)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(node.add_trust_list(newer, ecosystem="ouranos"))
    assert e.value.reason == "trust-list" and e.value.rule == "pinned-key-attested"


# --- rotation -------------------------------------------------------------------------------------


def test_rotation_accepted_through_the_did_document(service: TrustService, world: World, tmp_path: Path) -> None:
    load_lists(service, world)
    old_kid = world.jp.key_id(world.jp.active())
    rotate_key(tmp_path / "jp-keys", world.jp)
    new_kid = world.jp.key_id(world.jp.active())
    service.resolver.pin(did_document(world.jp))  # the operator publishes its rotated document
    tl = asyncio.run(
        service.add_trust_list(
            sign_trust_list(jp_list(world, 2, dt.datetime.now(dt.UTC)), world.jp), ecosystem="ouranos"
        )
    )
    assert tl.sequence == 2 and service.registry.lists["ouranos"].sequence == 2
    retired = pins_of(service, world.jp.did)
    assert set(retired) == {old_kid, new_kid} and retired[new_kid] is None and retired[old_kid] is not None
    node = restart(service)  # offline again: the new list verifies against the newly pinned key
    assert node.registry.lists["ouranos"].sequence == 2 and node.healthy
    # the retired key signs no newer list, even when it is presented as pinned
    stale = replace(world.jp, keys=[replace(k, retired=False) for k in world.jp.keys if k.kid == old_kid.split("#")[1]])
    late = sign_trust_list(jp_list(world, 3, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)), stale)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.add_trust_list(late, ecosystem="ouranos"))
    assert e.value.reason == "trust-list"


def _rotated_document(w: World, tmp_path: Path, edit: str) -> dict[str, Any]:
    """The JP operator rotates its key, and its DID document shows the old key ``edit``ed."""
    old = w.jp.key_id(w.jp.active())
    rotate_key(tmp_path / "jp-keys", w.jp)
    doc = did_document(w.jp)
    if edit == "revoked":
        for vm in doc["verificationMethod"]:
            if vm["id"] == old:
                vm["revoked"] = vm.pop("expires")
    elif edit == "absent":
        doc["verificationMethod"] = [vm for vm in doc["verificationMethod"] if vm["id"] != old]
    elif edit == "still-active":
        for vm in doc["verificationMethod"]:
            vm.pop("expires", None)
    return doc


@pytest.mark.parametrize("edit", ["revoked", "absent", "still-active"])
def test_rotation_refused_unless_the_old_key_is_retired(
    service: TrustService, world: World, tmp_path: Path, edit: str
) -> None:
    load_lists(service, world)
    before = pins_of(service, world.jp.did)
    service.resolver.pin(_rotated_document(world, tmp_path, edit))
    new = sign_trust_list(jp_list(world, 2, dt.datetime.now(dt.UTC)), world.jp)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.add_trust_list(new, ecosystem="ouranos"))
    assert e.value.reason == "trust-list" and "retired" in (e.value.rule or "")
    assert pins_of(service, world.jp.did) == before and service.registry.lists["ouranos"].sequence == 1
    assert restart(service).registry.lists["ouranos"].sequence == 1


def test_key_revoked_in_the_did_document_signs_no_new_list(service: TrustService, world: World) -> None:
    load_lists(service, world)
    doc = did_document(world.jp)
    kid = world.jp.key_id(world.jp.active())
    for vm in doc["verificationMethod"]:
        if vm["id"] == kid:
            vm["revoked"] = "2026-01-01T00:00:00Z"
    service.resolver.pin(doc)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(
            service.add_trust_list(sign_trust_list(jp_list(world, 2, world.now), world.jp), ecosystem="ouranos")
        )
    assert "revoked" in e.value.message


# --- recognition policy ---------------------------------------------------------------------------


def test_recognition_rule_changed_in_the_database_is_not_applied(service: TrustService, world: World) -> None:
    load_lists(service, world)
    t = _sql.policies
    evil = {
        "id": "ouranos-cfp-opens-the-passport",
        "fromEcosystem": "ouranos",
        "credentialType": "CertifiedCarbonFootprintCredential",
        "acceptedAs": "AccessRoleCredential",
        "where": {},
        "label": "",
    }
    tamper(service, t, t.c.ecosystem == "catena-x", body={**POLICY, "rules": [*POLICY["rules"], evil]})
    node = restart(service)
    assert node.registry.policy == RecognitionPolicy.from_json(POLICY)
    assert rules(node.findings) == {("trust_policies", "catena-x", "cache-matches-signed")}
    # the record re-signed by someone else: no rule at all is applied
    forged = sign_record(
        new_did_key_identity(), "recognition-policy", {"ecosystem": "catena-x", "policy": {**POLICY, "rules": [evil]}}
    )
    tamper(service, t, t.c.ecosystem == "catena-x", attestation=forged)
    node = restart(service)
    assert node.registry.policy.rules == ()
    assert ("trust_policies", "catena-x", "policy-attested") in rules(node.findings)
    # setting the policy again signs it afresh
    node.set_policy(POLICY)
    assert node.healthy and restart(node).registry.policy == RecognitionPolicy.from_json(POLICY)


# --- held credentials -----------------------------------------------------------------------------


def membership(did: str) -> dict[str, Any]:
    return {"id": did, "memberOf": "catena-x", "holderIdentifier": "BPNL00000000000C"}


def test_held_credential_whose_token_was_altered_is_refused(service: TrustService, world: World) -> None:
    load_lists(service, world)
    token = service.issue("MembershipCredential", membership(service.identity.did)).token
    wid = service.hold(token)
    other = service.hold(service.issue("MembershipCredential", membership(service.identity.did)).token)
    t = _sql.wallet
    # another credential, validly signed by an intruder, put in its place
    intruder = new_did_key_identity()
    vc = build_credential(
        issuer=intruder.did,
        ctype="MembershipCredential",
        subject=membership(service.identity.did),
        valid_from=world.now - DAY,
        valid_until=world.now + DAY,
    )
    tamper(service, t, t.c.id == wid, token=issue_vc_jwt(intruder, vc), issuer=intruder.did)
    assert [h["id"] for h in service.wallet()] == [other]
    assert len(service.held(["MembershipCredential"])) == 1
    with pytest.raises(CredentialRejected) as e:
        service.held_token(wid)
    assert e.value.reason == "signature"
    assert ("trust_wallet", wid, "held-credential-attested") in rules(service.findings) and not service.healthy
    # a flipped byte in the stored token
    tamper(service, t, t.c.id == wid, token=flip(token, 1), issuer=world.cx.did)
    with pytest.raises(CredentialRejected):
        service.held_token(wid)
    assert rules(restart(service).findings) == {("trust_wallet", wid, "held-credential-attested")}
    # the denormalised type column is not believed: the token's own type is
    tamper(service, t, t.c.id == other, ctype="AccessRoleCredential")
    assert service.held(["AccessRoleCredential"]) == [] and len(service.held(["MembershipCredential"])) == 1
    assert ("trust_wallet", other, "cache-matches-signed") in rules(service.self_audit())


def test_hold_refuses_a_credential_whose_signature_does_not_verify(service: TrustService, world: World) -> None:
    token = service.issue("MembershipCredential", membership(service.identity.did)).token
    with pytest.raises(InvalidInput) as e:
        service.hold(flip(token, 2))
    assert e.value.field == "credential"
    assert service.wallet() == []
